//! Wide data (d > n), and gated programs on few rows: the dual Gram form (nothing d × d, the
//! exact Woodbury preconditioner) against Clarabel and against the primal form forced on the
//! same instance, the preconditioner's exactness (f64 and f32), and the memory check's typed
//! error.
mod common;
use common::*;
use cronos::design::Design;
use cronos::gram::{with_form, GramEigen, GramForm, GramOp};
use cronos::patterns::sample_patterns;
use cronos::pcg::{Precond, ScratchBuf};
use cronos::system::System;
use cronos::woodbury::WoodburyPrecond;
use cronos::{Activation, Beta, CronosError, Loss, Settings, Solver};
use faer::{Mat, Par};

fn settings(act: Activation, p: usize, beta: f64) -> Settings {
    Settings {
        activation: act,
        n_patterns: p,
        beta: Beta::Value(beta),
        max_iter: 20000,
        tol_gap: 1e-8,
        tol_residual: 1e-9,
        certificate_every: 10,
        threads: 1,
        ..Settings::default()
    }
}

/// Solves in `form` and returns (objective, weights, gap, precond rank).
fn solve(x: &Mat<f64>, y: &Mat<f64>, s: Settings, form: GramForm) -> (f64, Mat<f64>, f64, Option<(usize, usize)>) {
    with_form(form, || {
        let mut solver = Solver::new(x.as_ref(), y.as_ref(), s).unwrap();
        let sol = solver.solve();
        let rank = solver.precond_rank();
        eprintln!("  {form:?}: {:?} after {} iterations, {:.2} s", sol.status, sol.iterations, sol.solve_seconds);
        (sol.certificate.objective, solver.model().weights.clone(), sol.certificate.relative_gap, rank)
    })
}

#[test]
fn wide_instances_match_clarabel_in_both_forms() {
    for (seed, n, d, p) in [(1u64, 24, 60, 6), (2, 30, 45, 8)] {
        let (x, y) = random_problem(n, d, seed);
        for act in [Activation::Relu, Activation::GatedRelu] {
            let s = settings(act, p, 0.05);
            let (od, wd, gd, rank) = solve(&x, &y, s.clone(), GramForm::Dual);
            assert_eq!(rank, Some((0, 0)), "the dual form uses the exact Woodbury inverse, no sketch");
            let (op, wp, gp, _) = solve(&x, &y, s, GramForm::Primal);
            // the same patterns (same seed), so the same convex program for Clarabel
            let m = with_form(GramForm::Dual, || {
                Solver::new(x.as_ref(), y.as_ref(), settings(act, p, 0.05)).unwrap().model()
            });
            let (xr, dd) = row_major(&x, true);
            let yr: Vec<f64> = (0..n).map(|i| y[(i, 0)]).collect();
            let kind = if act == Activation::Relu { cronos_oracle::Kind::Relu } else { cronos_oracle::Kind::GatedRelu };
            let o = cronos_oracle::solve(&xr, n, dd, &yr, &masks(&x, &m.gates, true), 0.05, kind).unwrap();
            let rel_d = (od - o.objective).abs() / o.objective;
            let rel_p = (op - o.objective).abs() / o.objective;
            eprintln!("seed {seed} {n}×{d} {act:?}: dual {od:.10} (gap {gd:.1e}) primal {op:.10} (gap {gp:.1e}) oracle {:.10}", o.objective);
            assert!(rel_d <= 1e-6, "dual form: {od} vs oracle {} (rel {rel_d:e})", o.objective);
            assert!(rel_p <= 1e-6, "primal form: {op} vs oracle {} (rel {rel_p:e})", o.objective);
            // the two forms give the same network
            let (dw, scale) = ((&wd - &wp).norm_l2(), wp.norm_l2().max(1e-12));
            assert!(dw <= 1e-3 * scale, "weights differ between forms: {dw:e} of {scale:e}");
        }
    }
}

