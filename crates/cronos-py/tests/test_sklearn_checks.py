"""scikit-learn's conformance suite on all four estimators (small, fast settings)."""

import warnings

import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import cronos  # noqa: E402

# ReLU needs a few hundred ADMM iterations to fit check_regressors_train (score > 0.5) reliably
FAST = dict(n_patterns=8, max_iter=300)

ESTIMATORS = [
    cronos.ConvexReLUClassifier(**FAST),
    cronos.ConvexReLURegressor(**FAST),
    cronos.GatedReLUClassifier(**FAST),
    cronos.GatedReLURegressor(**FAST),
]

# checks that cannot pass, with the reason (also listed in crates/cronos-py/README.md)
EXPECTED_FAILED = {}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
