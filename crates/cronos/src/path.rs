//! The regularization path and automatic choice of β.
//!
//! β_max is the smallest β at which every neuron is zero: 0 is optimal iff the gradient
//! condition ‖F_gᵀ∇ℓ(0)‖ ≤ β holds for every group, so β_max = max_g ‖F_gᵀ∇ℓ(0)‖ exactly
//! for gated ReLU (for ReLU this is the same bound with the cone multipliers set to zero, so
//! every neuron is zero there too). The path solves a geometric grid of fractions of β_max
//! from 1 downward, each solve warm-started from the previous one on the same operator and
//! preconditioner (neither depends on β), to a looser gap than a final fit: it only has to
//! rank the β values. [`fit_auto`] holds out a stratified validation split, runs the path on
//! the rest, picks the β with the best validation metric and refits on all rows.

use crate::error::{invalid_setting, Result};
use crate::loss::Loss;
use crate::model::Model;
use crate::real::Real;
use crate::settings::{Beta, Settings};
use crate::solver::{Solution, Solver, Status};
use faer::{Mat, MatRef};
use serde::{Deserialize, Serialize};
use std::time::Instant;

mod point;

/// Settings of the path and of the automatic choice of β.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `n_betas` | 12 | grid points, β_max·1 down to β_max·`min_fraction` (geometric) |
/// | `min_fraction` | 1e-5 | smallest fraction of β_max |
/// | `tol_gap` | 1e-2 | certified relative gap per path point (a final refit uses the solver's own `tol_gap`) |
/// | `max_iter` | 40 | ADMM iterations per path point (the validation metric settles long before the gap) |
/// | `validation_fraction` | 0.1 | rows held out by [`fit_auto`] (stratified by class for classification) |
/// | `patience` | 2 | stop after this many points without a better validation metric ([`select_beta`] also stops at a fall of more than one standard error) |
/// | `start_rows` | 30 | [`select_beta`] starts at the grid point just above `start_rows`/n·β_max (n training rows: the best fraction falls like 1/n, 2.5–20/n on Fashion-MNIST tasks, so the walk mostly goes down) and walks down, or up when nothing below beats the start (0: start at β_max) |
/// | `zero_iter` | 5 | a point below β_max still all-zero after this many iterations is abandoned |
/// | `stable_checks` | 2 | [`select_beta`]: a point stops once its validation metric has moved by at most `stable_se` standard errors between this many consecutive certificates (0: off) |
/// | `stable_se` | 1.0 | the tolerance of `stable_checks`, in standard errors of the validation metric |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathSettings {
    /// Number of grid points.
    pub n_betas: usize,
    /// Smallest fraction of β_max.
    pub min_fraction: f64,
    /// Gap tolerance per point.
    pub tol_gap: f64,
    /// Iterations per point.
    pub max_iter: usize,
    /// Held-out fraction for [`fit_auto`].
    pub validation_fraction: f64,
    /// Early stop of the path on the validation metric.
    pub patience: usize,
    /// Start of [`select_beta`]'s walk: the grid point just above `start_rows`/n (0: β_max).
    pub start_rows: f64,
    /// Iterations after which a point still at zero is abandoned.
    pub zero_iter: usize,
    /// Consecutive stable validation checks that end a point (0: off).
    pub stable_checks: usize,
    /// Tolerance of a stable check, in standard errors of the validation metric.
    pub stable_se: f64,
}

impl Default for PathSettings {
    fn default() -> Self {
        PathSettings {
            n_betas: 12,
            min_fraction: 1e-5,
            tol_gap: 1e-2,
            max_iter: 40,
            validation_fraction: 0.1,
            patience: 2,
            start_rows: 30.0,
            zero_iter: 5,
            stable_checks: 2,
            stable_se: 1.0,
        }
    }
}

