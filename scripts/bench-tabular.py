#!/usr/bin/env python3
"""GatedReLUClassifier (relevance weighting on and off, pattern pricing) against
MLPClassifier((64,)) on tabular data, side by side.

Data: scikit-learn's make_classification (seeded; synthetic by construction), the shapes of
issue 17's check: 10^4-2*10^4 rows, 100 features, 3-5 classes, tens of informative features
(sets A, B; 4,000 held-out rows), and scikit-learn's small public sets (iris, wine,
breast_cancer, digits; 5-fold stratified CV). Every model is fitted on the same standardized
training rows; the printed ratios are fit times over the MLP's in the same run.

    python scripts/bench-tabular.py [--sets A,B,iris,wine,bc,digits] [--rounds 0] [--swap 0]
"""

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.neural_network import MLPClassifier

import cronos

SETS = {
    # name: (train rows, features, informative, redundant, classes)
    "A": (20000, 100, 20, 10, 5),
    "B": (10000, 100, 30, 10, 3),
}


def data(name, seed=0):
    n, d, inf, red, k = SETS[name]
    X, y = make_classification(n_samples=n + 4000, n_features=d, n_informative=inf, n_redundant=red, n_classes=k, random_state=seed)
    mu, sd = X[:n].mean(0), X[:n].std(0)
    X = (X - mu) / sd
    return X[:n], y[:n], X[n:], y[n:]


SMALL = {"iris": "load_iris", "wine": "load_wine", "bc": "load_breast_cancer", "digits": "load_digits"}


def folds(name):
    """The 5 stratified folds of a small public set, standardized on each training part."""
    import sklearn.datasets
    from sklearn.model_selection import StratifiedKFold

    X, y = getattr(sklearn.datasets, SMALL[name])(return_X_y=True)
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        mu, sd = X[tr].mean(0), X[tr].std(0)
        sd[sd == 0] = 1
        yield (X[tr] - mu) / sd, y[tr], (X[te] - mu) / sd, y[te]


def timed(est, X, y, Xt, yt):
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return time.perf_counter() - t, est.score(Xt, yt)


def models(rounds, max_iter, swap):
    yield "MLPClassifier((64,))", lambda: MLPClassifier(hidden_layer_sizes=(64,), random_state=0)
    yield 'GatedReLUClassifier(feature_weighting="none")', lambda: cronos.GatedReLUClassifier(feature_weighting="none")
    yield "GatedReLUClassifier()", lambda: cronos.GatedReLUClassifier()
    if rounds:
        yield f"GatedReLUClassifier(pricing_rounds={rounds}, pricing_max_iter={max_iter})", lambda: cronos.GatedReLUClassifier(pricing_rounds=rounds, pricing_max_iter=max_iter)
    if swap:
        yield f"GatedReLUClassifier(pricing_rounds={swap}, pricing_swap=True)", lambda: cronos.GatedReLUClassifier(pricing_rounds=swap, pricing_swap=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="A,B,iris,wine,bc,digits")
    ap.add_argument("--rounds", type=int, default=0, help="pricing rounds of an extra row (0: none)")
    ap.add_argument("--max-iter", type=int, default=40, help="ADMM iterations per pricing round")
    ap.add_argument("--swap", type=int, default=0, help="rounds of an extra row with pricing_swap=True (the pattern count stays; 0: none)")
    a = ap.parse_args()
    print(f"load {os.getloadavg()[0]:.2f}")
    print("| data | model | test accuracy | fit s | fit × MLP | active neurons |")
    print("|---|---|---|---|---|---|")
    for name in a.sets.split(","):
        if name in SETS:
            n, d, inf, _, k = SETS[name]
            label, splits = f"{name}: {n:,} × {d}, {k} classes, {inf} informative", [data(name)]
        else:
            label, splits = f"{name} (5-fold CV)", list(folds(name))
        t_mlp = None
        for model, make in models(a.rounds, a.max_iter, a.swap):
            runs = [(timed(est, *split), est) for split in splits for est in [make()]]
            t = sum(r[0][0] for r in runs) / len(runs)
            acc = sum(r[0][1] for r in runs) / len(runs)
            active = getattr(runs[-1][1], "n_active_neurons_", "")
            t_mlp = t if t_mlp is None else t_mlp
            print(f"| {label} | {model} | {100 * acc:.2f}% | {t:.2f} | {t / t_mlp:.2f} | {active} |", flush=True)
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
