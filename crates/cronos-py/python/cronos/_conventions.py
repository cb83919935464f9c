"""scikit-learn's parameter conventions for the estimators, and the checks expected to fail.

* ``random_state`` (int, None or ``np.random.RandomState``) becomes the solver's integer seed;
  ``n_jobs`` (None, -1, k, -k) its thread count. The former names ``seed`` and ``threads`` still
  work, with a ``FutureWarning`` (they are documented in earlier READMEs and used by scripts).
* ``warm_start=True``: the previous fit's gates and convex weights are handed to the solver,
  which carries every neuron whose gate it draws again (``src/warm.rs``).
* :func:`expected_failed_checks`: scikit-learn >= 1.6 takes expected failures only through
  ``check_estimator(..., expected_failed_checks=...)`` / ``parametrize_with_checks``; older
  versions read the ``_xfail_checks`` tag of ``_more_tags``. Both are served from one table.
"""

from __future__ import annotations

import numbers
import os
import warnings
from typing import Any, Dict, Optional, Tuple

import numpy as np

_U64 = 2**64

#: why `check_sample_weight_equivalence_on_dense_data` (and `..._on_sparse_data`) fails with
#: beta="auto" (the default)
SAMPLE_WEIGHT_REASON = (
    "beta='auto' (the default) holds rows out to choose beta: a row of weight 3 lies on one side of the "
    "validation split while its 3 repeats can fall on both sides, so the chosen beta (and the fit) may "
    "differ from the fit on repeated rows; at a fixed beta (beta_fraction or a number) the check passes"
)


def expected_failed_checks(estimator) -> Dict[str, str]:
    """The scikit-learn checks this estimator (with its current parameters) is expected to
    fail, each with the reason: pass it to scikit-learn as
    ``check_estimator(est, expected_failed_checks=cronos.expected_failed_checks(est))`` or
    ``parametrize_with_checks(ests, expected_failed_checks=cronos.expected_failed_checks)``."""
    beta = getattr(estimator, "beta", None)
    auto = isinstance(beta, str) and beta == "auto" and getattr(estimator, "beta_fraction", None) is None
    if not auto:
        return {}
    # the same for sparse input (accepted since the estimators take scipy.sparse X)
    return {f"check_sample_weight_equivalence_on_{kind}_data": SAMPLE_WEIGHT_REASON for kind in ("dense", "sparse")}


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"`{old}` is deprecated and will be removed in a future version: use `{new}` (scikit-learn's name)",
        FutureWarning,
        stacklevel=6,
    )


def resolve_seed(random_state: Any, seed: Any, previous: Optional[int] = None) -> int:
    """The solver's seed: `random_state` as an int, drawn from a RandomState (or numpy's global
    one for None), or the deprecated `seed`. `previous` (a warm start's seed) is kept when
    `random_state` is None or a RandomState, so a warm refit draws the same gates."""
    if seed is not None:
        _deprecated("seed", "random_state")
        if not _is_int(seed) or not 0 <= int(seed) < _U64:
            raise ValueError(f"invalid setting `seed` = {seed!r}: expected an int in [0, 2**64)")
        if random_state is not None and not (_is_int(random_state) and int(random_state) in (0, int(seed))):
            raise ValueError(f"give `random_state` only (`seed` = {seed!r} is its deprecated alias, random_state = {random_state!r})")
        return int(seed)
    if _is_int(random_state):
        if not 0 <= int(random_state) < _U64:
            raise ValueError(f"invalid setting `random_state` = {random_state!r}: expected None, an int in [0, 2**64) or a numpy RandomState")
        return int(random_state)
    if random_state is None or isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        if previous is not None:
            return int(previous)
        if random_state is None:
            random_state = np.random.mtrand._rand  # numpy's global RandomState, as sklearn's check_random_state(None)
        if isinstance(random_state, np.random.Generator):
            return int(random_state.integers(np.iinfo(np.int32).max))
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(f"invalid setting `random_state` = {random_state!r}: expected None, an int in [0, 2**64) or a numpy RandomState")


def resolve_threads(n_jobs: Any, threads: Any) -> int:
    """The solver's thread count (0: all cores) from `n_jobs` (None or -1: all cores; k > 0: k
    threads; -k: all cores but k - 1, as joblib) or the deprecated `threads` (0: all cores)."""
    if threads is not None:
        _deprecated("threads", "n_jobs")
        if not _is_int(threads) or int(threads) < 0:
            raise ValueError(f"invalid setting `threads` = {threads!r}: expected an int >= 0 (0: all cores)")
        if n_jobs is not None:
            raise ValueError(f"give `n_jobs` only (`threads` = {threads!r} is its deprecated alias, n_jobs = {n_jobs!r})")
        return int(threads)
    if n_jobs is None:
        return 0
    if not _is_int(n_jobs) or int(n_jobs) == 0:
        raise ValueError(f"invalid setting `n_jobs` = {n_jobs!r}: expected None, -1 (all cores), a positive int or -k (all cores but k - 1)")
    n = int(n_jobs)
    if n == -1:
        return 0
    if n < -1:
        return max(1, (os.cpu_count() or 1) + 1 + n)
    return n


def check_verbose(verbose: Any) -> int:
    """`verbose` as a level: 0 silent, 1 progress (bar or lines), 2 a line per certificate."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if _is_int(verbose) and int(verbose) >= 0:
        return int(verbose)
    raise ValueError(f"invalid setting `verbose` = {verbose!r}: expected a bool or an int >= 0")


def warm_start_arrays(est, dtype, loss: str, n_outputs: int, n_rows: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The previous fit's (gates, convex weights) in `dtype` when `est.warm_start` is set and
    that fit can seed this one: same loss, output count and input width (gates of `n_rows`
    rows: features plus intercept). Which neurons carry over the solver decides by matching
    gates. None for a cold start."""
    if not getattr(est, "warm_start", False):
        return None
    gates, weights = getattr(est, "gates_", None), getattr(est, "convex_weights_", None)
    if gates is None or weights is None:
        return None
    if getattr(est, "loss_", None) != loss or getattr(est, "n_outputs_", None) != n_outputs or np.shape(gates)[0] != n_rows:
        return None
    return np.ascontiguousarray(gates, dtype=dtype), np.ascontiguousarray(weights, dtype=dtype)
