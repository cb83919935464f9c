//! Experiment driver on the bundled Fashion-MNIST: `cargo run --release -p cronos --example fmnist -- N CLASSES P PRECOND ACT`
//! e.g. `-- 12000 2,8 64 structured relu`. Prints per-iteration progress and test accuracy.
//! Env: MAXIT, BETA (fraction of β_max), RHO, SIGMA, STD (standardise pixels), F64 (solve in f64),
//! RAWGATES (gates near the origin), LOSS=softmax|logistic, POLISH (Settings::polish_below).
use cronos::{Activation, Loss, PrecondKind, Real, Settings, Solver};
use cronos_data::{load_idx_dir, Split};
use faer::Mat;
use std::path::Path;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n_max: usize = a.get(1).map_or(12000, |s| s.parse().unwrap());
    let classes: Vec<f64> = a
        .get(2)
        .map_or("all".into(), |s| s.clone())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let p: usize = a.get(3).map_or(64, |s| s.parse().unwrap());
    let pre = match a.get(4).map_or("structured", |s| s.as_str()) {
        "none" => PrecondKind::None,
        "nystrom" => PrecondKind::Nystrom,
        _ => PrecondKind::Structured,
    };
    let act = if a.get(5).map_or("relu", |s| s.as_str()) == "gated" {
        Activation::GatedRelu
    } else {
        Activation::Relu
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist");
    let (tr, te) = (
        load_idx_dir(&dir, Split::Train).unwrap(),
        load_idx_dir(&dir, Split::Test).unwrap(),
    );
    let pick = |t: &cronos_data::Table, max: usize| -> (Mat<f32>, Vec<f64>) {
        let lab = t.labels.as_ref().unwrap();
        let rows: Vec<usize> = (0..t.n)
            .filter(|&i| classes.is_empty() || classes.contains(&lab[i]))
            .take(max)
            .collect();
        let x = Mat::<f32>::from_fn(rows.len(), t.d, |i, j| t.get(rows[i], j) / 255.0);
        (x, rows.iter().map(|&i| lab[i]).collect())
    };
    let (mut xtr, ltr) = pick(&tr, n_max);
    let (mut xte, lte) = pick(&te, usize::MAX);
    if std::env::var("STD").is_ok() {
        for j in 0..xtr.ncols() {
            let m: f32 = (0..xtr.nrows()).map(|i| xtr[(i, j)]).sum::<f32>() / xtr.nrows() as f32;
            let v: f32 = (0..xtr.nrows())
                .map(|i| (xtr[(i, j)] - m).powi(2))
                .sum::<f32>()
                / xtr.nrows() as f32;
            let s = if v > 0.0 { v.sqrt() } else { 1.0 };
            for i in 0..xtr.nrows() {
                xtr[(i, j)] = (xtr[(i, j)] - m) / s;
            }
            for i in 0..xte.nrows() {
                xte[(i, j)] = (xte[(i, j)] - m) / s;
            }
        }
    }
    let cls: Vec<f64> = if classes.is_empty() {
        (0..10).map(|c| c as f64).collect()
    } else {
        classes.clone()
    };
    let k = if cls.len() == 2 { 1 } else { cls.len() };
    let enc = |l: &[f64]| {
        Mat::<f32>::from_fn(l.len(), k, |i, c| {
            if k == 1 {
                if l[i] == cls[1] {
                    1.0
                } else {
                    -1.0
                }
            } else if l[i] == cls[c] {
                1.0
            } else {
                -1.0
            }
        })
    };
    let ytr = enc(&ltr);
    let loss = match std::env::var("LOSS").as_deref() {
        Ok("softmax") => Loss::Softmax,
        Ok("logistic") => Loss::Logistic,
        _ => Loss::Squared,
    };
    let ytr = if loss == Loss::Squared {
        ytr
    } else {
        Mat::from_fn(ytr.nrows(), k, |i, c| {
            if loss == Loss::Softmax {
                (ytr[(i, c)] > 0.0) as u8 as f32
            } else {
                ytr[(i, c)]
            }
        })
    };
    if std::env::var("F64").is_ok() {
        let c = |m: &Mat<f32>| Mat::<f64>::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)] as f64);
        run(
            c(&xtr),
            c(&ytr),
            c(&xte),
            &ltr,
            &lte,
            &cls,
            p,
            pre,
            act,
            loss,
        );
    } else {
        run(xtr, ytr, xte, &ltr, &lte, &cls, p, pre, act, loss);
    }
}

