//! The driver's seams: observers that stop the loop, the state as a checkpoint, and the
//! soundness of `Solved` claims.
mod common;
use common::random_problem;
use cronos::{Activation, Beta, Control, IterInfo, Loss, Observer, Settings, Solver, Status};

fn settings(activation: Activation, max_iter: usize) -> Settings {
    Settings { activation, n_patterns: 8, beta: Beta::Fraction(0.05), max_iter, threads: 1, ..Settings::default() }
}

#[test]
fn an_observer_stops_at_iteration_k_with_its_reason() {
    let (x, y) = random_problem(120, 4, 1);
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings(Activation::GatedRelu, 500)).unwrap();
    let mut seen = Vec::new();
    let mut finished = None;
    struct StopAt<'a>(usize, &'a mut Vec<usize>, &'a mut Option<Status>);
    impl Observer<f64> for StopAt<'_> {
        fn observe(&mut self, _: &mut Solver<f64>, info: &IterInfo) -> Control {
            self.1.push(info.iteration);
            if info.iteration == self.0 { Control::Finish(Status::EarlyStopped) } else { Control::Continue }
        }
        fn finish(&mut self, _: &mut Solver<f64>, status: Status) {
            *self.2 = Some(status);
        }
    }
    let mut tol = s.settings().clone();
    tol.tol_gap = 1e-12; // not solved before iteration 7
    let mut s2 = Solver::new(x.as_ref(), y.as_ref(), tol).unwrap();
    std::mem::swap(&mut s, &mut s2);
    let sol = s.run(&mut [&mut StopAt(7, &mut seen, &mut finished)]);
    assert_eq!(sol.status, Status::EarlyStopped);
    assert_eq!(sol.iterations, 7);
    assert_eq!(seen, (1..=7).collect::<Vec<_>>());
    assert_eq!(finished, Some(Status::EarlyStopped));
    assert_eq!(Status::EarlyStopped.to_string(), "early_stopped");
}

#[test]
fn checkpoint_then_restore_continues_bit_identically() {
    let (x, y) = random_problem(150, 5, 2);
    for act in [Activation::GatedRelu, Activation::Relu] {
        let mut set = settings(act, 60);
        set.tol_gap = 1e-14;
        let mut full = Solver::new(x.as_ref(), y.as_ref(), set.clone()).unwrap();
        let mut part = Solver::new(x.as_ref(), y.as_ref(), Settings { max_iter: 25, ..set.clone() }).unwrap();
        part.solve();
        let state = part.checkpoint();
        let mut resumed = Solver::new(x.as_ref(), y.as_ref(), set).unwrap();
        resumed.restore(state).unwrap();
        let a = full.solve();
        let b = resumed.solve();
        assert_eq!(a.iterations, b.iterations, "{act:?}");
        assert_eq!(a.certificate.objective.to_bits(), b.certificate.objective.to_bits(), "{act:?}");
        let (ma, mb) = (full.model(), resumed.model());
        assert_eq!(ma.weights, mb.weights, "{act:?}");
    }
}

#[test]
fn restore_refuses_another_beta_or_shard_layout() {
    let (x, y) = random_problem(150, 5, 3);
    let set = settings(Activation::GatedRelu, 10);
    let mut a = Solver::new(x.as_ref(), y.as_ref(), set.clone()).unwrap();
    a.solve();
    let state = a.checkpoint();
    let mut other_beta = Solver::new(x.as_ref(), y.as_ref(), Settings { beta: Beta::Fraction(0.1), ..set.clone() }).unwrap();
    let e = other_beta.restore(state.clone()).unwrap_err().to_string();
    assert!(e.contains("β"), "{e}");
    let mut other_layout = Solver::new(x.as_ref(), y.as_ref(), Settings { threads: 2, ..set }).unwrap();
    let e = other_layout.restore(state).unwrap_err().to_string();
    assert!(e.contains("shard") || e.contains("shapes"), "{e}");
}

#[test]
fn relu_runs_stopped_early_are_never_solved_with_infeasible_weights() {
    let (x, y) = random_problem(200, 6, 4);
    for k in [3, 10, 30] {
        let mut set = settings(Activation::Relu, k);
        set.tol_gap = 0.5; // a loose gap makes an unsound claim easy if feasibility were not checked
        set.tol_residual = 1e-6;
        let mut s = Solver::new(x.as_ref(), y.as_ref(), set).unwrap();
        let sol = s.solve();
        if sol.status == Status::Solved {
            assert!(sol.feasibility.constraint_violation <= 1e-6, "k={k}: {:?}", sol.feasibility);
            assert!(sol.certificate.relative_gap >= 0.0, "k={k}: {}", sol.certificate.relative_gap);
        }
    }
}

