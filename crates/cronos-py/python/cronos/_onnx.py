"""ONNX export of fitted cronos estimators and model files.

The graph is built by the Rust crate ``cronos-onnx`` (through ``cronos._cronos.export_onnx``),
the same code as ``cronos export --onnx MODEL OUT.onnx``: an estimator is saved as a model
file in a temporary directory and that file is exported, so the graph layout is defined in
one place only. Neither the ``onnx`` nor the ``onnxruntime`` package is needed to export.

The graph (opset 17, standard ops only) takes ``X``: float32 [N, d] raw features (the
preprocessing fitted by the estimator is part of the graph) and returns

* ``scores``: float32 [N, k], the network outputs (``decision_function``, as (N, 1) for two
  classes; ``predict`` of a regressor);
* classifiers also ``label`` [N] (the class: float64 for numeric classes, string otherwise),
  ``label_index`` int64 [N] (index into ``classes_``) and ``probabilities`` float32 [N, c]
  (``predict_proba``).
"""

from __future__ import annotations

import os
import tempfile
from typing import List, Optional, Union

import numpy as np

_PathLike = Union[str, "os.PathLike[str]"]


def _string_labels(est) -> Optional[List[str]]:
    """Class names for the ONNX ``label`` output when the classes are not numbers (the model
    file stores their indices then); ``None`` keeps the numeric class values."""
    classes = getattr(est, "classes_", None)
    if classes is None:
        return None
    classes = np.asarray(classes)
    if classes.dtype.kind in "iufb":
        return None
    return [str(c) for c in classes.tolist()]


def to_onnx(model, path: _PathLike, *, force: bool = False) -> List[str]:
    """Writes ``model`` as an ONNX file at ``path`` and returns the names of the graph outputs.

    ``model`` is a fitted cronos estimator or the path of a cronos model file (written by
    ``est.save`` or ``cronos train``). An existing ``path`` is refused (``FileExistsError``)
    unless ``force=True``; the file is written to a temporary name and renamed, so a failed
    export leaves nothing behind.

    Run it with onnxruntime::

        import onnxruntime as ort
        sess = ort.InferenceSession("model.onnx")
        label, label_index, proba, scores = sess.run(None, {"X": X.astype("float32")})
    """
    from . import _cronos
    from ._io import load

    out = os.fspath(path)
    if isinstance(model, (str, os.PathLike)):
        src = os.fspath(model)
        # the file's own string classes, if the Python package wrote them
        labels = _string_labels(load(src))
        return list(_cronos.export_onnx(src, out, force=force, labels=labels))
    if not hasattr(model, "first_layer_weights_"):
        raise ValueError(f"to_onnx: {type(model).__name__} is not fitted; call fit first (or pass a model file path)")
    with tempfile.TemporaryDirectory(prefix="cronos-onnx-") as tmp:
        src = os.path.join(tmp, "model.safetensors")
        model.save(src)
        return list(_cronos.export_onnx(src, out, force=force, labels=_string_labels(model)))
