//! Pattern pricing (column generation) for gated ReLU: gates chosen by the dual, not only by
//! chance.
//!
//! At the solver's weights z the certificate's dual point is λ = −∇ℓ(Fz); the program over
//! the current patterns is solved when every group satisfies ‖F_gᵀλ‖ ≤ β (per output). A gate
//! h outside the pattern set whose pattern m = 1[X h ≥ 0] has ‖Xᵀ(m ⊙ λ_c)‖ > β_c for some
//! output c violates that condition for the larger program with h added: adding it lowers
//! the optimum (its group leaves zero). A round of [`price`]:
//! 1. generates candidate gates ([`candidates::generate`]): for each output the direction
//!    Xᵀλ_c at several thresholds, bisectors of class means, perturbations of active gates,
//!    and hyperplanes through data points drawn where the residual is largest;
//! 2. scores them (their violation ratio max_c ‖Xᵀ(m ⊙ λ_c)‖/β_c) and raises the ratio of
//!    the best few by ascent on a smooth surrogate ([`candidates::ascend`]);
//! 3. adds the best `add` distinct violators (ratio > 1 + `tolerance`), drops the patterns
//!    whose groups were zero after this solve and the one before, and rebuilds the solver on
//!    the new set ([`Solver::replace_patterns`]) warm-started at the old weights (new groups
//!    zero: the same objective);
//! 4. solves again through the one driver loop; a solve that ends above the warm start's
//!    objective returns to it, so a round never raises the objective.
//!
//! With `swap`, step 3 also drops the kept patterns with the smallest weights, as many as
//! needed to keep the pattern count, and a round that ends above the objective before it
//! is undone (its gates are not offered again): gates chosen by the dual at a fixed budget
//! of neurons.
//!
//! It stops when no candidate violates, or after `rounds`. Each round's certificate is that
//! of its own pattern set (the kept lower bound restarts with it).

use crate::error::{invalid_setting, Result};
use crate::path::Metric;
use crate::real::Real;
use crate::settings::Activation;
use crate::solver::{Control, Solution, Solver, Status};
use faer::Mat;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::Instant;

pub mod candidates;

use candidates::{ascend, generate, score, Context};

/// Settings of pattern pricing.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `rounds` | 0 | pricing rounds after the first solve (0: off) |
/// | `candidates` | 256 | candidate gates scored per round |
/// | `add` | 16 | most gates added per round |
/// | `ascent_steps` | 8 | ascent steps on the best 2·`add` candidates |
/// | `tolerance` | 0.01 | a gate is added when its violation ratio exceeds 1 + `tolerance` |
/// | `swap` | false | keep the pattern count: each added gate replaces the kept pattern with the smallest weights (a round that does not lower the objective is undone) |
/// | `max_iter` | 0 | ADMM iterations per round's solve (0: the solver's `max_iter`); when the last round hit it, one more solve with the solver's own limits follows (a last record, nothing added) |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PricingSettings {
    /// Rounds after the first solve.
    pub rounds: usize,
    /// Candidates per round.
    pub candidates: usize,
    /// Gates added per round, at most.
    pub add: usize,
    /// Ascent steps.
    pub ascent_steps: usize,
    /// Violation margin.
    pub tolerance: f64,
    /// Iterations per round's solve (0: the solver's).
    pub max_iter: usize,
    /// Swap instead of grow: keep the pattern count by dropping, besides patterns that stayed
    /// zero, the kept ones with the smallest weights; a round whose solve ends above the
    /// objective before it is undone (old patterns and weights).
    pub swap: bool,
}

impl Default for PricingSettings {
    fn default() -> Self {
        PricingSettings { rounds: 0, candidates: 256, add: 16, ascent_steps: 8, tolerance: 0.01, max_iter: 0, swap: false }
    }
}

impl PricingSettings {
    /// Checks every field.
    ///
    /// # Errors
    /// `InvalidSetting` naming the field and value.
    pub fn validate(&self) -> Result<()> {
        if self.candidates == 0 {
            return Err(invalid_setting("pricing.candidates", 0, "must be >= 1"));
        }
        if self.add == 0 {
            return Err(invalid_setting("pricing.add", 0, "must be >= 1"));
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(invalid_setting("pricing.tolerance", self.tolerance, "must be a finite number >= 0"));
        }
        Ok(())
    }
}

