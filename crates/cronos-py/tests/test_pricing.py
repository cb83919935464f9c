"""Pattern pricing (`pricing_rounds`) from Python: the rounds, the final model and its file."""

import contextlib
import io
import warnings

import numpy as np
import pytest

import cronos
from cronos import _cronos, _progress


def _rings(n=300, seed=0):
    """Three classes on concentric rings: a few random gates cannot separate them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    angle = rng.uniform(0, 2 * np.pi, size=n)
    radius = 1.0 + y + 0.15 * rng.normal(size=n)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle), rng.normal(size=(n, 2))])
    return X, y


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def test_rounds_add_violating_gates_and_never_raise_the_objective():
    X, y = _rings()
    plain = _fit(cronos.GatedReLUClassifier(n_patterns=4, beta_fraction=0.01), X, y)
    est = _fit(cronos.GatedReLUClassifier(n_patterns=4, beta_fraction=0.01, pricing_rounds=3, pricing_add=4), X, y)
    assert plain.pricing_ is None
    rounds = est.pricing_
    assert [r["round"] for r in rounds][:2] == [0, 1]
    assert rounds[0]["objective"] == pytest.approx(plain.objective_, rel=1e-9)
    assert sum(r["added"] for r in rounds) > 0
    for r in rounds[1:]:
        if r["added"]:
            assert r["max_violation"] > 1.0
            assert r["status"] is not None
    objectives = [r["objective"] for r in rounds]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(objectives, objectives[1:])), objectives
    # the fitted model is the last round's: its pattern set, certificate and training score
    last = rounds[-1]
    assert est.n_patterns_ == last["patterns"] == est.gates_.shape[1] > 4
    assert est.objective_ == pytest.approx(last["objective"], rel=1e-9)
    assert est.objective_ < plain.objective_
    assert 0.0 <= est.relative_gap_ <= 1e-3 or est.status_ != "solved"
    assert est.score(X, y) == pytest.approx(last["train_metric"], abs=1e-12)
    assert est.score(X, y) > plain.score(X, y)


def test_swap_keeps_the_pattern_count_and_lowers_the_objective(tmp_path):
    X, y = _rings(seed=4)
    plain = _fit(cronos.GatedReLUClassifier(n_patterns=6, beta_fraction=0.005), X, y)
    est = _fit(cronos.GatedReLUClassifier(n_patterns=6, beta_fraction=0.005, pricing_rounds=3, pricing_add=2, pricing_swap=True), X, y)
    rounds = est.pricing_
    assert sum(r["added"] for r in rounds) > 0
    assert all(r["patterns"] <= 6 for r in rounds), [r["patterns"] for r in rounds]
    assert est.n_patterns_ == est.gates_.shape[1] <= 6
    objectives = [r["objective"] for r in rounds]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(objectives, objectives[1:])), objectives
    assert est.objective_ < plain.objective_
    assert est.get_params()["pricing_swap"] is True
    path = tmp_path / "swapped.safetensors"
    est.save(path)
    assert cronos.load(path).get_params()["pricing_swap"] is True
    with pytest.raises(ValueError, match="pricing_swap"):
        cronos.GatedReLUClassifier(n_patterns=4, pricing_rounds=1, pricing_swap="yes").fit(X, y)


def test_priced_model_file_round_trips(tmp_path):
    X, y = _rings(seed=1)
    est = _fit(cronos.GatedReLUClassifier(n_patterns=4, beta_fraction=0.01, pricing_rounds=2), X, y)
    path = tmp_path / "priced.safetensors"
    est.save(path)
    back = cronos.load(path)
    # new rows: pricing draws hyperplanes through training rows, which the file's float32
    # preprocessing may put on either side of their gate
    Xn, _ = _rings(seed=9)
    np.testing.assert_array_equal(back.predict(Xn), est.predict(Xn))
    np.testing.assert_allclose(back.predict_proba(Xn), est.predict_proba(Xn), rtol=1e-5, atol=1e-7)


def test_pricing_after_the_automatic_beta_and_for_regression():
    X, y = _rings(seed=2)
    est = _fit(cronos.GatedReLUClassifier(n_patterns=4, path_points=4, pricing_rounds=1), X, y)
    assert est.beta_path_ and est.pricing_ is not None and len(est.pricing_) >= 2
    reg = _fit(cronos.GatedReLURegressor(n_patterns=4, beta_fraction=0.01, pricing_rounds=2), X, np.hypot(X[:, 0], X[:, 1]))
    assert reg.pricing_[-1]["objective"] <= reg.pricing_[0]["objective"]
    assert reg.n_patterns_ == reg.pricing_[-1]["patterns"]


@pytest.mark.parametrize("name,value", [("pricing_rounds", -1), ("pricing_add", 1.5), ("pricing_max_iter", True)])
def test_bad_pricing_settings_are_refused(name, value):
    X, y = _rings(n=60)
    with pytest.raises(ValueError, match=name):
        cronos.GatedReLUClassifier(n_patterns=4, **{name: value}).fit(X, y)


def test_relu_estimators_refuse_pricing():
    X, y = _rings(n=60)
    with pytest.raises(ValueError, match="pricing_rounds.*gated"):
        cronos.ConvexReLUClassifier(n_patterns=4, pricing_rounds=1).fit(X, y)


def test_rounds_are_reported_and_a_callback_error_stops_pricing(monkeypatch, capfd):
    monkeypatch.setattr(_progress, "_tqdm", lambda: None)
    X, y = _rings(seed=3)
    buf = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(buf):
        warnings.simplefilter("ignore")
        cronos.GatedReLUClassifier(n_patterns=4, beta_fraction=0.01, pricing_rounds=2, verbose=1).fit(X, y)
    assert capfd.readouterr().err == ""
    lines = [l for l in buf.getvalue().splitlines() if l.startswith("cronos: pricing round")]
    assert len(lines) >= 2 and "patterns" in lines[-1], buf.getvalue()

    Y = np.eye(3)[y] * 2 - 1
    seen = []

    def stop_at_first_round(event):
        if event["event"] == "pricing":
            seen.append(event["round"])
            if event["round"] == 1:
                raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        _cronos.fit(X, Y, activation="gated_relu", n_patterns=4, beta_fraction=0.01, pricing_rounds=3, progress=stop_at_first_round)
    assert seen == [0, 1]
