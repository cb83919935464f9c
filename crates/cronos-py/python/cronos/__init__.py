"""cronos: two-layer ReLU networks trained by convex optimisation to a certified optimum.

scikit-learn compatible estimators backed by the Rust solver (`cronos._cronos`):

* :class:`ConvexReLUClassifier`, :class:`ConvexReLURegressor` (ReLU networks)
* :class:`GatedReLUClassifier`, :class:`GatedReLURegressor` (gated-ReLU networks)

Models are saved with ``model.save(path)`` and read with :func:`load`, in the same file
format as the ``cronos`` command-line tool. Only numpy is required at run time;
scikit-learn is used when installed (estimators then derive from its base classes).
"""

from ._cronos import __version__
from ._estimators import (
    ConvexReLUClassifier,
    ConvexReLURegressor,
    GatedReLUClassifier,
    GatedReLURegressor,
)
from ._conventions import expected_failed_checks
from ._io import load, save
from ._onnx import to_onnx
from ._base import ConvergenceWarning

__all__ = [
    "ConvexReLUClassifier",
    "ConvexReLURegressor",
    "GatedReLUClassifier",
    "GatedReLURegressor",
    "ConvergenceWarning",
    "expected_failed_checks",
    "load",
    "save",
    "to_onnx",
    "__version__",
]
