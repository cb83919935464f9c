"""Losses (logistic, softmax), sample and class weights, and beta="auto" on the estimators."""

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

import cronos
from cronos import _io

pytestmark = pytest.mark.filterwarnings("ignore:cronos stopped")

# softmax solves cost far more per iteration than squared ones: keep these problems tiny
TINY = dict(n_patterns=4, max_iter=40)


def _data(n=80, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    t = np.abs(X[:, 0]) + 0.5 * X[:, 1]
    return X, t


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# -- predict_proba ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [cronos.ConvexReLUClassifier, cronos.GatedReLUClassifier])
def test_logistic_predict_proba(cls):
    X, t = _data()
    y = np.where(t > np.median(t), "yes", "no")
    m = cls(loss="logistic", beta_fraction=1e-2, **TINY).fit(X, y)
    assert m.loss_ == "logistic" and list(m.classes_) == ["no", "yes"]
    p = m.predict_proba(X)
    assert p.shape == (80, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (m.classes_[p.argmax(axis=1)] == m.predict(X)).all()
    # column 1 is classes_[1]: the logistic function of the decision value (log-odds)
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-m.decision_function(X))), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(m.predict_log_proba(X), np.log(p), atol=1e-9)
    assert m.score(X, y) > 0.6  # sanity only (4 patterns, 40 iterations)


