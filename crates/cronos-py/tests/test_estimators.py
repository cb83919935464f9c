"""Behaviour of the cronos estimators: fitting, layouts and dtypes, errors, persistence."""

import gzip
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

import cronos
from cronos import _cronos

pytestmark = pytest.mark.filterwarnings("ignore:cronos stopped")

REPO = Path(__file__).resolve().parents[3]
FASHION = REPO / "data" / "fashion-mnist"
FAST = dict(n_patterns=8, max_iter=50)
ALL = [cronos.ConvexReLUClassifier, cronos.ConvexReLURegressor, cronos.GatedReLUClassifier, cronos.GatedReLURegressor]


def _data(n=120, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.abs(X[:, 0]) + 0.5 * X[:, 1] - 0.3
    return X, y


def _labels(y):
    return np.where(y > np.median(y), "pos", "neg")


def test_regressor_fits_abs():
    X, y = _data(200)
    m = cronos.ConvexReLURegressor(n_patterns=32, max_iter=300).fit(X, y)
    assert m.score(X, y) > 0.95
    assert m.first_layer_weights_.shape == (4, m.n_active_neurons_)
    assert m.first_layer_bias_.shape == (m.n_active_neurons_,)
    assert m.output_weights_.shape == (m.n_active_neurons_, 1)
    # the lower bound bounds feasible weights: an iterate stopped by max_iter may still violate
    # the ReLU cones (then its convex objective can sit below the bound), and says by how much
    assert 0 <= m.constraint_violation_ < 0.5
    assert m.lower_bound_ <= m.objective_ + 1e-9 or m.constraint_violation_ > 0
    assert m.relative_gap_ < 1
    assert m.network_objective_ > 0 and abs(m.network_objective_ - m.objective_) <= 0.5 * m.objective_
    assert m.status_ in ("solved", "max_iterations")
    if m.status_ == "solved":
        assert m.relative_gap_ >= -1e-9
    assert m.n_iter_ >= 1 and m.n_features_in_ == 4
    assert m.predict(X).shape == (200,)


def test_multioutput_regressor():
    X, y = _data()
    Y = np.stack([y, -y], axis=1)
    m = cronos.GatedReLURegressor(**FAST).fit(X, Y)
    assert m.predict(X).shape == (120, 2)
    assert m.output_weights_.shape[1] == 2


@pytest.mark.parametrize("cls", [cronos.ConvexReLUClassifier, cronos.GatedReLUClassifier])
def test_classifier_api(cls):
    X, y = _data()
    labels = _labels(y)
    m = cls(n_patterns=16, max_iter=200).fit(X, labels)
    assert list(m.classes_) == ["neg", "pos"]
    assert m.score(X, labels) > 0.85
    d = m.decision_function(X)
    assert d.shape == (120,)
    p = m.predict_proba(X)
    assert p.shape == (120, 2) and np.allclose(p.sum(1), 1)
    assert (m.classes_[p.argmax(1)] == m.predict(X)).all()
    # three classes: one-vs-rest outputs
    y3 = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    m3 = cls(**FAST).fit(X, y3)
    assert m3.decision_function(X).shape == (120, 3)
    assert m3.predict_proba(X).shape == (120, 3)


@pytest.mark.parametrize("cls", ALL)
def test_layouts_and_dtypes_agree(cls):
    X, y = _data()
    target = _labels(y) if "Classifier" in cls.__name__ else y
    ref = None
    for dtype in (np.float64, np.float32):
        for order in ("C", "F"):
            Xi = np.asarray(X, dtype=dtype, order=order)
            m = cls(preprocess="none", n_jobs=1, **FAST).fit(Xi, target)
            out = m.decision_function(X) if hasattr(m, "decision_function") else m.predict(X)
            if ref is None:
                ref = {}
            key = dtype
            if key in ref:  # C and F order: identical results for one dtype
                np.testing.assert_allclose(out, ref[key], rtol=1e-5, atol=1e-6)
            else:
                ref[key] = out
    # float32 and float64 solves agree to float32 accuracy
    np.testing.assert_allclose(ref[np.float32], ref[np.float64], rtol=0, atol=5e-2 * (1 + np.abs(ref[np.float64]).max()))


def test_zero_copy_strided_views():
    X, y = _data()
    big = np.zeros((240, 8))
    big[::2, ::2] = X
    view = big[::2, ::2]  # non-contiguous view: still read in place
    a = cronos.ConvexReLURegressor(preprocess="none", n_jobs=1, **FAST).fit(view, y)
    b = cronos.ConvexReLURegressor(preprocess="none", n_jobs=1, **FAST).fit(np.ascontiguousarray(X), y)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-6, atol=1e-9)


