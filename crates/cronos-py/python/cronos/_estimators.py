"""scikit-learn estimators backed by the Rust solver."""

from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

import numpy as np

from . import _cronos
from ._conventions import (
    check_verbose,
    expected_failed_checks,
    resolve_seed,
    resolve_threads,
    warm_start_arrays,
)
from ._progress import ProgressReporter
from . import _sparse
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


_LOSSES = ("squared", "logistic", "softmax")

_HOLDOUT_FRACTION = 0.1


def _holdout_rows(X: np.ndarray, Y: np.ndarray, seed: int) -> np.ndarray:
    """Rows held out for the probability temperature at a fixed beta: about 10% of the rows,
    chosen by a seeded hash of each row's contents (X and its targets), so that a row of
    weight 2 and two copies of it fall on the same side (scikit-learn's sample-weight
    equivalence holds for `predict_proba` too). Sparse and dense X hash alike (the nonzeros
    only). Computed in Rust (`src/holdout.rs`)."""
    x = _sparse.rust_parts(_sparse.to_csr(X, np.float64)) if _sparse.is_sparse(X) else X
    y = np.ascontiguousarray(np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1))
    return np.asarray(_cronos.holdout_rows(x, y, int(seed), _HOLDOUT_FRACTION), dtype=np.intp)


def _check_beta(beta) -> None:
    if beta is None:
        return
    if isinstance(beta, str):
        if beta != "auto":
            raise ValueError(f"invalid setting `beta` = {beta!r}: expected 'auto', None or a number >= 0")
        return
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise ValueError(f"invalid setting `beta` = {beta!r}: expected 'auto', None or a number >= 0")


