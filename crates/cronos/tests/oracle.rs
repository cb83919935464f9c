//! The solver against an independent oracle: the interior-point conic solver Clarabel on
//! the same convex program (same patterns), f64, on random and real (pooled Fashion-MNIST)
//! instances. Objectives must agree to 1e-5 relative and our certified lower bound must
//! never exceed Clarabel's optimum.
mod common;
use common::*;
use cronos::{Activation, Beta, Settings, Solver, Status};
use faer::Mat;

fn check(x: &Mat<f64>, y: &Mat<f64>, act: Activation, beta: f64, p: usize, bias: bool, label: &str) {
    let settings = Settings {
        activation: act,
        n_patterns: p,
        beta: Beta::Value(beta),
        bias,
        max_iter: 20000,
        tol_gap: 1e-7,
        tol_residual: 1e-8,
        certificate_every: 10,
        threads: 1,
        ..Settings::default()
    };
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings).unwrap();
    let sol = s.solve();
    let m = s.model();
    let (xr, d) = row_major(x, bias);
    let yr: Vec<f64> = (0..x.nrows()).map(|i| y[(i, 0)]).collect();
    let kind = if act == Activation::Relu { cronos_oracle::Kind::Relu } else { cronos_oracle::Kind::GatedRelu };
    let o = cronos_oracle::solve(&xr, x.nrows(), d, &yr, &masks(x, &m.gates, bias), beta, kind).unwrap();
    let c = &sol.certificate;
    let rel = (c.objective - o.objective).abs() / o.objective;
    eprintln!("{label} {act:?}: ours {:.10} oracle {:.10} rel {rel:.1e} lb {:.10} gap {:.1e} it {} {:?}", c.objective, o.objective, c.lower_bound, c.relative_gap, sol.iterations, sol.status);
    assert!(rel <= 1e-5, "{label}: objective {} vs oracle {} (rel {rel:e})", c.objective, o.objective);
    assert!(c.lower_bound <= o.objective * (1.0 + 1e-9), "{label}: lower bound {} exceeds the optimum {}", c.lower_bound, o.objective);
    assert!(matches!(sol.status, Status::Solved | Status::MaxIterations));
}

#[test]
fn random_instances_gated_and_relu() {
    for (seed, n, d, p) in [(1, 40, 4, 6), (2, 60, 5, 8), (3, 30, 3, 10)] {
        let (x, y) = random_problem(n, d, seed);
        for act in [Activation::GatedRelu, Activation::Relu] {
            check(&x, &y, act, 0.05, p, seed % 2 == 0, &format!("random seed {seed}"));
        }
    }
}

#[test]
fn pooled_fashion_mnist_subsets() {
    for (a, b, beta) in [(0.0, 1.0, 0.5), (2.0, 4.0, 0.2)] {
        let (x, y) = fmnist_small(60, a, b);
        for act in [Activation::GatedRelu, Activation::Relu] {
            check(&x, &y, act, beta, 6, true, &format!("fmnist {a} vs {b}"));
        }
    }
}

#[test]
fn certified_bound_is_sound_at_every_iteration() {
    // Early, loose iterates: the bound must still be below the exact optimum.
    let (x, y) = random_problem(50, 4, 9);
    for act in [Activation::GatedRelu, Activation::Relu] {
        let settings = Settings { activation: act, n_patterns: 8, beta: Beta::Value(0.02), max_iter: 40, certificate_every: 1, threads: 1, ..Settings::default() };
        let mut s = Solver::new(x.as_ref(), y.as_ref(), settings).unwrap();
        let sol = s.solve();
        let m = s.model();
        let (xr, d) = row_major(&x, true);
        let yr: Vec<f64> = (0..50).map(|i| y[(i, 0)]).collect();
        let kind = if act == Activation::Relu { cronos_oracle::Kind::Relu } else { cronos_oracle::Kind::GatedRelu };
        let o = cronos_oracle::solve(&xr, 50, d, &yr, &masks(&x, &m.gates, true), 0.02, kind).unwrap();
        for h in &sol.history {
            assert!(h.lower_bound <= o.objective * (1.0 + 1e-9), "iteration {}: bound {} > optimum {}", h.iteration, h.lower_bound, o.objective);
        }
    }
}

#[test]
fn multi_output_equals_separate_solves() {
    let (x, y1) = random_problem(40, 4, 5);
    let (_, y2) = random_problem(40, 4, 6);
    let y = Mat::<f64>::from_fn(40, 2, |i, c| if c == 0 { y1[(i, 0)] } else { y2[(i, 0)] });
    let base = Settings { n_patterns: 6, beta: Beta::Value(0.05), max_iter: 20000, tol_gap: 1e-7, tol_residual: 1e-8, threads: 1, ..Settings::default() };
    let joint = Solver::new(x.as_ref(), y.as_ref(), base.clone()).unwrap().solve().certificate;
    let a = Solver::new(x.as_ref(), y1.as_ref(), base.clone()).unwrap().solve().certificate;
    let b = Solver::new(x.as_ref(), y2.as_ref(), base).unwrap().solve().certificate;
    let rel = (joint.objective - (a.objective + b.objective)).abs() / joint.objective;
    assert!(rel < 1e-5, "joint {} vs {} + {}", joint.objective, a.objective, b.objective);
}
