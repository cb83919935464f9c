"""The ReLU program on small public data: ConvexReLUClassifier() with defaults (the endgame on
"auto") against the same estimator with relu_endgame=False (ADMM alone), 5-fold stratified CV.

Usage: python scripts/bench-relu-small.py [dataset ...]   (iris wine breast_cancer by default)
Prints one line per fold and estimator: status, certified gap, cone violation, test accuracy,
fit time; then how many folds ended `solved`.
"""
import sys
import time
import warnings

from sklearn import datasets
from sklearn.model_selection import StratifiedKFold

from cronos import ConvexReLUClassifier

names = sys.argv[1:] or ["iris", "wine", "breast_cancer"]
warnings.simplefilter("ignore")
for name in names:
    X, y = getattr(datasets, "load_" + name)(return_X_y=True)
    solved = {"auto": 0, "off": 0}
    for f, (tr, te) in enumerate(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)):
        for label, endgame in (("auto", "auto"), ("off", False)):
            t = time.perf_counter()
            m = ConvexReLUClassifier(relu_endgame=endgame).fit(X[tr], y[tr])
            dt = time.perf_counter() - t
            solved[label] += m.status_ == "solved"
            print(
                f"{name:14} fold {f} endgame {label:4} {m.status_:15} gap {m.relative_gap_:9.2e} "
                f"violation {m.constraint_violation_:8.2e} test {m.score(X[te], y[te]):.4f} {dt:6.2f}s",
                flush=True,
            )
    print(f"{name}: solved {solved['auto']}/5 with the endgame, {solved['off']}/5 without", flush=True)