class _CronosEstimator(BaseEstimator):
    """Shared implementation: hyper-parameters, fitting, the recovered network."""

    _activation = "relu"

    from ._onnx import to_onnx  # est.to_onnx(path, force=False): the fitted model as ONNX

    def __init__(
        self,
        *,
        beta="auto",
        beta_fraction: Optional[float] = None,
        loss: str = "squared",
        path_points: int = 12,
        path_min_fraction: float = 1e-5,
        n_patterns: int = 64,
        max_iter: int = 500,
        tol_gap: float = 1e-3,
        random_state=0,
        n_jobs: Optional[int] = None,
        warm_start: bool = False,
        preconditioner: str = "structured",
        preprocess: str = "standardize",
        feature_weighting: str = "relevance",
        time_limit: Optional[float] = None,
        pricing_rounds: int = 0,
        pricing_add: int = 16,
        pricing_max_iter: int = 0,
        pricing_swap: bool = False,
        relu_endgame="auto",
        verbose=False,
        seed: Optional[int] = None,
        threads: Optional[int] = None,
    ) -> None:
        self.beta = beta
        self.beta_fraction = beta_fraction
        self.loss = loss
        self.path_points = path_points
        self.path_min_fraction = path_min_fraction
        self.n_patterns = n_patterns
        self.max_iter = max_iter
        self.tol_gap = tol_gap
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.warm_start = warm_start
        self.preconditioner = preconditioner
        self.preprocess = preprocess
        self.feature_weighting = feature_weighting
        self.time_limit = time_limit
        self.pricing_rounds = pricing_rounds
        self.pricing_add = pricing_add
        self.pricing_max_iter = pricing_max_iter
        self.pricing_swap = pricing_swap
        self.relu_endgame = relu_endgame
        self.verbose = verbose
        self.seed = seed
        self.threads = threads

    # -- scikit-learn tags -------------------------------------------------------------------
    if HAVE_SKLEARN:

        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.allow_nan = False
            tags.input_tags.sparse = True
            return tags

    def _more_tags(self) -> Dict[str, Any]:
        # scikit-learn < 1.6 reads expected failures from this tag; >= 1.6 only from
        # `expected_failed_checks=` (see cronos.expected_failed_checks)
        return {"allow_nan": False, "_xfail_checks": expected_failed_checks(self)}

    # -- fitting -----------------------------------------------------------------------------
    def _beta_auto(self) -> bool:
        """beta='auto' chooses beta on a validation split, unless beta_fraction fixes it."""
        return isinstance(self.beta, str) and self.beta == "auto" and self.beta_fraction is None

    def _check_loss(self) -> str:
        if not isinstance(self.loss, str) or self.loss not in _LOSSES:
            raise ValueError(f"invalid setting `loss` = {self.loss!r}: expected 'squared', 'logistic' or 'softmax'")
        return self.loss

    def _solver_kwargs(self) -> Dict[str, Any]:
        _check_beta(self.beta)
        auto = self._beta_auto()
        absolute = self.beta is not None and not isinstance(self.beta, str)
        if auto:
            for name in ("path_points", "path_min_fraction"):
                v = getattr(self, name)
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                    raise ValueError(f"invalid setting `{name}` = {v!r}: expected a number")
            if int(self.path_points) != self.path_points:
                raise ValueError(f"invalid setting `path_points` = {self.path_points!r}: expected an integer >= 1")
        for name in ("pricing_rounds", "pricing_add", "pricing_max_iter"):
            v = getattr(self, name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"invalid setting `{name}` = {v!r}: expected an integer >= 0")
        if not isinstance(self.pricing_swap, (bool, np.bool_)):
            raise ValueError(f"invalid setting `pricing_swap` = {self.pricing_swap!r}: expected True or False")
        if self.pricing_rounds > 0 and self._activation != "gated_relu":
            raise ValueError(
                f"invalid setting `pricing_rounds` = {self.pricing_rounds!r}: pattern pricing needs the gated-ReLU "
                "estimators (GatedReLUClassifier, GatedReLURegressor)"
            )
        if not (isinstance(self.relu_endgame, (bool, np.bool_)) or self.relu_endgame == "auto"):
            raise ValueError(f"invalid setting `relu_endgame` = {self.relu_endgame!r}: expected 'auto', True or False")
        return dict(
            activation=self._activation,
            loss=self._check_loss(),
            beta=float(self.beta) if absolute else None,
            beta_fraction=None if self.beta_fraction is None else float(self.beta_fraction),
            beta_auto=auto,
            path_points=int(self.path_points) if auto else 12,
            path_min_fraction=float(self.path_min_fraction) if auto else 1e-5,
            n_patterns=int(self.n_patterns),
            max_iter=int(self.max_iter),
            tol_gap=float(self.tol_gap),
            seed=resolve_seed(self.random_state, self.seed, getattr(self, "seed_", None) if self.warm_start else None),
            threads=resolve_threads(self.n_jobs, self.threads),
            preconditioner=str(self.preconditioner),
            time_limit=None if self.time_limit is None else float(self.time_limit),
            pricing_rounds=int(self.pricing_rounds),
            pricing_add=int(self.pricing_add),
            pricing_max_iter=int(self.pricing_max_iter),
            pricing_swap=bool(self.pricing_swap),
            relu_endgame=None if isinstance(self.relu_endgame, str) else bool(self.relu_endgame),
        )

    def _preprocess_stats(self, X: np.ndarray, w: Optional[np.ndarray]):
        if self.preprocess in (None, "none"):
            return None, None
        if _sparse.is_sparse(X):
            # no centering for sparse X (it would densify): see cronos._sparse.column_stats
            return _sparse.column_stats(X, w, self.preprocess)
        # the statistics of the CLI's training (cronos_model::column_stats), weighted: the mean
        # and standard deviation (a constant feature gets scale 1), or the minimum and range
        return _cronos.preprocess_stats(X, self.preprocess, sample_weight=w)

    def _relevance(self, X, Y: np.ndarray, w: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """With feature_weighting='relevance': the features' relevance weights for the targets
        (cronos_model::relevance_weights), folded into the preprocessing scale."""
        if self.feature_weighting in (None, "none"):
            return None
        d = X.shape[1]
        off = np.zeros(d) if self.preprocess_offset_ is None else self.preprocess_offset_
        scale = np.ones(d) if self.preprocess_scale_ is None else self.preprocess_scale_
        xs = _sparse.rust_parts(X) if _sparse.is_sparse(X) else X
        sw = None if w is None else np.ascontiguousarray(w, dtype=np.float64)
        s = _cronos.relevance_weights(xs, np.asarray(off, np.float64), np.asarray(scale, np.float64), Y, sample_weight=sw)
        self.preprocess_offset_, self.preprocess_scale_ = np.asarray(off, np.float64), np.asarray(scale, np.float64) / s
        return s

    def _transform(self, X: np.ndarray) -> np.ndarray:
        off, scale = self.preprocess_offset_, self.preprocess_scale_
        if off is None:
            return X
        if _sparse.is_sparse(X):
            if np.any(off != 0):
                # a model fitted on dense data centres: sparse rows are shifted per batch of the
                # prediction (never at fit time)
                return self._transform(np.asarray(X.todense()))
            return _sparse.scale_columns(X, scale, X.dtype)
        return ((X - off.astype(X.dtype)) / scale.astype(X.dtype)).astype(X.dtype, copy=False)

    def _fit_targets(self, X: np.ndarray, Y: np.ndarray, sample_weight, row_weight: Optional[np.ndarray] = None) -> None:
        """Runs the solver on validated X (n x d float) and encoded targets Y (n x k).
        `row_weight` (class weights per row) multiplies `sample_weight`."""
        n = X.shape[0]
        w = _check_sample_weight(sample_weight, n)
        if row_weight is not None:
            w = row_weight if w is None else w * row_weight
            if not (w > 0).any():
                raise ValueError("class_weight and sample_weight leave no row with a positive weight")
        absolute = self.beta is not None and not isinstance(self.beta, str)
        if w is not None and (w == w[0]).all() and not absolute:
            # a constant weight scales the loss and beta_max alike: the same fit at a fraction
            # of beta_max (and the same path and validation metric for beta='auto')
            w = None
        if self.preprocess not in (None, "none", "standardize", "scale01"):
            raise ValueError(f"invalid setting `preprocess` = {self.preprocess!r}: expected 'standardize', 'scale01' or 'none'")
        if self.feature_weighting not in (None, "none", "relevance"):
            raise ValueError(f"invalid setting `feature_weighting` = {self.feature_weighting!r}: expected 'relevance' or 'none'")
        kwargs = self._solver_kwargs()
        self.n_train_ = int(n)
        Y = np.asarray(Y, dtype=X.dtype)
        self.preprocess_offset_, self.preprocess_scale_ = self._preprocess_stats(X, w)
        self.feature_weights_ = self._relevance(X, Y, w)
        Xs = self._transform(X)
        # squared-loss classifiers: the probability temperature, fitted on held-out rows
        kwargs["calibrate"] = isinstance(self, ClassifierMixin) and kwargs["loss"] == "squared"
        held = np.zeros(n, dtype=bool)
        if kwargs["calibrate"] and not kwargs["beta_auto"]:
            held[_holdout_rows(X, Y, kwargs["seed"])] = True
        if w is not None and not (w > 0).all():
            # zero-weight rows are removed (as if absent: they take no part in the patterns)
            keep = w > 0
            Xs, Y, w, held = Xs[keep], Y[keep], w[keep], held[keep]
        if kwargs["calibrate"] and not kwargs["beta_auto"]:
            kwargs["calibration_rows"] = [int(i) for i in np.flatnonzero(held)]
        # warm start at a fixed beta only: beta="auto" re-runs its path, whose model starts the refit
        if not kwargs["beta_auto"]:
            kwargs["warm_start"] = warm_start_arrays(self, X.dtype, kwargs["loss"], Y.shape[1], X.shape[1] + 1)
        level = check_verbose(self.verbose)
        reporter = ProgressReporter(kwargs["max_iter"], kwargs["tol_gap"], kwargs["time_limit"], verbose=level) if level else None
        res = None
        try:
            res = self._solve(Xs, Y, w, dict(kwargs, progress=reporter))
        finally:
            if reporter is not None:
                reporter.close(res)
        self.seed_ = kwargs["seed"]
        self._set_fitted(res, X.dtype)

    @staticmethod
    def _solve(Xs: np.ndarray, Y: np.ndarray, w: Optional[np.ndarray], kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """One call of the Rust solver on preprocessed rows with positive weights `w`."""
        if w is not None and kwargs["loss"] == "squared" and not kwargs["beta_auto"] and not _sparse.is_sparse(Xs):
            # squared loss at a fixed beta: scale each row of (X, 1) and y by sqrt(w), exactly
            # the weighted program, solved as an unweighted one (the loss stays in the u-step,
            # and the iterates are those of the fit on repeated rows). The bias column is
            # appended here (it must be scaled too).
            sw = np.sqrt(w).astype(Xs.dtype)
            Xb = np.empty((Xs.shape[0], Xs.shape[1] + 1), dtype=Xs.dtype)
            Xb[:, :-1] = Xs * sw[:, None]
            Xb[:, -1] = sw
            cw = np.ascontiguousarray(w, dtype=np.float64) if kwargs.get("calibrate") else None
            return _split_bias(_cronos.fit(Xb, Y * sw[:, None], bias=False, calibration_weights=cw, **kwargs))
        # the library's weighted loss (logistic/softmax, the validation split of beta="auto", and
        # sparse X: uncentred, it needs the gates centred on the weighted means, which the
        # bias-free row-scaled form above cannot give)
        if _sparse.is_sparse(Xs):
            Xs = _sparse.rust_parts(Xs)
        return _cronos.fit(Xs, Y, sample_weight=None if w is None else np.ascontiguousarray(w, dtype=np.float64), bias=True, **kwargs)

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
        best = res.get("best_iteration")
        self.best_iteration_ = None if best is None else int(best)
        self.relative_gap_ = float(res["relative_gap"])
        self.lower_bound_ = float(res["lower_bound"])
        self.objective_ = float(res["objective"])
        self.constraint_violation_ = float(res["constraint_violation"])
        self.network_objective_ = float(res["network_objective"])
        self.objectives_ = np.asarray(res["objectives"], dtype=np.float64)
        self.lower_bounds_ = np.asarray(res["lower_bounds"], dtype=np.float64)
        self.n_active_neurons_ = int(res["n_active_neurons"])
        self.n_patterns_ = int(res["n_patterns"])
        self.status_ = str(res["status"])
        self.warm_started_ = bool(res.get("warm_started", False))
        self.settings_json_ = str(res.get("settings_json", ""))
        self.n_outputs_ = int(res["w2"].shape[1])
        self.loss_ = str(res.get("loss", "squared"))
        frac = res.get("beta_fraction")
        self.beta_fraction_ = None if frac is None else float(frac)
        path = res.get("beta_path")
        self.beta_path_ = None if path is None else [dict(p) for p in path]
        rounds = res.get("pricing")
        self.pricing_ = None if rounds is None else [dict(r) for r in rounds]
        if isinstance(self, ClassifierMixin):
            cal = res.get("calibration")
            self.calibration_ = None if cal is None else dict(cal)
            self.temperature_ = 1.0 if cal is None else float(cal["temperature"])
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
        if _sparse.is_sparse(X) and self.preprocess_offset_ is not None and np.any(self.preprocess_offset_ != 0):
            # a dense-fitted (centred) model on sparse rows: densify in batches of bounded memory
            return np.vstack([self._network_output_dense(np.asarray(X[i : i + 4096].todense())) for i in range(0, X.shape[0], 4096)])
        return self._network_output_dense(X)

    def _network_output_dense(self, X) -> np.ndarray:
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


def _with_class_weight(init):
    """The signature of `init` with the keyword parameter class_weight=None after `loss`: the
    classifiers' __init__ takes the shared parameters as **params, and scikit-learn's
    get_params/clone and repr read this signature, so every parameter stays explicit there."""
    import inspect

    sig = inspect.signature(init)
    ps = list(sig.parameters.values())
    at = [p.name for p in ps].index("loss") + 1
    ps.insert(at, inspect.Parameter("class_weight", inspect.Parameter.KEYWORD_ONLY, default=None))
    return sig.replace(parameters=ps)


class _Classifier(ClassifierMixin, _CronosEstimator):
    """Classification: squared loss on ±1 targets (one output for two classes, one-vs-rest
    outputs for more), binary logistic loss (two classes) or softmax cross-entropy (three or
    more classes)."""

    # scikit-learn reads the parameters from the signature of __init__: the shared ones of
    # _CronosEstimator.__init__ plus class_weight, written once (see _with_class_weight)
    def __init__(self, *, class_weight=None, **params) -> None:
        super().__init__(**params)
        self.class_weight = class_weight

    __init__.__signature__ = _with_class_weight(_CronosEstimator.__init__)  # type: ignore[attr-defined]

    def fit(self, X, y, sample_weight=None):
        """Fits the network to labels `y`. `sample_weight` (and `class_weight`) weight each
        row's loss."""
        X, y = validate_data(self, X, y, reset=True)
        check_classification_targets(y)
        self.classes_, idx = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError("Classifier can't train when only one class is present.")
        loss = self._check_loss()
        if loss == "logistic" and k != 2:
            raise ValueError(f"loss='logistic' is a binary loss but y has {k} classes; use loss='softmax' (or 'squared')")
        if loss == "softmax" and k < 3:
            raise ValueError("loss='softmax' needs at least 3 classes but y has 2; use loss='logistic' (or 'squared')")
        self._fit_targets(X, _encode(idx, k, X.dtype), sample_weight, self._class_row_weights(idx))
        return self

    def _class_row_weights(self, idx: np.ndarray) -> Optional[np.ndarray]:
        """Per-row weights of `class_weight` (scikit-learn semantics), None when unweighted."""
        cw = self.class_weight
        k = len(self.classes_)
        if cw is None:
            return None
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(f"invalid setting `class_weight` = {cw!r}: expected None, 'balanced' or a dict {{class: weight}}")
            counts = np.bincount(idx, minlength=k).astype(np.float64)
            per_class = len(idx) / (k * counts)
        elif isinstance(cw, dict):
            per_class = np.ones(k)
            unweighted = []
            for i, c in enumerate(self.classes_):
                if c in cw:
                    v = cw[c]
                    try:
                        v = float(v)
                    except (TypeError, ValueError):
                        raise ValueError(f"invalid setting `class_weight`: weight {cw[c]!r} of class {c!r} is not a number") from None
                    if not (np.isfinite(v) and v >= 0):
                        raise ValueError(f"invalid setting `class_weight`: weight {v!r} of class {c!r} must be finite and >= 0")
                    per_class[i] = v
                else:
                    unweighted.append(c)
            if unweighted and k - len(unweighted) != len(cw):
                raise ValueError(f"invalid setting `class_weight`: the classes, {np.asarray(unweighted).tolist()}, are not in class_weight")
        else:
            raise ValueError(f"invalid setting `class_weight` = {cw!r}: expected None, 'balanced' or a dict {{class: weight}}")
        return per_class[idx]

    def decision_function(self, X) -> np.ndarray:
        """Network outputs: shape (n,) for two classes (positive means `classes_[1]`; the
        log-odds for loss='logistic'), (n, n_classes) otherwise."""
        out = self._network_output(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict(self, X) -> np.ndarray:
        d = self.decision_function(X)
        if d.ndim == 1:
            return self.classes_[(d > 0).astype(np.intp)]
        return self.classes_[np.argmax(d, axis=1)]

    def _proba_scores(self, X) -> np.ndarray:
        """Logits whose row softmax is `predict_proba` (columns in `classes_` order): the
        class logits divided by the calibration temperature `temperature_`."""
        d = self.decision_function(X)
        if d.ndim == 1:
            if getattr(self, "loss_", "squared") == "logistic":
                d = np.stack([np.zeros_like(d), d], axis=1)  # softmax of (0, d) = (1 - s(d), s(d))
            else:
                d = np.stack([-d, d], axis=1)
        return d / getattr(self, "temperature_", 1.0)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in `classes_` order. With loss='logistic' (two classes)
        [1 - s(d), s(d)] with s the logistic function of the decision value d; with
        loss='softmax' the softmax of the outputs: both calibrated by the loss they were
        trained with. With loss='squared' the softmax of the decision values (two classes: of
        (-d, d)) divided by the temperature `temperature_`, fitted to minimise the log-loss on
        rows the final model's β was validated on (beta="auto": the path's validation split,
        scored by the path's model at the chosen β; a fixed β: one extra fit on about 90% of
        the rows, scored on the other 10%, chosen by a seeded hash of each row so that weights
        and repeated rows agree); see `calibration_`."""
        z = self._proba_scores(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        z = self._proba_scores(X)
        m = z.max(axis=1, keepdims=True)
        return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


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
        """Fits the network to targets `y` of shape (n,) or (n, k). `sample_weight` weights
        each row's squared loss."""
        X, y = validate_data(self, X, y, reset=True, multi_output=True, y_numeric=True)
        if self._check_loss() != "squared":
            raise ValueError(f"invalid setting `loss` = {self.loss!r}: a classification loss; regressors fit loss='squared' only")
        y = np.asarray(y)
        self._y_1d = y.ndim == 1
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        self._fit_targets(X, Y.astype(X.dtype, copy=False), sample_weight)
        return self

    def predict(self, X) -> np.ndarray:
        out = self._network_output(X)
        return out[:, 0] if self._y_1d else out


_DOC = """{summary}

    Trains a two-layer {net} network with weight decay by solving the equivalent convex
    program (Pilanci & Ergen 2020) with the CRONOS ADMM solver; every fit carries a certified
    lower bound on the optimal value (`lower_bound_`, `relative_gap_`).

    Parameters
    ----------
    beta : "auto", float or None, default "auto"
        Group-lasso weight (= weight decay). "auto" chooses it: a regularization path over
        `path_points` fractions of beta_max (the smallest beta at which every neuron vanishes),
        from 1 down to `path_min_fraction`, warm-started point to point, is solved on 90% of
        the rows (stratified by class for classifiers) and scored on the other 10% (accuracy,
        or minus the MSE for regression); the best fraction is refitted on all rows
        (`beta_fraction_`, `beta_path_`). A float is beta as it appears in the objective.
        None means the fixed library default (beta_fraction 1e-3).
    beta_fraction : float or None
        A fixed beta as a fraction of beta_max (per output), in (0, 1]; overrides "auto".
    loss : {{"squared", "logistic", "softmax"}}, default "squared"
        {loss_doc}
    {class_weight_doc}path_points : int, default 12
        With beta="auto": number of fractions of beta_max on the path.
    path_min_fraction : float, default 1e-5
        With beta="auto": smallest fraction of beta_max on the path, in (0, 1].
    n_patterns : int, default 64
        Number of sampled activation patterns P (the network has at most {width} neurons per output).
    max_iter : int, default 500
        ADMM iteration limit.
    tol_gap : float, default 1e-3
        Stop when the certified relative gap is below this.
    random_state : int, None or numpy.random.RandomState, default 0
        Seed of the gates, sketches and the validation split of beta="auto" (fits are
        deterministic for an int and a thread count). None draws a seed from numpy's global
        RandomState at each fit, a RandomState draws it from that generator (scikit-learn
        semantics); the seed used is `seed_`.
    n_jobs : int or None, default None
        Solver threads: None or -1 all cores, k > 0 k threads, -k all cores but k - 1 (as
        joblib). Note that None means all cores here, not one.
    warm_start : bool, default False
        Refit from the previous fit's solution: the next `fit` starts ADMM from the previous
        convex weights, neuron by neuron wherever it draws the same gate again (same
        `random_state`, `n_patterns` and number of features; changing beta, `beta_fraction`,
        `tol_gap`, `max_iter` or the rows keeps the gates). Neurons with a new gate start at
        zero; a different loss, output count or feature count starts cold. With beta="auto"
        the path is re-run and its model starts the refit, as in a cold fit. With a
        `random_state` of None or a RandomState the previous seed is kept. `warm_started_`
        tells whether the last fit started warm.
    preconditioner : {{"structured", "nystrom", "none"}}
        Preconditioner of the ADMM linear systems.
    preprocess : {{"standardize", "scale01", "none"}}
        "standardize" centres and scales each feature ("scale01": min/max to [0, 1]); for scipy.sparse X
        it scales without centering ("scale01": by the largest |value|), keeping X sparse (statistics stored in
        `preprocess_offset_`/`preprocess_scale_` and applied at prediction); "none" passes X
        through (float32/float64 arrays are then read by the solver without a copy).
    feature_weighting : {{"relevance", "none"}}, default "relevance"
        "relevance" rescales each preprocessed feature by (F_j / mean F)^(1/4), where
        F_j = R2 / (1 - R2) and R2 is the share of the targets that a regression on the
        standardized feature z and z**2 explains (z**2 catches y = |x|; weighted like the loss;
        `feature_weights_`); the weights are folded into the stored preprocessing scale. The
        random gates and the penalty then favour the features that carry the target. See the
        README's tabular benchmark for what it changes. "none": gates drawn isotropically in
        the preprocessed space.
    time_limit : float or None
        Wall-clock limit of the solve in seconds.
    pricing_rounds : int, default 0
        Gated ReLU only: rounds of pattern pricing after the solve (after the refit with
        beta="auto"), i.e. column generation: gates whose pattern violates the certificate's
        dual feasibility (the neurons the sampled gates miss) are searched for, up to
        `pricing_add` are added per round, patterns that stayed zero are dropped, and the
        solve is warm-started on the new set. A round never raises the objective; the
        certificate is that of the final pattern set. Pays on tabular data where an MLP learns
        its features (make_classification, 20,000 x 100, 5 classes: 73% -> 85%), not on
        images the random gates already fit; each round costs about one solve. 0: off.
    pricing_add : int, default 16
        Most gates added per pricing round.
    pricing_max_iter : int, default 0
        ADMM iterations of each pricing round's solve (0: `max_iter`); the last round is then
        finished with `max_iter`.
    pricing_swap : bool, default False
        Swap instead of grow: each added gate replaces the kept pattern with the smallest
        weights, so `n_patterns` (and the number of neurons) stays; a round that does not
        lower the objective is undone. Gates chosen by the dual at a fixed budget of neurons
        (B, 10,000 x 100, 3 classes, 64 patterns: 93.9% -> 96.1% with 4 rounds).
    relu_endgame : "auto", bool, default "auto"
        ReLU estimators: the augmented-Lagrangian endgame on the cone constraints (Newton steps,
        exact multipliers: weights inside the cones and a tight certificate). "auto" runs it where
        it is cheap (hundreds of rows, tens of features); True always (slow on many rows);
        False never. The gated estimators ignore it.
    verbose : bool or int, default False
        Progress on `sys.stderr` (as Python sees it, so notebooks and
        `contextlib.redirect_stderr` capture it): 1/True a tqdm bar when tqdm is installed,
        else a line per second at most, with the iteration, certified gap and ETA, plus the
        beta path's points and a final status line; 2 a line at every certificate (objective,
        bound, residuals). The solver reports between iterations, taking the GIL briefly.
    seed, threads : deprecated
        Former names of `random_state` and `n_jobs` (`threads=0` meant all cores); they still
        work, with a FutureWarning.

    Attributes
    ----------
    first_layer_weights_ : ndarray (n_features, n_neurons)
    first_layer_bias_ : ndarray (n_neurons,)
    output_weights_ : ndarray (n_neurons, n_outputs)
    {gated_attrs}n_iter_, status_, objective_, lower_bound_, relative_gap_ : solve report
    best_iteration_ : int or None
        The iteration whose weights the estimator holds when they are not the last iterate's: a
        fit shows its best certified point (the lowest objective certified, or for ReLU the
        endgame's best feasible attempt) when its last iterate is worse.
    constraint_violation_ : float
        Relative cone-constraint violation of the returned weights (0 for gated ReLU; a ReLU
        fit stopped early may violate them, and then objective_ can lie below lower_bound_,
        which bounds feasible weights only).
    network_objective_ : float
        Objective of the recovered network (equals objective_ when the constraints hold).
    n_active_neurons_ : int
    seed_ : int
        The seed the fit used (from `random_state`).
    warm_started_ : bool
        Whether the fit started from the previous solution (`warm_start=True`).
    loss_ : str
    beta_ : ndarray
        beta per output as used by the final fit.
    beta_fraction_ : float or None
        The fraction of beta_max of the final fit (chosen when beta="auto"; None for an absolute beta).
    feature_weights_ : ndarray (n_features,) or None
        The relevance weights of feature_weighting="relevance" (already folded into
        `preprocess_scale_`); None with "none".
    pricing_ : list of dict or None
        With pricing_rounds > 0: one dict per round (round 0 is the solve before pricing):
        round, candidates, violators, added, dropped, patterns, max_violation, objective,
        lower_bound, relative_gap, warm_objective, reverted, undone, active_neurons, train_metric,
        iterations, seconds, search_seconds, status. None otherwise.
    beta_path_ : list of dict or None
        With beta="auto": one dict per path point (fraction, beta, objective, relative_gap,
        active_neurons, iterations, seconds, status, train_metric, validation_metric); empty
        when the data has too few rows (fewer than 5 in every class) to hold any out, then
        the library default fraction 1e-3 is used. None otherwise.
    {cls_attrs}n_features_in_ : int
    """

_CLS_LOSS = (
    "'squared': ±1 targets (one output for two classes, one-vs-rest outputs otherwise), as the CLI's "
    "default; 'logistic': binary cross-entropy (two classes only); 'softmax': multinomial cross-entropy "
    "(three or more classes). Logistic and softmax are calibrated by their loss; with 'squared' `predict_proba` "
    "is calibrated by a temperature fitted on held-out rows (`temperature_`)."
)
_REG_LOSS = "Regressors fit the squared loss only (the parameter exists for symmetry with the classifiers and the CLI)."
_CLS_WEIGHT = """class_weight : None, "balanced" or dict, default None
        Weights of each class in the loss, multiplying `sample_weight` (scikit-learn semantics;
        "balanced" is n_samples / (n_classes * count of the class)).
    """

_CLS_ATTRS = """classes_ : ndarray
    temperature_ : float
        Temperature T of `predict_proba` (softmax of the class logits / T): fitted on held-out
        rows for loss='squared' (1 when too few rows could be held out), 1 for the logistic
        and softmax losses.
    calibration_ : dict or None
        The temperature fit: temperature, rows, log_loss_before (T = 1) and log_loss_after
        on the held-out rows.
    """

_GATED_ATTRS = "gate_weights_, gate_bias_ : gate vectors of each neuron (a neuron is on when x.gate_w + gate_b >= 0)\n    "


class ConvexReLUClassifier(_Classifier):
    __doc__ = _DOC.format(summary="Two-layer ReLU network classifier trained by convex optimisation.", net="ReLU", width="2 * n_patterns", gated_attrs="", cls_attrs=_CLS_ATTRS, loss_doc=_CLS_LOSS, class_weight_doc=_CLS_WEIGHT)
    _activation = "relu"


class ConvexReLURegressor(_Regressor):
    __doc__ = _DOC.format(summary="Two-layer ReLU network regressor trained by convex optimisation.", net="ReLU", width="2 * n_patterns", gated_attrs="", cls_attrs="", loss_doc=_REG_LOSS, class_weight_doc="")
    _activation = "relu"


class GatedReLUClassifier(_Classifier):
    __doc__ = _DOC.format(summary="Two-layer gated-ReLU network classifier trained by convex optimisation.", net="gated-ReLU", width="n_patterns", gated_attrs=_GATED_ATTRS, cls_attrs=_CLS_ATTRS, loss_doc=_CLS_LOSS, class_weight_doc=_CLS_WEIGHT)
    _activation = "gated_relu"


class GatedReLURegressor(_Regressor):
    __doc__ = _DOC.format(summary="Two-layer gated-ReLU network regressor trained by convex optimisation.", net="gated-ReLU", width="n_patterns", gated_attrs=_GATED_ATTRS, cls_attrs="", loss_doc=_REG_LOSS, class_weight_doc="")
    _activation = "gated_relu"
