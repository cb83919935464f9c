"""Calibrated probabilities of squared-loss classifiers: the temperature fitted on held-out
rows, its effect on the log-loss, model files (with and without it) and the CLI."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import cronos
from cronos import _cronos

pytestmark = pytest.mark.filterwarnings("ignore:cronos stopped")

FAST = dict(n_patterns=16, max_iter=150, n_jobs=1, path_points=4)


def _data(n=400, k=3, seed=0):
    """k Gaussian blobs in 5-D that overlap a little (a few mistakes), plus test rows."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=1.6, size=(k, 5))
    y = np.arange(n) % k
    X = centers[y] + rng.normal(size=(n, 5))
    return X[: n // 2], y[: n // 2], X[n // 2 :], y[n // 2 :]


def _log_loss(p, y):
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-300, None))))


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _logits(m, X):
    d = m.decision_function(X)
    return np.stack([-d, d], axis=1) if d.ndim == 1 else d


@pytest.mark.parametrize("k", [2, 3])
def test_temperature_lowers_validation_and_test_log_loss(k):
    X, y, Xt, yt = _data(k=k)
    m = cronos.GatedReLUClassifier(**FAST).fit(X, y)
    cal = m.calibration_
    assert cal is not None and cal["rows"] > 0
    # squared-loss scores near ±1 are far too flat: T < 1 sharpens them
    assert 0 < m.temperature_ < 1
    assert cal["log_loss_after"] < cal["log_loss_before"]
    # and on rows the fit never saw
    assert _log_loss(m.predict_proba(Xt), yt) < _log_loss(_softmax(_logits(m, Xt)), yt)
    # the fitted T minimises the held-out log-loss: the binding agrees with the result
    z, idx = _logits(m, Xt), yt
    t = _cronos.fit_temperature(np.ascontiguousarray(z), idx.astype(np.int64))
    assert _log_loss(_softmax(z / t), idx) <= _log_loss(_softmax(z), idx)


@pytest.mark.parametrize("cls", [cronos.ConvexReLUClassifier, cronos.GatedReLUClassifier])
@pytest.mark.parametrize("k", [2, 4])
def test_probabilities_sum_to_one(cls, k):
    X, y, Xt, _ = _data(n=240, k=k, seed=1)
    for dtype in (np.float64, np.float32):
        m = cls(**FAST).fit(X.astype(dtype), y)
        p = m.predict_proba(Xt.astype(dtype))
        assert p.shape == (len(Xt), k)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
        assert (p >= 0).all()
        assert (m.classes_[p.argmax(1)] == m.predict(Xt.astype(dtype))).all()
        np.testing.assert_allclose(np.exp(m.predict_log_proba(Xt.astype(dtype))), p, atol=1e-9)


def test_fixed_beta_and_weights_calibrate_on_a_holdout():
    X, y, Xt, yt = _data()
    m = cronos.GatedReLUClassifier(beta_fraction=1e-3, **FAST).fit(X, y)
    assert m.calibration_ is not None and m.calibration_["rows"] == pytest.approx(0.1 * len(y), abs=3)
    assert m.calibration_["log_loss_after"] < m.calibration_["log_loss_before"]
    # weighted squared loss at a fixed beta (rows scaled by sqrt(w)): scores are unscaled again
    w = 1.0 + (np.arange(len(y)) % 3)
    mw = cronos.GatedReLUClassifier(beta=float(m.beta_[0]), **FAST).fit(X, y, sample_weight=w)
    assert 0 < mw.temperature_ < 1 and mw.calibration_["log_loss_after"] < mw.calibration_["log_loss_before"]
    assert _log_loss(mw.predict_proba(Xt), yt) < _log_loss(_softmax(_logits(mw, Xt)), yt)
    # the losses that are calibrated by training keep T = 1
    ms = cronos.GatedReLUClassifier(loss="softmax", **FAST).fit(X, y)
    assert ms.temperature_ == 1.0 and ms.calibration_ is None


