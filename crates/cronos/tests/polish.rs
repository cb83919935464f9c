//! Newton polishing of gated-ReLU solutions: from a loose ADMM iterate it reaches the
//! Clarabel optimum and a tight certificate, for every loss, with and without weights; it
//! never raises the objective and leaves ReLU alone.
mod common;
use common::*;
use cronos::{Activation, Beta, Loss, Settings, Solver};

fn check(loss: Loss, k: usize, weighted: bool, seed: u64) {
    let (x, y0) = random_problem(60, 4, seed);
    let y = targets(&y0, loss, k);
    let n = x.nrows();
    let mut r = Rng(seed * 3 + 5);
    let w: Option<Vec<f64>> = weighted.then(|| (0..n).map(|_| 1.0 + r.next()).collect());
    let beta = 0.05;
    // ADMM alone (polishing off) to a loose gap, then one
    // explicit polish
    let settings = Settings {
        activation: Activation::GatedRelu,
        loss,
        n_patterns: 6,
        beta: Beta::Value(beta),
        max_iter: 5000,
        polish_below: 0.0,
        tol_gap: 1e-2,
        threads: 1,
        ..Settings::default()
    };
    let mut s = Solver::new_weighted(x.as_ref(), y.as_ref(), w.as_deref(), settings).unwrap();
    let sol = s.solve();
    eprintln!("admm: {:?} after {} iterations", sol.status, sol.iterations);
    let before = sol.certificate;
    // each call stops at half the gap target; call until tight
    let (mut steps, mut cg) = (0, 0);
    for _ in 0..10 {
        let rep = s.polish();
        (steps, cg) = (steps + rep.steps, cg + rep.cg_iterations);
        if rep.steps == 0 || s.certify().relative_gap <= 1e-7 {
            break;
        }
    }
    let after = s.certify().clone();
    let (xr, d) = row_major(&x, true);
    let yr: Vec<f64> = (0..n)
        .flat_map(|i| (0..k).map(move |c| (i, c)))
        .map(|(i, c)| y[(i, c)])
        .collect();
    let m = s.model();
    let o = cronos_oracle::solve_loss(
        &xr,
        n,
        d,
        &yr,
        k,
        w.as_deref(),
        &masks(&x, &m.gates, true),
        beta,
        cronos_oracle::Kind::GatedRelu,
        oracle_loss(loss),
    )
    .unwrap();
    let rel = (after.objective - o.objective).abs() / o.objective;
    eprintln!("{loss:?} k={k} w={weighted}: gap {:.1e} -> {:.1e} in {steps} Newton steps ({cg} CG); objective rel. to oracle {rel:.1e}", before.relative_gap, after.relative_gap);
    assert!(
        before.relative_gap > 1e-5,
        "the test needs a loose start (gap {})",
        before.relative_gap
    );
    assert!(
        after.objective <= before.objective * (1.0 + 1e-12),
        "polish raised the objective: {} -> {}",
        before.objective,
        after.objective
    );
    assert!(
        rel <= 1e-6,
        "{loss:?}: polished objective {} vs oracle {} (rel {rel:e})",
        after.objective,
        o.objective
    );
    assert!(
        after.lower_bound <= o.objective * (1.0 + 1e-9),
        "bound {} above the optimum {}",
        after.lower_bound,
        o.objective
    );
    // softmax's single coupled bound stays a little looser (3e-5 at a 7e-10 objective error)
    assert!(
        after.relative_gap <= 1e-4,
        "{loss:?}: gap after polish {}",
        after.relative_gap
    );
}

#[test]
fn polish_reaches_the_optimum_squared() {
    check(Loss::Squared, 1, false, 11);
    check(Loss::Squared, 2, true, 12);
}

#[test]
fn polish_reaches_the_optimum_logistic() {
    check(Loss::Logistic, 1, false, 13);
    check(Loss::Logistic, 2, true, 14);
}

#[test]
fn polish_reaches_the_optimum_softmax() {
    check(Loss::Softmax, 3, false, 15);
    check(Loss::Softmax, 3, true, 16);
}

#[test]
fn polish_leaves_relu_alone() {
    let (x, y) = random_problem(40, 3, 3);
    let settings = Settings {
        n_patterns: 4,
        max_iter: 10,
        threads: 1,
        relu_endgame: Some(false),
        ..Settings::default()
    };
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings).unwrap();
    s.solve();
    let z0 = s.model().weights.clone();
    let rep = s.polish();
    assert_eq!(rep.steps, 0);
    assert_eq!(s.model().weights, z0);
}

/// The gated polish starts at the first certificate below `polish_below`, not only at
/// multiples of `polish_every`: here the period is longer than the solve, so without that
/// rule the solve never polishes.
#[test]
fn polish_starts_when_the_gap_first_falls_below_polish_below() {
    let (x, y) = random_problem(200, 5, 21);
    let settings = Settings {
        activation: Activation::GatedRelu,
        n_patterns: 8,
        beta: Beta::Fraction(1e-2),
        max_iter: 200,
        tol_gap: 1e-9,
        polish_below: 0.5,
        polish_every: 10_000,
        threads: 1,
        ..Settings::default()
    };
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings).unwrap();
    let sol = s.solve();
    let certified: Vec<_> = sol.history.iter().filter(|h| h.certified).collect();
    // an accepted polish leaves u = z: the primal residual of that iteration is exactly 0
    let polished = certified.iter().position(|h| h.primal_residual == 0.0);
    let Some(at) = polished else { panic!("never polished: {:?}", certified.iter().map(|h| h.relative_gap).collect::<Vec<_>>()) };
    assert!(at > 0 && certified[at - 1].relative_gap > 0.5, "polished at certificate {at}, not where the gap first fell below 0.5");
    let (before, after) = (certified[at - 1].relative_gap, certified[at].relative_gap);
    assert!(after < 0.1 * 0.5, "the polish took the gap from {before:e} only to {after:e}");
    assert!(sol.certificate.relative_gap <= after);
}
