//! The stable interfaces of `cronos train`: the exact key set of the `--json` summary (the
//! one schema of `train/summary.rs`, for classification, regression and `--beta auto`), and
//! the data-source flags that `train` and `compare` share (one declaration: identical help).

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cronos");

/// Keys of every summary; each task adds its validation key, `--beta auto` its path keys.
const COMMON: &[&str] = &[
    "active_neurons", "admm_iterations", "best_iteration", "beta", "beta_auto", "cg_iterations", "classes", "constraint_violation",
    "data_fingerprint", "feature_weighting", "loss", "lower_bound", "model_path", "n_features", "n_patterns", "n_test", "n_train", "n_validation",
    "network_objective", "objective", "relative_gap", "seconds", "setup_seconds", "status", "task", "temperature", "test_accuracy",
    "test_mse", "test_r2", "total_seconds", "train_accuracy", "train_mse",
];
const AUTO: &[&str] = &["beta_fraction", "beta_path", "path_fraction", "path_rows", "path_seconds"];

fn keys(args: &[&str], dir: &Path) -> BTreeSet<String> {
    let o = Command::new(BIN).args(args).args(["--json", "--quiet", "--threads", "2", "--patterns", "4", "--force"]).current_dir(dir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_object().unwrap().keys().cloned().collect()
}

fn want(extra: &[&str]) -> BTreeSet<String> {
    COMMON.iter().chain(extra).map(|s| s.to_string()).collect()
}

#[test]
fn summary_keys_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fast = ["train", "--classes", "0,6", "--n-train", "300", "--n-test", "100", "--max-iter", "3"];
    let fixed = keys(&[&fast[..], &["--beta-fraction", "1e-3", "--out", "a.safetensors"]].concat(), d);
    assert_eq!(fixed, want(&["validation_accuracy"]));
    let auto = keys(&[&fast[..], &["--path-points", "3", "--out", "b.safetensors"]].concat(), d);
    assert_eq!(auto, want(&[&["validation_accuracy"][..], AUTO].concat()));
    // regression: non-integer targets in a CSV
    let csv: String = (0..80).map(|i| format!("{},{},{}\n", (i as f64 * 0.37).sin(), (i as f64 * 0.11).cos(), i as f64 * 0.25 + 0.5)).collect();
    std::fs::write(d.join("r.csv"), csv).unwrap();
    let reg = keys(&["train", "--train", "r.csv", "--max-iter", "3", "--beta", "0.01", "--out", "c.safetensors"], d);
    assert_eq!(reg, want(&["validation_mse"]));
}

/// The help paragraph of `flag` in `help` (its line and the description lines under it).
fn paragraph(help: &str, flag: &str) -> String {
    let lines: Vec<&str> = help.lines().collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with(flag)).unwrap_or_else(|| panic!("{flag} not in help"));
    lines[at..].iter().skip(1).take_while(|l| !l.trim_start().starts_with('-') && !l.trim().is_empty()).map(|l| l.trim()).collect::<Vec<_>>().join(" ")
}

#[test]
fn train_and_compare_share_the_data_flags() {
    let help = |sub: &str| String::from_utf8(Command::new(BIN).args([sub, "--help"]).output().unwrap().stdout).unwrap();
    let (train, compare) = (help("train"), help("compare"));
    for flag in ["--train", "--test", "--format", "--label-column", "--classes", "--n-train", "--n-test"] {
        let p = paragraph(&train, flag);
        assert!(!p.is_empty(), "{flag}: no help text");
        assert_eq!(p, paragraph(&compare, flag), "{flag}: train and compare describe it differently");
    }
}
