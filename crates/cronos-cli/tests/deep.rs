//! `cronos train --model cnn|mlp` and `cronos compare` end to end on a tiny subset of the
//! bundled Fashion-MNIST (seconds in release mode).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cronos");

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist")
}

fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN).args(args).current_dir(cwd).output().expect("run cronos")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "cronos failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

const TINY: &[&str] = &["--n-train", "600", "--n-test", "200", "--epochs", "2", "--batch-size", "50", "--threads", "1"];

#[test]
fn train_cnn_by_cronos_am_prints_the_summary_and_saves_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir();
    let mut args = vec!["train", data.to_str().unwrap(), "--model", "cnn", "--channels", "4,8", "--head-max-iter", "10", "--json", "--out", "m.safetensors", "--metrics", "m.jsonl"];
    args.extend_from_slice(TINY);
    let s = json(&run(&args, dir.path()));
    let acc = s["test_accuracy"].as_f64().expect("test_accuracy");
    // ten balanced classes: chance is 10%; even two short epochs on 600 images learn something
    assert!(acc > 0.4 && acc <= 1.0, "test accuracy {acc}");
    assert!(s["seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(s["epochs"].as_f64(), Some(2.0), "exact epoch accounting");
    assert_eq!(s["head_solves"].as_u64(), Some(3), "one head solve per epoch and a last one");
    for k in ["objective", "lower_bound", "relative_gap", "admm_iterations", "active_neurons"] {
        assert!(s[k].is_number(), "certificate field {k} of the last head solve: {}", s[k]);
    }
    assert!(s["lower_bound"].as_f64().unwrap() <= s["objective"].as_f64().unwrap());
    assert!(dir.path().join("m.safetensors").is_file());
    let lines = std::fs::read_to_string(dir.path().join("m.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 3, "one metrics line per head solve");
    // the same seed gives the same model
    let mut again = args.clone();
    let at = again.iter().position(|a| *a == "m.safetensors").unwrap();
    again[at] = "m2.safetensors";
    let at = again.iter().position(|a| *a == "m.jsonl").unwrap();
    again[at] = "m2.jsonl";
    let s2 = json(&run(&again, dir.path()));
    for k in ["test_accuracy", "train_accuracy", "objective", "lower_bound", "active_neurons"] {
        assert_eq!(s2[k], s[k], "{k} differs between two runs with the same seed");
    }
}

#[test]
fn train_mlp_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir();
    let mut args = vec!["train", data.to_str().unwrap(), "--model", "mlp", "--hidden", "32", "--end-to-end", "--optimizer", "adam", "--lr", "3e-3", "--json", "--out", "e.safetensors"];
    args.extend_from_slice(TINY);
    let s = json(&run(&args, dir.path()));
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.4);
    assert!(s["objective"].is_null(), "no head solve end to end");
    assert_eq!(s["method"], "adam(lr=0.003)");
}

#[test]
fn bad_deep_options_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["train", "--model", "cnn", "--channels", "4", "--out", "x.safetensors"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.path().join("x.safetensors").exists());
    let out = run(&["compare", "--baselines", "rmsprop", "--plot", "c.png"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rmsprop"));
}

#[test]
fn compare_prints_a_table_and_writes_the_plot() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir();
    let mut args = vec![
        "compare", data.to_str().unwrap(), "--channels", "4,8", "--head-max-iter", "5", "--baselines", "sgd,adam", "--lrs", "1e-2,1e-3", "--am-optimizers", "dadapt-adamw,adamw",
        "--cronos-time-limit", "2", "--cronos-patterns", "4", "--plot", "c.svg", "--json",
    ];
    args.extend_from_slice(TINY);
    let s = json(&run(&args, dir.path()));
    let rows = s["rows"].as_array().unwrap();
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods.len(), 5, "{methods:?}");
    assert!(methods[0].starts_with("CRONOS (") && methods[1].starts_with("CRONOS-AM (D-Adapt") && methods[2].starts_with("CRONOS-AM (adamw"));
    for r in rows {
        let acc = r["best_validation_accuracy"].as_f64().unwrap();
        assert!(acc > 0.1 && acc <= 1.0, "{r}");
        assert!(r["seconds_to_best"].as_f64().unwrap() <= r["total_seconds"].as_f64().unwrap() + 1e-9);
    }
    // the grid: two runs per baseline family, total time is their sum
    assert_eq!(rows[3]["runs"], 2);
    assert_eq!(s["runs"].as_array().unwrap().len(), 3 + 4);
    let svg = std::fs::read_to_string(dir.path().join("c.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("CRONOS-AM"));
}
