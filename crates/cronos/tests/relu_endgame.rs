//! The ReLU endgame (augmented Lagrangian on the cones, `Settings::relu_endgame`) against
//! the interior-point oracle: it must end `solved` at a tight certified gap with weights that
//! satisfy the cones, at Clarabel's optimum, where ADMM alone is still far from it.
mod common;
use common::*;
use cronos::{Activation, Beta, Settings, Solver, Status};
use faer::Mat;

fn solve(x: &Mat<f64>, y: &Mat<f64>, endgame: bool, max_iter: usize) -> (cronos::Solution, cronos::Model<f64>, f64) {
    let settings = Settings {
        activation: Activation::Relu,
        n_patterns: 8,
        beta: Beta::Fraction(0.01),
        max_iter,
        tol_gap: 1e-6,
        relu_endgame: endgame,
        threads: 1,
        ..Settings::default()
    };
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings).unwrap();
    let sol = s.solve();
    let beta = s.beta()[0];
    (sol, s.model(), beta)
}

fn oracle(x: &Mat<f64>, y: &Mat<f64>, m: &cronos::Model<f64>, beta: f64) -> f64 {
    let (xr, d) = row_major(x, true);
    let yr: Vec<f64> = (0..x.nrows()).map(|i| y[(i, 0)]).collect();
    cronos_oracle::solve(&xr, x.nrows(), d, &yr, &masks(x, &m.gates, true), beta, cronos_oracle::Kind::Relu).unwrap().objective
}

#[test]
fn endgame_certifies_at_the_oracle_optimum() {
    for (label, (x, y)) in [("fmnist 2 vs 4", fmnist_small(200, 2.0, 4.0)), ("random", random_problem(80, 5, 3))] {
        let (sol, m, beta) = solve(&x, &y, true, 400);
        let opt = oracle(&x, &y, &m, beta);
        let c = &sol.certificate;
        let rel = (c.objective - opt).abs() / opt;
        eprintln!("{label}: {:?} after {} its ({} CG), objective {:.10} oracle {opt:.10} rel {rel:.1e}, gap {:.1e}, violation {:.1e}", sol.status, sol.iterations, sol.cg_iterations, c.objective, c.relative_gap, sol.feasibility.constraint_violation);
        assert_eq!(sol.status, Status::Solved, "{label}");
        assert!(c.relative_gap >= 0.0 && c.relative_gap <= 1e-6, "{label}: gap {}", c.relative_gap);
        assert!(sol.feasibility.constraint_violation <= 1e-9, "{label}: violation {}", sol.feasibility.constraint_violation);
        assert!(rel <= 1e-7, "{label}: objective {} vs oracle {opt}", c.objective);
        assert!(c.lower_bound <= opt * (1.0 + 1e-9), "{label}: bound {} above the optimum {opt}", c.lower_bound);
        // the recovered network is the convex model when the cones hold
        assert!((sol.feasibility.network_objective - c.objective).abs() <= 1e-9 * opt, "{label}");
    }
}

#[test]
fn without_the_endgame_the_same_budget_is_not_enough() {
    // documents what the endgame buys: ADMM alone does not reach the 1e-6 gap in 400 its
    let (x, y) = fmnist_small(200, 2.0, 4.0);
    let (sol, _, _) = solve(&x, &y, false, 400);
    eprintln!("ADMM alone: {:?}, gap {:.1e}, violation {:.1e}", sol.status, sol.certificate.relative_gap, sol.feasibility.constraint_violation);
    assert_eq!(sol.status, Status::MaxIterations);
}

#[test]
fn endgame_is_off_for_gated_and_by_default() {
    assert!(!Settings::default().relu_endgame);
    // gated ReLU ignores the flag (its own polish runs either way): same weights
    let (x, y) = fmnist_small(120, 2.0, 4.0);
    let run = |eg: bool| {
        let settings = Settings { activation: Activation::GatedRelu, n_patterns: 8, beta: Beta::Fraction(0.01), relu_endgame: eg, threads: 1, ..Settings::default() };
        let mut s = Solver::new(x.as_ref(), y.as_ref(), settings).unwrap();
        s.solve();
        s.model().weights
    };
    assert_eq!(run(false), run(true));
}
