"""Runs an exported ONNX model with onnxruntime and compares it with `cronos predict`.

Usage: onnx_check.py MODEL.onnx X.npy SCORES.npy LABELS.npy|- LOSS [PROBA.npy]

PROBA.npy: `cronos predict --proba` (calibrated probabilities); without it the probabilities
are compared with the softmax of the CLI's scores (temperature 1).
Prints one JSON object: max abs differences of scores and probabilities, label mismatches.
Prints {"skip": reason} when onnxruntime is not importable (the Rust test decides).
"""

import json
import sys

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:  # the Rust test skips (or fails when onnxruntime is required)
    print(json.dumps({"skip": f"numpy or onnxruntime is not importable ({e}); install it with `python3 -m pip install onnxruntime onnx`"}))
    sys.exit(0)


def checker(path):
    """The onnx package's own validation (with shape inference), when installed."""
    try:
        import onnx
    except ImportError:
        return "onnx not installed"
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        return "ok"
    except Exception as e:  # report, the Rust test fails on anything but ok
        return f"{type(e).__name__}: {e}"


def main():
    onnx_path, x_path, scores_path, labels_path, loss = sys.argv[1:6]
    proba_path = sys.argv[6] if len(sys.argv) > 6 else None
    x = np.load(x_path).astype(np.float32)
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    out = dict(zip(names, sess.run(None, {"X": x})))
    cli = np.load(scores_path).astype(np.float64)
    cli = cli.reshape(len(x), -1)
    scores = out["scores"].astype(np.float64)
    res = {
        "outputs": names,
        "input_shape": [str(d) for d in sess.get_inputs()[0].shape],
        "rows": int(len(x)),
        "scores_shape": list(scores.shape),
        "max_abs_diff_scores": float(np.abs(scores - cli).max()),
        "max_abs_score": float(np.abs(cli).max()),
        "checker": checker(onnx_path),
    }
    if labels_path != "-":
        labels = np.load(labels_path)
        # the decision margin: a label may only differ where the CLI itself is on a knife edge
        if cli.shape[1] == 1:
            margin = np.abs(cli[:, 0])
            z = np.concatenate([np.zeros_like(cli) if loss == "logistic" else -cli, cli], axis=1)
        else:
            top = np.sort(cli, axis=1)
            margin = top[:, -1] - top[:, -2]
            z = cli
        z = z - z.max(axis=1, keepdims=True)
        proba = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        if proba_path is not None:
            proba = np.load(proba_path)
        wrong = out["label"] != labels
        classes = np.array(json.loads(sess.get_modelmeta().custom_metadata_map["classes"]))
        res.update(
            {
                "label_mismatches": int(wrong.sum()),
                "label_mismatches_beyond_1e-5_margin": int((wrong & (margin > 1e-5)).sum()),
                "label_index_consistent": bool((classes[out["label_index"]] == out["label"]).all()),
                "max_abs_diff_probabilities": float(np.abs(out["probabilities"] - proba).max()),
                "probabilities_shape": list(out["probabilities"].shape),
                "label_dtype": str(out["label"].dtype),
            }
        )
    print(json.dumps(res))


main()
