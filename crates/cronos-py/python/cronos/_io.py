"""Model files shared with the ``cronos`` CLI (crates/cronos-model, format version 1).

A model file is a safetensors file holding F32 tensors ``gates``, ``weights``, ``w1``,
``b1``, ``w2``, ``preprocess_offset``, ``preprocess_scale`` (and ``gate_w``/``gate_b`` for
gated ReLU, ``classes`` for classification) and the JSON metadata string under
``__metadata__["cronos"]``. It is read and written by the Rust crate the CLI uses
(``cronos._cronos.save_model`` / ``load_model``: atomic temp file + rename, the network
recovered from the convex weights in Rust), so both front ends write the same file; this
module maps an estimator to the file's metadata and back.

Class labels: the CLI stores numeric labels (f64 in the metadata). Non-numeric labels (e.g.
strings) are written as their indices 0..c-1 in the CLI fields and the real labels as JSON
under ``__metadata__["cronos_python_classes"]``, which :func:`load` restores.

The loss is part of the settings (``settings.loss``, as the CLI writes it). Estimator
parameters the CLI format cannot express (``beta="auto"``, ``class_weight``, the path
options) and the fitted ``beta_fraction_`` / ``beta_path_`` are stored as JSON under
``__metadata__["cronos_python_params"]``; the CLI ignores that key.

The probability temperature of squared-loss classifiers (``temperature_``, ``calibration_``)
is the metadata field ``calibration`` (``{"temperature", "rows", "log_loss_before",
"log_loss_after"}``), which the CLI and the ONNX export read too; files without it have T = 1.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Union

import numpy as np

FORMAT_VERSION = 1
METADATA_KEY = "cronos"
PY_CLASSES_KEY = "cronos_python_classes"
PY_PARAMS_KEY = "cronos_python_params"
_LOSS_TO_RUST = {"squared": "Squared", "logistic": "Logistic", "softmax": "Softmax"}
_LOSS_FROM_RUST = {v: k for k, v in _LOSS_TO_RUST.items()}

_PathLike = Union[str, "os.PathLike[str]"]

_PRE_TO_RUST = {"none": "None", None: "None", "standardize": "Standardize", "scale01": "Scale01"}
_PRE_FROM_RUST = {"None": "none", "Standardize": "standardize", "Scale01": "scale01"}


# -- save / load ---------------------------------------------------------------------------
def _settings_json(est) -> Dict[str, Any]:
    """The `cronos::Settings` JSON of a fitted estimator: the exact settings of its fit when
    recorded (`settings_json_`), else the Rust defaults overlaid with the estimator's params."""
    stored = getattr(est, "settings_json_", "")
    if stored:
        s = json.loads(stored)
        s["bias"] = True  # sample-weighted fits append the bias column themselves: same layout
        return s
    from ._cronos import default_settings_json

    s = json.loads(default_settings_json())
    s.update(_settings_from_params(est))
    return s


def _settings_from_params(est) -> Dict[str, Any]:
    if est.beta is not None and not isinstance(est.beta, str):
        beta = {"Value": float(est.beta)}
    else:
        frac = est.beta_fraction if est.beta_fraction is not None else getattr(est, "beta_fraction_", None)
        beta = {"Fraction": float(1e-3 if frac is None else frac)}
    tl = est.time_limit
    return {
        "activation": "Relu" if est._activation == "relu" else "GatedRelu",
        "loss": _LOSS_TO_RUST.get(getattr(est, "loss_", "squared"), "Squared"),
        "beta": beta,
        "n_patterns": int(est.n_patterns),
        "bias": True,
        "preconditioner": {"none": "None", "nystrom": "Nystrom", "structured": "Structured"}[str(est.preconditioner).lower()],
        "max_iter": int(est.max_iter),
        "time_limit": None if tl is None else {"secs": int(tl), "nanos": int(round((tl - int(tl)) * 1e9)) % 1_000_000_000},
        "tol_gap": float(est.tol_gap),
        "seed": _fitted_seed(est),
        "threads": _threads(est),
    }


def _fitted_seed(est) -> int:
    """The seed of the fit (`seed_`), else the one the parameters name (0 when they draw one)."""
    if getattr(est, "seed_", None) is not None:
        return int(est.seed_)
    for v in (est.seed, est.random_state):
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return int(v)
    return 0


def _threads(est) -> int:
    """The solver's thread count of the parameters (0: all cores)."""
    from ._conventions import resolve_threads

    return int(est.threads) if est.threads is not None else resolve_threads(est.n_jobs, None)


