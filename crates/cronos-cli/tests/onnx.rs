//! `cronos export --onnx`: the exported graph, run by onnxruntime (through python3), gives the
//! predictions of `cronos predict` on the bundled Fashion-MNIST, for ReLU and gated-ReLU
//! networks, classifiers (squared, logistic, softmax loss; two and three classes) and
//! regressors.
//!
//! Needs `python3 -m pip install onnxruntime onnx`. Without onnxruntime the comparisons are
//! skipped with a printed reason, unless CRONOS_REQUIRE_ONNXRUNTIME=1 (CI), which makes them
//! fail.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cronos");
/// Largest accepted |onnxruntime − cronos predict| on probabilities, and on scores of size up
/// to 1; larger scores get TOL·max|score| (both sides compute in f32, whose rounding is
/// relative: a regression output of 60 differs by ~1.6e-5 = 2.7e-7 relative).
const TOL: f64 = 1e-5;
/// Rows of the t10k split fed to both (all ten classes: the model sees unseen classes too).
const ROWS: usize = 300;

fn data_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist").display().to_string()
}

fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN).args(args).current_dir(cwd).output().expect("run cronos")
}

fn ok(o: &Output) {
    assert!(o.status.success(), "exit {:?}\nstderr: {}", o.status, String::from_utf8_lossy(&o.stderr));
}

/// Fails with exit 2 and one `error:` line naming `names`, no panic.
fn fails(o: &Output, names: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected failure, stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "want one error line: {err}");
    assert!(lines[0].contains(names), "error should name {names}: {err}");
}

/// The first ROWS test images as an f32 .npy (raw pixels: the preprocessing is in the graph).
fn write_inputs(d: &Path) {
    let t = cronos_data::load_idx_dir_rows(Path::new(&data_dir()), cronos_data::Split::Test, Some(0..ROWS)).unwrap();
    let x: Vec<f32> = (0..t.n).flat_map(|i| t.row(i)).collect();
    cronos_data::write_npy_f32(&d.join("x.npy"), &x, &[t.n, t.d], false).unwrap();
}