#[allow(clippy::too_many_arguments)]
fn run<T: Real>(
    xtr: Mat<T>,
    ytr: Mat<T>,
    xte: Mat<T>,
    ltr: &[f64],
    lte: &[f64],
    cls: &[f64],
    p: usize,
    pre: PrecondKind,
    act: Activation,
    loss: Loss,
) {
    let k = ytr.ncols();
    let max_iter: usize = std::env::var("MAXIT")
        .ok()
        .map_or(200, |s| s.parse().unwrap());
    let beta: f64 = std::env::var("BETA")
        .ok()
        .map_or(1e-3, |s| s.parse().unwrap());
    let rho: Option<f64> = std::env::var("RHO").ok().map(|s| s.parse().unwrap());
    let sigma: f64 = std::env::var("SIGMA")
        .ok()
        .map_or(1.0, |s| s.parse().unwrap());
    let centered_gates = std::env::var("RAWGATES").is_err();
    let polish_below = std::env::var("POLISH").ok().map_or(Settings::default().polish_below, |s| s.parse().unwrap());
    let settings = Settings {
        loss,
        centered_gates,
        polish_below,
        constraint_scale: sigma,
        n_patterns: p,
        preconditioner: pre,
        activation: act,
        max_iter,
        beta: cronos::Beta::Fraction(beta),
        rho,
        ..Settings::default()
    };
    let mut s = Solver::new(xtr.as_ref(), ytr.as_ref(), settings).unwrap();
    eprintln!(
        "setup {:.2}s  n={} d={} P={} k={} rank={:?} design={:.0}MB",
        s.setup_seconds(),
        xtr.nrows(),
        xtr.ncols(),
        s.n_patterns(),
        k,
        s.precond_rank(),
        s.design_bytes() as f64 / 1e6
    );
    let acc = |pred: &Mat<T>, l: &[f64]| -> f64 {
        let mut ok = 0;
        for i in 0..l.len() {
            let c = if k == 1 {
                if pred[(i, 0)].to_f64() > 0.0 {
                    cls[1]
                } else {
                    cls[0]
                }
            } else {
                cls[(0..k)
                    .max_by(|&a, &b| pred[(i, a)].partial_cmp(&pred[(i, b)]).unwrap())
                    .unwrap()]
            };
            ok += (c == l[i]) as usize;
        }
        100.0 * ok as f64 / l.len() as f64
    };
    let sol = s.solve_with(|h| {
        if h.certified {
            eprintln!("it {:4} t {:7.2}s obj {:.6e} lb {:.6e} gap {:.2e} pr {:.2e} du {:.2e} cg {:3} ({:.1e}) rho {:.2e} sig {:.2e} blocks pr {:.1e}/{:.1e} du {:.1e}/{:.1e}", h.iteration, h.seconds, h.objective, h.lower_bound, h.relative_gap, h.primal_residual, h.dual_residual, h.cg_iterations, h.cg_residual, h.rho, h.sigma, h.primal_blocks[0], h.primal_blocks[1], h.dual_blocks[0], h.dual_blocks[1]);
        }
        cronos::Control::Continue
    });
    let m = s.model();
    let (ptr, pte) = (
        m.predict(xtr.as_ref()).unwrap(),
        m.predict(xte.as_ref()).unwrap(),
    );
    let pcv = m.predict_convex(xte.as_ref()).unwrap();
    println!("status {} iters {} cg {} obj {:.6e} gap {:.2e} time {:.1}s train {:.2}% test {:.2}% (convex-model test {:.2}%) active {}", sol.status, sol.iterations, sol.cg_iterations, sol.certificate.objective, sol.certificate.relative_gap, sol.solve_seconds, acc(&ptr, ltr), acc(&pte, lte), acc(&pcv, lte), m.active_neurons());
}
