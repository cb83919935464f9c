"""scikit-learn base classes when scikit-learn is importable, minimal stand-ins otherwise."""

from __future__ import annotations

import inspect
from typing import Any, Dict

import numpy as np

try:  # pragma: no cover - exercised in both configurations by CI
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning, NotFittedError
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted

    try:
        from sklearn.utils.validation import validate_data as _sk_validate_data
    except ImportError:  # scikit-learn < 1.6
        _sk_validate_data = None

    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover
    HAVE_SKLEARN = False
    _sk_validate_data = None

    class ConvergenceWarning(UserWarning):
        """The solver stopped before certifying the requested gap."""

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before `fit`."""

    class BaseEstimator:
        """get_params / set_params from the constructor signature (like scikit-learn)."""

        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep: bool = True) -> Dict[str, Any]:
            return {k: getattr(self, k) for k in self._get_param_names()}

        def set_params(self, **params: Any):
            valid = self._get_param_names()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError(f"Invalid parameter {k!r} for estimator {type(self).__name__}. Valid parameters are: {valid!r}.")
                setattr(self, k, v)
            return self

        def __repr__(self) -> str:
            defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) is not v and defaults.get(k) != v)
            return f"{type(self).__name__}({args})"

    class ClassifierMixin:
        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None) -> float:
            y = np.asarray(y)
            ok = (self.predict(X) == y).astype(float)
            return float(np.average(ok, weights=sample_weight))

    class RegressorMixin:
        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None) -> float:
            y = np.asarray(y, dtype=float)
            p = np.asarray(self.predict(X), dtype=float).reshape(y.shape)
            w = np.ones(y.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
            if y.ndim == 1:
                y, p = y[:, None], p[:, None]
            ss_res = (w[:, None] * (y - p) ** 2).sum(0)
            ss_tot = (w[:, None] * (y - np.average(y, axis=0, weights=w)) ** 2).sum(0)
            r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), 0.0)
            return float(r2.mean())

    def check_is_fitted(estimator, attributes=None):
        if not any(k.endswith("_") and not k.startswith("__") for k in vars(estimator)):
            raise NotFittedError(
                f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments before using this estimator."
            )

    def check_classification_targets(y):
        y = np.asarray(y)
        if y.dtype.kind == "f" and np.any(y != np.round(y)):
            raise ValueError("Unknown label type: continuous. Maybe you are trying to fit a classifier, which expects discrete classes on a regression target with continuous values.")


_FLOATS = (np.float64, np.float32)


def _as_float_array(X, name: str = "X") -> np.ndarray:
    """Fallback conversion: keeps float32/float64 (no copy), converts anything else to float64."""
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # pandas / polars
        X = X.to_numpy()
    arr = np.asarray(X)
    if arr.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        if arr.dtype.kind in "OUS" or arr.dtype.kind == "c":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{name} must be numeric: {e}") from None
            if arr.dtype.kind == "c":
                raise ValueError("Complex data not supported")
        else:
            arr = arr.astype(np.float64)
    return arr


def validate_data(est, X, y="no_validation", *, reset: bool, multi_output: bool = False, y_numeric: bool = False):
    """Validates X (and y): 2-D, finite, float32/float64 kept as is, else converted to float64.
    scipy.sparse X stays sparse (CSR or CSC; other formats become CSR).

    Uses scikit-learn's `validate_data` when available (same messages as scikit-learn).
    """
    if y is None:
        raise ValueError(f"{type(est).__name__} requires y to be passed, but the target y is None.")
    if isinstance(y, str) and y == "no_validation":
        y = None
    if HAVE_SKLEARN and _sk_validate_data is not None:
        kw = dict(dtype=list(_FLOATS), reset=reset, accept_sparse=["csr", "csc"])
        if y is None:
            return _sk_validate_data(est, X, **kw)
        return _sk_validate_data(est, X, y, multi_output=multi_output, y_numeric=y_numeric, **kw)
    if HAVE_SKLEARN:  # scikit-learn < 1.6
        kw = dict(dtype=list(_FLOATS), reset=reset, accept_sparse=["csr", "csc"])
        if y is None:
            return est._validate_data(X, **kw)
        return est._validate_data(X, y, multi_output=multi_output, y_numeric=y_numeric, **kw)
    from ._sparse import is_sparse, to_csr

    X = to_csr(X) if is_sparse(X) else _as_float_array(X)
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead. Reshape your data either using array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it contains a single sample.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"Found array with shape {X.shape}: at least one sample and one feature are required.")
    if not is_sparse(X) and not np.isfinite(X).all():
        raise ValueError("Input X contains NaN or infinity.")
    if reset:
        est.n_features_in_ = X.shape[1]
    elif X.shape[1] != est.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(est).__name__} is expecting {est.n_features_in_} features as input.")
    if y is None:
        return X
    y = np.asarray(y)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{X.shape[0]}, {y.shape[0]}]")
    if not multi_output and y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if not multi_output and y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
    if y_numeric:
        y = _as_float_array(y, "y")
        if not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity.")
    return X, y