@pytest.mark.parametrize("cls", [cronos.ConvexReLUClassifier, cronos.GatedReLUClassifier])
def test_softmax_predict_proba(cls):
    X, t = _data(60)
    y = np.digitize(t, np.quantile(t, [1 / 3, 2 / 3])) * 10 + 3  # labels 3, 13, 23
    m = cls(loss="softmax", beta_fraction=1e-2, **TINY).fit(X, y)
    assert m.loss_ == "softmax" and list(m.classes_) == [3, 13, 23]
    p = m.predict_proba(X)
    assert p.shape == (60, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (m.classes_[p.argmax(axis=1)] == m.predict(X)).all()
    np.testing.assert_allclose(p, _softmax(m.decision_function(X)), rtol=1e-12)
    assert m.score(X, y) > 0.5  # sanity only (chance: 1/3)


def test_loss_must_fit_the_labels():
    X, t = _data(60)
    y2 = (t > np.median(t)).astype(int)
    y3 = np.digitize(t, np.quantile(t, [1 / 3, 2 / 3]))
    with pytest.raises(ValueError, match=r"loss='logistic' is a binary loss but y has 3 classes"):
        cronos.GatedReLUClassifier(loss="logistic", **TINY).fit(X, y3)
    with pytest.raises(ValueError, match=r"loss='softmax' needs at least 3 classes"):
        cronos.GatedReLUClassifier(loss="softmax", **TINY).fit(X, y2)
    with pytest.raises(ValueError, match=r"`loss`.*regressors fit loss='squared' only"):
        cronos.GatedReLURegressor(loss="logistic", **TINY).fit(X, t)
    for bad in ("hinge", None, 3):
        with pytest.raises(ValueError, match=r"invalid setting `loss`"):
            cronos.GatedReLUClassifier(loss=bad, **TINY).fit(X, y2)
    # straight to the extension: targets that do not fit the loss name `y`
    with pytest.raises(ValueError, match=r"`y`.*-1/\+1"):
        cronos._cronos.fit(X, np.ones((60, 1)) * 0.5, loss="logistic", n_patterns=4, max_iter=5)
    with pytest.raises(ValueError, match=r"`y`.*one-hot"):
        cronos._cronos.fit(X, -np.ones((60, 3)), loss="softmax", n_patterns=4, max_iter=5, beta_auto=True)


# -- beta = "auto" ---------------------------------------------------------------------------
def test_auto_beta_picks_a_value_and_records_the_path():
    X, t = _data(150, seed=1)
    m = cronos.GatedReLURegressor(n_patterns=8, max_iter=100)
    assert m.beta == "auto"
    m.fit(X, t)
    path = m.beta_path_
    assert isinstance(path, list) and 2 <= len(path) <= 12
    keys = {"fraction", "beta", "objective", "relative_gap", "active_neurons", "iterations", "seconds", "status", "train_metric", "validation_metric"}
    assert all(set(p) == keys for p in path)
    fr = [p["fraction"] for p in path]
    # points of the 12-point geometric grid from 1 to 1e-5, each visited once; the walk starts at
    # the grid point just above 30/n of beta_max (n: the 90% of rows the path fits)
    grid = np.geomspace(1.0, 1e-5, 12)
    assert all(np.isclose(grid, f, rtol=1e-9).any() for f in fr) and len(set(fr)) == len(fr)
    n_path = round(0.9 * len(X))
    start = min(g for g in grid if g >= 30 / n_path)
    assert fr[0] == pytest.approx(start)
    # the chosen point has the best validation metric (ties: the lower validation loss); the
    # refit's fraction is its fraction rescaled to all rows by (rows ratio)^0.75
    # (cronos::REFIT_EXPONENT: the best fraction falls like n^-0.70 on Fashion-MNIST)
    vals = [p["validation_metric"] for p in path]
    chosen = [f for f in fr if np.isclose(f * (n_path / len(X)) ** 0.75, m.beta_fraction_, rtol=1e-9)]
    assert len(chosen) == 1 and vals[fr.index(chosen[0])] == max(vals)
    assert 0 < m.beta_fraction_ < 1
    assert json.loads(m.settings_json_)["beta"] == {"Fraction": m.beta_fraction_}
    assert m.score(X, t) > 0.5
    # the refit is the fit at that fixed fraction
    fixed = cronos.GatedReLURegressor(n_patterns=8, max_iter=100, beta_fraction=m.beta_fraction_).fit(X, t)
    np.testing.assert_allclose(m.predict(X), fixed.predict(X), atol=0.05 * np.abs(t).max())
    assert fixed.beta_path_ is None and fixed.beta_fraction_ == m.beta_fraction_
    # path options
    m3 = cronos.GatedReLURegressor(n_patterns=8, max_iter=100, path_points=3, path_min_fraction=1e-2).fit(X, t)
    assert [p["fraction"] for p in m3.beta_path_][: 3] == pytest.approx([1.0, 0.1, 0.01][: len(m3.beta_path_)])
    # an absolute beta: no path, no fraction
    a = cronos.GatedReLURegressor(beta=0.5, **TINY).fit(X, t)
    assert a.beta_path_ is None and a.beta_fraction_ is None and a.beta_[0] == 0.5


def test_auto_beta_classifier_and_tiny_data():
    X, t = _data(100)
    y = np.where(t > np.median(t), 1, -1)
    m = cronos.ConvexReLUClassifier(n_patterns=8, max_iter=100).fit(X, y)
    assert len(m.beta_path_) >= 2 and all(0 <= p["validation_metric"] <= 1 for p in m.beta_path_)  # accuracy
    assert m.score(X, y) > 0.7
    # too few rows to hold any out (< 5 per class): the library default fraction, empty path
    s = cronos.GatedReLUClassifier(**TINY).fit(X[:8], np.arange(8) % 2)
    assert s.beta_path_ == [] and s.beta_fraction_ == 1e-3


def test_interrupt_during_the_path(sigint_raises):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 20))
    y = np.sin(X @ rng.normal(size=20))
    est = cronos.ConvexReLURegressor(n_patterns=32, max_iter=100000, tol_gap=1e-12, n_jobs=1, time_limit=30.0)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.time()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            est.fit(X, y)
    finally:
        timer.cancel()
    assert time.time() - t0 < 20
    assert not hasattr(est, "n_iter_")


# -- sample and class weights ----------------------------------------------------------------
def _two_class(n_a=20, n_b=40, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_a + n_b, 3))
    y = np.array(["a"] * n_a + ["b"] * n_b)
    X[:n_a, 0] += 0.8  # overlapping classes: weights move the boundary
    return X, y


EXACT = dict(n_patterns=8, max_iter=2000, tol_gap=1e-7, beta_fraction=1e-2, n_jobs=1)