#[test]
fn a_solver_that_owns_x_solves_bit_identically_to_one_that_copies_it() {
    for activation in [Activation::GatedRelu, Activation::Relu] {
        for bias in [true, false] {
            let (x, y) = random_problem(60, 4, 31);
            let st = Settings { bias, ..settings(activation, 15) };
            let mut copied = Solver::new_weighted(x.as_ref(), y.as_ref(), None, st.clone()).unwrap();
            let mut owned = Solver::new_owned_weighted(cronos::OwnedData::Dense(x.clone()), y.as_ref(), None, st).unwrap();
            let (a, b) = (copied.solve(), owned.solve());
            assert_eq!((a.iterations, a.status), (b.iterations, b.status));
            assert_eq!(copied.certify().objective.to_bits(), owned.certify().objective.to_bits(), "{activation:?} bias {bias}");
            assert_eq!(copied.model().predict(x.as_ref()).unwrap(), owned.model().predict(x.as_ref()).unwrap());
        }
    }
}

/// A gated solve stopped short of `tol_gap` shows its certified iterate with the lowest
/// objective, not a worse last one, and goes on from ADMM's own point when resumed. Here
/// split ADMM (softmax, small β) raises its objective 2.8× over the last certificates
/// before the iteration limit (the 10-class softmax refit ended 37% above its best).
#[test]
fn a_stopped_gated_solve_shows_its_best_certified_iterate_and_resumes_from_admm() {
    let (x, y0) = random_problem(200, 6, 0);
    let y = common::targets(&y0, Loss::Softmax, 3);
    let set = Settings {
        loss: Loss::Softmax,
        beta: Beta::Fraction(1e-3),
        tol_gap: 1e-12,
        certificate_every: 1,
        ..settings(Activation::GatedRelu, 100)
    };
    let mut s = Solver::new(x.as_ref(), y.as_ref(), set.clone()).unwrap();
    let sol = s.solve();
    assert_eq!(sol.status, Status::MaxIterations);
    let certified: Vec<&IterInfo> = sol.history.iter().filter(|h| h.certified).collect();
    let best = certified.iter().min_by(|a, b| a.objective.total_cmp(&b.objective)).unwrap();
    let last = sol.history.last().unwrap();
    assert!(last.objective > 1.5 * best.objective, "the instance must end above its best: {} vs {}", last.objective, best.objective);
    assert_eq!(s.shown_iteration(), Some(best.iteration));
    let rel = (sol.certificate.objective - best.objective).abs() / best.objective;
    assert!(rel < 1e-9, "shown objective {} vs best certified {}", sol.certificate.objective, best.objective);
    assert!(sol.certificate.relative_gap >= 0.0 && sol.certificate.relative_gap < 1.0);
    // the model is the shown point's: its objective, recomputed from its predictions, is the best
    assert!((s.certify().objective - best.objective).abs() / best.objective < 1e-9);
    // a checkpoint restores what was shown; a solve at its limit ends without a step and
    // still shows it (ADMM's point stays the one put aside)
    let mut r = Solver::new(x.as_ref(), y.as_ref(), set.clone()).unwrap();
    r.restore(s.checkpoint()).unwrap();
    for _ in 0..2 {
        assert_eq!(r.shown_iteration(), Some(best.iteration));
        assert_eq!(r.certificate().objective.to_bits(), sol.certificate.objective.to_bits());
        assert_eq!(r.solve().status, Status::MaxIterations);
    }
    // resumed, the solve continues from ADMM's point as if it had never stopped
    let mut once = Solver::new(x.as_ref(), y.as_ref(), Settings { max_iter: 140, ..set.clone() }).unwrap();
    let whole = once.solve();
    let objectives = |h: &[IterInfo]| h.iter().map(|i| i.objective.to_bits()).collect::<Vec<_>>();
    for solver in [&mut s, &mut r] {
        solver.set_limits(set.tol_gap, 140);
        let resumed = solver.solve();
        assert_eq!(objectives(&resumed.history[100..]), objectives(&whole.history[100..]));
        assert_eq!(resumed.certificate.objective.to_bits(), whole.certificate.objective.to_bits());
    }
    // an early stop by an observer keeps the iterate the observer stopped at
    let mut e = Solver::new(x.as_ref(), y.as_ref(), Settings { max_iter: 140, ..s.settings().clone() }).unwrap();
    let stop = |_: &mut Solver<f64>, h: &IterInfo| if h.iteration == 100 { Control::Finish(Status::EarlyStopped) } else { Control::Continue };
    let early = e.run(&mut [&mut { stop }]);
    assert_eq!((early.status, e.shown_iteration()), (Status::EarlyStopped, None));
}
