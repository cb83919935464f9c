//! Pattern pricing (`cronos::price`): a round never raises the objective, every added gate
//! violated dual feasibility at the weights before its round (checked here from the raw data,
//! independently of the library's scoring), and the final certificate is sound for the final
//! pattern set (Clarabel's optimum on the same patterns lies between bound and objective).

mod common;

use common::{random_problem, row_major, targets, Rng};
use cronos::{price, Activation, Beta, Control, Loss, PricingSettings, PricingStop, Settings, Solver};
use faer::Mat;

fn settings(p: usize, beta: Beta) -> Settings {
    Settings { activation: Activation::GatedRelu, loss: Loss::Squared, n_patterns: p, beta, threads: 1, max_iter: 400, tol_gap: 1e-6, ..Settings::default() }
}

/// Three well-separated-by-curves classes in 4 features, one-hot targets.
fn three_classes(n: usize, seed: u64) -> (Mat<f64>, Mat<f64>) {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let x = Mat::<f64>::from_fn(n, 4, |_, _| r.next());
    let y = Mat::<f64>::from_fn(n, 3, |i, c| {
        let (a, b) = (x[(i, 0)], x[(i, 1)]);
        let cls = if a * a + b * b < 0.35 { 0 } else if a > b { 1 } else { 2 };
        f64::from(u8::from(cls == c))
    });
    (x, y)
}

/// ‖X̃ᵀ(m ⊙ λ_c)‖ / β_c for a pattern m, from the raw data with its bias column (X̃ is the
/// solver's X up to one positive scale, and so is β).
fn ratio(x: &Mat<f64>, lam: &Mat<f64>, beta: &[f64], m: &[bool]) -> f64 {
    let (xr, d) = row_major(x, true);
    (0..lam.ncols())
        .map(|c| {
            let g: Vec<f64> = (0..d).map(|j| (0..x.nrows()).filter(|&i| m[i]).map(|i| xr[i * d + j] * lam[(i, c)]).sum()).collect();
            g.iter().map(|v| v * v).sum::<f64>().sqrt() / beta[c]
        })
        .fold(0.0, f64::max)
}

fn dual(s: &Solver<f64>) -> Mat<f64> {
    let mut lam = Mat::zeros(s.loss().n(), s.loss().k());
    s.loss().neg_grad(s.train_predictions(), lam.as_mut());
    lam
}

#[test]
fn rounds_never_raise_the_objective_and_add_only_violating_gates() {
    let (x, y) = three_classes(240, 3);
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings(4, Beta::Fraction(0.02))).unwrap();
    s.solve();
    let ps = PricingSettings { rounds: 3, candidates: 64, add: 4, ascent_steps: 4, ..PricingSettings::default() };
    // at the end of each round: λ, β (user scaling) and the pattern count, for the next round's check
    let mut before: Option<(Mat<f64>, Vec<f64>)> = None;
    let mut checked = 0;
    let report = price(&mut s, &ps, |s, r| {
        if let Some((lam, beta)) = before.take() {
            let pat = s.patterns();
            // the added gates are the last `added` patterns of the new set
            for j in pat.p() - r.added..pat.p() {
                let m: Vec<bool> = (0..pat.n()).map(|i| pat.get(i, j)).collect();
                let v = ratio(&x, &lam, &beta, &m);
                assert!(v > 1.0, "round {}: added gate {j} has ratio {v} ≤ 1", r.round);
                checked += 1;
            }
        }
        before = Some((dual(s), s.beta()));
        Control::Continue
    })
    .unwrap();
    for r in &report.rounds {
        eprintln!("round {} added {} dropped {} patterns {} obj {:.6e} warm {:.6e} gap {:.1e} acc {:.3} max ratio {:.3} reverted {}", r.round, r.added, r.dropped, r.patterns, r.objective, r.warm_objective, r.relative_gap, r.train_metric, r.max_violation, r.reverted);
    }
    assert!(checked > 0, "no gate was added");
    for w in report.rounds.windows(2) {
        assert!(w[1].objective <= w[0].objective * (1.0 + 1e-12), "round {}: {} after {}", w[1].round, w[1].objective, w[0].objective);
        // the warm start on the new set has the previous objective (dropped groups were zero)
        if w[1].added > 0 {
            assert!((w[1].warm_objective - w[0].objective).abs() <= 1e-9 * w[0].objective, "{} vs {}", w[1].warm_objective, w[0].objective);
        }
    }
    let (first, last) = (&report.rounds[0], report.rounds.last().unwrap());
    assert!(last.objective < 0.99 * first.objective, "pricing lowered the objective by less than 1 %: {} → {}", first.objective, last.objective);
    assert!(last.added_ratios.iter().chain(report.rounds.iter().flat_map(|r| &r.added_ratios)).all(|&v| v > 1.0 + ps.tolerance));
}

