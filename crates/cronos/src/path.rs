//! The regularization path and automatic choice of β.
//!
//! β_max is the smallest β at which every neuron is zero: 0 is optimal iff the gradient
//! condition ‖F_gᵀ∇ℓ(0)‖ ≤ β holds for every group, so β_max = max_g ‖F_gᵀ∇ℓ(0)‖ exactly
//! for gated ReLU (for ReLU this is the same bound with the cone multipliers set to zero, so
//! every neuron is zero there too). The path solves a geometric grid of fractions of β_max
//! from 1 downward, each solve warm-started from the previous one on the same operator and
//! preconditioner (neither depends on β), to a looser gap than a final fit: it only has to
//! rank the β values. [`fit_auto`] holds out a stratified validation split, runs the path on
//! (a subsample of) the rest, picks the β with the best validation metric and refits on all
//! rows (see [`select`]).

use crate::error::{invalid_setting, Result};
use crate::loss::Loss;
use crate::model::Model;
use crate::real::Real;
use crate::settings::Beta;
use crate::solver::{Solver, Status};
use faer::MatRef;
use serde::{Deserialize, Serialize};

mod choose;
mod point;
mod select;

pub use select::{fit_auto, fit_auto_observed, refit_solver, select_beta, stratified_split, AutoFit, BetaChoice, REFIT_EXPONENT};

/// Settings of the path and of the automatic choice of β.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `n_betas` | 12 | grid points, β_max·1 down to β_max·`min_fraction` (geometric) |
/// | `min_fraction` | 1e-5 | smallest fraction of β_max |
/// | `tol_gap` | 1e-2 | certified relative gap per path point (a final refit uses the solver's own `tol_gap`) |
/// | `max_iter` | 40 | ADMM iterations per path point (the validation metric settles long before the gap) |
/// | `validation_fraction` | 0.1 | rows held out by [`fit_auto`] (stratified by class for classification) |
/// | `patience` | 2 | stop after this many points without a better validation metric, or at once at a point more than half a standard error below the best: past the best, each smaller β is the dearer point (10 classes: 228 s of a 560 s path to confirm the fall), while ties within the noise go on |
/// | `start_rows` | 30 | [`select_beta`] starts at the grid point just above `start_rows`/n·β_max (n: the path's rows; the best fraction falls like 1/n, 2.5–20/n on Fashion-MNIST tasks, so the walk mostly goes down) and walks down, or up when nothing below beats the start (0: start at β_max) |
/// | `zero_iter` | 5 | a point below β_max still all-zero after this many iterations is abandoned |
/// | `stable_checks` | 2 | [`select_beta`]: a point stops once its validation metric has moved by at most `stable_se` standard errors between this many consecutive certificates (0: off) |
/// | `stable_se` | 1.0 | the tolerance of `stable_checks`, in standard errors of the validation metric |
/// | `path_rows` | 12,000 | [`select_beta`] runs the path on at most this many training rows (a stratified seeded subsample; 0: all) and rescales the chosen fraction to the refit's rows |
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
    /// Most training rows the path of [`select_beta`] runs on (0: all of them).
    pub path_rows: usize,
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
            path_rows: 12_000,
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
    /// Mean loss on the validation rows ([`select_beta`] only; it breaks ties in the metric).
    #[serde(default)]
    pub validation_loss: Option<f64>,
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

/// [`solve_path`] that knows the number of validation rows: a validation metric more than
/// half a standard error below the best ends the path at once (see `point::Walk::push`).
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