/// One round of pricing (round 0: the solve before pricing).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PricingRound {
    /// Round number (0: before pricing).
    pub round: usize,
    /// Candidates scored.
    pub candidates: usize,
    /// Distinct candidates that violated dual feasibility.
    pub violators: usize,
    /// Gates added.
    pub added: usize,
    /// Patterns dropped (zero after two consecutive solves).
    pub dropped: usize,
    /// Patterns after the round.
    pub patterns: usize,
    /// Largest violation ratio found (≤ 1 + tolerance: none added).
    pub max_violation: f64,
    /// The violation ratios of the added gates, at the weights before the round.
    pub added_ratios: Vec<f64>,
    /// Objective after the round (user scaling).
    pub objective: f64,
    /// Certified lower bound of the round's own pattern set.
    pub lower_bound: f64,
    /// Certified relative gap.
    pub relative_gap: f64,
    /// Objective of the warm start (the previous round's weights on the new set; with `swap`,
    /// the objective before the round, which the dropped patterns no longer reach).
    pub warm_objective: f64,
    /// Whether the solve ended above the warm start and was returned to it (with `swap`:
    /// above the objective before the round, and the round was undone).
    pub reverted: bool,
    /// With `swap`: the round was undone, so the solver holds the state from before it.
    pub undone: bool,
    /// Non-zero neurons.
    pub active_neurons: usize,
    /// Training metric (accuracy, or −MSE).
    pub train_metric: f64,
    /// ADMM iterations of the round's solve.
    pub iterations: usize,
    /// Seconds of the round (pricing and solve).
    pub seconds: f64,
    /// Seconds of the search for violating gates (the rest is the rebuild and the solve).
    pub search_seconds: f64,
    /// How the round's solve ended (`None`: no solve, round 0 or nothing added).
    pub status: Option<Status>,
}

/// Why pricing ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PricingStop {
    /// No candidate violated dual feasibility by more than the tolerance.
    NoViolator,
    /// The round budget was spent.
    Rounds,
    /// The caller's `on_round` asked to stop (e.g. Ctrl-C between rounds).
    Stopped,
}

/// The outcome of [`price`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PricingReport {
    /// Round 0 (the solve before) and every pricing round.
    pub rounds: Vec<PricingRound>,
    /// Why it ended.
    pub stop: PricingStop,
}

impl PricingReport {
    /// Brings the outcome of the solve before pricing up to date with the solver after it:
    /// the certificate and feasibility of the last round's pattern set, and the status of the
    /// last round whose solve the solver still holds (a round that found no violator, or an
    /// undone swap, keeps the earlier status). `Solved` stays only with a final gap in
    /// [0, `tol_gap`] (else `MaxIterations`: stopped short): a round that went back to its
    /// warm start holds weights that no solve certified on the current pattern set. The shown
    /// iteration is the solver's too.
    pub fn update_solution<T: Real>(&self, solver: &Solver<T>, sol: &mut Solution) {
        sol.certificate = solver.certificate().clone();
        sol.feasibility = solver.feasibility();
        sol.shown_iteration = solver.shown_iteration();
        if let Some(s) = self.rounds.iter().rev().filter(|r| !r.undone).find_map(|r| r.status) {
            sol.status = s;
        }
        if sol.status == Status::Solved && !solver.gap_certifies(sol.certificate.relative_gap) {
            sol.status = Status::MaxIterations;
        }
    }
}