def test_inputs_read_in_place():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 6))
    y = np.ones((40, 1))
    for x in (base, np.asfortranarray(base), base[::2, ::2], base[::-1], base.astype(np.float32)):
        res = _cronos.fit(x, np.ones((x.shape[0], 1), dtype=x.dtype), n_patterns=4, max_iter=3)
        assert res["x_borrowed"] and res["y_borrowed"]
    # a byte-offset view (strides not a multiple of the item size) is copied, same result
    raw = np.zeros(40 * 6 * 8 + 1, dtype=np.uint8)
    odd = np.ndarray((40, 6), dtype=np.float64, buffer=raw, offset=1)
    odd[...] = base
    res = _cronos.fit(odd, y, n_patterns=4, max_iter=3)
    ref = _cronos.fit(base, y, n_patterns=4, max_iter=3)
    assert not res["x_borrowed"]
    np.testing.assert_array_equal(res["w2"], ref["w2"])


def test_lists_and_pandas():
    X, y = _data(60)
    m = cronos.ConvexReLURegressor(**FAST).fit(X.tolist(), y.tolist())
    assert m.predict(X.tolist()).shape == (60,)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=list("abcd"))
    m = cronos.ConvexReLURegressor(**FAST).fit(df, pd.Series(y))
    assert list(m.feature_names_in_) == list("abcd")
    np.testing.assert_allclose(m.predict(df), cronos.ConvexReLURegressor(**FAST).fit(X, y).predict(X))


def test_bad_inputs():
    X, y = _data(30)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cronos.ConvexReLURegressor(**FAST).fit(Xn, y)
    yn = y.copy()
    yn[0] = np.inf
    with pytest.raises(ValueError, match="(NaN|infinity)"):
        cronos.ConvexReLURegressor(**FAST).fit(X, yn)
    with pytest.raises(ValueError, match="n_patterns"):
        cronos.ConvexReLURegressor(n_patterns=0).fit(X, y)
    with pytest.raises(ValueError, match="beta"):
        cronos.ConvexReLURegressor(beta_fraction=2.0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="beta"):
        cronos.ConvexReLURegressor(beta=-1.0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="preconditioner"):
        cronos.ConvexReLURegressor(preconditioner="magic", **FAST).fit(X, y)
    with pytest.raises(ValueError, match="time_limit"):
        cronos.ConvexReLURegressor(time_limit=-1, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        cronos.ConvexReLURegressor(**FAST).fit(X, y).predict(X[:, :2])
    with pytest.raises(ValueError, match="one class"):
        cronos.ConvexReLUClassifier(**FAST).fit(X, np.zeros(30))


def test_rust_errors_are_value_errors():
    # straight to the extension: the Rust message comes through unchanged
    x = np.ones((5, 2))
    with pytest.raises(ValueError, match=r"invalid data `y`: 4 rows but x has 5"):
        _cronos.fit(x, np.ones((4, 1)))
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"invalid data `x`: non-finite value NaN at row 2, column 1"):
        _cronos.fit(x, np.ones((5, 1)))
    with pytest.raises(ValueError, match=r"invalid setting `gamma`|invalid setting `max_iter`"):
        _cronos.fit(np.ones((5, 2)), np.ones((5, 1)), max_iter=0)
    with pytest.raises(TypeError, match="float32"):
        _cronos.fit(np.ones((5, 2)), np.ones((5, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="activation"):
        _cronos.fit(np.ones((5, 2)), np.ones((5, 1)), activation="tanh")


def test_sample_weight_matches_repetition():
    X, y = _data(60)
    w = np.ones(60)
    w[:20] = 2.0
    Xr = np.concatenate([X, X[:20]])
    yr = np.concatenate([y, y[:20]])
    # a fixed beta: with beta="auto" repeated rows can land on both sides of the validation split
    kw = dict(n_patterns=16, max_iter=400, tol_gap=1e-6, beta_fraction=1e-3)
    a = cronos.ConvexReLURegressor(**kw).fit(X, y, sample_weight=w)
    b = cronos.ConvexReLURegressor(**kw).fit(Xr, yr)
    np.testing.assert_allclose(a.predict(X), b.predict(X), atol=0.05)
    # unit weights are exactly the unweighted fit
    c = cronos.ConvexReLURegressor(**FAST).fit(X, y, sample_weight=np.ones(60))
    d = cronos.ConvexReLURegressor(**FAST).fit(X, y)
    np.testing.assert_array_equal(c.predict(X), d.predict(X))
    with pytest.raises(ValueError, match="Negative"):
        cronos.ConvexReLURegressor(**FAST).fit(X, y, sample_weight=-w)


@pytest.mark.parametrize("cls", ALL)
def test_pickle(cls):
    X, y = _data()
    target = _labels(y) if "Classifier" in cls.__name__ else y
    m = cls(**FAST).fit(X, target)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m.predict(X), m2.predict(X))
    assert m2.get_params() == m.get_params()


@pytest.mark.parametrize("cls", ALL)
def test_save_load_roundtrip(cls, tmp_path):
    X, y = _data()
    target = _labels(y) if "Classifier" in cls.__name__ else y
    m = cls(**FAST).fit(X, target)
    path = tmp_path / "model.safetensors"
    m.save(path)
    m2 = cronos.load(path)
    assert type(m2) is cls
    assert m2.get_params() == m.get_params()
    if hasattr(m, "decision_function"):
        np.testing.assert_allclose(m2.decision_function(X), m.decision_function(X), rtol=1e-4, atol=1e-4)
        assert (m2.classes_ == m.classes_).all()
    else:
        np.testing.assert_allclose(m2.predict(X), m.predict(X), rtol=1e-4, atol=1e-4)
    assert m2.relative_gap_ == pytest.approx(m.relative_gap_)
    # re-saving a loaded model gives the same bytes
    path2 = tmp_path / "again.safetensors"
    m2.save(path2)
    assert path2.read_bytes() == path.read_bytes()


def test_saved_file_is_standard_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    X, y = _data()
    m = cronos.GatedReLUClassifier(**FAST).fit(X, (y > 0).astype(int))
    path = tmp_path / "m.safetensors"
    m.save(path)
    t = st.load_file(str(path))
    assert set(t) >= {"gates", "weights", "w1", "b1", "w2", "gate_w", "gate_b", "preprocess_offset", "preprocess_scale", "classes"}
    assert all(v.dtype == np.float32 for v in t.values())
    # the documented numpy formula of crates/cronos-model reproduces the predictions
    xs = (X - t["preprocess_offset"]) / t["preprocess_scale"]
    h = xs @ t["w1"] + t["b1"]
    g = xs @ t["gate_w"] + t["gate_b"]
    out = ((g >= 0) * h) @ t["w2"]
    pred = t["classes"][(out[:, 0] > 0).astype(int)]
    assert (pred.astype(int) == m.predict(X)).mean() > 0.99


def test_load_rejects_garbage(tmp_path):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(ValueError, match="not a valid cronos model file"):
        cronos.load(p)
    p.write_bytes(b"abc")
    with pytest.raises(ValueError, match="not a valid cronos model file"):
        cronos.load(p)


def test_pipeline_and_grid_search():
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data(150)
    labels = _labels(y)
    pipe = make_pipeline(StandardScaler(), cronos.ConvexReLUClassifier(preprocess="none", **FAST))
    gs = GridSearchCV(pipe, {"convexreluclassifier__beta_fraction": [1e-3, 1e-2], "convexreluclassifier__n_patterns": [4, 8]}, cv=3)
    gs.fit(X, labels)
    assert gs.best_score_ > 0.7
    assert gs.predict(X).shape == (150,)
    c = clone(cronos.GatedReLURegressor(beta=0.1, random_state=3))
    assert c.get_params()["beta"] == 0.1 and c.get_params()["random_state"] == 3


def test_unfitted():
    with pytest.raises(Exception, match="not fitted"):
        cronos.ConvexReLURegressor().predict(np.ones((2, 2)))


def test_interrupt_stops_fit(sigint_raises):
    """A SIGINT during the solve raises KeyboardInterrupt within about one iteration."""
    import signal
    import threading
    import time

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 40))
    y = np.sin(X @ rng.normal(size=40))
    est = cronos.ConvexReLURegressor(n_patterns=64, max_iter=100000, tol_gap=1e-12, n_jobs=1, time_limit=30.0, beta_fraction=1e-3)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.time()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            est.fit(X, y)
    finally:
        timer.cancel()
    assert time.time() - t0 < 20
    assert not hasattr(est, "n_iter_")


