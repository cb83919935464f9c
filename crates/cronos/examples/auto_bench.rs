//! `beta = auto` on the bundled Fashion-MNIST with path settings from the command line, to
//! compare path rules side by side on a subset:
//! `cargo run --release -p cronos --example auto_bench -- N [CLASSES|all] [key=value ...]`,
//! keys: the fields of [`cronos::PathSettings`] (`n_betas`, `min_fraction`, `tol_gap`,
//! `max_iter`, `patience`, `start_rows`, `zero_iter`, `stable_checks`, `stable_se`) and `refit=0|1`.
//! Gated ReLU, squared loss, ±1 one-vs-all targets, X/255: the settings of `cronos train`.
//! Prints each path point, the chosen fraction, path and refit seconds, the refit's gap and
//! the test accuracy.
use cronos::{Activation, Metric, PathPoint, PathSettings, Settings};
use cronos_data::{load_idx_dir, Split};
use faer::Mat;
use std::path::Path;
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n_max: usize = a.get(1).map_or(10_000, |s| s.parse().expect("N: a row count"));
    let classes: Vec<f64> = match a.get(2).map(String::as_str) {
        None | Some("all") => Vec::new(),
        Some(s) => s.split(',').map(|c| c.parse().expect("CLASSES: comma-separated labels")).collect(),
    };
    let mut ps = PathSettings::default();
    let mut refit = true;
    for kv in a.iter().skip(3) {
        let (k, v) = kv.split_once('=').expect("key=value");
        match k {
            "n_betas" => ps.n_betas = v.parse().unwrap(),
            "min_fraction" => ps.min_fraction = v.parse().unwrap(),
            "tol_gap" => ps.tol_gap = v.parse().unwrap(),
            "max_iter" => ps.max_iter = v.parse().unwrap(),
            "patience" => ps.patience = v.parse().unwrap(),
            "start_rows" => ps.start_rows = v.parse().unwrap(),
            "zero_iter" => ps.zero_iter = v.parse().unwrap(),
            "stable_checks" => ps.stable_checks = v.parse().unwrap(),
            "stable_se" => ps.stable_se = v.parse().unwrap(),
            "refit" => refit = v != "0",
            _ => panic!("unknown key {k}"),
        }
    }
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
    let enc = |l: &[f64]| Mat::<f32>::from_fn(l.len(), k, |i, c| if (k == 1 && l[i] == cls[1]) || (k > 1 && l[i] == cls[c]) { 1.0 } else { -1.0 });
    let (ytr, yte) = (enc(&ltr), enc(&lte));
    let settings = Settings { activation: Activation::GatedRelu, ..Settings::default() };
    println!("n={} classes={cls:?} {ps:?}", xtr.nrows());
    let show = |p: &PathPoint| {
        println!(
            "  β/β_max {:.2e}  gap {:.1e}  active {:>5}  its {:>3}  {:?}  train {:.4}  validation {:.4}  {:.1}s",
            p.fraction,
            p.relative_gap,
            p.active_neurons,
            p.iterations,
            p.status,
            p.train_metric,
            p.validation_metric.unwrap_or(f64::NAN),
            p.seconds
        )
    };
    let t0 = Instant::now();
    if !refit {
        let c = cronos::select_beta(xtr.as_ref(), ytr.as_ref(), None, &settings, &ps, show).unwrap();
        let test = c.model.predict(xte.as_ref()).map(|s| Metric::Accuracy.eval(s.as_ref(), yte.as_ref())).unwrap();
        println!("chose {:.2e}: path {:.1}s, path-model test {:.2}%", c.fraction, c.seconds, 100.0 * test);
        return;
    }
    let fit = cronos::fit_auto(xtr.as_ref(), ytr.as_ref(), None, settings, &ps, show).unwrap();
    let model = fit.solver.model();
    let test = model.predict(xte.as_ref()).map(|s| Metric::Accuracy.eval(s.as_ref(), yte.as_ref())).unwrap();
    println!(
        "chose {:.2e}: path {:.1}s, refit {:.1}s ({} its, {}, gap {:.1e}), total {:.1}s, test {:.2}%",
        fit.fraction,
        fit.path_seconds,
        fit.refit_seconds,
        fit.solution.iterations,
        fit.solution.status,
        fit.solution.certificate.relative_gap,
        t0.elapsed().as_secs_f64(),
        100.0 * test
    );
}
