"""Progress output goes through Python's sys.stderr (what notebooks capture), never fd 2."""

import contextlib
import io
import math
import warnings

import numpy as np
import pytest

import cronos
from cronos import _cronos, _progress


def _data(n=200, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, np.abs(X[:, 0]) + X[:, 1]


@pytest.fixture
def no_tqdm(monkeypatch):
    """Plain lines, whether or not tqdm is installed."""
    monkeypatch.setattr(_progress, "_tqdm", lambda: None)


def _fit_captured(capfd, est, X, y):
    buf = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(buf):
        warnings.simplefilter("ignore")
        est.fit(X, y)
    # sys.stderr was the StringIO: anything on file descriptor 2 came from Rust directly
    assert capfd.readouterr().err == ""
    return buf.getvalue()


def test_verbose_lines_reach_redirected_stderr(capfd, no_tqdm):
    X, y = _data()
    est = cronos.GatedReLURegressor(n_patterns=8, max_iter=200, beta_fraction=1e-3, verbose=True)
    out = _fit_captured(capfd, est, X, y)
    lines = out.splitlines()
    assert any(l.startswith("cronos: setup") for l in lines), out
    iters = [l for l in lines if l.startswith("cronos: iter")]
    assert iters and all("gap" in l and "ETA" in l for l in iters), out
    assert lines[-1].startswith(f"cronos: {est.status_} after {est.n_iter_} iterations"), out


def test_verbose_2_writes_one_line_per_certificate(capfd, no_tqdm):
    X, y = _data()
    est = cronos.ConvexReLURegressor(n_patterns=8, max_iter=60, beta_fraction=1e-3, verbose=2)
    out = _fit_captured(capfd, est, X, y)
    iters = [l for l in out.splitlines() if l.startswith("cronos: iter")]
    # a certificate every 5 iterations (the library default), and the first iteration's
    assert len(iters) >= est.n_iter_ // 5, out
    assert all("obj" in l and "lower" in l and "ETA" in l for l in iters)


def test_beta_path_is_reported(capfd, no_tqdm):
    X, y = _data()
    est = cronos.GatedReLURegressor(n_patterns=8, max_iter=100, path_points=4, verbose=1)
    out = _fit_captured(capfd, est, X, y)
    path = [l for l in out.splitlines() if l.startswith("cronos: path")]
    assert len(path) == len(est.beta_path_) and path[0].startswith("cronos: path 1/4"), out
    assert "cronos: chose beta/beta_max" in out


def test_verbose_false_prints_nothing(capfd):
    X, y = _data()
    est = cronos.GatedReLURegressor(n_patterns=8, max_iter=100, path_points=4)
    assert _fit_captured(capfd, est, X, y) == ""


def test_tqdm_bar_when_installed(capfd):
    pytest.importorskip("tqdm")
    X, y = _data()
    est = cronos.GatedReLURegressor(n_patterns=8, max_iter=200, beta_fraction=1e-3, verbose=True)
    out = _fit_captured(capfd, est, X, y)
    assert "cronos:" in out and "%|" in out and "gap" in out and "ETA" in out, out


def test_binding_verbose_writes_through_sys_stderr(capfd, no_tqdm):
    X, y = _data()
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        res = _cronos.fit(X, y[:, None], n_patterns=4, max_iter=20, beta_fraction=1e-3, verbose=True)
    assert capfd.readouterr().err == ""
    assert f"cronos: {res['status']} after {res['n_iter']} iterations" in buf.getvalue()


def test_progress_callable_receives_events_and_can_stop_the_fit():
    X, y = _data()
    events = []
    _cronos.fit(X, y[:, None], n_patterns=4, max_iter=20, beta_fraction=1e-3, progress=events.append)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "setup" and "iter" in kinds
    it = next(e for e in events if e["event"] == "iter")
    assert {"iteration", "seconds", "relative_gap", "objective", "lower_bound"} <= set(it)

    class Stop(Exception):
        pass

    def stop_at_third(e):
        if e["event"] == "iter" and e["iteration"] >= 10:
            raise Stop("enough")

    with pytest.raises(Stop):
        _cronos.fit(X, y[:, None], n_patterns=4, max_iter=1000, tol_gap=1e-12, beta_fraction=1e-3, progress=stop_at_third)


def test_eta_follows_the_gap_trend():
    # the gap falls tenfold per 10 iterations at 0.1 s per iteration: from 1e-2 to 1e-4 is 20
    # more iterations, 2 s (below the 480 iterations, 48 s, left to max_iter)
    eta = _progress.Eta(max_iter=500, tol_gap=1e-4, time_limit=None)
    for it in (10, 15, 20):
        eta.add(it, it * 0.1, 10.0 ** (-it / 10))
    assert math.isclose(eta.seconds_left(), 2.0, rel_tol=1e-9)
    # a time limit closer than that wins
    eta.time_limit = 3.0
    assert math.isclose(eta.seconds_left(), 1.0, rel_tol=1e-9)
    # no trend yet: the iteration bound
    eta = _progress.Eta(max_iter=100, tol_gap=1e-4, time_limit=None)
    eta.add(10, 1.0, 0.5)
    assert math.isclose(eta.seconds_left(), 9.0, rel_tol=1e-9)
    assert math.isclose(eta.fraction_done(), 0.1, rel_tol=1e-9)