#[test]
fn swap_rounds_keep_the_pattern_count_and_never_raise_the_objective() {
    let (x, y) = three_classes(240, 5);
    // a small β: every pattern non-zero, so each added gate must displace a used one
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings(6, Beta::Fraction(0.005))).unwrap();
    let first = s.solve();
    let p0 = s.n_patterns();
    let ps = PricingSettings { rounds: 4, candidates: 64, add: 2, ascent_steps: 4, swap: true, ..PricingSettings::default() };
    let columns = |s: &Solver<f64>| -> Vec<Vec<u64>> { (0..s.n_patterns()).map(|j| s.patterns().column(j).to_vec()).collect() };
    let mut last = columns(&s);
    let mut undone = 0;
    let report = price(&mut s, &ps, |s, r| {
        assert!(s.n_patterns() <= p0, "round {}: {} patterns, started with {p0}", r.round, s.n_patterns());
        // an undone round leaves the pattern set it found, in the same order
        if r.undone {
            assert!(r.reverted);
            assert_eq!(columns(s), last, "round {}: undone, but the patterns changed", r.round);
            undone += 1;
        }
        last = columns(s);
        Control::Continue
    })
    .unwrap();
    for r in &report.rounds {
        eprintln!("round {} added {} dropped {} patterns {} obj {:.6e} before {:.6e} acc {:.3} reverted {}", r.round, r.added, r.dropped, r.patterns, r.objective, r.warm_objective, r.train_metric, r.reverted);
    }
    let swapped: Vec<_> = report.rounds.iter().filter(|r| r.added > 0).collect();
    assert!(!swapped.is_empty(), "no swap: {:?}", report.stop);
    // a swap drops as many patterns as it adds (none of them were zero at this β)
    assert!(swapped.iter().all(|r| r.dropped == r.added), "{:?}", swapped.iter().map(|r| (r.added, r.dropped)).collect::<Vec<_>>());
    for w in report.rounds.windows(2) {
        assert!(w[1].objective <= w[0].objective * (1.0 + 1e-12), "round {}: {} after {}", w[1].round, w[1].objective, w[0].objective);
        if w[1].reverted {
            assert_eq!(w[1].objective.to_bits(), w[0].objective.to_bits(), "an undone round must return to the old weights");
        }
    }
    assert!(swapped.iter().any(|r| !r.reverted), "every swap was undone");
    assert!(undone > 0, "no round was undone: the undo path went untested");
    // the reported status is that of the state the solver holds: the last round not undone
    let mut sol = first.clone();
    report.update_solution(&s, &mut sol);
    let held = report.rounds.iter().rev().filter(|r| !r.undone).find_map(|r| r.status).unwrap_or(first.status);
    assert_eq!(sol.status, held);
    assert_eq!(sol.status == cronos::Status::Solved, (0.0..=1e-6).contains(&sol.certificate.relative_gap), "{:?} at gap {}", sol.status, sol.certificate.relative_gap);
    assert_eq!(s.n_patterns(), p0);
    // the solver is consistent after the rounds: its certificate is that of its own set
    let c = s.certificate().clone();
    assert!(c.lower_bound <= c.objective && c.relative_gap < 1e-3, "{c:?}");
}

