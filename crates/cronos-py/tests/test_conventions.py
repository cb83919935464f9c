"""scikit-learn's names: random_state, n_jobs, warm_start (and the deprecated seed/threads)."""

import os
import warnings

import numpy as np
import pytest

import cronos
from cronos._conventions import resolve_seed, resolve_threads

FAST = dict(n_patterns=8, max_iter=100, beta_fraction=1e-2)


def _data(n=200, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, np.abs(X[:, 0]) + X[:, 1] - np.maximum(X[:, 2], 0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cronos.ConvergenceWarning)
        yield


def test_random_state_is_the_seed():
    X, y = _data()
    a = cronos.GatedReLURegressor(random_state=3, **FAST).fit(X, y)
    with pytest.warns(FutureWarning, match="`seed` is deprecated"):
        b = cronos.GatedReLURegressor(seed=3, **FAST).fit(X, y)
    c = cronos.GatedReLURegressor(random_state=4, **FAST).fit(X, y)
    assert a.seed_ == b.seed_ == 3 and c.seed_ == 4
    np.testing.assert_array_equal(a.gates_, b.gates_)
    assert not np.array_equal(a.gates_, c.gates_)


def test_random_state_generator_objects():
    X, y = _data()
    a = cronos.GatedReLURegressor(random_state=np.random.RandomState(7), **FAST).fit(X, y)
    b = cronos.GatedReLURegressor(random_state=np.random.RandomState(7), **FAST).fit(X, y)
    assert a.seed_ == b.seed_ == np.random.RandomState(7).randint(np.iinfo(np.int32).max)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    c = cronos.GatedReLURegressor(random_state=None, **FAST).fit(X, y)
    assert 0 <= c.seed_ < 2**31


@pytest.mark.parametrize("bad", [-1, 1.5, "zero", True, 2**64])
def test_random_state_rejects_bad_values(bad):
    X, y = _data()
    with pytest.raises(ValueError, match="random_state"):
        cronos.GatedReLURegressor(random_state=bad, **FAST).fit(X, y)


def test_seed_and_random_state_conflict():
    with pytest.raises(ValueError, match="give `random_state` only"):
        with pytest.warns(FutureWarning):
            resolve_seed(5, 3)
    with pytest.warns(FutureWarning):
        assert resolve_seed(0, 3) == 3  # random_state at its default: the alias decides


def test_n_jobs_maps_to_threads():
    cores = os.cpu_count() or 1
    assert resolve_threads(None, None) == 0 and resolve_threads(-1, None) == 0  # 0: all cores
    assert resolve_threads(1, None) == 1 and resolve_threads(3, None) == 3
    assert resolve_threads(-2, None) == max(1, cores - 1)
    assert resolve_threads(-10 * cores, None) == 1
    for bad in (0, 1.0, "2", True):
        with pytest.raises(ValueError, match="n_jobs"):
            resolve_threads(bad, None)
    with pytest.warns(FutureWarning, match="`threads` is deprecated"):
        assert resolve_threads(None, 2) == 2
    with pytest.raises(ValueError, match="give `n_jobs` only"):
        with pytest.warns(FutureWarning):
            resolve_threads(2, 2)


def test_n_jobs_gives_the_same_fit():
    X, y = _data()
    one = cronos.GatedReLURegressor(n_jobs=1, **FAST).fit(X, y)
    every = cronos.GatedReLURegressor(n_jobs=-1, **FAST).fit(X, y)
    with pytest.warns(FutureWarning):
        old = cronos.GatedReLURegressor(threads=1, **FAST).fit(X, y)
    np.testing.assert_allclose(one.predict(X), every.predict(X), rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(one.predict(X), old.predict(X))


def test_warm_start_refit_at_a_new_beta():
    # at a tight gap the warm refit at a nearby beta needs fewer ADMM iterations than the cold
    # fit (40 vs 80 here), and reaches the same optimum
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 6))
    y = np.where(np.abs(X[:, 0]) + X[:, 1] > 1, "a", "b")
    kw = dict(n_patterns=16, max_iter=2000, tol_gap=1e-4, n_jobs=1)
    warm = cronos.GatedReLUClassifier(beta_fraction=1e-3, warm_start=True, **kw).fit(X, y)
    assert not warm.warm_started_  # nothing to start from
    warm.set_params(beta_fraction=8e-4).fit(X, y)
    cold = cronos.GatedReLUClassifier(beta_fraction=8e-4, **kw).fit(X, y)
    assert warm.warm_started_ and not cold.warm_started_
    assert warm.status_ == cold.status_ == "solved"
    assert warm.n_iter_ < cold.n_iter_, (warm.n_iter_, cold.n_iter_)
    # both certified within 1e-4 of the same optimum
    assert abs(warm.objective_ - cold.objective_) <= 2e-4 * cold.objective_


def test_warm_start_on_new_rows_and_cold_when_incompatible():
    X, y = _data(300)
    for cls in (cronos.ConvexReLURegressor, cronos.GatedReLURegressor):
        est = cls(warm_start=True, **FAST).fit(X[:200], y[:200])
        est.fit(X, y)  # more rows, same features and seed: same gate draws
        assert est.warm_started_, cls.__name__
        est.fit(X[:, :3], y)  # other features: a cold start, no error
        assert not est.warm_started_
        est.set_params(random_state=1).fit(X[:, :3], y)  # other gates
        assert not est.warm_started_
    off = cronos.GatedReLURegressor(**FAST).fit(X, y)
    off.fit(X, y)
    assert not off.warm_started_


def test_warm_start_keeps_the_seed_of_a_random_random_state():
    X, y = _data()
    est = cronos.GatedReLURegressor(random_state=None, warm_start=True, **FAST).fit(X, y)
    seed = est.seed_
    est.set_params(beta_fraction=5e-3).fit(X, y)
    assert est.seed_ == seed and est.warm_started_


def test_beta_auto_ignores_warm_start():
    X, y = _data()
    est = cronos.GatedReLURegressor(n_patterns=8, max_iter=100, path_points=3, warm_start=True).fit(X, y)
    est.fit(X, y)
    assert not est.warm_started_ and est.beta_path_


def test_grid_search_over_random_state():
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    from sklearn.model_selection import GridSearchCV

    X, y = _data()
    gs = GridSearchCV(cronos.GatedReLURegressor(n_jobs=1, **FAST), {"random_state": [0, 1]}, cv=2, n_jobs=2).fit(X, y)
    assert gs.best_params_["random_state"] in (0, 1)
    assert gs.best_estimator_.seed_ == gs.best_params_["random_state"]


def test_saved_model_keeps_random_state_and_n_jobs(tmp_path):
    X, y = _data()
    est = cronos.GatedReLURegressor(random_state=5, n_jobs=1, **FAST).fit(X, y)
    p = tmp_path / "m.safetensors"
    est.save(p)
    back = cronos.load(p)
    assert back.random_state == 5 and back.n_jobs == 1 and back.seed_ == 5
    assert back.seed is None and back.threads is None
    np.testing.assert_allclose(back.predict(X), est.predict(X), rtol=1e-4, atol=1e-4)
