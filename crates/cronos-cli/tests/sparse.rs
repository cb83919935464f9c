//! `cronos train` on LIBSVM keeps the data sparse and gives the fit of the same data read
//! dense (CSV), then `predict` and `evaluate` read the LIBSVM file too.

use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cronos");

fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN).args(args).current_dir(cwd).output().expect("run cronos")
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "exit {:?}\nstderr: {}", o.status, String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("json on stdout")
}

/// 240 × 600 counts at ~2% (bag of words), labels from a linear teacher; as LIBSVM text
/// and as CSV (label last).
fn write_data(dir: &Path, name: &str, n: usize, seed: u64) {
    let d = 600;
    let (mut svm, mut csv) = (String::new(), String::new());
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for _ in 0..n {
        let mut row = vec![0.0f64; d];
        for _ in 0..12 {
            row[next() % d] = (1 + next() % 3) as f64;
        }
        let s: f64 = row.iter().enumerate().map(|(j, v)| v * ((j % 7) as f64 - 3.0)).sum();
        let label = if s > 0.0 { 1 } else { 0 };
        write!(svm, "{label}").unwrap();
        for (j, v) in row.iter().enumerate().filter(|(_, v)| **v != 0.0) {
            write!(svm, " {}:{v}", j + 1).unwrap();
        }
        svm.push('\n');
        for v in &row {
            write!(csv, "{v},").unwrap();
        }
        writeln!(csv, "{label}").unwrap();
    }
    std::fs::write(dir.join(format!("{name}.svm")), svm).unwrap();
    let header: Vec<String> = (0..d).map(|j| format!("f{j}")).chain(["label".into()]).collect();
    std::fs::write(dir.join(format!("{name}.csv")), format!("{}\n{csv}", header.join(","))).unwrap();
}

#[test]
fn libsvm_train_equals_the_dense_csv_train() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_data(d, "train", 240, 1);
    write_data(d, "test", 80, 2);
    let common = ["--gated", "--patterns", "8", "--max-iter", "60", "--beta", "0.05", "--threads", "1", "--preprocess", "none", "--json", "--quiet", "--force"];
    let fit = |train: &str, test: &str, out: &str| {
        let mut a = vec!["train", "--train", train, "--test", test, "--out", out];
        a.extend(common);
        json(&run(&a, d))
    };
    let s = fit("train.svm", "test.svm", "s.safetensors");
    let c = fit("train.csv", "test.csv", "c.safetensors");
    for k in ["objective", "lower_bound", "test_accuracy", "train_accuracy"] {
        let (a, b) = (s[k].as_f64().unwrap(), c[k].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{k}: LIBSVM {a} vs CSV {b}");
    }
    assert_eq!(s["n_features"], 600);
    assert_eq!(s["data_fingerprint"], c["data_fingerprint"], "same data, same fingerprint");
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.6, "{s}");
    // standardize on sparse data scales without centering: still trains, and the model
    // file's offsets are zero so predict/evaluate on the LIBSVM file agree with training
    let mut a = vec!["train", "--train", "train.svm", "--test", "test.svm", "--out", "z.safetensors"];
    a.extend(["--gated", "--patterns", "8", "--max-iter", "60", "--beta", "0.05", "--threads", "1", "--json", "--quiet", "--force"]);
    let z = json(&run(&a, d));
    let ev = json(&run(&["evaluate", "--model", "z.safetensors", "--data", "test.svm", "--json"], d));
    let (t, e) = (z["test_accuracy"].as_f64().unwrap(), ev["accuracy"].as_f64().or_else(|| ev["test_accuracy"].as_f64()).unwrap_or(f64::NAN));
    assert!((t - e).abs() < 1e-9, "train says {t}, evaluate says {e}: {ev}");
}