#[test]
fn the_final_certificate_is_sound_for_the_final_pattern_set() {
    let (x, y0) = random_problem(80, 3, 7);
    let y = targets(&y0, Loss::Squared, 2);
    let beta = 0.05;
    let st = Settings { max_iter: 3000, tol_gap: 1e-8, tol_residual: 1e-9, certificate_every: 10, ..settings(3, Beta::Value(beta)) };
    let mut s = Solver::new(x.as_ref(), y.as_ref(), st).unwrap();
    s.solve();
    let ps = PricingSettings { rounds: 2, candidates: 48, add: 3, ascent_steps: 3, ..PricingSettings::default() };
    let report = price(&mut s, &ps, |_, _| Control::Continue).unwrap();
    assert!(report.rounds.iter().skip(1).any(|r| r.added > 0), "no gate added: {:?}", report.stop);
    let c = s.certificate().clone();
    let pat = s.patterns();
    let masks: Vec<Vec<bool>> = (0..pat.p()).map(|j| (0..pat.n()).map(|i| pat.get(i, j)).collect()).collect();
    let (xr, d) = row_major(&x, true);
    let yr: Vec<f64> = (0..x.nrows()).flat_map(|i| (0..2).map(move |c| (i, c))).map(|(i, c)| y[(i, c)]).collect();
    let o = cronos_oracle::solve_loss(&xr, x.nrows(), d, &yr, 2, None, &masks, beta, cronos_oracle::Kind::GatedRelu, cronos_oracle::Loss::Squared).unwrap();
    eprintln!("patterns {} bound {:.10} oracle {:.10} objective {:.10}", pat.p(), c.lower_bound, o.objective, c.objective);
    assert!(c.lower_bound <= o.objective * (1.0 + 1e-9), "bound {} above the optimum {}", c.lower_bound, o.objective);
    assert!(o.objective <= c.objective * (1.0 + 1e-9), "objective {} below the optimum {}", c.objective, o.objective);
    assert!(c.relative_gap < 1e-4, "gap {}", c.relative_gap);
}

#[test]
fn bad_settings_and_relu_are_refused() {
    let (x, y) = random_problem(40, 3, 2);
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings(4, Beta::Fraction(0.1))).unwrap();
    let e = price(&mut s, &PricingSettings { rounds: 1, add: 0, ..PricingSettings::default() }, |_, _| Control::Continue).unwrap_err().to_string();
    assert!(e.contains("pricing.add"), "{e}");
    let e = price(&mut s, &PricingSettings { rounds: 1, tolerance: f64::NAN, ..PricingSettings::default() }, |_, _| Control::Continue).unwrap_err().to_string();
    assert!(e.contains("pricing.tolerance"), "{e}");
    let mut r = Solver::new(x.as_ref(), y.as_ref(), Settings { activation: Activation::Relu, ..settings(4, Beta::Fraction(0.1)) }).unwrap();
    let e = price(&mut r, &PricingSettings { rounds: 1, ..PricingSettings::default() }, |_, _| Control::Continue).unwrap_err().to_string();
    assert!(e.contains("gated"), "{e}");
}

#[test]
fn capped_rounds_are_finished_by_one_more_solve() {
    let (x, y) = three_classes(200, 5);
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings(4, Beta::Fraction(0.02))).unwrap();
    s.solve();
    let ps = PricingSettings { rounds: 2, candidates: 32, add: 3, ascent_steps: 2, max_iter: 3, ..PricingSettings::default() };
    let report = price(&mut s, &ps, |_, _| Control::Continue).unwrap();
    let last = report.rounds.last().unwrap();
    assert_eq!(report.rounds.len(), 4, "round 0, two capped rounds, the finishing solve");
    assert_eq!((last.candidates, last.added), (0, 0));
    assert!(report.rounds[1..3].iter().all(|r| r.iterations <= 3));
    assert!(report.rounds.windows(2).all(|w| w[1].objective <= w[0].objective * (1.0 + 1e-12)));
    assert_eq!(s.settings().max_iter, 400, "the solver's own limit is back");
}