def test_class_weight_balanced_equals_duplicated_rows():
    X, y = _two_class()
    # balanced: 60 / (2 * 20) = 1.5 for "a", 60 / (2 * 40) = 0.75 for "b", i.e. 2 : 1
    bal = cronos.GatedReLUClassifier(class_weight="balanced", **EXACT).fit(X, y)
    dup = cronos.GatedReLUClassifier(**EXACT).fit(np.concatenate([X, X[:20]]), np.concatenate([y, y[:20]]))
    plain = cronos.GatedReLUClassifier(**EXACT).fit(X, y)
    np.testing.assert_allclose(bal.decision_function(X), dup.decision_function(X), atol=2e-3)
    assert np.abs(bal.decision_function(X) - plain.decision_function(X)).max() > 0.05
    assert (bal.predict(X) == "a").sum() > (plain.predict(X) == "a").sum()
    # a dict with the same ratio is the same fit; classes missing from the dict weigh 1
    d = cronos.GatedReLUClassifier(class_weight={"a": 2.0, "b": 1.0}, **EXACT).fit(X, y)
    np.testing.assert_allclose(d.decision_function(X), bal.decision_function(X), atol=2e-3)
    d1 = cronos.GatedReLUClassifier(class_weight={"a": 2.0}, **EXACT).fit(X, y)
    np.testing.assert_allclose(d1.decision_function(X), d.decision_function(X), atol=2e-3)
    # class_weight multiplies sample_weight
    sw = np.where(y == "a", 2.0, 1.0)
    both = cronos.GatedReLUClassifier(class_weight={"a": 0.5}, **EXACT).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(both.decision_function(X), plain.decision_function(X), atol=2e-3)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_sample_weight_equals_duplicated_rows(loss):
    X, y = _two_class(seed=3)
    w = np.random.default_rng(0).integers(0, 4, size=len(y))  # zero weight = row removed
    # the weighted logistic solve converges more slowly: more iterations for the same accuracy
    kw = dict(EXACT, loss=loss, max_iter=2000 if loss == "squared" else 3000)
    a = cronos.GatedReLUClassifier(**kw).fit(X, y, sample_weight=w)
    b = cronos.GatedReLUClassifier(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    tol = 2e-3 if loss == "squared" else 2e-2
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), atol=tol)
    assert a.objective_ == pytest.approx(b.objective_, rel=1e-5)
    c = cronos.GatedReLUClassifier(**kw).fit(X, y)
    assert np.abs(a.decision_function(X) - c.decision_function(X)).max() > 0.05


def test_weighted_regression_and_auto():
    X, t = _data(120)
    w = np.where(X[:, 2] > 0, 3.0, 1.0)
    a = cronos.GatedReLURegressor(**TINY).fit(X, t, sample_weight=w)
    b = cronos.GatedReLURegressor(**TINY).fit(X, t)
    assert len(a.beta_path_) >= 2
    assert not np.allclose(a.predict(X), b.predict(X))


def test_bad_weights_and_options_name_the_parameter():
    X, y = _two_class()
    C = cronos.GatedReLUClassifier
    for cw in ("auto", ["a"], {"a": -1.0}, {"a": float("nan")}, {"a": "heavy"}, {"zzz": 2.0}):
        with pytest.raises(ValueError, match="class_weight"):
            C(class_weight=cw, **TINY).fit(X, y)
    for sw in (np.ones(5), np.full(60, np.nan), -np.ones(60), np.zeros(60)):
        with pytest.raises(ValueError, match="sample_weight|Sample weights"):
            C(**TINY).fit(X, y, sample_weight=sw)
    with pytest.raises(ValueError, match="class_weight and sample_weight"):
        C(class_weight={"a": 0.0}, **TINY).fit(X, y, sample_weight=(y == "a").astype(float))
    for kw, name in [
        (dict(beta="magic"), "beta"),
        (dict(beta=[1.0]), "beta"),
        (dict(beta=-1.0), "beta"),
        (dict(beta=1.0, beta_fraction=0.1), "beta"),
        (dict(beta_fraction=0.0), "beta"),
        (dict(path_points=0), "path_points"),
        (dict(path_points=2.5), "path_points"),
        (dict(path_min_fraction=0.0), "path_min_fraction"),
        (dict(path_min_fraction=2.0), "path_min_fraction"),
        (dict(path_min_fraction="small"), "path_min_fraction"),
    ]:
        with pytest.raises(ValueError, match=name):
            C(**TINY, **kw).fit(X, y)
    # straight to the extension: the Rust checks name sample_weight
    with pytest.raises(ValueError, match=r"invalid data `sample_weight`: 3 weights for 60 rows"):
        cronos._cronos.fit(X, np.ones((60, 1)), sample_weight=np.ones(3), n_patterns=4, max_iter=3)
    with pytest.raises(TypeError, match="sample_weight"):
        cronos._cronos.fit(X, np.ones((60, 1)), sample_weight=np.ones((60, 1)), n_patterns=4, max_iter=3)