impl PathSettings {
    /// Checks every field.
    ///
    /// # Errors
    /// `InvalidSetting` naming the field and value.
    pub fn validate(&self) -> Result<()> {
        if self.n_betas < 1 {
            return Err(invalid_setting("n_betas", self.n_betas, "need at least one grid point"));
        }
        if !(self.min_fraction > 0.0 && self.min_fraction <= 1.0) {
            return Err(invalid_setting("min_fraction", self.min_fraction, "must lie in (0, 1]"));
        }
        if !(self.tol_gap > 0.0) {
            return Err(invalid_setting("tol_gap", self.tol_gap, "must be > 0"));
        }
        if self.max_iter == 0 {
            return Err(invalid_setting("max_iter", 0, "must be >= 1"));
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return Err(invalid_setting("validation_fraction", self.validation_fraction, "must lie in (0, 1)"));
        }
        if !(self.start_rows >= 0.0 && self.start_rows.is_finite()) {
            return Err(invalid_setting("start_rows", self.start_rows, "must be a finite number >= 0"));
        }
        if self.zero_iter == 0 {
            return Err(invalid_setting("zero_iter", 0, "must be >= 1"));
        }
        if !(self.stable_se >= 0.0 && self.stable_se.is_finite()) {
            return Err(invalid_setting("stable_se", self.stable_se, "must be a finite number >= 0"));
        }
        Ok(())
    }

    /// The grid of fractions of β_max, from 1 down to `min_fraction`.
    pub fn fractions(&self) -> Vec<f64> {
        let n = self.n_betas;
        if n == 1 {
            return vec![self.min_fraction];
        }
        (0..n).map(|i| self.min_fraction.powf(i as f64 / (n - 1) as f64)).collect()
    }
}

/// One solved point of the path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PathPoint {
    /// β / β_max.
    pub fraction: f64,
    /// β of the first output (user scaling).
    pub beta: f64,
    /// Objective of the returned weights.
    pub objective: f64,
    /// Certified relative gap.
    pub relative_gap: f64,
    /// Non-zero neurons.
    pub active_neurons: usize,
    /// ADMM iterations spent on this point.
    pub iterations: usize,
    /// Seconds spent on this point.
    pub seconds: f64,
    /// How the point's solve ended.
    pub status: Status,
    /// Metric on the training rows (accuracy, or −MSE for regression).
    pub train_metric: f64,
    /// Metric on the validation rows, if any.
    pub validation_metric: Option<f64>,
}

/// What the metric of a problem is: accuracy for classification (softmax/logistic, or squared
/// loss with ±1 targets), −MSE for regression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    /// Fraction of correct labels (argmax over outputs, or the sign for one output).
    Accuracy,
    /// Minus the mean squared error (so larger is better).
    NegMse,
}

impl Metric {
    /// The natural metric for `loss` and targets `y`.
    pub fn for_problem<T: Real>(loss: Loss, y: MatRef<'_, T>) -> Metric {
        let pm1 = (0..y.ncols()).all(|c| (0..y.nrows()).all(|i| y[(i, c)].to_f64().abs() == 1.0));
        if loss != Loss::Squared || pm1 {
            Metric::Accuracy
        } else {
            Metric::NegMse
        }
    }
    /// The metric of scores `s` against targets `y` (both n × k).
    pub fn eval<T: Real>(self, s: MatRef<'_, T>, y: MatRef<'_, T>) -> f64 {
        self.eval_weighted(s, y, None)
    }

    /// The metric with row weights `w` (the training loss's sample or class weights), so that
    /// a weighted fit is validated on what it was asked to fit.
    pub fn eval_weighted<T: Real>(self, s: MatRef<'_, T>, y: MatRef<'_, T>, w: Option<&[f64]>) -> f64 {
        let (n, k) = (y.nrows(), y.ncols());
        let weight = |i: usize| w.map_or(1.0, |w| w[i]);
        let total: f64 = (0..n).map(weight).sum();
        if n == 0 || !(total > 0.0) {
            return f64::NAN;
        }
        let per_row = |i: usize| match self {
            Metric::Accuracy => f64::from(u8::from(class_of(s, i) == class_of(y, i))),
            Metric::NegMse => -(0..k).map(|c| (s[(i, c)].to_f64() - y[(i, c)].to_f64()).powi(2)).sum::<f64>() / k as f64,
        };
        (0..n).map(|i| weight(i) * per_row(i)).sum::<f64>() / total
    }
}