def test_model_file_keeps_the_temperature(tmp_path):
    from _safetensors import read_safetensors, write_safetensors

    X, y, Xt, _ = _data()
    m = cronos.GatedReLUClassifier(**FAST).fit(X, y)
    path = tmp_path / "m.safetensors"
    m.save(path)
    _, md = read_safetensors(path)
    assert json.loads(md["cronos"])["calibration"]["temperature"] == pytest.approx(m.temperature_)
    back = cronos.load(path)
    assert back.temperature_ == pytest.approx(m.temperature_)
    np.testing.assert_allclose(back.predict_proba(Xt), m.predict_proba(Xt), atol=1e-5)


def test_old_model_file_without_temperature_loads(tmp_path):
    from _safetensors import read_safetensors, write_safetensors

    X, y, Xt, _ = _data()
    m = cronos.ConvexReLUClassifier(**FAST).fit(X, y)
    path = tmp_path / "old.safetensors"
    m.save(path)
    tensors, md = read_safetensors(path)
    meta = json.loads(md["cronos"])
    del meta["calibration"]
    md["cronos"] = json.dumps(meta)
    write_safetensors(path, tensors, md)
    old = cronos.load(path)
    assert old.temperature_ == 1.0 and old.calibration_ is None
    # the old behaviour: the softmax of the class logits
    np.testing.assert_allclose(old.predict_proba(Xt), _softmax(_logits(m, Xt)), atol=1e-5)


from _cli import CLI, needs_cli  # noqa: E402


@needs_cli
@pytest.mark.parametrize("k", [2, 3])
def test_cli_predict_proba_agrees_with_python(tmp_path, k):
    X, y, Xt, _ = _data(k=k)
    data = tmp_path / "train.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", fmt="%.9g")
    test = tmp_path / "test.npy"
    np.save(test, Xt)
    # a model trained by the CLI, read by Python
    cli_model = tmp_path / "cli.safetensors"
    out = subprocess.run(
        [CLI, "train", "--train", str(data), "--patterns", "16", "--max-iter", "150", "--threads", "1", "--path-points", "4",
         "--preprocess", "standardize", "--out", str(cli_model), "--force", "--json", "--quiet"],
        check=True, capture_output=True, text=True,
    )
    assert 0 < json.loads(out.stdout)["temperature"] < 1
    # a model trained by Python, read by the CLI
    py_model = tmp_path / "py.safetensors"
    m = cronos.GatedReLUClassifier(**FAST).fit(X, y)
    m.save(py_model)
    for model, est in ((cli_model, cronos.load(cli_model)), (py_model, m)):
        proba = tmp_path / "proba.npy"
        subprocess.run([CLI, "predict", "-m", str(model), "-i", str(test), "-o", str(proba), "--proba", "--force"], check=True, capture_output=True)
        p = np.load(proba)
        assert p.shape == (len(Xt), k)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
        np.testing.assert_allclose(p, est.predict_proba(Xt), atol=1e-4)


def test_holdout_rows_hash_row_contents():
    """The fixed-beta hold-out (Rust, src/holdout.rs) depends on each row's contents only:
    copies of a row fall on its side, CSR and dense X agree, and about 10% is held out."""
    sp = pytest.importorskip("scipy.sparse")
    from cronos._estimators import _holdout_rows

    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 6))
    X[rng.random(X.shape) < 0.4] = 0.0
    Y = rng.choice([-1.0, 1.0], size=(2000, 1))
    held = _holdout_rows(X, Y, 3)
    assert 150 < len(held) < 250
    np.testing.assert_array_equal(_holdout_rows(sp.csr_matrix(X), Y, 3), held)
    np.testing.assert_array_equal(_holdout_rows(X.astype(np.float32), Y.astype(np.float32), 3), _holdout_rows(X.astype(np.float32).astype(np.float64), Y, 3))
    # rows repeated at the end land where their originals are
    rep = np.r_[X, X[:50]], np.r_[Y, Y[:50]]
    side = np.isin(np.arange(2050), _holdout_rows(*rep, 3))
    np.testing.assert_array_equal(side[2000:], side[:50])
    assert not np.array_equal(_holdout_rows(X, Y, 4), held)
