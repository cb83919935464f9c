//! End-to-end tests of the `cronos` binary on small slices of the bundled data and on
//! generated files in every format.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cronos");
const FAST: &[&str] = &["--classes", "0,6", "--n-train", "600", "--n-test", "1000", "--patterns", "8", "--threads", "2", "--seed", "1"];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist")
}

fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN).args(args).current_dir(cwd).output().expect("run cronos")
}

fn ok(o: &Output) {
    assert!(o.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", o.status, String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
}

fn json(o: &Output) -> Value {
    ok(o);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

/// Fails with exit ≠ 0, one `error:` line naming `names`, no panic.
fn fails(o: &Output, names: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "expected failure, stderr: {err}");
    assert_ne!(o.status.code(), Some(101), "panicked: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "want one error line: {err}");
    assert!(lines[0].contains(names), "error should name {names}: {err}");
    err
}

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = FAST.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn train_then_predict_evaluate_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = vec!["train"];
    // the endgame off: this run is about a ReLU solve stopped by its limit
    a.extend(args(&["--relu", "--relu-endgame", "off", "--max-iter", "30", "--out", "m.safetensors", "--plot", "r.svg", "--metrics", "m.jsonl", "--json"]));
    let o = run(&a, d);
    let j = json(&o);
    for k in ["objective", "lower_bound", "relative_gap", "train_accuracy", "test_accuracy", "seconds", "admm_iterations", "cg_iterations", "active_neurons", "status", "beta", "n_patterns", "setup_seconds", "model_path", "constraint_violation", "network_objective"] {
        assert!(j.get(k).is_some(), "missing {k} in {j}");
    }
    assert_eq!(j["admm_iterations"], 30);
    assert_eq!(j["status"], "max_iterations");
    // the bound holds for feasible weights; 30 ReLU iterations may still violate the cones
    let violation = j["constraint_violation"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&violation), "{j}");
    assert!(j["lower_bound"].as_f64().unwrap() <= j["objective"].as_f64().unwrap() || violation > 0.0, "{j}");
    assert!(j["network_objective"].as_f64().unwrap() > 0.0, "{j}");
    let test_acc = j["test_accuracy"].as_f64().unwrap();
    assert!(test_acc > 0.6, "{j}");
    assert!(j["train_accuracy"].as_f64().unwrap() > 0.8);
    // progress went to stderr
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("objective") && err.contains("status:"), "{err}");
    assert!(d.join("m.safetensors").is_file());
    let svg = std::fs::read_to_string(d.join("r.svg")).unwrap();
    assert!(svg.starts_with("<svg") || svg.contains("<svg"));
    let lines: Vec<Value> = std::fs::read_to_string(d.join("m.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 30);
    assert_eq!(lines[29]["iteration"], 30);
    assert!(lines[4]["test_accuracy"].as_f64().is_some());

    // evaluate reproduces train's test accuracy on the same rows
    let mut ev = run(&["evaluate", "--model", "m.safetensors", "--data", data_dir().to_str().unwrap(), "--json"], d);
    let e = json(&ev);
    assert_eq!(e["n"], 2000);
    let full_acc = e["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&full_acc));
    let conf = e["confusion_matrix"].as_array().unwrap();
    assert_eq!(conf.len(), 2);
    // the first 1000 test rows of classes 0 and 6, as an .npz: exactly train's test set
    let t = cronos_data::load_idx_dir(&data_dir(), cronos_data::Split::Test).unwrap();
    let labels = t.labels.as_ref().unwrap();
    let keep: Vec<usize> = (0..t.n).filter(|&i| labels[i] == 0.0 || labels[i] == 6.0).take(1000).collect();
    let x: Vec<f64> = keep.iter().flat_map(|&i| t.row(i).into_iter().map(|v| v as f64)).collect();
    let y: Vec<i64> = keep.iter().map(|&i| labels[i] as i64).collect();
    write_npz(&d.join("sub.npz"), &x, &[keep.len(), t.d], &y);
    ev = run(&["evaluate", "--model", "m.safetensors", "--data", "sub.npz", "--json"], d);
    let e = json(&ev);
    assert_eq!(e["accuracy"].as_f64().unwrap(), test_acc, "evaluate must reproduce train's test accuracy");
    // human-readable evaluate
    let ev = run(&["evaluate", "--model", "m.safetensors", "--data", "sub.npz"], d);
    ok(&ev);
    assert!(String::from_utf8_lossy(&ev.stdout).contains("confusion matrix"));

    // predict: .npy and .csv agree with evaluate
    ok(&run(&["predict", "--model", "m.safetensors", "--input", "sub.npz", "--out", "p.npy"], d));
    ok(&run(&["predict", "--model", "m.safetensors", "--input", "sub.npz", "--out", "p.csv"], d));
    let p = cronos_data::read_npy_labels(&d.join("p.npy"), None).unwrap();
    assert_eq!(p.len(), 1000);
    let acc = p.iter().zip(&y).filter(|(a, b)| **a == **b as f64).count() as f64 / 1000.0;
    assert_eq!(acc, test_acc);
    let csv = std::fs::read_to_string(d.join("p.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1001);
    assert_eq!(csv.lines().next().unwrap(), "label");
    let o = run(&["predict", "--model", "m.safetensors", "--input", "sub.npz", "--out", "p.npy"], d);
    fails(&o, "p.npy");
    ok(&run(&["predict", "--model", "m.safetensors", "--input", "sub.npz", "--out", "p.npy", "--force", "--scores"], d));
    // calibrated probabilities: one column per class, rows sum to one, the most probable class is the label
    ok(&run(&["predict", "--model", "m.safetensors", "--input", "sub.npz", "--out", "proba.csv", "--proba"], d));
    let csv = std::fs::read_to_string(d.join("proba.csv")).unwrap();
    assert_eq!(csv.lines().next().unwrap(), "p_0,p_6");
    let labels_csv = std::fs::read_to_string(d.join("p.csv")).unwrap();
    for (row, label) in csv.lines().skip(1).zip(labels_csv.lines().skip(1)) {
        let v: Vec<f64> = row.split(',').map(|x| x.parse().unwrap()).collect();
        assert!((v[0] + v[1] - 1.0).abs() < 1e-9, "{row}");
        assert_eq!(if v[1] > v[0] { 6.0 } else { 0.0 }, label.parse::<f64>().unwrap(), "{row}");
    }
    let t = j["temperature"].as_f64().expect("a squared-loss classifier is calibrated");
    assert!(t > 0.0 && t.is_finite(), "{j}");
    fails(&run(&["predict", "--model", "m.safetensors", "--input", "sub.npz", "--out", "x.npy", "--proba", "--scores"], d), "--scores");

    // inspect
    let i = json(&run(&["inspect", "m.safetensors", "--json"], d));
    assert_eq!(i["metadata"]["format_version"], 1);
    assert_eq!(i["metadata"]["n_features"], 784);
    assert_eq!(i["metadata"]["n_train"], 600);
    assert_eq!(i["metadata"]["calibration"]["temperature"], j["temperature"]);
    assert_eq!(i["tensors"]["gates"], serde_json::json!([785, 8]));
    assert_eq!(i["active_neurons"], j["active_neurons"]);
    assert!(i["metadata"]["data_fingerprint"].as_str().unwrap().len() == 16);
    let o = run(&["inspect", "m.safetensors"], d);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("certificate"));
}

fn write_npz(path: &Path, x: &[f64], shape: &[usize], y: &[i64]) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opt = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    z.start_file("x.npy", opt).unwrap();
    z.write_all(&cronos_data::npy_header("<f8", shape)).unwrap();
    for v in x {
        z.write_all(&v.to_le_bytes()).unwrap();
    }
    z.start_file("y.npy", opt).unwrap();
    z.write_all(&cronos_data::npy_header("<i8", &[y.len()])).unwrap();
    for v in y {
        z.write_all(&v.to_le_bytes()).unwrap();
    }
    z.finish().unwrap();
}

/// n rows, 4 features; class 1 when x0 + x1 > 0, else 0; regression target smooth in x.
fn synth(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<f64>, Vec<f64>) {
    let mut s = seed;
    let mut r = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let mut rows = Vec::new();
    let (mut cls, mut reg) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let row: Vec<f64> = (0..4).map(|_| (r() * 1000.0).round() / 1000.0).collect();
        cls.push(if row[0] + row[1] > 0.0 { 1.0 } else { 0.0 });
        reg.push(((row[0] - row[2]).abs() + 0.5 * row[3] + 0.25).max(0.0) + 0.125);
        rows.push(row);
    }
    (rows, cls, reg)
}

fn write_formats(d: &Path, name: &str, rows: &[Vec<f64>], labels: &[f64]) {
    let n = rows.len();
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let li: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    write_npz(&d.join(format!("{name}.npz")), &flat, &[n, 4], &li);
    // .npy: features with the label as the last column (f32, Fortran order)
    let mut f = cronos_data::npy_header("<f4", &[n, 5]);
    let pat = b"'fortran_order': False";
    let pos = f.windows(pat.len()).position(|w| w == pat).unwrap();
    f[pos..pos + pat.len()].copy_from_slice(b"'fortran_order': True ");
    #[allow(clippy::needless_range_loop)]
    for j in 0..5 {
        for i in 0..n {
            let v = if j < 4 { rows[i][j] } else { labels[i] } as f32;
            f.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(d.join(format!("{name}.npy")), f).unwrap();
    let mut csv = String::from("a,b,c,d,target\n");
    let mut svm = String::new();
    for (r, l) in rows.iter().zip(labels) {
        csv.push_str(&format!("{},{},{},{},{}\n", r[0], r[1], r[2], r[3], l));
        svm.push_str(&format!("{l}"));
        for (j, v) in r.iter().enumerate() {
            if *v != 0.0 {
                svm.push_str(&format!(" {}:{v}", j + 1));
            }
        }
        svm.push('\n');
    }
    std::fs::write(d.join(format!("{name}.csv")), csv).unwrap();
    std::fs::write(d.join(format!("{name}.libsvm")), svm).unwrap();
}

/// Writes synthetic classification rows as train.* (n rows, seed) and test.* in every format.
fn write_classification_split(d: &Path, (n, seed): (usize, u64), (tn, tseed): (usize, u64)) {
    let (rows, cls, _) = synth(n, seed);
    let (trows, tcls, _) = synth(tn, tseed);
    write_formats(d, "train", &rows, &cls);
    write_formats(d, "test", &trows, &tcls);
}

#[test]
fn every_format_and_regression() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (rows, cls, reg) = synth(240, 7);
    let (trows, tcls, treg) = synth(100, 8);
    write_formats(d, "train", &rows, &cls);
    write_formats(d, "test", &trows, &tcls);
    let small = ["--patterns", "8", "--max-iter", "100", "--threads", "2", "--json"];
    let mut accs = Vec::new();
    for ext in ["npz", "npy", "csv", "libsvm"] {
        let (tr, te, out) = (format!("train.{ext}"), format!("test.{ext}"), format!("m-{ext}.safetensors"));
        let mut a = vec!["train", "--train", &tr, "--test", &te, "--out", &out];
        if ext == "npy" {
            a.extend(["--label-column", "last"]);
        }
        a.extend(small);
        let j = json(&run(&a, d));
        let acc = j["test_accuracy"].as_f64().unwrap();
        assert!(acc > 0.75, "{ext}: {j}");
        assert_eq!(j["n_features"], 4, "{ext}");
        accs.push(acc);
        // evaluate on the same file reproduces it
        let mut e = vec!["evaluate", "--model", &out, "--data", &te, "--json"];
        if ext == "npy" {
            e.extend(["--label-column", "last"]);
        }
        let ej = json(&run(&e, d));
        assert_eq!(ej["accuracy"].as_f64().unwrap(), acc, "{ext}");
    }
    // the same data in every dense format gives the same model; LIBSVM is sparse by nature and
    // standardized without centering (see train/sparse.rs), a different problem of the same
    // quality (its objective differs by 1e-3 here: 0.95 against 0.94 on 100 test rows)
    assert!(accs[..3].iter().all(|&a| a == accs[0]), "{accs:?}");
    assert!((accs[3] - accs[0]).abs() <= 0.03, "{accs:?}");
    // --format overrides the extension
    std::fs::copy(d.join("train.csv"), d.join("train.data")).unwrap();
    ok(&run(&["train", "--train", "train.data", "--format", "csv", "--out", "f.safetensors", "--patterns", "4", "--max-iter", "5", "-q"], d));

    // regression: non-integer targets
    write_formats(d, "rtrain", &rows, &reg);
    let mut rcsv = String::from("a,b,c,d,y\n");
    for (r, l) in trows.iter().zip(&treg) {
        rcsv.push_str(&format!("{},{},{},{},{}\n", r[0], r[1], r[2], r[3], l));
    }
    std::fs::write(d.join("rtest.csv"), rcsv).unwrap();
    let mut a = vec!["train", "--train", "rtrain.csv", "--test", "rtest.csv", "--out", "r.safetensors"];
    a.extend(small);
    let j = json(&run(&a, d));
    assert!(j["train_accuracy"].is_null() && j["test_accuracy"].is_null(), "{j}");
    // better than the mean predictor (solution quality itself is tested in the core crate)
    assert!(j["test_r2"].as_f64().unwrap() > 0.0, "{j}");
    assert!(j["test_mse"].as_f64().unwrap() >= 0.0);
    let e = json(&run(&["evaluate", "--model", "r.safetensors", "--data", "rtest.csv", "--json"], d));
    assert_eq!(e["task"], "regression");
    assert!((e["mse"].as_f64().unwrap() - j["test_mse"].as_f64().unwrap()).abs() < 1e-9);
    // predict on a features-only CSV
    let mut fcsv = String::new();
    for r in &trows {
        fcsv.push_str(&format!("{},{},{},{}\n", r[0], r[1], r[2], r[3]));
    }
    std::fs::write(d.join("feat.csv"), fcsv).unwrap();
    ok(&run(&["predict", "--model", "r.safetensors", "--input", "feat.csv", "--label-column", "none", "--out", "pr.npy"], d));
    assert_eq!(cronos_data::read_npy_labels(&d.join("pr.npy"), None).unwrap().len(), 100);
    // gated ReLU and validation split with early stopping
    let j = json(&run(&["train", "--train", "train.npz", "--test", "test.npz", "--gated", "--val-fraction", "0.25", "--patience", "2", "--patterns", "8", "--max-iter", "60", "--threads", "2", "--out", "g.safetensors", "--json"], d));
    assert_eq!(j["n_validation"], 60);
    assert!(j["validation_accuracy"].as_f64().is_some());
    assert!(j["best_iteration"].as_u64().is_some());
}

fn s(v: &[String]) -> Vec<&str> {
    v.iter().map(|s| s.as_str()).collect()
}

fn idx_bytes(magic_type: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, magic_type, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

#[test]
fn bad_inputs_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (rows, cls, _) = synth(50, 3);
    write_formats(d, "ok", &rows, &cls);
    let check = |a: &[&str], names: &str| {
        let o = run(a, d);
        fails(&o, names);
        assert!(!d.join("out.safetensors").exists(), "partial output left for {a:?}");
    };
    let base = ["--patterns", "4", "--max-iter", "5", "--out", "out.safetensors"];
    let train = |file: &str| -> Vec<String> {
        let mut v: Vec<String> = vec!["train".into(), "--train".into(), file.into()];
        v.extend(base.iter().map(|s| s.to_string()));
        v
    };
    // missing file
    check(&s(&train("missing.csv")), "missing.csv");
    // wrong magic
    std::fs::write(d.join("bad.npy"), b"NOTNUMPY-at-all-0123456789").unwrap();
    check(&s(&train("bad.npy")), "bad.npy");
    let mut idx = std::fs::read(d.join("ok.npz")).unwrap();
    idx[0] = b'Q';
    std::fs::write(d.join("badzip.npz"), &idx).unwrap();
    check(&s(&train("badzip.npz")), "badzip.npz");
    // truncated gzip in an IDX directory
    let idxdir = d.join("idx");
    std::fs::create_dir(&idxdir).unwrap();
    let img = idx_bytes(0x08, &[10, 2, 2], &[7u8; 40]);
    let lab = idx_bytes(0x08, &[10], &[0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&img).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(idxdir.join("train-images-idx3-ubyte.gz"), &gz[..gz.len() / 2]).unwrap();
    std::fs::write(idxdir.join("train-labels-idx1-ubyte"), &lab).unwrap();
    std::fs::write(idxdir.join("t10k-images-idx3-ubyte"), &img).unwrap();
    std::fs::write(idxdir.join("t10k-labels-idx1-ubyte"), &lab).unwrap();
    let mut a = vec!["train", "idx"];
    a.extend(base);
    check(&a, "train-images-idx3-ubyte.gz");
    // label count ≠ row count
    std::fs::write(idxdir.join("train-images-idx3-ubyte.gz"), &gz).unwrap();
    std::fs::write(idxdir.join("train-labels-idx1-ubyte"), idx_bytes(0x08, &[9], &[0, 1, 0, 1, 0, 1, 0, 1, 0])).unwrap();
    check(&a, "train-labels-idx1-ubyte");
    // (the repaired directory trains)
    std::fs::write(idxdir.join("train-labels-idx1-ubyte"), &lab).unwrap();
    let o = run(&a, d);
    ok(&o);
    std::fs::remove_file(d.join("out.safetensors")).unwrap();
    // NaN in features
    let csv = std::fs::read_to_string(d.join("ok.csv")).unwrap().replacen("\n", "\nNaN,0,0,0,1\n", 1);
    std::fs::write(d.join("nan.csv"), csv).unwrap();
    check(&s(&train("nan.csv")), "nan.csv");
    // unknown class
    let mut v = train("ok.csv");
    v.extend(["--classes".into(), "0,42".into()]);
    check(&s(&v), "ok.csv");
    // existing output without --force
    std::fs::write(d.join("exists.safetensors"), b"keep me").unwrap();
    let o = run(&["train", "--train", "ok.csv", "--patterns", "4", "--max-iter", "5", "--out", "exists.safetensors"], d);
    fails(&o, "exists.safetensors");
    assert_eq!(std::fs::read(d.join("exists.safetensors")).unwrap(), b"keep me");
    ok(&run(&["train", "--train", "ok.csv", "--patterns", "4", "--max-iter", "5", "--out", "exists.safetensors", "--force", "-q"], d));
    // unwritable directory (a missing one, and one that is a file: root can write anywhere else)
    check(&["train", "--train", "ok.csv", "--out", "nodir/out.safetensors"], "nodir/out.safetensors");
    check(&["train", "--train", "ok.csv", "--out", "ok.csv/out.safetensors"], "ok.csv/out.safetensors");
    check(&["train", "--train", "ok.csv", "--plot", "nodir/r.svg", "--out", "out.safetensors"], "nodir/r.svg");
    // corrupted / truncated model files
    let m = std::fs::read(d.join("exists.safetensors")).unwrap();
    std::fs::write(d.join("trunc.safetensors"), &m[..m.len() - 10]).unwrap();
    fails(&run(&["inspect", "trunc.safetensors"], d), "trunc.safetensors");
    fails(&run(&["evaluate", "--model", "trunc.safetensors", "--data", "ok.csv"], d), "trunc.safetensors");
    fails(&run(&["predict", "--model", "nope.safetensors", "--input", "ok.csv", "--out", "p.npy"], d), "nope.safetensors");
    assert!(!d.join("p.npy").exists());
    // predict with the wrong number of features
    std::fs::write(d.join("w.csv"), "1,2,3\n4,5,6\n").unwrap();
    fails(&run(&["predict", "--model", "exists.safetensors", "--input", "w.csv", "--out", "p.npy"], d), "w.csv");
    assert!(!d.join("p.npy").exists());
    // no stray temporary files anywhere
    for e in std::fs::read_dir(d).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".tmp") && !n.starts_with(".cronos-probe"), "stray {n}");
    }
}

