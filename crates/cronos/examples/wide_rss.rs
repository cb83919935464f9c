//! The solver's own memory on wide data, apart from how the data was loaded:
//!
//! `cargo run --release -p cronos --example wide_rss -- DIR/train.npz [PATTERNS] [relu]`
//!
//! Loads the .npz of `scripts/gen-teacher.py`, keeps one f32 copy of X (standardized, as the
//! CLI does) and the ±1 targets, then resets the peak-RSS counter and solves a gated (or
//! ReLU) program with β = 1e-3·β_max, P = 32. Prints one JSON line: time, iterations, gap,
//! RSS before the solve (X held by the caller), the peak after setup and the solve's peak,
//! all over the bytes of X.
use cronos::{Activation, Beta, Settings, Solver};
use cronos_data::{load, LoadOptions};
use faer::Mat;
use std::time::Instant;

fn status_kb(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: wide_rss TRAIN.npz [PATTERNS] [relu]");
    let p: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(32);
    let relu = args.iter().any(|a| a == "relu");
    let (x, y) = {
        let t = load(std::path::Path::new(path), &LoadOptions::default()).expect("load");
        let labels = t.labels.clone().expect("labels");
        let (n, d) = (t.n, t.d);
        let mut x = Mat::<f32>::from_fn(n, d, |i, j| t.x[j * n + i]);
        drop(t);
        for j in 0..d {
            let col = x.col_mut(j).try_as_col_major_mut().unwrap().as_slice_mut();
            let m = col.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let sd = (col.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n as f64).sqrt().max(1e-12);
            col.iter_mut().for_each(|v| *v = ((*v as f64 - m) / sd) as f32);
        }
        let y = Mat::<f32>::from_fn(n, 1, |i, _| if labels[i] > 0.5 { 1.0 } else { -1.0 });
        (x, y)
    };
    let xb = (x.nrows() * x.ncols() * 4) as f64;
    // reset VmHWM so the peak below is the solve's own
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kb("VmRSS:") as f64 * 1024.0;
    let act = if relu { Activation::Relu } else { Activation::GatedRelu };
    let s = Settings { activation: act, n_patterns: p, beta: Beta::Fraction(1e-3), threads: 2, ..Settings::default() };
    let t0 = Instant::now();
    let mut solver = Solver::new(x.as_ref(), y.as_ref(), s).expect("setup");
    let setup_peak = status_kb("VmHWM:") as f64 * 1024.0;
    let sol = solver.solve();
    let secs = t0.elapsed().as_secs_f64();
    let peak = status_kb("VmHWM:") as f64 * 1024.0;
    println!(
        "{{\"n\": {}, \"d\": {}, \"activation\": \"{act:?}\", \"status\": \"{:?}\", \"seconds\": {secs:.1}, \"setup_seconds\": {:.1}, \"iterations\": {}, \"relative_gap\": {:.2e}, \"x_bytes\": {xb}, \"rss_before_over_x\": {:.2}, \"setup_peak_over_x\": {:.2}, \"peak_over_x\": {:.2}}}",
        x.nrows(),
        x.ncols(),
        sol.status,
        sol.setup_seconds,
        sol.iterations,
        sol.certificate.relative_gap,
        before / xb,
        setup_peak / xb,
        peak / xb
    );
}