def save(model, path: _PathLike) -> None:
    """Writes a fitted cronos estimator to `path` (overwriting it) in the CLI's model format.

    Weights are stored as float32 (the format's only dtype); the recovered network is
    recomputed from the float32 convex weights (in Rust, as the CLI does) so the file is
    self-consistent.
    """
    from ._base import check_is_fitted
    from ._cronos import save_model

    check_is_fitted(model)
    d, k = int(model.n_features_in_), int(model.n_outputs_)
    gates = np.ascontiguousarray(model.gates_, dtype=np.float32)
    weights = np.ascontiguousarray(model.convex_weights_, dtype=np.float32)
    off = model.preprocess_offset_
    scale = model.preprocess_scale_
    extra = {}
    if hasattr(model, "classes_"):
        classes = np.asarray(model.classes_)
        numeric = classes.dtype.kind in "iufb"
        labels = [float(c) for c in classes] if numeric else [float(i) for i in range(len(classes))]
        if not numeric:
            extra[PY_CLASSES_KEY] = json.dumps([c.item() if hasattr(c, "item") else c for c in classes.tolist()])
        task: Any = {"Classification": {"labels": labels}}
    else:
        task = "Regression"
    meta = {
        "format_version": FORMAT_VERSION,
        "cronos_version": "",  # filled in by the writer
        "settings": _settings_json(model),
        "n_train": int(getattr(model, "n_train_", 0)),
        "n_features": d,
        "n_outputs": k,
        "n_patterns": int(gates.shape[1]),
        "beta": [float(b) for b in model.beta_],
        "data_fingerprint": "",
        "data_source": "python",
        "metrics": {
            "admm_iterations": int(model.n_iter_),  # active_neurons: added by the writer
            "objective": float(model.objective_),
            "lower_bound": float(model.lower_bound_),
            "relative_gap": float(model.relative_gap_),
        },
        "certificate": {
            "objective": float(model.objective_),
            "lower_bound": float(model.lower_bound_),
            "relative_gap": float(model.relative_gap_),
            "objectives": [float(v) for v in getattr(model, "objectives_", [model.objective_])],
            "lower_bounds": [float(v) for v in getattr(model, "lower_bounds_", [model.lower_bound_])],
        },
        "status": str(model.status_),
        "task": task,
        "preprocess": _PRE_TO_RUST[model.preprocess if off is not None else "none"],
    }
    cal = getattr(model, "calibration_", None)
    if cal is not None:
        # read by the CLI (`cronos predict --proba`) and the ONNX export as well
        meta["calibration"] = {
            "temperature": float(cal["temperature"]),
            "rows": int(cal["rows"]),
            "log_loss_before": float(cal["log_loss_before"]),
            "log_loss_after": float(cal["log_loss_after"]),
        }
    frac = getattr(model, "beta_fraction_", None)
    beta_path = getattr(model, "beta_path_", None)
    if beta_path is not None:
        meta["metrics"]["beta_auto"] = True
        meta["metrics"]["beta_fraction"] = frac
    cw = getattr(model, "class_weight", None)
    if isinstance(cw, dict):
        cw = {"pairs": [[k.item() if hasattr(k, "item") else k, float(v)] for k, v in cw.items()]}
    extra[PY_PARAMS_KEY] = json.dumps(
        {
            "beta": model.beta if (model.beta is None or isinstance(model.beta, str)) else float(model.beta),
            "beta_fraction": None if model.beta_fraction is None else float(model.beta_fraction),
            "loss": model.loss,
            "class_weight": cw,
            "path_points": int(model.path_points),
            "path_min_fraction": float(model.path_min_fraction),
            "beta_fraction_": None if frac is None else float(frac),
            "beta_path_": beta_path,
            "feature_weighting": getattr(model, "feature_weighting", "none"),
            "feature_weights_": None if getattr(model, "feature_weights_", None) is None else [float(v) for v in model.feature_weights_],
            "pricing_rounds": int(getattr(model, "pricing_rounds", 0)),
            "pricing_add": int(getattr(model, "pricing_add", 16)),
            "pricing_max_iter": int(getattr(model, "pricing_max_iter", 0)),
            "pricing_swap": bool(getattr(model, "pricing_swap", False)),
            "relu_endgame": getattr(model, "relu_endgame", "auto"),
            "pricing_": getattr(model, "pricing_", None),
        }
    )
    save_model(
        os.fspath(path),
        json.dumps(meta),
        gates,
        weights,
        np.zeros(d, np.float32) if off is None else np.asarray(off, np.float32),
        np.ones(d, np.float32) if scale is None else np.asarray(scale, np.float32),
        extra,
    )