#[test]
fn checkpoint_resume_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = vec!["train"];
    a.extend(args(&["--max-iter", "30", "--tol-gap", "1e-9", "--out", "full.safetensors", "-q"]));
    ok(&run(&a, d));
    let mut a = vec!["train"];
    a.extend(args(&["--max-iter", "15", "--tol-gap", "1e-9", "--checkpoint", "run.ckpt", "--checkpoint-every", "5", "--out", "half.safetensors", "-q"]));
    ok(&run(&a, d));
    // without --resume an existing checkpoint is refused
    let mut a = vec!["train"];
    a.extend(args(&["--max-iter", "15", "--checkpoint", "run.ckpt", "--out", "other.safetensors", "-q"]));
    let o = run(&a, d);
    fails(&o, "run.ckpt");
    let mut a = vec!["train"];
    a.extend(args(&["--max-iter", "30", "--tol-gap", "1e-9", "--checkpoint", "run.ckpt", "--resume", "--out", "resumed.safetensors", "-q"]));
    ok(&run(&a, d));
    assert!(std::fs::read(d.join("full.safetensors")).unwrap() == std::fs::read(d.join("resumed.safetensors")).unwrap(), "resumed model differs from the uninterrupted one");
    // resuming with different data is refused
    let mut a = vec!["train", "--classes", "0,6", "--n-train", "500", "--patterns", "8", "--threads", "2", "--seed", "1"];
    a.extend(["--max-iter", "30", "--tol-gap", "1e-9", "--checkpoint", "run.ckpt", "--resume", "--out", "x.safetensors", "-q"]);
    fails(&run(&a, d), "run.ckpt");
    assert!(!d.join("x.safetensors").exists());
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_and_resume_matches() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = vec!["train"];
    a.extend(args(&["--max-iter", "100000", "--tol-gap", "1e-12", "--checkpoint", "int.ckpt", "--checkpoint-every", "3", "--out", "int.safetensors", "-q"]));
    let child = Command::new(BIN).args(&a).current_dir(d).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let t0 = std::time::Instant::now();
    while !d.join("int.ckpt").exists() {
        assert!(t0.elapsed().as_secs() < 60, "no checkpoint written");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", String::from_utf8_lossy(&o.stderr));
    let i = json(&run(&["inspect", "int.safetensors", "--json"], d));
    assert_eq!(i["metadata"]["status"], "interrupted");
    let k = i["metadata"]["metrics"]["admm_iterations"].as_u64().unwrap();
    let target = (k + 7).to_string();
    let mut a = vec!["train"];
    a.extend(args(&["--max-iter", &target, "--tol-gap", "1e-12", "--checkpoint", "int.ckpt", "--resume", "--out", "res.safetensors", "-q"]));
    ok(&run(&a, d));
    let mut a = vec!["train"];
    a.extend(args(&["--max-iter", &target, "--tol-gap", "1e-12", "--out", "ref.safetensors", "-q"]));
    ok(&run(&a, d));
    assert_eq!(std::fs::read(d.join("res.safetensors")).unwrap(), std::fs::read(d.join("ref.safetensors")).unwrap());
}

