"""Model files and results shared with the `cronos` CLI (skipped when the binary is absent).

The binary is taken from $CRONOS_CLI, else target/release/cronos or target/debug/cronos of
the workspace (build it with `cargo build --release -p cronos-cli`).
"""

import subprocess
from pathlib import Path

import numpy as np
import pytest

import cronos

pytestmark = pytest.mark.filterwarnings("ignore:cronos stopped")



from _cli import CLI, needs_cli  # noqa: E402


def _csv(tmp_path, task):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    t = np.abs(X[:, 0]) + 0.5 * X[:, 1] - 0.3
    y = (t > 0.4).astype(int) if task == "classification" else t
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", fmt="%.9g")
    D = np.loadtxt(path, delimiter=",")
    return path, D[:, :-1], (D[:, -1].astype(int) if task == "classification" else D[:, -1])


def _scores(tmp_path, model, data):
    out = tmp_path / "scores.npy"
    subprocess.run([CLI, "predict", "-m", str(model), "-i", str(data), "-o", str(out), "--scores", "--force"], check=True, capture_output=True)
    return np.load(out)


@needs_cli
@pytest.mark.parametrize("task,gated", [("classification", False), ("classification", True), ("regression", False), ("regression", True)])
def test_cli_and_python_agree(tmp_path, task, gated):
    data, X, y = _csv(tmp_path, task)
    cli_model = tmp_path / "cli.safetensors"
    cmd = [CLI, "train", "--train", str(data), "--task", task, "--patterns", "8", "--max-iter", "50", "--threads", "1", "--seed", "0",
           "--preprocess", "standardize", "--out", str(cli_model), "--force", "--json"]
    # the CLI's default network is gated ReLU; the ReLU cases name theirs
    cmd.append("--gated" if gated else "--relu")
    subprocess.run(cmd, check=True, capture_output=True)
    # CLI file -> Python
    m = cronos.load(cli_model)
    kind = ("GatedReLU" if gated else "ConvexReLU") + ("Classifier" if task == "classification" else "Regressor")
    assert type(m).__name__ == kind
    cli_scores = _scores(tmp_path, cli_model, data).reshape(len(X), -1)[:, 0]
    py_scores = m.decision_function(X) if task == "classification" else m.predict(X)
    np.testing.assert_allclose(py_scores, cli_scores, atol=1e-4)
    # same data, seed and settings in Python (float32 like the CLI): same solution
    cls = getattr(cronos, kind)
    p = cls(n_patterns=8, max_iter=50, n_jobs=1, random_state=0).fit(X.astype(np.float32), y)
    assert p.objective_ == pytest.approx(m.objective_, rel=1e-4)
    ps = p.decision_function(X) if task == "classification" else p.predict(X)
    np.testing.assert_allclose(ps, cli_scores, atol=1e-3)
    # Python file -> CLI
    py_model = tmp_path / "py.safetensors"
    p.save(py_model)
    np.testing.assert_allclose(_scores(tmp_path, py_model, data).reshape(len(X), -1)[:, 0], ps, atol=1e-4)
    out = subprocess.run([CLI, "inspect", str(py_model)], check=True, capture_output=True, text=True).stdout
    assert "format version 1" in out


@needs_cli
def test_cli_reads_models_without_recorded_settings(tmp_path):
    """Models pickled before `settings_json_` existed save with the Rust default settings."""
    data, X, y = _csv(tmp_path, "classification")
    p = cronos.GatedReLUClassifier(n_patterns=8, max_iter=50, time_limit=30.5).fit(X, np.where(y == 1, "yes", "no"))
    del p.settings_json_
    path = tmp_path / "old.safetensors"
    p.save(path)
    np.testing.assert_allclose(_scores(tmp_path, path, data).reshape(len(X), -1)[:, 0], p.decision_function(X), atol=1e-4)
    q = cronos.load(path)
    assert list(q.classes_) == ["no", "yes"] and q.time_limit == pytest.approx(30.5)


@needs_cli
def test_logistic_models_cross_over(tmp_path):
    """`cronos train --loss logistic --beta auto` and the Python defaults with loss='logistic'
    choose the same beta and the same solution; the loss survives the model file both ways."""
    data, X, y = _csv(tmp_path, "classification")
    cli_model = tmp_path / "cli.safetensors"
    subprocess.run([CLI, "train", "--train", str(data), "--task", "classification", "--loss", "logistic", "--path-points", "4", "--relu",
                    "--patterns", "8", "--max-iter", "50", "--threads", "1", "--seed", "0", "--preprocess", "standardize",
                    "--out", str(cli_model), "--force", "--json"], check=True, capture_output=True)
    m = cronos.load(cli_model)
    assert type(m) is cronos.ConvexReLUClassifier and m.loss == "logistic" and m.loss_ == "logistic"
    cli_scores = _scores(tmp_path, cli_model, data).reshape(len(X), -1)[:, 0]
    np.testing.assert_allclose(m.decision_function(X), cli_scores, atol=1e-4)
    p = cronos.ConvexReLUClassifier(loss="logistic", path_points=4, n_patterns=8, max_iter=50, n_jobs=1, random_state=0).fit(X.astype(np.float32), y)
    assert p.beta_fraction_ == pytest.approx(m.beta_fraction, rel=1e-6)
    assert p.objective_ == pytest.approx(m.objective_, rel=1e-4)
    np.testing.assert_allclose(p.predict_proba(X), m.predict_proba(X), atol=1e-3)
    py_model = tmp_path / "py.safetensors"
    p.save(py_model)
    out = subprocess.run([CLI, "inspect", str(py_model)], check=True, capture_output=True, text=True).stdout
    assert "ogistic" in out, out
    np.testing.assert_allclose(_scores(tmp_path, py_model, data).reshape(len(X), -1)[:, 0], p.decision_function(X), atol=1e-4)