/// Trains a small model with `extra` options, exports it, predicts with the CLI and runs the
/// checker script. `None` when onnxruntime is missing (and not required).
fn compare(extra: &[&str], classifier: bool, loss: &str) -> Option<Value> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = data_dir();
    let mut a = vec!["train", &data, "--n-train", "600", "--n-test", "200", "--patterns", "8", "--max-iter", "40"];
    a.extend(["--beta-fraction", "0.01", "--threads", "1", "--seed", "3", "--out", "m.safetensors", "-q"]);
    a.extend(extra);
    ok(&run(&a, d));
    let o = run(&["export", "--onnx", "m.safetensors", "m.onnx"], d);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrote m.onnx"));
    write_inputs(d);
    ok(&run(&["predict", "--model", "m.safetensors", "--input", "x.npy", "--out", "s.npy", "--scores"], d));
    if classifier {
        ok(&run(&["predict", "--model", "m.safetensors", "--input", "x.npy", "--out", "l.npy"], d));
        // the calibrated probabilities (squared loss: softmax of the logits / the model's temperature)
        ok(&run(&["predict", "--model", "m.safetensors", "--input", "x.npy", "--out", "p.npy", "--proba"], d));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/onnx_check.py");
    let o = Command::new("python3")
        .arg(&script)
        .args(["m.onnx", "x.npy", "s.npy", if classifier { "l.npy" } else { "-" }, loss])
        .args(if classifier { &["p.npy"][..] } else { &[][..] })
        .current_dir(d)
        .output();
    let o = match o {
        Ok(o) => o,
        Err(e) => return skip(&format!("python3 could not be started: {e}")),
    };
    assert!(o.status.success(), "checker failed: {}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("checker output ({e}): {}", String::from_utf8_lossy(&o.stdout)));
    if let Some(reason) = v["skip"].as_str() {
        return skip(reason);
    }
    eprintln!("onnx vs cronos predict {extra:?}: {v}");
    assert_eq!(v["rows"], ROWS);
    assert_eq!(v["input_shape"], serde_json::json!(["N", "784"]), "{v}");
    assert_ne!(v["checker"], Value::Null);
    let chk = v["checker"].as_str().unwrap();
    assert!(chk == "ok" || chk == "onnx not installed", "onnx.checker: {chk}");
    let diff = v["max_abs_diff_scores"].as_f64().unwrap();
    assert!(diff <= TOL * v["max_abs_score"].as_f64().unwrap().max(1.0), "scores differ by {diff:e} (largest |score| {}): {v}", v["max_abs_score"]);
    // a model whose scores are all ~0 would make the comparison vacuous
    assert!(v["max_abs_score"].as_f64().unwrap() > 0.1, "{v}");
    if classifier {
        assert_eq!(v["label_mismatches_beyond_1e-5_margin"], 0, "{v}");
        assert_eq!(v["label_index_consistent"], true, "{v}");
        assert_eq!(v["label_dtype"], "float64", "{v}");
        let p = v["max_abs_diff_probabilities"].as_f64().unwrap();
        assert!(p <= TOL, "probabilities differ by {p:e}: {v}");
    }
    Some(v)
}

fn skip(reason: &str) -> Option<Value> {
    if std::env::var("CRONOS_REQUIRE_ONNXRUNTIME").is_ok_and(|v| v == "1") {
        panic!("CRONOS_REQUIRE_ONNXRUNTIME=1 but {reason}");
    }
    eprintln!("SKIPPED the onnxruntime comparison: {reason}");
    None
}

#[test]
fn binary_gated_squared() {
    if let Some(v) = compare(&["--classes", "0,6"], true, "squared") {
        assert_eq!(v["outputs"], serde_json::json!(["label", "label_index", "probabilities", "scores"]));
        assert_eq!(v["probabilities_shape"], serde_json::json!([ROWS, 2]));
    }
}

#[test]
fn binary_relu_squared() {
    compare(&["--classes", "0,6", "--relu"], true, "squared");
}

#[test]
fn binary_gated_logistic() {
    compare(&["--classes", "0,6", "--loss", "logistic"], true, "logistic");
}

#[test]
fn multiclass_softmax_relu() {
    if let Some(v) = compare(&["--classes", "0,1,2", "--loss", "softmax", "--relu"], true, "softmax") {
        assert_eq!(v["scores_shape"], serde_json::json!([ROWS, 3]));
        assert_eq!(v["probabilities_shape"], serde_json::json!([ROWS, 3]));
    }
}

#[test]
fn multiclass_squared_gated() {
    compare(&["--classes", "0,1,2"], true, "squared");
}

#[test]
fn regression_gated_and_relu_standardized() {
    for act in [&[][..], &["--relu"][..]] {
        let mut a = vec!["--classes", "0,6", "--task", "regression", "--preprocess", "standardize"];
        a.extend(act);
        if let Some(v) = compare(&a, false, "squared") {
            assert_eq!(v["outputs"], serde_json::json!(["scores"]));
        }
    }
}

#[test]
fn export_errors_are_clean() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = data_dir();
    ok(&run(&["train", &data, "--classes", "0,6", "--n-train", "200", "--n-test", "10", "--patterns", "4", "--max-iter", "5", "--beta-fraction", "0.01", "--threads", "1", "--out", "m.safetensors", "-q"], d));
    ok(&run(&["export", "--onnx", "m.safetensors", "m.onnx"], d));
    let first = std::fs::read(d.join("m.onnx")).unwrap();
    // refuses to overwrite, and leaves the file as it was
    fails(&run(&["export", "--onnx", "m.safetensors", "m.onnx"], d), "m.onnx");
    assert_eq!(std::fs::read(d.join("m.onnx")).unwrap(), first);
    ok(&run(&["export", "--onnx", "m.safetensors", "m.onnx", "--force"], d));
    // deterministic: the same model gives the same bytes
    assert_eq!(std::fs::read(d.join("m.onnx")).unwrap(), first);
    // a file that is not a model: one error line naming it, no output, no temporary left
    std::fs::write(d.join("bad.safetensors"), b"not a model").unwrap();
    fails(&run(&["export", "--onnx", "bad.safetensors", "o.onnx"], d), "bad.safetensors");
    fails(&run(&["export", "--onnx", "missing.safetensors", "o.onnx"], d), "missing.safetensors");
    let left: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(!left.iter().any(|n| n.starts_with("o.onnx") || n.contains("tmp")), "{left:?}");
    // the format flag is required (more formats may come)
    let o = run(&["export", "m.safetensors", "o.onnx"], d);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--onnx"));
}