#[test]
fn wide_logistic_solves_in_the_dual_form() {
    let (x, y0) = random_problem(40, 120, 7);
    let y = Mat::<f64>::from_fn(40, 1, |i, _| if y0[(i, 0)] > 0.0 { 1.0 } else { -1.0 });
    let s = Settings { loss: Loss::Logistic, tol_gap: 1e-5, tol_residual: 1e-6, ..settings(Activation::Relu, 8, 0.02) };
    let (od, _, gd, rank) = solve(&x, &y, s.clone(), GramForm::Dual);
    let (op, _, gp, _) = solve(&x, &y, s, GramForm::Primal);
    assert_eq!(rank, Some((0, 0)));
    assert!(gd <= 1e-5 && gp <= 1e-5, "gaps {gd:e} {gp:e}");
    assert!((od - op).abs() <= 1e-4 * op, "objectives {od} vs {op}");
}

#[test]
fn woodbury_is_the_exact_inverse_of_the_u_step_operator() {
    let (n, d, p) = (20, 50, 5);
    let (x0, _) = random_problem(n, d, 3);
    let x = Mat::<f64>::from_fn(n, d + 1, |i, j| if j < d { x0[(i, j)] } else { 1.0 });
    let s = sample_patterns(x.as_ref(), p, 4, Par::Seq);
    for relu in [true, false] {
        let (k, rho, sigma2) = (2usize, 0.7, 1.9);
        let nb = if relu { 2 * s.patterns.p() } else { s.patterns.p() };
        let mut design = Design::new(x.clone(), s.patterns.clone(), 1, nb * k, 2 * p * k);
        let g = GramOp::through_x(&design);
        let mut sys = System::with_gram(&design, relu, k, g.scaled(sigma2));
        let eig = GramEigen::new(&g, relu).unwrap();
        let w = WoodburyPrecond::new(&eig, design.patterns(), relu, sigma2, rho).unwrap();
        let len = sys.layout.len();
        let mut rng = Rng(5);
        let u: Vec<f64> = (0..len).map(|_| rng.next()).collect();
        let mut au = vec![0.0; len];
        sys.apply(&mut design, rho, &u, &mut au);
        let mut back = vec![0.0; len];
        let mut scratch = ScratchBuf::new(w.scratch_req(len, k));
        w.apply(&au, &mut back, k, scratch.scratch());
        let err: f64 = u.iter().zip(&back).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        let norm: f64 = u.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!(err <= 1e-8 * norm, "relu {relu}: ‖P⁻¹Au − u‖ = {err:e} of {norm:e}");
    }
}

#[test]
fn few_tall_rows_take_the_exact_inverse_and_match_clarabel() {
    // d ≤ n but n < P·d: a gated program takes the dual form by default, and its u-steps
    // are single applications of the exact inverse
    let (n, d, p) = (60, 8, 12);
    let (x, y) = random_problem(n, d, 11);
    let s = settings(Activation::GatedRelu, p, 0.05);
    let mut solver = Solver::new(x.as_ref(), y.as_ref(), s.clone()).unwrap();
    let sol = solver.solve();
    assert_eq!(solver.precond_rank(), Some((0, 0)), "the default form of few rows is the exact inverse");
    let first: Vec<usize> = sol.history.iter().take(5).map(|h| h.cg_iterations).collect();
    assert_eq!(first, [0; 5], "u-steps are single applications of the exact inverse, no PCG");
    let m = solver.model();
    let (xr, dd) = row_major(&x, true);
    let yr: Vec<f64> = (0..n).map(|i| y[(i, 0)]).collect();
    let o = cronos_oracle::solve(&xr, n, dd, &yr, &masks(&x, &m.gates, true), 0.05, cronos_oracle::Kind::GatedRelu).unwrap();
    let rel = (sol.certificate.objective - o.objective).abs() / o.objective;
    assert!(rel <= 1e-6, "{} vs oracle {} (rel {rel:e})", sol.certificate.objective, o.objective);
    let (op, _, _, _) = solve(&x, &y, s, GramForm::Primal);
    assert!((op - o.objective).abs() <= 1e-6 * o.objective, "primal form {op} vs oracle {}", o.objective);
}