#[test]
fn help_texts() {
    let d = std::env::temp_dir();
    for sub in [vec!["--help"], vec!["train", "--help"], vec!["predict", "--help"], vec!["evaluate", "--help"], vec!["inspect", "--help"]] {
        let o = run(&sub, &d);
        ok(&o);
        let s = String::from_utf8_lossy(&o.stdout);
        assert!(s.contains("Examples:"), "{sub:?}: {s}");
    }
}

#[test]
fn feature_weighting_is_folded_into_the_model_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // the class depends on features a and b only (c and d are noise)
    write_classification_split(d, (240, 11), (100, 12));
    let small = ["--patterns", "8", "--max-iter", "100", "--threads", "2", "--beta-fraction", "0.01", "--json"];
    let mut objectives = Vec::new();
    for (flag, out) in [(None, "w.safetensors"), (Some("none"), "n.safetensors"), (Some("relevance"), "r.safetensors")] {
        let mut a = vec!["train", "--train", "train.csv", "--test", "test.csv", "--out", out];
        if let Some(f) = flag {
            a.extend(["--feature-weighting", f]);
        }
        a.extend(small);
        let j = json(&run(&a, d));
        // the weights live in the stored preprocessing: evaluate reproduces the test accuracy
        let e = json(&run(&["evaluate", "--model", out, "--data", "test.csv", "--json"], d));
        assert_eq!(e["accuracy"].as_f64().unwrap(), j["test_accuracy"].as_f64().unwrap(), "{flag:?}");
        objectives.push(j["objective"].as_f64().unwrap());
        assert_eq!(j["feature_weighting"], if flag == Some("none") { "none" } else { "relevance" }, "{flag:?}");
    }
    // tabular files are weighted by default: the same fit as the explicit flag, another without
    assert_eq!(objectives[0], objectives[2]);
    assert_ne!(objectives[0], objectives[1]);
    let o = run(&["train", "--train", "train.csv", "--feature-weighting", "bins", "--out", "x.safetensors"], d);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("feature-weighting"));
}

