//! The calibration temperature in model files: round trip, old files without it, and the
//! probabilities it gives.

use cronos::{Calibration, Settings, Solver};
use cronos_model::*;
use faer::Mat;
use std::path::Path;

/// A small 3-class model (deterministic data).
fn model() -> (ModelFile, Mat<f32>) {
    let n = 90;
    let x = Mat::<f32>::from_fn(n, 2, |i, j| ((i * 37 + j * 11) % 17) as f32 / 4.0 + (i % 3) as f32 * (j as f32 + 1.0));
    let labels: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
    let classes = Classes::from_labels(&labels);
    let y = classes.encode(&labels).unwrap();
    let settings = Settings { n_patterns: 8, max_iter: 30, threads: 1, ..Settings::default() };
    let mut solver = Solver::new(x.as_ref(), y.as_ref(), settings.clone()).unwrap();
    solver.solve();
    let pre = Preprocessing::identity(2);
    (ModelFile::new(solver.model(), pre, Task::Classification(classes), Metadata::new(settings)), x)
}

fn calibration(t: f64) -> Calibration {
    Calibration { temperature: t, rows: 9, log_loss_before: 1.0, log_loss_after: 0.5 }
}

#[test]
fn round_trip_keeps_the_temperature_and_probabilities_use_it() {
    let (mut mf, x) = model();
    let p1 = mf.predict_proba(x.as_ref()).unwrap();
    mf.metadata.calibration = Some(calibration(0.25));
    let back = ModelFile::from_bytes(&mf.to_bytes().unwrap(), Path::new("m.safetensors")).unwrap();
    assert_eq!(back.metadata.calibration, Some(calibration(0.25)));
    assert_eq!(back.temperature(), 0.25);
    let p = back.predict_proba(x.as_ref()).unwrap();
    let s = mf.predict(x.as_ref()).unwrap();
    for i in 0..x.nrows() {
        assert!(((0..3).map(|c| p[(i, c)]).sum::<f64>() - 1.0).abs() < 1e-12);
        // softmax(s / T): the ratio of two classes' probabilities is exp((s_a − s_b) / T)
        let r = (p[(i, 0)] / p[(i, 1)]).ln();
        assert!((r - (s[(i, 0)] - s[(i, 1)]) as f64 / 0.25).abs() < 1e-4, "row {i}");
        // T < 1 sharpens: the top class gains
        let top = (0..3).max_by(|&a, &b| p[(i, a)].total_cmp(&p[(i, b)])).unwrap();
        assert!(p[(i, top)] >= p1[(i, top)] - 1e-12);
    }
}

#[test]
fn files_without_a_temperature_load_with_t_one() {
    let (mf, x) = model();
    let bytes = mf.to_bytes().unwrap();
    let header = String::from_utf8_lossy(&bytes[8..8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize]).to_string();
    assert!(!header.contains("calibration"), "an uncalibrated file is written as before");
    let back = ModelFile::from_bytes(&bytes, Path::new("old.safetensors")).unwrap();
    assert_eq!(back.metadata.calibration, None);
    assert_eq!(back.temperature(), 1.0);
    let (p, s) = (back.predict_proba(x.as_ref()).unwrap(), back.predict(x.as_ref()).unwrap());
    let e: Vec<f64> = (0..3).map(|c| (s[(0, c)] as f64).exp()).collect();
    assert!((p[(0, 2)] - e[2] / e.iter().sum::<f64>()).abs() < 1e-6);
}

#[test]
fn a_bad_temperature_is_refused() {
    let (mut mf, _) = model();
    mf.metadata.calibration = Some(calibration(-1.0));
    let err = ModelFile::from_bytes(&mf.to_bytes().unwrap(), Path::new("bad.safetensors")).unwrap_err();
    assert!(err.to_string().contains("temperature -1"), "{err}");
}