def load(path: _PathLike):
    """Reads a model file written by the CLI or by ``model.save`` and returns a fitted
    estimator (ConvexReLU*/GatedReLU*, classifier or regressor as stored)."""
    from . import _estimators as E
    from ._cronos import load_model

    p = os.fspath(path)
    # validated in Rust: shapes, finite values, the format version (errors name the file)
    tensors = load_model(p)
    md = tensors.pop("extra")
    meta = json.loads(tensors.pop("metadata"))
    try:
        s = meta["settings"]
        gated = s["activation"] == "GatedRelu"
        task = meta["task"]
        d, k = int(meta["n_features"]), int(meta["n_outputs"])
        if not s.get("bias", True):
            raise ValueError(f"{p}: models trained without bias are not supported by the Python package")
        classify = isinstance(task, dict) and "Classification" in task
        cls = (E.GatedReLUClassifier if gated else E.ConvexReLUClassifier) if classify else (E.GatedReLURegressor if gated else E.ConvexReLURegressor)
        beta = s["beta"]
        loss = _LOSS_FROM_RUST.get(s.get("loss", "Squared"))
        if loss is None:
            raise ValueError(f"{p}: unknown loss {s.get('loss')!r} (written by a newer cronos?)")
        params = dict(
            beta=beta["Value"] if "Value" in beta else None,
            # the library default Fraction(1e-3) maps back to beta_fraction=None (same fit)
            beta_fraction=None if beta.get("Fraction") == 1e-3 else beta.get("Fraction"),
            loss=loss,
            n_patterns=int(s["n_patterns"]),
            max_iter=int(s["max_iter"]),
            tol_gap=float(s["tol_gap"]),
            random_state=int(s["seed"]),
            n_jobs=int(s["threads"]) or None,
            preconditioner=str(s["preconditioner"]).lower(),
            preprocess=_PRE_FROM_RUST.get(meta.get("preprocess", "None"), "none"),
            time_limit=None if s.get("time_limit") is None else s["time_limit"]["secs"] + s["time_limit"]["nanos"] * 1e-9,
        )
        # models saved from Python: the parameters of the fit exactly (beta="auto", class_weight, path)
        py = json.loads(md[PY_PARAMS_KEY]) if PY_PARAMS_KEY in md else {}
        for name in ("beta", "beta_fraction", "loss", "path_points", "path_min_fraction", "pricing_rounds", "pricing_add", "pricing_max_iter", "pricing_swap", "relu_endgame"):
            if name in py:
                params[name] = py[name]
        # the relevance weights are folded into the stored scale; models from the CLI or from
        # before the option had none
        params["feature_weighting"] = py.get("feature_weighting", "none")
        if classify:
            cw = py.get("class_weight")
            params["class_weight"] = {k: v for k, v in cw["pairs"]} if isinstance(cw, dict) else cw
        est = cls(**params)
        est.seed_ = int(s["seed"])
        est.settings_json_ = json.dumps(s)
        est.loss_ = loss
        est.beta_fraction_ = py["beta_fraction_"] if "beta_fraction_" in py else beta.get("Fraction")
        est.beta_path_ = py.get("beta_path_")
        fw = py.get("feature_weights_")
        est.feature_weights_ = None if fw is None else np.asarray(fw, dtype=np.float64)
        est.pricing_ = py.get("pricing_")
        est.n_features_in_ = d
        est.n_outputs_ = k
        est.gates_ = tensors["gates"]
        est.convex_weights_ = tensors["weights"]
        est.first_layer_weights_ = tensors["w1"]
        est.first_layer_bias_ = tensors["b1"]
        est.output_weights_ = tensors["w2"]
        if gated:
            est.gate_weights_ = tensors["gate_w"]
            est.gate_bias_ = tensors["gate_b"]
        if meta.get("preprocess", "None") == "None" and not tensors["preprocess_offset"].any() and (tensors["preprocess_scale"] == 1).all():
            est.preprocess_offset_ = est.preprocess_scale_ = None
        else:
            est.preprocess_offset_ = tensors["preprocess_offset"].astype(np.float64)
            est.preprocess_scale_ = tensors["preprocess_scale"].astype(np.float64)
        cert = meta["certificate"]
        est.beta_ = np.asarray(meta["beta"], dtype=np.float64)
        est.objective_ = float(cert["objective"])
        est.lower_bound_ = float(cert["lower_bound"])
        est.relative_gap_ = float(cert["relative_gap"])
        est.objectives_ = np.asarray(cert.get("objectives", []), dtype=np.float64)
        est.lower_bounds_ = np.asarray(cert.get("lower_bounds", []), dtype=np.float64)
        est.status_ = str(meta["status"])
        metrics = meta.get("metrics") or {}
        est.n_iter_ = int(metrics.get("admm_iterations") or metrics.get("iterations") or 0)
        est.n_patterns_ = int(est.gates_.shape[1])
        est.n_active_neurons_ = int(est.first_layer_weights_.shape[1])
        est.n_train_ = int(meta.get("n_train", 0))
        if classify:
            # files written before calibration existed hold none: temperature 1 (as then)
            cal = meta.get("calibration")
            est.calibration_ = None if cal is None else dict(cal)
            est.temperature_ = 1.0 if cal is None else float(cal["temperature"])
            labels = task["Classification"]["labels"]
            if PY_CLASSES_KEY in md:
                est.classes_ = np.asarray(json.loads(md[PY_CLASSES_KEY]))
            else:
                arr = np.asarray(labels, dtype=np.float64)
                est.classes_ = arr.astype(np.int64) if np.all(arr == np.round(arr)) else arr
            expected = 1 if len(est.classes_) == 2 else len(est.classes_)
            if expected != k:
                raise ValueError(f"{p}: {len(est.classes_)} classes do not match {k} outputs")
        else:
            est._y_1d = k == 1
    except (KeyError, TypeError) as e:
        raise ValueError(f"{p}: not a valid cronos model file: bad metadata ({e!r})") from None
    return est
