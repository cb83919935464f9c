//! Regularization path vs cold solves on a Fashion-MNIST task:
//! `cargo run --release -p cronos --example path_bench -- N CLASSES LOSS ACT POINTS MIN`
//! e.g. `-- 4000 2,4 logistic gated 8 1e-3`. Solves the whole grid warm-started (no early
//! stop), then each grid point from a cold start with the same tolerance and iteration cap,
//! and prints per-point objectives, gaps, iterations, times, test accuracy and the time ratio.
use cronos::{Activation, Beta, Loss, Metric, PathSettings, Settings, Solver};
use cronos_data::{load_idx_dir, Split};
use faer::Mat;
use std::path::Path;
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n_max: usize = a.get(1).map_or(4000, |s| s.parse().unwrap());
    let classes: Vec<f64> = a.get(2).map_or("2,4".into(), |s| s.clone()).split(',').filter_map(|s| s.parse().ok()).collect();
    let loss = match a.get(3).map_or("logistic", |s| s.as_str()) {
        "squared" => Loss::Squared,
        "softmax" => Loss::Softmax,
        _ => Loss::Logistic,
    };
    let act = if a.get(4).map_or("gated", |s| s.as_str()) == "relu" { Activation::Relu } else { Activation::GatedRelu };
    let points: usize = a.get(5).map_or(8, |s| s.parse().unwrap());
    let min_fraction: f64 = a.get(6).map_or(1e-3, |s| s.parse().unwrap());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist");
    let (tr, te) = (load_idx_dir(&dir, Split::Train).unwrap(), load_idx_dir(&dir, Split::Test).unwrap());
    let pick = |t: &cronos_data::Table, max: usize| -> (Mat<f32>, Vec<f64>) {
        let lab = t.labels.as_ref().unwrap();
        let rows: Vec<usize> = (0..t.n).filter(|&i| classes.is_empty() || classes.contains(&lab[i])).take(max).collect();
        (Mat::<f32>::from_fn(rows.len(), t.d, |i, j| t.get(rows[i], j) / 255.0), rows.iter().map(|&i| lab[i]).collect())
    };
    let (xtr, ltr) = pick(&tr, n_max);
    let (xte, lte) = pick(&te, usize::MAX);
    let cls: Vec<f64> = if classes.is_empty() { (0..10).map(|c| c as f64).collect() } else { classes.clone() };
    let k = if cls.len() == 2 { 1 } else { cls.len() };
    let neg = if loss == Loss::Softmax { 0.0 } else { -1.0 };
    let enc = |l: &[f64]| Mat::<f32>::from_fn(l.len(), k, |i, c| if (k == 1 && l[i] == cls[1]) || (k > 1 && l[i] == cls[c]) { 1.0 } else { neg });
    let (ytr, yte) = (enc(&ltr), enc(&lte));
    let ps = PathSettings { n_betas: points, min_fraction, patience: usize::MAX, ..PathSettings::default() };
    let settings = Settings { activation: act, loss, max_iter: ps.max_iter, tol_gap: ps.tol_gap, ..Settings::default() };
    let t0 = Instant::now();
    let mut s = Solver::new(xtr.as_ref(), ytr.as_ref(), settings.clone()).unwrap();
    let setup = t0.elapsed().as_secs_f64();
    let path = cronos::solve_path(&mut s, &ps, |m| m.predict(xte.as_ref()).ok().map(|p| Metric::Accuracy.eval(p.as_ref(), yte.as_ref())), |_, _| {}).unwrap();
    let path_total = t0.elapsed().as_secs_f64();
    println!("n={} classes={cls:?} loss={loss:?} {act:?}: path setup {setup:.1}s, total {path_total:.1}s", xtr.nrows());
    println!("| β/β_max | path its | path s | path gap | cold its | cold s | cold gap | active | train | test |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut cold_total = 0.0;
    for p in &path {
        let t1 = Instant::now();
        let mut c = Solver::new(xtr.as_ref(), ytr.as_ref(), Settings { beta: Beta::Fraction(p.fraction), ..settings.clone() }).unwrap();
        let sol = if p.fraction < 1.0 { Some(c.solve()) } else { None };
        let cs = t1.elapsed().as_secs_f64();
        cold_total += cs;
        let (cit, cgap) = sol.map_or((0, 0.0), |s| (s.iterations, s.certificate.relative_gap));
        println!(
            "| {:.2e} | {} | {:.1} | {:.1e} | {} | {:.1} | {:.1e} | {} | {:.2}% | {:.2}% |",
            p.fraction, p.iterations, p.seconds, p.relative_gap, cit, cs, cgap, p.active_neurons, 100.0 * p.train_metric, 100.0 * p.validation_metric.unwrap_or(f64::NAN)
        );
    }
    println!("path {path_total:.1}s (one setup) vs cold solves {cold_total:.1}s (setup each): ratio {:.2}", path_total / cold_total);
}
