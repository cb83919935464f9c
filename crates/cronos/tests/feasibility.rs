//! The feasibility report of a solution: the recovered network's objective, recomputed here
//! from `Model::predict` in the user's units, and the cone-constraint violation, which is 0
//! for gated ReLU, large for an early ReLU iterate and small once the ReLU program is solved.
mod common;
use common::*;
use cronos::{Activation, Beta, Settings, Solver};

/// ½‖network(x) − y‖² + Σ β‖w_g‖ with the model's weights in the user's units.
fn network_objective(s: &Solver<f64>, x: &faer::Mat<f64>, y: &faer::Mat<f64>) -> f64 {
    let m = s.model();
    let p = m.predict(x.as_ref()).unwrap();
    let loss: f64 = (0..y.nrows()).map(|i| 0.5 * (p[(i, 0)] - y[(i, 0)]).powi(2)).sum();
    let w = &m.weights;
    let reg: f64 = (0..w.ncols()).map(|j| (0..w.nrows()).map(|i| w[(i, j)] * w[(i, j)]).sum::<f64>().sqrt()).sum();
    loss + s.beta()[0] * reg
}

fn solve(act: Activation, max_iter: usize, tol_gap: f64) -> (Solver<f64>, cronos::Solution, faer::Mat<f64>, faer::Mat<f64>) {
    let (x, y) = random_problem(80, 4, 7);
    let settings = Settings { activation: act, n_patterns: 8, beta: Beta::Value(0.05), max_iter, tol_gap, tol_residual: 1e-8, threads: 1, ..Settings::default() };
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings).unwrap();
    let sol = s.solve();
    (s, sol, x, y)
}

#[test]
fn network_objective_matches_the_recovered_network() {
    for (act, its) in [(Activation::Relu, 3), (Activation::Relu, 20000), (Activation::GatedRelu, 20000)] {
        let (s, sol, x, y) = solve(act, its, 1e-8);
        let f = sol.feasibility;
        let direct = network_objective(&s, &x, &y);
        assert!((f.network_objective - direct).abs() <= 1e-9 * direct.max(1.0), "{act:?} {its}: {} vs {direct}", f.network_objective);
        assert!((0.0..=1.0).contains(&f.constraint_violation));
    }
}

#[test]
fn violation_is_zero_for_gated_and_vanishes_as_relu_converges() {
    let (_, gated, ..) = solve(Activation::GatedRelu, 20000, 1e-8);
    assert_eq!(gated.feasibility.constraint_violation, 0.0);
    assert_eq!(gated.feasibility.network_objective, gated.certificate.objective);
    let (_, early, ..) = solve(Activation::Relu, 3, 1e-8);
    let (_, done, ..) = solve(Activation::Relu, 20000, 1e-8);
    assert!(early.feasibility.constraint_violation > 1e-3, "early violation {:e}", early.feasibility.constraint_violation);
    assert!(done.feasibility.constraint_violation < 1e-4, "converged violation {:e} ({:?})", done.feasibility.constraint_violation, done.status);
    let c = &done.certificate;
    let rel = (done.feasibility.network_objective - c.objective).abs() / c.objective;
    assert!(rel < 1e-5, "network {} vs convex {}", done.feasibility.network_objective, c.objective);
    assert!(c.lower_bound <= done.feasibility.network_objective * (1.0 + 1e-6));
}