#[test]
fn few_rows_with_the_logistic_loss_keep_the_nystrom_preconditioner() {
    // its Newton polish stalled with the exact inverse of I + FᵀF/ρ (see GramForm::choose_for)
    let (n, d, p) = (60, 8, 12);
    let (x, y0) = random_problem(n, d, 12);
    let y = Mat::<f64>::from_fn(n, 1, |i, _| if y0[(i, 0)] > 0.0 { 1.0 } else { -1.0 });
    let s = Settings { loss: Loss::Logistic, max_iter: 5, ..settings(Activation::GatedRelu, p, 0.05) };
    let mut solver = Solver::new(x.as_ref(), y.as_ref(), s).unwrap();
    solver.solve();
    let rank = solver.precond_rank();
    assert!(matches!(rank, Some((r, _)) if r > 0), "logistic on few rows: a Nyström factor, not the exact inverse: {rank:?}");
}

#[test]
fn woodbury_on_tall_rows_is_exact_in_f32_too() {
    // the regime of `few_tall_rows_…`: n > d, n < P·d; the u-step is this solve
    let (n, d, p, k, rho) = (200, 20, 16, 3usize, 0.5);
    let (x0, _) = random_problem(n, d, 8);
    let x = Mat::<f32>::from_fn(n, d + 1, |i, j| if j < d { x0[(i, j)] as f32 } else { 1.0 });
    let s = sample_patterns(x.as_ref(), p, 4, Par::Seq);
    let mut design = Design::new(x.clone(), s.patterns.clone(), 1, s.patterns.p() * k, 0);
    let g = GramOp::through_x(&design);
    let mut sys = System::with_gram(&design, false, k, g.clone());
    let eig = GramEigen::new(&g, false).unwrap();
    let w = WoodburyPrecond::new(&eig, design.patterns(), false, 1.0, rho).unwrap();
    let rounding = w.exact_rounding().expect("an exact inverse");
    let len = sys.layout.len();
    let mut rng = Rng(6);
    let u: Vec<f32> = (0..len).map(|_| rng.next() as f32).collect();
    let mut au = vec![0.0f32; len];
    sys.apply(&mut design, rho as f32, &u, &mut au);
    let mut back = vec![0.0f32; len];
    let mut scratch = ScratchBuf::new(w.scratch_req(len, k));
    w.apply(&au, &mut back, k, scratch.scratch());
    // the residual of the solve, the quantity PCG's tolerance bounds
    let mut again = vec![0.0f32; len];
    sys.apply(&mut design, rho as f32, &back, &mut again);
    let res: f64 = again.iter().zip(&au).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = au.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    eprintln!("f32 exact inverse: relative residual {:e}, estimate {rounding:e}", res / norm);
    assert!(res <= rounding * norm, "the rounding estimate {rounding:e} is below the residual {:e}", res / norm);
    // f32 rounding (about 1e-4 here): the level of the f32 operator itself
    assert!(res <= 1e-3 * norm, "‖A P⁻¹b − b‖ = {res:e} of ‖b‖ = {norm:e}");
}

#[test]
fn too_little_memory_is_a_typed_error_not_a_panic() {
    let (x, y) = random_problem(30, 200, 4);
    let s = settings(Activation::Relu, 8, 0.05);
    let err = cronos::memory::with_limit(64 << 10, || Solver::new(x.as_ref(), y.as_ref(), s.clone())).err().expect("64 KiB is too little");
    match &err {
        CronosError::OutOfMemory { needed, available, .. } => assert!(*needed > *available && *available <= 64 << 10),
        e => panic!("wrong error {e}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("available") && msg.contains("--patterns") && msg.contains("--distributed"), "{msg}");
    // the d × d Gram of the primal form needs more than the dual form: a limit between them
    // fails only the forced primal form
    let limit = 8 << 20;
    assert!(cronos::memory::with_limit(limit, || Solver::new(x.as_ref(), y.as_ref(), s.clone())).is_ok());
    let (xw, yw) = random_problem(30, 1200, 4);
    let primal = with_form(GramForm::Primal, || cronos::memory::with_limit(limit * 4, || Solver::new(xw.as_ref(), yw.as_ref(), s.clone())));
    assert!(matches!(primal, Err(CronosError::OutOfMemory { .. })), "primal 1200 × 1200 Gram must not fit in 32 MiB");
    assert!(cronos::memory::with_limit(limit * 4, || Solver::new(xw.as_ref(), yw.as_ref(), s)).is_ok());
}