/// Runs pattern pricing on an already solved gated-ReLU `solver` (see the module doc).
/// `on_round` sees the solver after each round (and after round 0) with the round's record,
/// and may stop pricing there ([`Control::Stop`]; the solver keeps that round's weights).
///
/// # Errors
/// For invalid settings, a ReLU solver, or a failed rebuild.
pub fn price<T: Real>(solver: &mut Solver<T>, ps: &PricingSettings, mut on_round: impl FnMut(&mut Solver<T>, &PricingRound) -> Control) -> Result<PricingReport> {
    ps.validate()?;
    if solver.settings().activation != Activation::GatedRelu {
        return Err(invalid_setting("pricing.rounds", ps.rounds, "pattern pricing needs gated ReLU"));
    }
    let (tol, iters) = (solver.settings().tol_gap, solver.settings().max_iter);
    if ps.max_iter > 0 {
        solver.set_limits(tol, ps.max_iter);
    }
    let mut rounds = vec![record(solver, 0, 0.0, None)];
    let mut stop = PricingStop::Rounds;
    if on_round(solver, &rounds[0]) == Control::Stop {
        solver.set_limits(tol, iters);
        return Ok(PricingReport { rounds, stop: PricingStop::Stopped });
    }
    let mut zero_streak = zero_streak_update(solver, &vec![0; solver.n_patterns()]);
    // patterns of undone swaps: not offered again (the same λ would choose them again)
    let mut tabu: HashSet<Vec<u64>> = HashSet::new();
    for r in 1..=ps.rounds {
        let t0 = Instant::now();
        let found = find_violators(solver, ps, r, &tabu)?;
        let search = t0.elapsed().as_secs_f64();
        let mut rec = record(solver, r, 0.0, None);
        rec.search_seconds = search;
        rec.candidates = found.candidates;
        rec.violators = found.violators;
        rec.max_violation = found.max_ratio;
        if found.chosen.is_empty() {
            rec.patterns = solver.n_patterns();
            rec.seconds = t0.elapsed().as_secs_f64();
            // nothing follows this round: a stop asked here changes nothing
            let _ = on_round(solver, &rec);
            rounds.push(rec);
            stop = PricingStop::NoViolator;
            break;
        }
        // kept patterns, then the new gates
        let p_old = solver.n_patterns();
        let mut keep: Vec<usize> = (0..p_old).filter(|&j| zero_streak[j] < 2).collect();
        if ps.swap {
            let excess = (keep.len() + found.chosen.len()).saturating_sub(p_old);
            drop_smallest(solver, &mut keep, excess);
        }
        // find_violators certified this state
        let before = solver.certificate().objective;
        let undo = ps.swap.then(|| Undo { gates: solver.gates().to_owned(), patterns: solver.patterns().clone(), state: solver.checkpoint(), streak: zero_streak.clone() });
        let d = solver.gates().nrows();
        let (new_h, new_bits): (Vec<Vec<T>>, Vec<Vec<u64>>) = found.chosen.iter().map(|(h, s)| (h.clone(), s.bits.clone())).unzip();
        let p_new = keep.len() + new_h.len();
        let gates = Mat::<T>::from_fn(d, p_new, |i, j| if j < keep.len() { solver.gates()[(i, keep[j])] } else { new_h[j - keep.len()][i] });
        let patterns = {
            let pat = solver.patterns();
            let cols: Vec<&[u64]> = keep.iter().map(|&j| pat.column(j)).chain(new_bits.iter().map(|b| b.as_slice())).collect();
            crate::patterns::Patterns::from_columns(pat.n(), cols)
        };
        let from: Vec<Option<usize>> = keep.iter().map(|&j| Some(j)).chain(std::iter::repeat(None).take(new_h.len())).collect();
        let streak_kept: Vec<usize> = keep.iter().map(|&j| zero_streak[j]).chain(std::iter::repeat(0).take(new_h.len())).collect();
        solver.replace_patterns(gates, patterns, &from)?;
        let (sol, mut warm, mut reverted) = solve_keeping_start(solver)?;
        let mut undone = false;
        zero_streak = zero_streak_update(solver, &streak_kept);
        if let Some(undo) = undo {
            warm = before;
            // the solve (or its return to the warm start) left its certificate
            if solver.certificate().objective > before {
                zero_streak = undo.apply(solver, &keep)?;
                (reverted, undone) = (true, true);
                tabu.extend(new_bits.iter().cloned());
            }
        }
        let mut rec2 = record(solver, r, t0.elapsed().as_secs_f64(), Some(sol.iterations));
        rec2.candidates = found.candidates;
        rec2.violators = found.violators;
        rec2.max_violation = found.max_ratio;
        rec2.added = new_h.len();
        rec2.added_ratios = found.chosen.iter().map(|(_, s)| s.ratio).collect();
        rec2.dropped = p_old - keep.len();
        rec2.warm_objective = warm;
        rec2.reverted = reverted;
        rec2.undone = undone;
        rec2.status = Some(sol.status);
        rec2.search_seconds = search;
        let asked = on_round(solver, &rec2);
        rounds.push(rec2);
        if asked == Control::Stop {
            stop = PricingStop::Stopped;
            break;
        }
    }
    solver.set_limits(tol, iters);
    // rounds capped by `max_iter` only need a λ good enough to price with: the last one the
    // solver holds (an undone swap holds the one before) is finished with its own limits
    let capped = rounds.iter().rev().filter(|r| !r.undone).find_map(|r| r.status) == Some(Status::MaxIterations);
    if ps.max_iter > 0 && ps.max_iter < iters && capped && stop != PricingStop::Stopped {
        let t0 = Instant::now();
        let (sol, before, reverted) = solve_keeping_start(solver)?;
        let mut rec = record(solver, rounds.len(), t0.elapsed().as_secs_f64(), Some(sol.iterations));
        (rec.warm_objective, rec.reverted, rec.status) = (before, reverted, Some(sol.status));
        let _ = on_round(solver, &rec);
        rounds.push(rec);
    }
    Ok(PricingReport { rounds, stop })
}

