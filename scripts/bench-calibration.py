#!/usr/bin/env python3
"""Calibration of predict_proba: cronos classifiers with defaults against MLPClassifier((64,)).

For scikit-learn's bundled data sets (no download: iris, wine, breast_cancer, digits), a
seeded stratified 5-fold cross-validation; per model the mean test accuracy, log-loss, expected
calibration error (top-label ECE, 15 equal-width bins) and fit time. For the cronos models the
log-loss at temperature 1 (the softmax of the raw scores, the behaviour before calibration) is
shown as well, and the ratio of the log-loss to the MLP's. The MLP gets standardized features
(a StandardScaler in a pipeline; cronos standardizes internally) and random_state=0.

    python scripts/bench-calibration.py [--folds 5] [--datasets iris,wine] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import cronos

DATASETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-15, None))))


def ece(p: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Top-label expected calibration error: |accuracy − confidence| per bin, weighted by size."""
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inb = (conf > lo) & (conf <= hi)
        if inb.any():
            total += inb.mean() * abs((pred[inb] == y[inb]).mean() - conf[inb].mean())
    return float(total)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def uncalibrated(m, X) -> np.ndarray:
    """The probabilities at T = 1 (the softmax of the class logits, as before calibration)."""
    d = m.decision_function(X)
    return softmax(np.stack([-d, d], axis=1) if d.ndim == 1 else d)


def models(jobs, which):
    """The models named in `which` (gated, convex; the MLP reference always runs)."""
    every = {
        "gated": ("GatedReLUClassifier()", lambda: cronos.GatedReLUClassifier(n_jobs=jobs)),
        "convex": ("ConvexReLUClassifier()", lambda: cronos.ConvexReLUClassifier(n_jobs=jobs)),
        "mlp": ("MLPClassifier((64,))", lambda: make_pipeline(StandardScaler(), MLPClassifier((64,), random_state=0))),
    }
    return dict(every[w] for w in dict.fromkeys([*which, "mlp"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--jobs", type=int, default=None, help="cronos n_jobs (default: all cores)")
    ap.add_argument("--models", default="gated,convex", help="cronos models to run beside the MLP: gated, convex")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")  # ConvergenceWarning of the MLP at max_iter=200
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; {a.folds}-fold stratified CV (seed 0)")
    head = f"| data set | model | accuracy | log-loss | log-loss T=1 | × MLP | ECE | T | fit s | fit × MLP |"
    print(head)
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in a.datasets.split(","):
        X, y = DATASETS[name](return_X_y=True)
        folds = list(StratifiedKFold(a.folds, shuffle=True, random_state=0).split(X, y))
        rows = {}
        for label, make in models(a.jobs, a.models.split(",")).items():
            acc, ll, ll1, ec, temp, secs = [], [], [], [], [], []
            for tr, te in folds:
                m = make()
                t0 = time.perf_counter()
                m.fit(X[tr], y[tr])
                secs.append(time.perf_counter() - t0)
                p = m.predict_proba(X[te])
                assert np.allclose(p.sum(axis=1), 1.0)
                acc.append((p.argmax(axis=1) == y[te]).mean())
                ll.append(log_loss(p, y[te]))
                ec.append(ece(p, y[te]))
                if hasattr(m, "temperature_"):
                    ll1.append(log_loss(uncalibrated(m, X[te]), y[te]))
                    temp.append(m.temperature_)
            rows[label] = (np.mean(acc), np.mean(ll), np.mean(ll1) if ll1 else None, np.mean(ec), np.mean(temp) if temp else None, np.mean(secs))
        mlp, mlp_secs = rows["MLPClassifier((64,))"][1], rows["MLPClassifier((64,))"][5]
        for label, (acc, ll, ll1, ec, temp, secs) in rows.items():
            f = lambda v, fmt: "–" if v is None else format(v, fmt)
            print(f"| {name} | {label} | {acc:.3f} | {ll:.3f} | {f(ll1, '.3f')} | {ll / mlp:.2f} | {ec:.3f} | {f(temp, '.3f')} | {secs:.2f} | {secs / mlp_secs:.2f} |", flush=True)


if __name__ == "__main__":
    main()