/// The class of row `i`: the sign for one output, the argmax for several.
fn class_of<T: Real>(m: MatRef<'_, T>, i: usize) -> usize {
    if m.ncols() == 1 {
        return (m[(i, 0)].to_f64() > 0.0) as usize;
    }
    (0..m.ncols()).max_by(|&a, &b| m[(i, a)].to_f64().total_cmp(&m[(i, b)].to_f64())).unwrap_or(0)
}

/// Solves the path on `solver`'s data: for each fraction of the grid, [`Solver::set_beta`]
/// and a warm-started solve to `ps.tol_gap`. `validate` scores each point's model on
/// held-out data (return `None` when there is none); the path stops early after
/// `ps.patience` points without improvement. `on_point` sees each point and its model.
pub fn solve_path<T: Real>(
    solver: &mut Solver<T>,
    ps: &PathSettings,
    validate: impl FnMut(&Model<T>) -> Option<f64>,
    on_point: impl FnMut(&PathPoint, &Model<T>),
) -> Result<Vec<PathPoint>> {
    solve_path_counted(solver, ps, None, validate, on_point)
}

/// [`solve_path`] that knows the number of validation rows: a validation accuracy more than
/// one standard error (√(p(1 − p)/n) at the best p) below the best ends the path at once.
/// Small β are the expensive points (10 classes, 60,000 rows: 2.85e-5·β_max took 621 s, 40
/// % of the path) and past the best they only confirm the fall.
fn solve_path_counted<T: Real>(
    solver: &mut Solver<T>,
    ps: &PathSettings,
    n_validation: Option<usize>,
    mut validate: impl FnMut(&Model<T>) -> Option<f64>,
    mut on_point: impl FnMut(&PathPoint, &Model<T>),
) -> Result<Vec<PathPoint>> {
    ps.validate()?;
    let (tol, iters) = (solver.settings().tol_gap, solver.settings().max_iter);
    solver.set_limits(ps.tol_gap, ps.max_iter);
    let metric = Metric::for_problem(solver.settings().loss, solver.loss().y());
    let grid = ps.fractions();
    let start = if n_validation.is_some() { point::start_index(&grid, ps.start_rows, solver.loss().n()) } else { 0 };
    let mut walk = point::Walk::new(metric, n_validation, ps.patience);
    let mut points: Vec<PathPoint> = Vec::new();
    let mut at_start = None;
    let mut visit = |solver: &mut Solver<T>, f: f64, walk: &mut point::Walk, points: &mut Vec<PathPoint>| -> Result<(bool, bool)> {
        let (p, model) = point::solve_at(solver, ps, f, metric, n_validation, &mut validate)?;
        on_point(&p, &model);
        let zero = p.active_neurons == 0;
        let go_on = walk.push(&p);
        points.push(p);
        Ok((go_on, zero))
    };
    // downward from the start: sparse to dense, each point warm-starts the next
    for (i, &f) in grid.iter().enumerate().skip(start) {
        let (go_on, _) = visit(solver, f, &mut walk, &mut points)?;
        if i == start && start > 0 {
            at_start = Some(solver.checkpoint());
        }
        if !go_on {
            break;
        }
    }
    // upward from the start's solution when no smaller β beat it: the best lies above
    if let Some(cp) = at_start.filter(|_| walk.best_fraction() == Some(grid[start])) {
        solver.set_beta(Beta::Fraction(grid[start]))?;
        solver.restore(cp)?;
        walk.restart();
        for &f in grid[..start].iter().rev() {
            let (go_on, zero) = visit(solver, f, &mut walk, &mut points)?;
            // above an all-zero point every model is zero too (as far as the path's budget goes)
            if !go_on || zero {
                break;
            }
        }
    }
    solver.set_limits(tol, iters);
    Ok(points)
}