/// The record of the solver's current state.
fn record<T: Real>(solver: &mut Solver<T>, round: usize, seconds: f64, iterations: Option<usize>) -> PricingRound {
    let c = solver.certify().clone();
    let metric = Metric::for_problem(solver.settings().loss, solver.loss().y());
    PricingRound {
        round,
        candidates: 0,
        violators: 0,
        added: 0,
        dropped: 0,
        patterns: solver.n_patterns(),
        max_violation: 0.0,
        added_ratios: Vec::new(),
        objective: c.objective,
        lower_bound: c.lower_bound,
        relative_gap: c.relative_gap,
        warm_objective: c.objective,
        reverted: false,
        undone: false,
        active_neurons: solver.model().active_neurons(),
        train_metric: metric.eval(solver.train_predictions(), solver.loss().y()),
        iterations: iterations.unwrap_or(0),
        seconds,
        search_seconds: 0.0,
        status: None,
    }
}

/// Whether each pattern's group is zero for every output at the current weights.
fn zero_groups<T: Real>(solver: &Solver<T>) -> Vec<bool> {
    let m = solver.model();
    let (lay, zero) = (m.layout(), T::from_f64(0.0));
    let zero_block = |c, side, j| m.weights.col(lay.block(c, side, j)).iter().all(|&v| v == zero);
    (0..lay.p()).map(|j| (0..lay.outputs()).all(|c| (0..lay.sides()).all(|side| zero_block(c, side, j)))).collect()
}

/// What undoes a swap round: the pattern set and solver state before it.
struct Undo<T: Real> {
    gates: Mat<T>,
    patterns: crate::patterns::Patterns,
    state: crate::solver::SolverState<T>,
    streak: Vec<usize>,
}

impl<T: Real> Undo<T> {
    /// Restores the old pattern set (the round kept the old patterns `keep`, in order, then
    /// added new ones) and the old state; returns the old zero streaks.
    fn apply(self, solver: &mut Solver<T>, keep: &[usize]) -> Result<Vec<usize>> {
        let back: Vec<Option<usize>> = (0..self.gates.ncols()).map(|j| keep.iter().position(|&k| k == j)).collect();
        solver.replace_patterns(self.gates, self.patterns, &back)?;
        // the state carries its certificate (`record` certifies again for the report)
        solver.restore(self.state)?;
        Ok(self.streak)
    }
}

/// Removes from `keep` (pattern indices, ascending) the `count` patterns whose weights, over
/// all outputs, have the smallest norm.
fn drop_smallest<T: Real>(solver: &Solver<T>, keep: &mut Vec<usize>, count: usize) {
    if count == 0 {
        return;
    }
    let m = solver.model();
    let lay = m.layout();
    let norm = |j: usize| -> f64 {
        let blocks = (0..lay.outputs()).flat_map(|c| (0..lay.sides()).map(move |side| lay.block(c, side, j)));
        blocks.map(|b| m.weights.col(b).iter().map(|v| v.to_f64().powi(2)).sum::<f64>()).sum()
    };
    let mut by_norm: Vec<(f64, usize)> = keep.iter().map(|&j| (norm(j), j)).collect();
    by_norm.sort_by(|a, b| a.0.total_cmp(&b.0));
    let gone: HashSet<usize> = by_norm.iter().take(count).map(|&(_, j)| j).collect();
    keep.retain(|j| !gone.contains(j));
}

