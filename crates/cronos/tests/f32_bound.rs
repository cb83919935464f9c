//! The certificate of an f32 solve must be sound in f32: at small β (down to 1e-5·β_max,
//! where a rounding error in the dual-feasibility scale weighs most) every certified lower
//! bound of the f32 solver stays at or below the exact optimum that Clarabel computes in f64
//! on the same program (same data, rounded to f32 once, same patterns).
mod common;
use common::*;
use cronos::{Activation, Beta, Settings, Solver};
use faer::Mat;

fn check(x64: &Mat<f64>, y64: &Mat<f64>, act: Activation, fraction: f64, label: &str) {
    // the data as the f32 solver sees it, so both solve the same program
    let x = Mat::<f32>::from_fn(x64.nrows(), x64.ncols(), |i, j| x64[(i, j)] as f32);
    let y = Mat::<f32>::from_fn(y64.nrows(), 1, |i, _| y64[(i, 0)] as f32);
    let xs = Mat::<f64>::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] as f64);
    let ys: Vec<f64> = (0..y.nrows()).map(|i| y[(i, 0)] as f64).collect();
    let settings = Settings {
        activation: act,
        n_patterns: 8,
        beta: Beta::Fraction(fraction),
        max_iter: 300,
        certificate_every: 1,
        tol_gap: 1e-9,
        threads: 1,
        ..Settings::default()
    };
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings).unwrap();
    let sol = s.solve();
    let m = s.model();
    let gates = Mat::<f64>::from_fn(m.gates.nrows(), m.gates.ncols(), |i, j| m.gates[(i, j)] as f64);
    let (xr, d) = row_major(&xs, true);
    let beta = s.beta()[0];
    let kind = if act == Activation::Relu { cronos_oracle::Kind::Relu } else { cronos_oracle::Kind::GatedRelu };
    let o = cronos_oracle::solve(&xr, xs.nrows(), d, &ys, &masks(&xs, &gates, true), beta, kind).unwrap();
    let worst = sol.history.iter().map(|h| h.lower_bound).fold(f64::NEG_INFINITY, f64::max);
    eprintln!(
        "{label} {act:?} β = {fraction:e}·β_max: optimum {:.9e}, best f32 bound {worst:.9e} (margin {:.2e}), final gap {:.2e}, {:?}",
        o.objective,
        (o.objective - worst) / o.objective,
        sol.certificate.relative_gap,
        sol.status
    );
    for h in &sol.history {
        assert!(
            h.lower_bound <= o.objective,
            "{label} {act:?} β = {fraction:e}·β_max, iteration {}: f32 bound {} exceeds the optimum {}",
            h.iteration,
            h.lower_bound,
            o.objective
        );
    }
}

#[test]
fn f32_bounds_stay_below_the_optimum_at_small_beta() {
    for (seed, n, d) in [(11, 400, 12), (12, 250, 20)] {
        let (x, y) = random_problem(n, d, seed);
        for act in [Activation::GatedRelu, Activation::Relu] {
            for fraction in [1e-2, 1e-3, 1e-4, 1e-5] {
                check(&x, &y, act, fraction, &format!("random seed {seed}"));
            }
        }
    }
}

#[test]
fn f32_bounds_on_pooled_fashion_mnist() {
    let (x, y) = fmnist_small(300, 2.0, 4.0);
    for act in [Activation::GatedRelu, Activation::Relu] {
        for fraction in [1e-3, 1e-5] {
            check(&x, &y, act, fraction, "fmnist 2 vs 4");
        }
    }
}
