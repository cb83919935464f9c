"""scipy.sparse input: accepted, kept sparse, and the same fit as the dense input."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")

from cronos import ConvexReLURegressor, GatedReLUClassifier  # noqa: E402

FAST = dict(n_patterns=12, max_iter=80)


def _data(n=240, d=400, density=0.02, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=seed, format="csr", dtype=np.float64)
    X.data = np.round(X.data * 4) + 1.0  # counts, like bag of words
    w = rng.standard_normal(d)
    s = X @ w
    return X, (s > np.median(s)).astype(int), s + 0.3 * np.abs(s)


def _close(a, b, tol=1e-10):
    a, b = np.asarray(a), np.asarray(b)
    assert np.abs(a - b).max() <= tol * max(1.0, np.abs(b).max()), np.abs(a - b).max()


@pytest.mark.parametrize("Est", [GatedReLUClassifier, ConvexReLURegressor])
def test_csr_fit_equals_dense_fit(Est):
    X, yc, yr = _data()
    y = yc if Est is GatedReLUClassifier else yr
    kw = dict(FAST, beta_fraction=0.05, preprocess="none")
    a = Est(**kw).fit(X, y)
    b = Est(**kw).fit(X.toarray(), y)
    _close(a.predict(X), b.predict(X.toarray()))
    _close(a.objective_, b.objective_)
    # sparse rows predict like their dense form
    _close(a.predict(X), a.predict(X.toarray()))


def test_standardize_scales_sparse_columns_without_centering():
    X, y, _ = _data(seed=1)
    a = GatedReLUClassifier(**FAST, beta_fraction=0.05).fit(X, y)
    assert np.all(a.preprocess_offset_ == 0)
    std = X.toarray().std(axis=0)
    # the standard deviation, divided by the relevance weights (computed on the sparse rows)
    np.testing.assert_allclose((a.preprocess_scale_ * a.feature_weights_)[std > 0], std[std > 0], rtol=1e-12)
    # the same as the dense fit of X / scale without further preprocessing or weighting
    Xd = X.toarray() / a.preprocess_scale_
    b = GatedReLUClassifier(**FAST, beta_fraction=0.05, preprocess="none", feature_weighting="none").fit(Xd, y)
    _close(a.decision_function(X), b.decision_function(Xd))


def test_beta_auto_on_csr_equals_dense():
    X, y, _ = _data(seed=2)
    a = GatedReLUClassifier(**FAST, preprocess="none").fit(X, y)
    b = GatedReLUClassifier(**FAST, preprocess="none").fit(X.toarray(), y)
    assert a.beta_fraction_ == b.beta_fraction_
    _close(a.decision_function(X), b.decision_function(X.toarray()))


def test_csc_coo_float32_and_weights():
    X, y, _ = _data(seed=3)
    rng = np.random.default_rng(3)
    w = rng.uniform(0.5, 2.0, X.shape[0])
    ref = GatedReLUClassifier(**FAST, beta_fraction=0.05).fit(X, y, sample_weight=w)
    for Xo in (X.tocsc(), X.tocoo()):
        other = GatedReLUClassifier(**FAST, beta_fraction=0.05).fit(Xo, y, sample_weight=w)
        _close(other.decision_function(X), ref.decision_function(X))
    f32 = GatedReLUClassifier(**FAST, beta_fraction=0.05).fit(X.astype(np.float32), y)
    assert f32.first_layer_weights_.dtype == np.float32 and f32.score(X, y) > 0.8
    # weighted sparse fits equal fits on repeated rows: sklearn's
    # check_sample_weight_equivalence_on_sparse_data (test_sklearn_checks.py)


def test_dense_fitted_model_predicts_sparse_rows():
    X, y, _ = _data(seed=4)
    est = GatedReLUClassifier(**FAST, beta_fraction=0.05).fit(X.toarray(), y)  # centred
    assert np.any(est.preprocess_offset_ != 0)
    _close(est.decision_function(X), est.decision_function(X.toarray()))


def test_nan_in_sparse_data_is_refused():
    X, y, _ = _data(seed=5)
    X = X.copy()
    X.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GatedReLUClassifier(**FAST).fit(X, y)


def test_wide_sparse_data_is_never_densified():
    # 1,000 x 300,000: the dense X would be 2.4 GB; the fit must stay far below that
    code = textwrap.dedent(
        """
        import resource, numpy as np, scipy.sparse as sp
        from cronos import GatedReLUClassifier
        rng = np.random.default_rng(0)
        n, d = 1000, 300_000
        cols = rng.integers(0, d, size=(n, 8))
        X = sp.csr_matrix((np.ones(n * 8), (np.repeat(np.arange(n), 8), cols.ravel())), shape=(n, d))
        y = (cols[:, 0] % 2).astype(int)
        est = GatedReLUClassifier(n_patterns=4, max_iter=10, beta_fraction=0.1).fit(X, y)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, est.predict(X).shape[0])
        """
    )
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rss, rows = map(int, out.stdout.split())
    assert rows == 1000
    assert rss < 1_000_000_000, f"peak RSS {rss} B: the dense X alone would be 2.4 GB"