/// Consecutive solves after which each pattern's group was zero.
fn zero_streak_update<T: Real>(solver: &Solver<T>, before: &[usize]) -> Vec<usize> {
    zero_groups(solver).into_iter().zip(before).map(|(z, &s)| if z { s + 1 } else { 0 }).collect()
}

/// The candidates of one round and the chosen violators (gate, score), best first.
struct Found<T> {
    candidates: usize,
    violators: usize,
    max_ratio: f64,
    chosen: Vec<(Vec<T>, candidates::Scored)>,
}

/// Generates, scores and ascends the candidates of round `round`; returns the best `ps.add`
/// distinct violators not already in the pattern set nor in `exclude`.
fn find_violators<T: Real>(solver: &mut Solver<T>, ps: &PricingSettings, round: usize, exclude: &HashSet<Vec<u64>>) -> Result<Found<T>> {
    solver.certify();
    let (n, k) = (solver.loss().n(), solver.loss().k());
    let mut lam = Mat::<T>::zeros(n, k);
    solver.loss().neg_grad(solver.train_predictions(), lam.as_mut());
    let active: Vec<bool> = zero_groups(solver).into_iter().map(|z| !z).collect();
    let ctx = Context {
        x: solver.scaled_x(),
        lam: lam.as_ref(),
        beta: solver.beta_internal(),
        y: solver.loss().y(),
        bias: solver.settings().bias,
        gates: solver.gates(),
        active: &active,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(solver.settings().seed ^ 0x9c1_7e5 ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let h = generate(&ctx, ps.candidates, &mut rng);
    let mut scored = score(&ctx, h.as_ref());
    // ascent on the best 2·add
    let mut order: Vec<usize> = (0..scored.len()).collect();
    order.sort_by(|&a, &b| scored[b].ratio.total_cmp(&scored[a].ratio));
    let top: Vec<usize> = order.iter().copied().take(2 * ps.add).collect();
    let h_top = Mat::<T>::from_fn(h.nrows(), top.len(), |i, j| h[(i, top[j])]);
    let (h_up, s_up) = ascend(&ctx, h_top, top.iter().map(|&j| scored[j].clone()).collect(), ps.ascent_steps);
    let mut pool: Vec<(Vec<T>, candidates::Scored)> = (0..h.ncols()).map(|j| (h.col(j).iter().copied().collect(), std::mem::replace(&mut scored[j], empty()))).collect();
    pool.extend((0..h_up.ncols()).map(|j| (h_up.col(j).iter().copied().collect(), s_up[j].clone())));
    pool.sort_by(|a, b| b.1.ratio.total_cmp(&a.1.ratio));
    let pat = solver.patterns();
    let mut seen: HashSet<Vec<u64>> = (0..pat.p()).map(|j| pat.column(j).to_vec()).chain(exclude.iter().cloned()).collect();
    let max_ratio = pool.first().map_or(0.0, |p| p.1.ratio);
    let mut violators = 0;
    let mut chosen = Vec::new();
    for (g, s) in pool {
        if !(s.ratio > 1.0 + ps.tolerance) || s.active == 0 || !seen.insert(s.bits.clone()) {
            continue;
        }
        violators += 1;
        if chosen.len() < ps.add {
            chosen.push((g, s));
        }
    }
    Ok(Found { candidates: h.ncols() + h_up.ncols(), violators, max_ratio, chosen })
}

fn empty() -> candidates::Scored {
    candidates::Scored { ratio: 0.0, bits: Vec::new(), active: 0 }
}

/// Solves from the current point and goes back to it when the solve ends higher, so that a
/// round never raises the objective: (the solve, the objective it started from, whether it
/// went back).
fn solve_keeping_start<T: Real>(solver: &mut Solver<T>) -> Result<(crate::Solution, f64, bool)> {
    let start = solver.certify().objective;
    let cp = solver.checkpoint();
    let sol = solver.solve();
    let reverted = sol.certificate.objective > start;
    if reverted {
        solver.restore(cp)?;
        solver.certify();
    }
    Ok((sol, start, reverted))
}
