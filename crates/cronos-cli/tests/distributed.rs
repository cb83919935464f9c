//! `mpirun -np K cronos train --distributed` against `cronos train` in one process (feature
//! `mpi`; needs `mpirun` on PATH). One process runs with K threads, the ranks with one thread
//! each, so both use the same row shards: the model and the certificate must agree to 1e-6.
//!
//! Run: `cargo test --release -p cronos-cli --features mpi --test distributed`.
#![cfg(feature = "mpi")]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cronos");

/// 3 classes from a fixed rule on 12 features, label in the last column.
fn write_data(path: &Path, n: usize) {
    let d = 12;
    let mut v = Vec::with_capacity(n * (d + 1));
    for i in 0..n {
        let row: Vec<f32> = (0..d).map(|j| (((i * 31 + j * 17) as f32) * 0.377).sin() * (1.0 + j as f32 * 0.1)).collect();
        let s = row[0] + row[1] * row[2] - row[5].abs();
        let label = if s > 0.4 { 2.0 } else if s > -0.4 { 1.0 } else { 0.0 };
        v.extend_from_slice(&row);
        v.push(label);
    }
    cronos_data::write_npy_f32(path, &v, &[n, d + 1], true).unwrap();
}

fn common_args(data: &Path, out: &Path) -> Vec<String> {
    let s = |x: &str| x.to_string();
    vec![s("train"), s("--train"), data.display().to_string(), s("--label-column"), s("last"), s("--patterns"), s("8"), s("--beta-fraction"), s("1e-3"), s("--max-iter"), s("15"), s("--json"), s("--quiet"), s("--force"), s("--out"), out.display().to_string()]
}

/// Runs `cmd`, killing it after `limit` (a hang is a failure, not a stuck CI job).
fn run_limited(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn (is mpirun installed?)");
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("hung for {limit:?}: {:?}", child.wait_with_output().map(|o| String::from_utf8_lossy(&o.stderr).into_owned()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn mpirun() -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]);
    c
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "failed: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not one JSON object ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

fn weights(p: &Path) -> Vec<f64> {
    let m = cronos_model::ModelFile::load(p).unwrap().model.weights;
    (0..m.ncols()).flat_map(|j| (0..m.nrows()).map(move |i| (i, j))).map(|(i, j)| m[(i, j)] as f64).collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn compare(k: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.npy");
    write_data(&data, 901); // 901 rows: uneven shards for K = 2 and 3
    let (single_out, dist_out) = (dir.path().join("single.safetensors"), dir.path().join("dist.safetensors"));
    let single = Command::new(BIN).args(common_args(&data, &single_out)).args(["--threads", &k.to_string()]).output().unwrap();
    let mut cmd = mpirun();
    cmd.args(["-np", &k.to_string(), BIN]).args(common_args(&data, &dist_out)).args(["--distributed", "--threads", "1"]);
    let dist = run_limited(cmd, Duration::from_secs(300));
    let (s, d) = (json(&single), json(&dist));
    for key in ["objective", "lower_bound", "train_accuracy"] {
        let (a, b) = (d[key].as_f64().unwrap(), s[key].as_f64().unwrap());
        assert!(rel(a, b) <= 1e-6, "K={k}: {key} {a} vs one process {b}");
    }
    assert_eq!(d["admm_iterations"], s["admm_iterations"]);
    assert_eq!(d["n_train"], s["n_train"]);
    assert_eq!(d["ranks"], k);
    assert!(d["allreduce_bytes_per_iteration"].as_f64().unwrap() > 0.0);
    let (wd, ws) = (weights(&dist_out), weights(&single_out));
    assert_eq!(wd.len(), ws.len());
    let scale = ws.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = wd.iter().zip(&ws).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff <= 1e-6 * scale, "K={k}: weights differ by {diff:e} (scale {scale:e})");
    println!("K={k}: objective {} lower bound {} weights max diff {diff:e}", d["objective"], d["lower_bound"]);
}

#[test]
fn two_ranks_match_one_process() {
    compare(2);
}

#[test]
fn three_ranks_match_one_process() {
    compare(3);
}

#[test]
fn mismatched_ranks_fail_with_one_message() {
    // MPMD launch: rank 1 gets another --seed; rank 0 must report it, nobody may hang
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.npy");
    write_data(&data, 200);
    let out = dir.path().join("m.safetensors");
    let mut cmd = mpirun();
    cmd.args(["-np", "1", BIN]).args(common_args(&data, &out)).arg("--distributed").arg(":").args(["-np", "1", BIN]).args(common_args(&data, &out)).args(["--distributed", "--seed", "9"]);
    let o = run_limited(cmd, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("error:") && err.contains("rank 1") && err.contains("settings"), "{err}");
    assert!(!out.exists(), "no model on a failed launch");
}

#[test]
fn unsupported_option_is_refused_on_every_rank() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.npy");
    write_data(&data, 100);
    let mut cmd = mpirun();
    cmd.args(["-np", "2", BIN]).args(common_args(&data, &dir.path().join("x.safetensors"))).args(["--distributed", "--val-fraction", "0.1"]);
    let o = run_limited(cmd, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--val-fraction is not supported with --distributed"), "{err}");
}
