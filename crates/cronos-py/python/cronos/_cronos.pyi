"""Type stubs of the Rust extension module ``cronos._cronos``."""

from typing import Any, Dict, Optional

import numpy as np
import numpy.typing as npt

__version__: str

def fit(
    x: npt.NDArray[np.floating[Any]],
    y: npt.NDArray[np.floating[Any]],
    *,
    activation: str = "relu",
    beta: Optional[float] = None,
    beta_fraction: Optional[float] = None,
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
) -> Dict[str, Any]:
    """Solve the convex program for ``x`` (n x d) and ``y`` (n x k).

    Both arrays must be 2-D and share one dtype, float32 or float64 (any memory layout;
    they are read in place without copying when their strides allow it). The GIL is
    released while solving; Ctrl-C stops the solve within one iteration and raises
    ``KeyboardInterrupt``. Invalid settings or data raise ``ValueError``.

    Returns a dict with keys ``w1`` (d x m), ``b1`` (m,), ``w2`` (m x k), ``gate_w`` /
    ``gate_b`` (gated ReLU only, else None), ``gates`` ((d+bias) x P), ``weights``
    ((d+bias) x (nb*k), the convex weights), ``beta`` (list of float), ``n_active_neurons``,
    ``n_patterns``, ``status`` (``"solved"``, ``"max_iterations"``, ``"time_limit"``,
    ``"numerical_error"`` or ``"interrupted"``), ``n_iter``, ``cg_iterations``,
    ``objective``, ``lower_bound``, ``relative_gap``, ``objectives`` and ``lower_bounds`` (per output), ``setup_seconds``,
    ``solve_seconds``, ``settings_json`` (the exact ``cronos::Settings`` used, serde JSON, as
    stored in model files) ``x_borrowed`` / ``y_borrowed`` (whether the input was read in place, without a copy)
    and ``dtype`` (``"f32"`` or ``"f64"``). Arrays have the input dtype.
    """
    ...

def default_settings_json() -> str:
    """``cronos::Settings::default()`` serialised as JSON (the form model files store)."""
    ...
