"""Warm vs cold refit at a new beta (`warm_start=True`), side by side in one process.

Usage: python crates/cronos-py/scripts/bench_warm_start.py [n_rows] [repeats]

Each case fits at beta/beta_max = f0 with warm_start=True, then refits at f1 (warm), and fits
a fresh estimator at f1 (cold); warm and cold alternate `repeats` times and the medians of
wall and CPU seconds are printed with the iteration counts and the load average.
"""

import os
import statistics
import sys
import time
import warnings

import numpy as np

import cronos


def case(cls, X, target, f0, f1, repeats, **kw):
    walls_w, walls_c, cpus_w, cpus_c = [], [], [], []
    for _ in range(repeats):
        est = cls(beta_fraction=f0, warm_start=True, n_jobs=1, **kw).fit(X, target)
        est.set_params(beta_fraction=f1)
        w0, c0 = time.perf_counter(), time.process_time()
        est.fit(X, target)
        walls_w.append(time.perf_counter() - w0)
        cpus_w.append(time.process_time() - c0)
        cold = cls(beta_fraction=f1, n_jobs=1, **kw)
        w0, c0 = time.perf_counter(), time.process_time()
        cold.fit(X, target)
        walls_c.append(time.perf_counter() - w0)
        cpus_c.append(time.process_time() - c0)
    med = statistics.median
    extra = ", ".join(f"{k}={v}" for k, v in kw.items())
    print(
        f"{cls.__name__} ({extra}) {f0:g} -> {f1:g}: warm {med(walls_w):.3f} s wall / {med(cpus_w):.3f} s CPU, "
        f"{est.n_iter_} its, gap {est.relative_gap_:.1e} (warm_started={est.warm_started_}) | cold {med(walls_c):.3f} s "
        f"wall / {med(cpus_c):.3f} s CPU, {cold.n_iter_} its, gap {cold.relative_gap_:.1e} | objectives "
        f"{est.objective_:.7g} vs {cold.objective_:.7g}",
        flush=True,
    )


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 20))
    y = np.abs(X[:, 0]) + X[:, 1] - np.maximum(X[:, 2], 0) + 0.1 * rng.normal(size=n)
    labels = np.where(y > np.median(y), "a", "b")
    print(f"{n} rows x 20 features, 1 thread, median of {repeats}; load average {os.getloadavg()}", flush=True)
    kw = dict(n_patterns=64, max_iter=3000)
    case(cronos.GatedReLUClassifier, X, labels, 1e-3, 8e-4, repeats, loss="logistic", **kw)
    case(cronos.GatedReLUClassifier, X, labels, 1e-3, 8e-4, repeats, **kw)
    case(cronos.GatedReLURegressor, X, y, 1e-3, 8e-4, repeats, **kw)
    case(cronos.ConvexReLURegressor, X, y, 1e-2, 8e-3, repeats, n_patterns=16, max_iter=300)
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