/// The outcome of [`fit_auto`].
pub struct AutoFit<T: Real> {
    /// The solver refitted on all rows at the chosen β (its [`Solver::model`] is the result).
    pub solver: Solver<T>,
    /// The refit's solution.
    pub solution: Solution,
    /// The path on the training part, with validation metrics.
    pub path: Vec<PathPoint>,
    /// The chosen fraction of β_max.
    pub fraction: f64,
    /// Seconds of the path (setup included) and of the refit (setup included).
    pub path_seconds: f64,
    /// Seconds of the refit.
    pub refit_seconds: f64,
}

/// Rows held out for validation: a seeded shuffle within each class (or of all rows for
/// regression), taking `fraction` of each. Returns (train rows, validation rows), sorted.
pub fn stratified_split<T: Real>(y: MatRef<'_, T>, metric: Metric, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let n = y.nrows();
    let classes = if metric == Metric::Accuracy { (0..n).map(|i| class_of(y, i)).max().unwrap_or(0) + 1 } else { 1 };
    let mut by_class = vec![Vec::new(); classes];
    for i in 0..n {
        by_class[if classes > 1 { class_of(y, i) } else { 0 }].push(i);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed_0f_5b117);
    let (mut tr, mut va) = (Vec::new(), Vec::new());
    for mut rows in by_class {
        rows.shuffle(&mut rng);
        let m = ((rows.len() as f64 * fraction).round() as usize).min(rows.len().saturating_sub(1));
        va.extend_from_slice(&rows[..m]);
        tr.extend_from_slice(&rows[m..]);
    }
    tr.sort_unstable();
    va.sort_unstable();
    (tr, va)
}

fn take_rows<T: Real>(m: MatRef<'_, T>, rows: &[usize]) -> Mat<T> {
    Mat::from_fn(rows.len(), m.ncols(), |i, j| m[(rows[i], j)])
}

/// The β chosen on a validation split by [`select_beta`].
pub struct BetaChoice<T: Real> {
    /// The chosen fraction of β_max.
    pub fraction: f64,
    /// The path on the training part, with validation metrics.
    pub path: Vec<PathPoint>,
    /// The path's model at the chosen β (a warm start for the refit).
    pub model: Model<T>,
    /// Seconds of the whole selection (split, setup, path).
    pub seconds: f64,
}

/// Holds out `ps.validation_fraction` of the rows (stratified), runs the path on the rest and
/// returns the fraction of β_max with the best validation metric (ties: the lower validation loss).
///
/// # Errors
/// As [`Solver::new_weighted`], and for invalid path settings or too few rows to hold out.
pub fn select_beta<'a, T: Real>(
    x: impl Into<crate::data::DataRef<'a, T>>,
    y: MatRef<'_, T>,
    weights: Option<&[f64]>,
    settings: &Settings,
    ps: &PathSettings,
    mut on_point: impl FnMut(&PathPoint),
) -> Result<BetaChoice<T>> {
    ps.validate()?;
    let (x, t0) = (x.into(), Instant::now());
    let metric = Metric::for_problem(settings.loss, y);
    let (tr, va) = stratified_split(y, metric, ps.validation_fraction, settings.seed);
    if va.is_empty() || tr.is_empty() {
        return Err(invalid_setting("validation_fraction", ps.validation_fraction, format!("leaves no rows to hold out from {}", y.nrows())));
    }
    let (xt, yt, xv, yv) = (x.select_rows(&tr), take_rows(y, &tr), x.select_rows(&va), take_rows(y, &va));
    let wt: Option<Vec<f64>> = weights.map(|w| tr.iter().map(|&i| w[i]).collect());
    let wv: Option<Vec<f64>> = weights.map(|w| va.iter().map(|&i| w[i]).collect());
    let mut solver = Solver::new_data(xt.as_data(), yt.as_ref(), wt.as_deref(), settings.clone())?;
    // (validation metric, validation loss) of each point: ties in the metric go to the lower
    // loss, never to the larger β (tied accuracies once chose an all-zero 0.35·β_max model)
    let mut best: Option<((f64, f64), f64, Model<T>)> = None;
    let last_loss = std::cell::Cell::new(f64::INFINITY);
    let loss_kind = settings.loss;
    let path = solve_path_counted(
        &mut solver,
        ps,
        Some(va.len()),
        |m| {
            let s = m.predict_data(xv.as_data()).ok()?;
            last_loss.set(validation_loss(loss_kind, s.as_ref(), yv.as_ref(), wv.as_deref()));
            Some(metric.eval_weighted(s.as_ref(), yv.as_ref(), wv.as_deref()))
        },
        |p, m| {
            let key = (p.validation_metric.unwrap_or(f64::NEG_INFINITY), -last_loss.get());
            if best.as_ref().map_or(true, |b| key.0 > b.0 .0 || (key.0 == b.0 .0 && key.1 > b.0 .1)) {
                best = Some((key, p.fraction, m.clone()));
            }
            on_point(p);
        },
    )?;
    let (_, fraction, model) = best.expect("the path has at least one point");
    Ok(BetaChoice { fraction, path, model, seconds: t0.elapsed().as_secs_f64() })
}