#[test]
fn relu_endgame_certifies_a_small_relu_fit_by_default_and_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_classification_split(d, (160, 21), (60, 22));
    let base = ["train", "--train", "train.csv", "--test", "test.csv", "--relu", "--patterns", "6", "--beta-fraction", "0.05", "--max-iter", "300", "--tol-gap", "1e-4", "--threads", "1", "--json"];
    let with: Vec<&str> = base.iter().copied().chain(["--relu-endgame", "--out", "e.safetensors"]).collect();
    let j = json(&run(&with, d));
    assert_eq!(j["status"], "solved", "{j}");
    let (gap, viol) = (j["relative_gap"].as_f64().unwrap(), j["constraint_violation"].as_f64().unwrap());
    // measured: solved at iteration 20, gap 1.5e-7, violation 6.6e-8
    assert!((0.0..=1e-4).contains(&gap) && viol <= 1e-6, "gap {gap}, violation {viol}");
    // ADMM alone, same budget: not certified
    let without: Vec<&str> = base.iter().copied().chain(["--relu-endgame", "off", "--out", "a.safetensors"]).collect();
    let a = json(&run(&without, d));
    assert_ne!(a["status"], "solved", "{a}");
    // by default (auto) it runs on data this small: the same certificate as `on`
    let auto: Vec<&str> = base.iter().copied().chain(["--out", "u.safetensors"]).collect();
    let u = json(&run(&auto, d));
    assert_eq!(u["status"], "solved", "{u}");
    assert_eq!(u["relative_gap"], j["relative_gap"], "auto and on differ: {u} vs {j}");
    // a bad value is refused by name
    let bad: Vec<&str> = base.iter().copied().chain(["--relu-endgame", "sometimes"]).collect();
    fails(&run(&bad, d), "relu-endgame");
}