def test_gil_released_during_fit():
    import threading
    import time

    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 20))
    y = np.sin(X[:, 0])
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.time())
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        t0 = time.time()
        cronos.ConvexReLURegressor(n_patterns=32, max_iter=150, tol_gap=1e-12, n_jobs=1, beta_fraction=1e-3).fit(X, y)
        t1 = time.time()
    finally:
        stop.set()
        t.join()
    during = [s for s in ticks if t0 < s < t1]
    if t1 - t0 > 0.3:
        assert len(during) >= 0.3 * (t1 - t0) / 0.01 * 0.3  # the other thread kept running


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


@pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").exists(), reason="bundled Fashion-MNIST files not found")
def test_fashion_mnist_binary():
    images = _read_idx(FASHION / "train-images-idx3-ubyte.gz")
    labels = _read_idx(FASHION / "train-labels-idx1-ubyte.gz")
    keep = np.flatnonzero(labels <= 1)[:1200]
    X = images[keep].reshape(len(keep), -1).astype(np.float32) / 255.0
    y = labels[keep]
    Xtr, ytr, Xte, yte = X[:1000], y[:1000], X[1000:], y[1000:]
    m = cronos.ConvexReLUClassifier(n_patterns=16, max_iter=100, beta_fraction=1e-3).fit(Xtr, ytr)
    assert m.score(Xtr, ytr) > 0.9
    assert m.score(Xte, yte) > 0.9
