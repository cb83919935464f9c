"""scikit-learn estimators backed by the Rust solver."""

from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

import numpy as np

from . import _cronos
from ._base import (
    HAVE_SKLEARN,
    BaseEstimator,
    ClassifierMixin,
    ConvergenceWarning,
    RegressorMixin,
    check_classification_targets,
    check_is_fitted,
    validate_data,
)

__all__ = [
    "ConvexReLUClassifier",
    "ConvexReLURegressor",
    "GatedReLUClassifier",
    "GatedReLURegressor",
]


def _check_sample_weight(sample_weight, n: int) -> Optional[np.ndarray]:
    """None for no weights (or all weights equal to one), else a validated float64 vector."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},)!")
    if not np.isfinite(w).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if (w < 0).any():
        raise ValueError("Negative values in data passed to `sample_weight`")
    if not (w > 0).any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    if (w == 1.0).all():
        return None
    return w


class _CronosEstimator(BaseEstimator):
    """Shared implementation: hyper-parameters, fitting, the recovered network."""

    _activation = "relu"

    def __init__(
        self,
        *,
        beta: Optional[float] = None,
        beta_fraction: Optional[float] = None,
        n_patterns: int = 64,
        max_iter: int = 500,
        tol_gap: float = 1e-3,
        seed: int = 0,
        threads: int = 0,
        preconditioner: str = "structured",
        preprocess: str = "standardize",
        time_limit: Optional[float] = None,
        verbose: bool = False,
    ) -> None:
        self.beta = beta
        self.beta_fraction = beta_fraction
        self.n_patterns = n_patterns
        self.max_iter = max_iter
        self.tol_gap = tol_gap
        self.seed = seed
        self.threads = threads
        self.preconditioner = preconditioner
        self.preprocess = preprocess
        self.time_limit = time_limit
        self.verbose = verbose

    # -- scikit-learn tags -------------------------------------------------------------------
    if HAVE_SKLEARN:

        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.allow_nan = False
            return tags

    # -- fitting -----------------------------------------------------------------------------
    def _solver_kwargs(self) -> Dict[str, Any]:
        return dict(
            activation=self._activation,
            beta=None if self.beta is None else float(self.beta),
            beta_fraction=None if self.beta_fraction is None else float(self.beta_fraction),
            n_patterns=int(self.n_patterns),
            max_iter=int(self.max_iter),
            tol_gap=float(self.tol_gap),
            seed=int(self.seed),
            threads=int(self.threads),
            preconditioner=str(self.preconditioner),
            time_limit=None if self.time_limit is None else float(self.time_limit),
            verbose=bool(self.verbose),
        )

    def _preprocess_stats(self, X: np.ndarray, w: Optional[np.ndarray]):
        if self.preprocess in (None, "none"):
            return None, None
        X64 = X.astype(np.float64, copy=False)
        if self.preprocess == "scale01":
            lo, hi = X64.min(axis=0), X64.max(axis=0)
            rng = hi - lo
            rng[~(rng > 0)] = 1.0
            return lo, rng
        mean = np.average(X64, axis=0, weights=w)
        std = np.sqrt(np.average((X64 - mean) ** 2, axis=0, weights=w))
        std[~(std > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0
        return mean, std

    def _transform(self, X: np.ndarray) -> np.ndarray:
        off, scale = self.preprocess_offset_, self.preprocess_scale_
        if off is None:
            return X
        return ((X - off.astype(X.dtype)) / scale.astype(X.dtype)).astype(X.dtype, copy=False)

    def _fit_targets(self, X: np.ndarray, Y: np.ndarray, sample_weight) -> None:
        """Runs the solver on validated X (n x d float) and encoded targets Y (n x k)."""
        n = X.shape[0]
        w = _check_sample_weight(sample_weight, n)
        if w is not None and (w == w[0]).all() and self.beta is None:
            # a constant weight scales the objective (and beta_max) uniformly: same minimiser
            w = None
        if self.preprocess not in (None, "none", "standardize", "scale01"):
            raise ValueError(f"invalid setting `preprocess` = {self.preprocess!r}: expected 'standardize', 'scale01' or 'none'")
        self.n_train_ = int(n)
        self.preprocess_offset_, self.preprocess_scale_ = self._preprocess_stats(X, w)
        Xs = self._transform(X)
        Y = np.asarray(Y, dtype=X.dtype)
        kwargs = self._solver_kwargs()
        if w is None:
            res = _cronos.fit(Xs, Y, bias=True, **kwargs)
        else:
            # exact for squared loss: scale each row of (X, 1) and y by sqrt(w); rows with zero
            # weight are dropped. The bias column is appended here (it must be scaled too).
            keep = w > 0
            sw = np.sqrt(w[keep]).astype(X.dtype)
            Xb = np.empty((int(keep.sum()), X.shape[1] + 1), dtype=X.dtype)
            Xb[:, :-1] = Xs[keep] * sw[:, None]
            Xb[:, -1] = sw
            res = _cronos.fit(Xb, Y[keep] * sw[:, None], bias=False, **kwargs)
            res = _split_bias(res)
        self._set_fitted(res, X.dtype)

    def _set_fitted(self, res: Dict[str, Any], dtype) -> None:
        self.first_layer_weights_ = res["w1"]
        self.first_layer_bias_ = res["b1"]
        self.output_weights_ = res["w2"]
        if self._activation == "gated_relu":
            self.gate_weights_ = res["gate_w"]
            self.gate_bias_ = res["gate_b"]
        self.gates_ = res["gates"]
        self.convex_weights_ = res["weights"]
        self.beta_ = np.asarray(res["beta"], dtype=np.float64)
        self.n_iter_ = int(res["n_iter"])
        self.relative_gap_ = float(res["relative_gap"])
        self.lower_bound_ = float(res["lower_bound"])
        self.objective_ = float(res["objective"])
        self.objectives_ = np.asarray(res["objectives"], dtype=np.float64)
        self.lower_bounds_ = np.asarray(res["lower_bounds"], dtype=np.float64)
        self.n_active_neurons_ = int(res["n_active_neurons"])
        self.n_patterns_ = int(res["n_patterns"])
        self.status_ = str(res["status"])
        self.settings_json_ = str(res.get("settings_json", ""))
        self.n_outputs_ = int(res["w2"].shape[1])
        if self.status_ == "numerical_error":
            raise FloatingPointError(
                "cronos: the solver hit NaN/Inf in its iterates (numerical_error); try preprocess='standardize', "
                "a larger beta or another preconditioner"
            )
        if self.status_ in ("max_iterations", "time_limit") and not (self.relative_gap_ <= self.tol_gap):
            warnings.warn(
                f"cronos stopped ({self.status_}) after {self.n_iter_} iterations with certified relative gap "
                f"{self.relative_gap_:.3g} > tol_gap={self.tol_gap:g}; increase max_iter or time_limit",
                ConvergenceWarning,
                stacklevel=4,
            )

    # -- prediction --------------------------------------------------------------------------
    def _network_output(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        Xs = self._transform(X).astype(np.float64, copy=False)
        h = Xs @ self.first_layer_weights_.astype(np.float64) + self.first_layer_bias_.astype(np.float64)
        if self._activation == "gated_relu":
            g = Xs @ self.gate_weights_.astype(np.float64) + self.gate_bias_.astype(np.float64)
            h = np.where(g >= 0, h, 0.0)
        else:
            h = np.where(h > 0, h, 0.0)
        return h @ self.output_weights_.astype(np.float64)

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path) -> None:
        """Writes the fitted model as a cronos model file (safetensors + JSON metadata), readable
        by the `cronos` CLI and by :func:`cronos.load`."""
        from ._io import save

        save(self, path)


def _split_bias(res: Dict[str, Any]) -> Dict[str, Any]:
    """Turns a bias-free fit on (X, 1) into the layout of a fit with bias=True."""
    res = dict(res)
    w1 = res["w1"]
    res["w1"], res["b1"] = np.ascontiguousarray(w1[:-1]), np.ascontiguousarray(w1[-1])
    if res.get("gate_w") is not None:
        gw = res["gate_w"]
        res["gate_w"], res["gate_b"] = np.ascontiguousarray(gw[:-1]), np.ascontiguousarray(gw[-1])
    return res


class _Classifier(ClassifierMixin, _CronosEstimator):
    """Classification by squared loss on ±1 targets (one output for two classes, one-vs-rest
    outputs for more)."""

    def fit(self, X, y, sample_weight=None):
        """Fits the network to labels `y`. `sample_weight` weights each row's squared loss."""
        X, y = validate_data(self, X, y, reset=True)
        check_classification_targets(y)
        self.classes_, idx = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError("Classifier can't train when only one class is present.")
        self._fit_targets(X, _encode(idx, k, X.dtype), sample_weight)
        return self

    def decision_function(self, X) -> np.ndarray:
        """Network outputs: shape (n,) for two classes (positive means `classes_[1]`),
        (n, n_classes) otherwise."""
        out = self._network_output(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict(self, X) -> np.ndarray:
        d = self.decision_function(X)
        if d.ndim == 1:
            return self.classes_[(d > 0).astype(np.intp)]
        return self.classes_[np.argmax(d, axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """Softmax of the decision values (for two classes the logistic function of twice the
        decision value). These are monotone scores that sum to one, NOT calibrated
        probabilities: the network is trained with squared loss; wrap the estimator in
        `sklearn.calibration.CalibratedClassifierCV` if calibration matters."""
        d = self.decision_function(X)
        if d.ndim == 1:
            d = np.stack([-d, d], axis=1)
        z = d - d.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        return np.log(self.predict_proba(X))


def _encode(idx: np.ndarray, k: int, dtype) -> np.ndarray:
    if k == 2:
        return np.where(idx == 1, 1.0, -1.0).astype(dtype)[:, None]
    Y = np.full((idx.shape[0], k), -1.0, dtype=dtype)
    Y[np.arange(idx.shape[0]), idx] = 1.0
    return Y


class _Regressor(RegressorMixin, _CronosEstimator):
    """Regression by squared loss (one or several outputs)."""

    if HAVE_SKLEARN:

        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.target_tags.multi_output = True
            return tags

    def fit(self, X, y, sample_weight=None):
        """Fits the network to targets `y` of shape (n,) or (n, k)."""
        X, y = validate_data(self, X, y, reset=True, multi_output=True, y_numeric=True)
        y = np.asarray(y)
        self._y_1d = y.ndim == 1
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        self._fit_targets(X, Y.astype(X.dtype, copy=False), sample_weight)
        return self

    def predict(self, X) -> np.ndarray:
        out = self._network_output(X)
        return out[:, 0] if self._y_1d else out


_DOC = """{summary}

    Trains a two-layer {net} network with squared loss and weight decay by solving the
    equivalent convex program (Pilanci & Ergen 2020) with the CRONOS ADMM solver; every fit
    carries a certified lower bound on the optimal value (`lower_bound_`, `relative_gap_`).

    Parameters
    ----------
    beta : float or None
        Group-lasso weight (= weight decay) as it appears in the objective. None (default)
        uses `beta_fraction`.
    beta_fraction : float or None
        beta as a fraction of beta_max (the smallest beta at which every neuron vanishes) per
        output, in (0, 1]. None with `beta` None means the library default 1e-3.
    n_patterns : int, default 64
        Number of sampled activation patterns P (the network has at most {width} neurons per output).
    max_iter : int, default 500
        ADMM iteration limit.
    tol_gap : float, default 1e-3
        Stop when the certified relative gap is below this.
    seed : int, default 0
        Seed of the gates and sketches (fits are deterministic for a seed and thread count).
    threads : int, default 0
        Worker threads (0: all cores).
    preconditioner : {{"structured", "nystrom", "none"}}
        Preconditioner of the ADMM linear systems.
    preprocess : {{"standardize", "scale01", "none"}}
        "standardize" centres and scales each feature ("scale01": min/max to [0, 1]) (statistics stored in
        `preprocess_offset_`/`preprocess_scale_` and applied at prediction); "none" passes X
        through (float32/float64 arrays are then read by the solver without a copy).
    time_limit : float or None
        Wall-clock limit of the solve in seconds.
    verbose : bool
        Print the solver's progress to stderr.

    Attributes
    ----------
    first_layer_weights_ : ndarray (n_features, n_neurons)
    first_layer_bias_ : ndarray (n_neurons,)
    output_weights_ : ndarray (n_neurons, n_outputs)
    {gated_attrs}n_iter_, status_, objective_, lower_bound_, relative_gap_ : solve report
    n_active_neurons_ : int
    {cls_attrs}n_features_in_ : int
    """

_GATED_ATTRS = "gate_weights_, gate_bias_ : gate vectors of each neuron (a neuron is on when x.gate_w + gate_b >= 0)\n    "


class ConvexReLUClassifier(_Classifier):
    __doc__ = _DOC.format(summary="Two-layer ReLU network classifier trained by convex optimisation.", net="ReLU", width="2 * n_patterns", gated_attrs="", cls_attrs="classes_ : ndarray\n    ")
    _activation = "relu"


class ConvexReLURegressor(_Regressor):
    __doc__ = _DOC.format(summary="Two-layer ReLU network regressor trained by convex optimisation.", net="ReLU", width="2 * n_patterns", gated_attrs="", cls_attrs="")
    _activation = "relu"


class GatedReLUClassifier(_Classifier):
    __doc__ = _DOC.format(summary="Two-layer gated-ReLU network classifier trained by convex optimisation.", net="gated-ReLU", width="n_patterns", gated_attrs=_GATED_ATTRS, cls_attrs="classes_ : ndarray\n    ")
    _activation = "gated_relu"


class GatedReLURegressor(_Regressor):
    __doc__ = _DOC.format(summary="Two-layer gated-ReLU network regressor trained by convex optimisation.", net="gated-ReLU", width="n_patterns", gated_attrs=_GATED_ATTRS, cls_attrs="")
    _activation = "gated_relu"
