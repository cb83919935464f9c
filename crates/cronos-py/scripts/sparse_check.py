"""The sparse check of issue 16: a bag-of-words-like CSR matrix (default 20,000 x 50,000 at
0.5% density) fitted by GatedReLUClassifier without densifying.

    python sparse_check.py fit [n] [d] [density] [extra estimator kwargs as JSON]
        fits on CSR and prints time, accuracy, gap and the peak RSS (ru_maxrss) next to the
        bytes the dense X would take. Run it under `/usr/bin/time -v` for the RSS report.
    python sparse_check.py equal [n] [d] [density]
        fits the same data as CSR and as a dense array (default settings; the dense side gets X
        divided by the CSR fit's preprocess_scale_, since standardize does not centre sparse X;
        then both with preprocess="none") and prints the largest difference of their decision
        values (a smaller instance: the dense copy must fit).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np
import scipy.sparse as sp

from cronos import GatedReLUClassifier


def bag_of_words(n: int, d: int, density: float, seed: int = 0):
    """Counts with Zipf-like word frequencies; labels from a sparse linear teacher on log-counts
    with an interaction, about balanced."""
    rng = np.random.default_rng(seed)
    nnz_row = max(1, int(round(density * d)))
    p = 1.0 / np.arange(1, d + 1) ** 0.8
    p /= p.sum()
    cols = rng.choice(d, size=(n, nnz_row), p=p)
    rows = np.repeat(np.arange(n), nnz_row)
    vals = rng.poisson(1.0, size=n * nnz_row) + 1.0
    X = sp.csr_matrix((vals, (rows, cols.ravel())), shape=(n, d))
    X.sum_duplicates()
    t = np.zeros(d)
    idx = rng.choice(d // 10 + 1, size=200, replace=False)
    t[idx] = rng.standard_normal(200)
    s = np.asarray(X.log1p() @ t).ravel()
    s = s + 0.5 * np.abs(s)
    y = (s > np.median(s)).astype(int)
    return X, y


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "fit"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    d = int(sys.argv[3]) if len(sys.argv) > 3 else 50_000
    dens = float(sys.argv[4]) if len(sys.argv) > 4 else 0.005
    kw = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    X, y = bag_of_words(n, d, dens)
    print(f"X: {n} x {d}, nnz {X.nnz} ({X.nnz / (n * d):.4%}), CSR {X.data.nbytes + X.indices.nbytes + X.indptr.nbytes:,} B; dense f64 would be {n * d * 8:,} B", flush=True)
    if mode == "fit":
        t = time.time()
        est = GatedReLUClassifier(**kw).fit(X, y)
        secs = time.time() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(f"fit {secs:.1f} s; train accuracy {est.score(X, y):.4f}; gap {est.relative_gap_:.2e}; status {est.status_}; "
              f"beta_fraction {est.beta_fraction_}; active neurons {est.n_active_neurons_}")
        print(f"peak RSS {rss:,} B = {rss / (n * d * 8):.2f} of the dense X")
    else:
        # default settings on CSR vs the dense fit of the same (column-scaled, as standardize
        # does for sparse X) matrix; and both with preprocess="none"
        a = GatedReLUClassifier(**kw).fit(X, y)
        Xd = X.toarray() / a.preprocess_scale_
        b = GatedReLUClassifier(**dict(kw, preprocess="none")).fit(Xd, y)
        da, db = a.decision_function(X), b.decision_function(Xd)
        print(f"default CSR fit vs dense fit of X/scale: max |decision difference| {np.abs(da - db).max():.3e}; "
              f"predictions equal: {bool((a.predict(X) == b.predict(Xd)).all())}; beta fractions {a.beta_fraction_} / {b.beta_fraction_}")
        a = GatedReLUClassifier(**dict(kw, preprocess="none")).fit(X, y)
        b = GatedReLUClassifier(**dict(kw, preprocess="none")).fit(X.toarray(), y)
        da, db = a.decision_function(X), b.decision_function(X.toarray())
        print(f"preprocess='none' CSR vs dense: max |decision difference| {np.abs(da - db).max():.3e}; "
              f"predictions equal: {bool((a.predict(X) == b.predict(X.toarray())).all())}")

if __name__ == "__main__":
    main()
