"""The README's "load the model elsewhere" snippet runs as written and reproduces predictions."""
import pathlib
import re

import numpy as np
import pytest

import cronos

pytest.importorskip("safetensors")
README = pathlib.Path(__file__).resolve().parents[3] / "README.md"


def snippet() -> str:
    text = README.read_text()
    m = re.search(r"<!-- numpy-snippet -->\s*```python\n(.*?)```", text, re.S)
    assert m, "README lost its numpy snippet"
    return m.group(1)


def test_readme_numpy_snippet_matches_predictions(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = (X[:, 0] - np.abs(X[:, 1]) > 0).astype(int)
    clf = cronos.ConvexReLUClassifier(n_patterns=8, max_iter=60).fit(X, y)
    monkeypatch.chdir(tmp_path)
    clf.save("cronos-model.safetensors")
    scope = {"x_raw": X}
    exec(snippet(), scope)
    np.testing.assert_allclose(scope["scores"].ravel(), clf.decision_function(X).ravel(), rtol=1e-4, atol=1e-4)