# -- persistence -------------------------------------------------------------------------------
def test_save_load_keeps_loss_and_auto(tmp_path):
    from _safetensors import read_safetensors, write_safetensors

    X, t = _data(100)
    y = np.where(t > np.median(t), "yes", "no")
    m = cronos.GatedReLUClassifier(loss="logistic", class_weight={"yes": 2.0}, path_points=4, n_patterns=4, max_iter=40).fit(X, y)
    path = tmp_path / "m.safetensors"
    m.save(path)
    _, md = read_safetensors(path)
    meta = json.loads(md["cronos"])
    assert meta["settings"]["loss"] == "Logistic"
    assert meta["settings"]["beta"] == {"Fraction": m.beta_fraction_}
    m2 = cronos.load(path)
    assert m2.get_params() == m.get_params()
    assert m2.loss_ == "logistic" and m2.beta == "auto" and m2.class_weight == {"yes": 2.0}
    assert m2.beta_fraction_ == m.beta_fraction_ and m2.beta_path_ == m.beta_path_
    np.testing.assert_allclose(m2.predict_proba(X), m.predict_proba(X), atol=1e-4)
    again = tmp_path / "again.safetensors"
    m2.save(again)
    assert again.read_bytes() == path.read_bytes()
    # softmax too, and a model file without the Python parameters (as the CLI writes it)
    y3 = np.digitize(t, np.quantile(t, [1 / 3, 2 / 3]))
    s = cronos.ConvexReLUClassifier(loss="softmax", beta_fraction=0.05, **TINY).fit(X, y3)
    s.save(path)
    tensors, md = read_safetensors(path)
    del md[_io.PY_PARAMS_KEY]
    write_safetensors(path, tensors, md)
    s2 = cronos.load(path)
    assert s2.loss == "softmax" and s2.loss_ == "softmax" and s2.beta_fraction == 0.05
    np.testing.assert_allclose(s2.predict_proba(X), s.predict_proba(X), atol=1e-4)


def test_a_stopped_softmax_fit_holds_its_best_certified_iterate():
    # split ADMM's objective is not monotone: stopped at 100 iterations, this fit holds the
    # lowest objective it certified (iteration 50), exactly what a fit stopped there returns
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=0)
    kw = dict(loss="softmax", beta_fraction=1e-3, n_patterns=8, tol_gap=1e-9, n_jobs=1)
    long = cronos.GatedReLUClassifier(max_iter=100, **kw).fit(X, y)
    assert long.status_ == "max_iterations" and long.n_iter_ == 100
    assert long.best_iteration_ is not None and long.best_iteration_ < long.n_iter_
    short = cronos.GatedReLUClassifier(max_iter=long.best_iteration_, **kw).fit(X, y)
    assert short.best_iteration_ is None  # its last iterate is its best
    assert short.objective_ == pytest.approx(long.objective_, rel=1e-12)
    np.testing.assert_allclose(short.predict_proba(X), long.predict_proba(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(long.predict_proba(X).sum(axis=1), 1.0, rtol=1e-9)