#[test]
fn a_stop_between_rounds_ends_pricing_there() {
    let (x, y) = three_classes(200, 5);
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings(4, Beta::Fraction(0.02))).unwrap();
    let mut sol = s.solve();
    let before = sol.certificate.objective;
    let ps = PricingSettings { rounds: 3, candidates: 32, add: 3, ascent_steps: 2, max_iter: 3, ..PricingSettings::default() };
    // stop after the first round that searched: no second round, no finishing solve
    let report = price(&mut s, &ps, |_, r| if r.round >= 1 { Control::Stop } else { Control::Continue }).unwrap();
    assert_eq!(report.stop, PricingStop::Stopped);
    assert_eq!(report.rounds.len(), 2, "round 0 and round 1 only");
    assert!(report.rounds[1].added > 0, "round 1 added no gate");
    assert_eq!(s.settings().max_iter, 400, "the solver's own limit is back");
    // the solve's outcome now describes the solver after pricing
    report.update_solution(&s, &mut sol);
    assert_eq!(sol.certificate.objective, s.certificate().objective);
    assert!(sol.certificate.objective <= before * (1.0 + 1e-12));
    assert_eq!(Some(sol.status), report.rounds[1].status);
}

/// A new pattern set whose carried weights start worse than zero (here the old weights land
/// on the wrong patterns) is solved from zero, and no bound of the old program survives: the
/// cold point used to be kept with the old program's certificate, whose bound (valid for the
/// old patterns only) then capped the new, larger program's gap at −0.66 in a pricing round.
#[test]
fn a_rejected_warm_start_on_new_patterns_keeps_no_bound_of_the_old_program() {
    let (x, y) = three_classes(150, 3);
    let beta = 0.02;
    let st = Settings { max_iter: 3000, tol_gap: 1e-8, tol_residual: 1e-9, certificate_every: 10, ..settings(4, Beta::Value(beta)) };
    let mut s = Solver::new(x.as_ref(), y.as_ref(), st).unwrap();
    let old = s.solve().certificate;
    // the old patterns rotated by one, then four more from random gates
    let d = s.gates().nrows();
    let mut r = Rng(99);
    let gates = Mat::<f64>::from_fn(d, 8, |i, j| if j < 4 { s.gates()[(i, (j + 1) % 4)] } else { r.next() - 0.5 });
    let sx = s.scaled_x();
    let xs = Mat::<f64>::from_fn(sx.nrows(), sx.ncols(), |i, j| sx.get(i, j));
    let patterns = cronos::patterns::Patterns::from_gates(xs.as_ref(), gates.as_ref(), faer::Par::Seq);
    let from: Vec<Option<usize>> = (0..8).map(|j| (j < 4).then_some(j)).collect();
    s.replace_patterns(gates, patterns.clone(), &from).unwrap();
    let zero_objective = 0.5 * (0..y.nrows()).map(|i| (0..3).map(|c| y[(i, c)] * y[(i, c)]).sum::<f64>()).sum::<f64>();
    let start = s.certificate().clone();
    assert!((start.objective - zero_objective).abs() < 1e-9 * zero_objective, "the warm start must be rejected here: {} vs zero's {}", start.objective, zero_objective);
    assert!(start.lower_bound < old.lower_bound * 0.5, "the old program's bound {} kept: {}", old.lower_bound, start.lower_bound);
    let c = s.solve().certificate;
    let masks: Vec<Vec<bool>> = (0..8).map(|j| (0..patterns.n()).map(|i| patterns.get(i, j)).collect()).collect();
    let (xr, dd) = row_major(&x, true);
    let yr: Vec<f64> = (0..x.nrows()).flat_map(|i| (0..3).map(move |c| (i, c))).map(|(i, c)| y[(i, c)]).collect();
    let o = cronos_oracle::solve_loss(&xr, x.nrows(), dd, &yr, 3, None, &masks, beta, cronos_oracle::Kind::GatedRelu, cronos_oracle::Loss::Squared).unwrap();
    eprintln!("old bound {:.8} new: bound {:.8} oracle {:.8} objective {:.8}", old.lower_bound, c.lower_bound, o.objective, c.objective);
    assert!(o.objective < old.lower_bound, "the instance must lower the optimum below the old bound");
    assert!(c.lower_bound <= o.objective * (1.0 + 1e-9), "bound {} above the optimum {}", c.lower_bound, o.objective);
    assert!(c.relative_gap >= 0.0 && c.relative_gap < 1e-4, "gap {}", c.relative_gap);
}
