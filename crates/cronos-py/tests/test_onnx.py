"""ONNX export (`cronos._onnx.to_onnx`, also `est.to_onnx` once hooked in): onnxruntime
reproduces the estimators' decision_function / predict / predict_proba, for ReLU and gated
networks, classifiers (numeric and string classes, two and three classes) and regressors.

Skipped when onnxruntime is not installed (`pip install onnxruntime onnx`).
"""

import numpy as np
import pytest

import cronos
from cronos._onnx import to_onnx

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime onnx)")

pytestmark = pytest.mark.filterwarnings("ignore:cronos stopped")

TOL = 1e-5
FAST = dict(n_patterns=8, max_iter=60, beta_fraction=1e-2, random_state=0, n_jobs=1)


def _data(n=160, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * [1.0, 3.0, 0.5, 10.0, 1.0] + [0.0, 5.0, -2.0, 100.0, 0.0]).astype(np.float32)
    t = np.abs(X[:, 0]) + 0.5 * (X[:, 1] - 5.0) - 0.3
    return X, t


def _run(path, X):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"X": X.astype(np.float32)})))


def _export(est, path):
    # the estimator method once the lead hooks it in; the module function until then
    return est.to_onnx(path) if hasattr(est, "to_onnx") else to_onnx(est, path)


@pytest.mark.parametrize("cls", [cronos.GatedReLUClassifier, cronos.ConvexReLUClassifier])
@pytest.mark.parametrize("loss,n_classes", [("squared", 2), ("logistic", 2), ("squared", 3), ("softmax", 3)])
def test_classifier_matches(tmp_path, cls, loss, n_classes):
    X, t = _data()
    y = np.digitize(t, np.quantile(t, np.linspace(0, 1, n_classes + 1)[1:-1])) * 2 + 1  # classes 1, 3, (5)
    est = cls(loss=loss, **FAST).fit(X, y)
    names = _export(est, tmp_path / "m.onnx")
    assert names == ["label", "label_index", "probabilities", "scores"]
    out = _run(tmp_path / "m.onnx", X)
    dec = est.decision_function(X).reshape(len(X), -1)
    assert np.abs(out["scores"] - dec).max() <= TOL
    assert np.abs(out["probabilities"] - est.predict_proba(X)).max() <= TOL
    pred = est.predict(X)
    margin = np.abs(dec[:, 0]) if dec.shape[1] == 1 else np.diff(np.sort(dec, axis=1)[:, -2:], axis=1)[:, 0]
    sure = margin > 1e-5
    assert (out["label"][sure] == pred[sure]).all()
    assert (est.classes_[out["label_index"]] == out["label"]).all()


@pytest.mark.parametrize("cls", [cronos.GatedReLURegressor, cronos.ConvexReLURegressor])
def test_regressor_matches(tmp_path, cls):
    X, t = _data(seed=1)
    est = cls(**FAST).fit(X, t)
    assert _export(est, tmp_path / "r.onnx") == ["scores"]
    out = _run(tmp_path / "r.onnx", X)
    assert out["scores"].shape == (len(X), 1)
    assert np.abs(out["scores"][:, 0] - est.predict(X)).max() <= TOL * max(1.0, np.abs(t).max())


def test_string_classes_and_model_file(tmp_path):
    X, t = _data(seed=2)
    y = np.where(t > np.median(t), "high", "low")
    est = cronos.GatedReLUClassifier(**FAST).fit(X, y)
    to_onnx(est, tmp_path / "s.onnx")
    out = _run(tmp_path / "s.onnx", X)
    assert out["label"].dtype == object
    dec = est.decision_function(X)
    sure = np.abs(dec) > 1e-5
    assert (out["label"][sure] == est.predict(X)[sure]).all()
    # a saved model file exports the same graph (string classes restored from the file)
    est.save(tmp_path / "m.safetensors")
    to_onnx(tmp_path / "m.safetensors", tmp_path / "f.onnx")
    assert (tmp_path / "f.onnx").read_bytes() == (tmp_path / "s.onnx").read_bytes()


def test_errors(tmp_path):
    X, t = _data(seed=3)
    est = cronos.ConvexReLURegressor(**FAST).fit(X, t)
    to_onnx(est, tmp_path / "r.onnx")
    before = (tmp_path / "r.onnx").read_bytes()
    with pytest.raises(FileExistsError, match="r.onnx"):
        to_onnx(est, tmp_path / "r.onnx")
    assert (tmp_path / "r.onnx").read_bytes() == before
    to_onnx(est, tmp_path / "r.onnx", force=True)
    with pytest.raises(ValueError, match="not fitted"):
        to_onnx(cronos.GatedReLUClassifier(), tmp_path / "u.onnx")
    (tmp_path / "bad.safetensors").write_bytes(b"nope")
    with pytest.raises(ValueError, match="bad.safetensors"):
        to_onnx(tmp_path / "bad.safetensors", tmp_path / "b.onnx")
    assert not (tmp_path / "b.onnx").exists()
