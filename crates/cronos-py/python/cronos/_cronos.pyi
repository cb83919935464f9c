"""Type stubs of the Rust extension module ``cronos._cronos``."""

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

def fit(
    x: npt.NDArray[np.floating[Any]],
    y: npt.NDArray[np.floating[Any]],
    *,
    activation: str = "relu",
    loss: str = "squared",
    sample_weight: Optional[npt.NDArray[np.float64]] = None,
    beta: Optional[float] = None,
    beta_fraction: Optional[float] = None,
    beta_auto: bool = False,
    path_points: int = 12,
    path_min_fraction: float = 1e-5,
    n_patterns: int = 64,
    max_iter: int = 500,
    tol_gap: float = 1e-3,
    tol_residual: Optional[float] = None,
    seed: int = 0,
    threads: int = 0,
    preconditioner: str = "structured",
    time_limit: Optional[float] = None,
    bias: bool = True,
    verbose: bool = False,
    progress: Optional[Callable[[Dict[str, Any]], None]] = None,
    warm_start: Optional[Tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]]] = None,
    calibrate: bool = False,
    calibration_weights: Optional[npt.NDArray[np.float64]] = None,
    calibration_rows: Optional[List[int]] = None,
    pricing_rounds: int = 0,
    pricing_add: int = 16,
    pricing_max_iter: int = 0,
    pricing_swap: bool = False,
    relu_endgame: Optional[bool] = None,
) -> Dict[str, Any]:
    """Solve the convex program for ``x`` (n x d) and ``y`` (n x k).

    Both arrays must be 2-D and share one dtype, float32 or float64 (any memory layout;
    they are read in place without copying when their strides allow it). The GIL is
    released while solving; Ctrl-C stops the solve within one iteration and raises
    ``KeyboardInterrupt``. Invalid settings or data raise ``ValueError``.

    ``loss`` is ``"squared"``, ``"logistic"`` (targets -1/+1 per column) or ``"softmax"``
    (one positive entry per row, k >= 2). ``sample_weight`` (1-D float64, length n, finite,
    >= 0, not all zero) weights each row's loss. ``beta_auto=True`` (with neither ``beta``
    nor ``beta_fraction``) chooses beta by ``cronos::select_beta``: a path of ``path_points``
    fractions of beta_max down to ``path_min_fraction`` on a stratified 90% of the rows,
    scored on the rest, then a warm-started refit on all rows at the best fraction (as
    ``cronos train --beta auto``); data too small to hold rows out (fewer than 5 per class)
    use the library default fraction 1e-3 and an empty path. Ctrl-C during the path stops
    it after the current grid point.

    ``progress`` is called (with the GIL taken briefly, between iterations) with one dict per
    event: ``{"event": "setup", "seconds", "n_patterns", "warm_started"}``, ``{"event": "path",
    "index", "points", "fraction", "beta", "objective", "relative_gap", "active_neurons",
    "iterations", "seconds", "status", "train_metric", "validation_metric"}``,
    ``{"event": "beta_chosen", "fraction", "seconds"}`` and, at every certificate,
    ``{"event": "iter", "iteration", "seconds", "objective", "lower_bound", "relative_gap",
    "primal_residual", "dual_residual", "rho"}``. An exception it raises stops the fit and is
    re-raised. ``verbose=True`` without ``progress`` uses ``cronos._progress.ProgressReporter``
    (lines or a tqdm bar on ``sys.stderr``). Nothing is written to file descriptor 2.

    ``warm_start=(gates, weights)``: a previous fit's ``gates`` and ``weights`` (same dtype as
    ``x``); every neuron whose gate direction the solver draws again starts from its previous
    weights (``warm_started`` in the result says whether any did). Ignored with ``beta_auto``
    (the path's model starts the refit).

    ``calibrate=True`` (squared loss; ``y`` ±1 class targets) fits the probability
    temperature: with ``beta_auto`` on the path's validation rows, scored by the path's model
    at the chosen beta; else by one extra solve on the rows not in ``calibration_rows``, scored
    on those (default: a stratified 10% of each class). ``calibration_weights``: the rows of ``x`` and ``y`` are already multiplied by
    sqrt(w) (a weighted squared loss solved unweighted); w weights the temperature fit.
    The result's ``calibration`` is then ``{"temperature", "rows", "log_loss_before",
    "log_loss_after"}`` (None when not fitted or no rows could be held out).

    ``pricing_rounds > 0`` (gated ReLU only) runs ``cronos::price`` after the solve (after
    the refit with ``beta_auto``): up to ``pricing_rounds`` rounds that add at most
    ``pricing_add`` gates violating dual feasibility, drop patterns that stayed zero and
    re-solve warm (``pricing_max_iter`` ADMM iterations per round, 0: ``max_iter``; with
    ``pricing_swap`` each added gate replaces the kept pattern with the smallest weights). Each round
    is a progress event ``{"event": "pricing", ...}`` with the keys of the result's
    ``pricing`` entries; Ctrl-C stops pricing after the current round. The result's
    ``pricing`` is then a list of dicts (round, candidates, violators, added, dropped,
    patterns, max_violation, objective, lower_bound, relative_gap, warm_objective, reverted, undone,
    active_neurons, train_metric, iterations, seconds, search_seconds, status) and
    ``pricing_stop`` (``"NoViolator"``, ``"Rounds"`` or ``"Stopped"``); both None without
    pricing. The status, certificate and ``n_patterns`` are then those after pricing.

    Returns a dict with keys ``w1`` (d x m), ``b1`` (m,), ``w2`` (m x k), ``gate_w`` /
    ``gate_b`` (gated ReLU only, else None), ``gates`` ((d+bias) x P), ``weights``
    ((d+bias) x (nb*k), the convex weights), ``beta`` (list of float), ``n_active_neurons``,
    ``n_patterns``, ``warm_started``, ``status`` (``"solved"``, ``"max_iterations"``, ``"time_limit"``,
    ``"numerical_error"`` or ``"interrupted"``), ``n_iter``, ``cg_iterations``,
    ``objective``, ``lower_bound``, ``relative_gap``, ``objectives`` and ``lower_bounds`` (per output), ``setup_seconds``,
    ``solve_seconds``, ``settings_json`` (the exact ``cronos::Settings`` used, serde JSON, as
    stored in model files) ``x_borrowed`` / ``y_borrowed`` (whether the input was read in place, without a copy)
    and ``dtype`` (``"f32"`` or ``"f64"``), ``loss``, ``beta_auto``, ``beta_fraction`` (the
    fraction of beta_max of the fit, None for an absolute beta), ``beta_path`` (with
    ``beta_auto``: a list of dicts with keys fraction, beta, objective, relative_gap,
    active_neurons, iterations, seconds, status, train_metric, validation_metric; else None)
    and ``path_seconds``. Arrays have the input dtype.
    """
    ...

