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
_AUTO_SPLIT = (
    "beta='auto' (the default) holds out rows to choose beta: a row of weight 3 lies on one side of the "
    "validation split while its 3 repeats can fall on both, so the chosen beta (and the fit) may differ; "
    "with a fixed beta the equivalence holds (test_sample_weight_equivalence_at_fixed_beta)"
)
EXPECTED_FAILED = {type(e).__name__: {"check_sample_weight_equivalence_on_dense_data": _AUTO_SPLIT} for e in ESTIMATORS}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("cls", [type(e) for e in ESTIMATORS])
def test_sample_weight_equivalence_at_fixed_beta(cls):
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # gated ReLU: equal optima, compared at sklearn's rtol 1e-7, so solved to a tight
        # certified gap (Newton polishing gets there), not two trajectories stopped at 1e-3;
        # ReLU: its ADMM cannot reach 1e-10 here, the two (rounding-level different) runs
        # stay together instead
        kw = dict(FAST, tol_gap=1e-10, max_iter=2000) if "Gated" in cls.__name__ else FAST
        check_sample_weight_equivalence_on_dense_data(cls.__name__, cls(beta_fraction=1e-3, **kw))