/// Mean loss of scores `s` on targets `y` (squared: MSE; logistic: log(1 + e^(−ys)); softmax:
/// cross-entropy of one-hot targets), weighted by the rows' weights like the training
/// objective: the tie-break between equally accurate β.
fn validation_loss<T: Real>(loss: Loss, s: MatRef<'_, T>, y: MatRef<'_, T>, w: Option<&[f64]>) -> f64 {
    let (n, k) = (y.nrows(), y.ncols());
    let weight = |i: usize| w.map_or(1.0, |w| w[i]);
    let total_weight: f64 = (0..n).map(weight).sum();
    if !(total_weight > 0.0) {
        return f64::INFINITY;
    }
    let at = |m: MatRef<'_, T>, i: usize, c: usize| m[(i, c)].to_f64();
    let total: f64 = (0..n)
        .map(|i| weight(i) * match loss {
            Loss::Logistic => (0..k).map(|c| softplus(-at(y, i, c) * at(s, i, c))).sum::<f64>(),
            Loss::Softmax => {
                let mx = (0..k).map(|c| at(s, i, c)).fold(f64::NEG_INFINITY, f64::max);
                let lse = mx + (0..k).map(|c| (at(s, i, c) - mx).exp()).sum::<f64>().ln();
                (0..k).map(|c| at(y, i, c) * (lse - at(s, i, c))).sum::<f64>()
            }
            _ => (0..k).map(|c| (at(s, i, c) - at(y, i, c)).powi(2)).sum::<f64>(),
        })
        .sum();
    total / total_weight
}

/// log(1 + eˣ) without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
}

/// `beta = auto`: [`select_beta`], then a refit on all rows at the chosen fraction of β_max
/// with `settings`' tolerances, warm-started from the chosen path model.
///
/// # Errors
/// As [`select_beta`].
pub fn fit_auto<'a, T: Real>(
    x: impl Into<crate::data::DataRef<'a, T>>,
    y: MatRef<'_, T>,
    weights: Option<&[f64]>,
    settings: Settings,
    ps: &PathSettings,
    on_point: impl FnMut(&PathPoint),
) -> Result<AutoFit<T>> {
    let x = x.into();
    let choice = select_beta(x, y, weights, &settings, ps, on_point)?;
    let t1 = Instant::now();
    let mut solver = Solver::new_data(x, y, weights, Settings { beta: Beta::Fraction(choice.fraction), ..settings })?;
    // a model from other rows may have a different pattern count: then start cold
    let _ = solver.warm_start(&choice.model);
    let solution = solver.solve();
    Ok(AutoFit { solver, solution, path: choice.path, fraction: choice.fraction, path_seconds: choice.seconds, refit_seconds: t1.elapsed().as_secs_f64() })
}