def fit_temperature(
    logits: npt.NDArray[np.float64], classes: npt.NDArray[np.int64], sample_weight: Optional[npt.NDArray[np.float64]] = None
) -> float:
    """The temperature T minimising the (weighted) log-loss of softmax(logits / T) on the
    class indices ``classes`` (``cronos::calibration::fit_temperature``: Newton on 1/T,
    targets smoothed by 1/(n_eff + 2))."""
    ...

def default_settings_json() -> str:
    """``cronos::Settings::default()`` serialised as JSON (the form model files store)."""
    ...

def export_onnx(model_path: str, out_path: str, *, force: bool = False, labels: Optional[List[str]] = None) -> List[str]:
    """Writes the ONNX model of the cronos model file ``model_path`` to ``out_path`` (see
    ``cronos._onnx.to_onnx``); returns the graph's output names. ``FileExistsError`` when
    ``out_path`` exists and not ``force``, ``OSError`` on I/O failure, ``ValueError`` for an
    invalid model file or a wrong number of ``labels``."""
    ...

def preprocess_stats(
    x: npt.NDArray[Any], kind: str, sample_weight: Optional[npt.NDArray[np.float64]] = None
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-feature (offset, scale) of ``kind`` ('standardize', 'scale01' or 'none') on the rows
    of a 2-D float32/float64 array, weighted by ``sample_weight``
    (``cronos_model::column_stats``, the CLI's statistics; a constant feature gets scale 1)."""
    ...

def relevance_weights(
    x: Any,
    offset: npt.NDArray[np.float64],
    scale: npt.NDArray[np.float64],
    y: npt.NDArray[np.floating[Any]],
    sample_weight: Optional[npt.NDArray[np.float64]] = None,
    exponent: float = 0.5,
) -> npt.NDArray[np.float64]:
    """Relevance weights of the features of ``x`` (2-D float32/float64 array, or CSR parts with
    offset 0) after ``(x - offset) / scale``, for the encoded targets ``y`` (n x k, x's dtype):
    (F_j / mean F)^(exponent/2) with F_j = R2/(1 - R2), R2 the share of the targets that a
    regression on the standardized feature z and z**2 explains, floored at 1e-3; 1 for a
    constant feature
    (``cronos_model::relevance_weights``, as ``cronos train --feature-weighting relevance``)."""
    ...

def save_model(
    path: str,
    metadata_json: str,
    gates: npt.NDArray[np.float32],
    weights: npt.NDArray[np.float32],
    preprocess_offset: npt.NDArray[np.float32],
    preprocess_scale: npt.NDArray[np.float32],
    extra: Dict[str, str],
) -> None:
    """Writes a model file through ``cronos_model::ModelFile::save`` (atomic, overwriting):
    the network, class tensor and derived metadata fields are computed from the arguments."""
    ...

def load_model(path: str) -> Dict[str, Any]:
    """Reads and validates a model file (``cronos_model::ModelFile::load``): ``metadata``
    (JSON), ``extra`` (other ``__metadata__`` entries) and the float32 tensors ``gates``,
    ``weights``, ``w1``, ``b1``, ``w2`` (``gate_w``, ``gate_b``), ``preprocess_offset``,
    ``preprocess_scale``."""
    ...

def holdout_rows(x: Any, y: npt.NDArray[np.float64], seed: int, fraction: float = 0.1) -> List[int]:
    """Rows (ascending) held out for the probability temperature at a fixed beta: about
    ``fraction`` of the rows, by a seeded hash of each row's nonzero features (a 2-D
    float32/float64 array or CSR parts ``(indptr, indices, data, (n, d))``) and targets ``y``."""
    ...
