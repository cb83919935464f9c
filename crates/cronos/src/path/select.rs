//! The automatic choice of β: a validation split, the path on (a subsample of) the training
//! part, the choice by validation metric, and the refit on all rows.
//!
//! **Why a subsample, and how its β carries over.** The path only ranks β values, and on the
//! default job (10 classes, 54,000 training rows) it cost 4–6× the refit. β_max grows like
//! the rows' total weight W, and the best β/β_max falls with it: as W^-0.70 on Fashion-MNIST,
//! 10 classes (6.58e-4 chosen on 12,000 rows, 2.31e-4 on 54,000), between the 1/√W of a
//! mean-loss regularizer that shrinks like 1/√n and the 1/W of a β that stays put.
//! [`select_beta`] therefore runs the path on at most `path_rows` training rows (stratified,
//! seeded) and returns the fraction rescaled by (W_path/W_all)^¾ for a refit on all rows
//! ([`REFIT_EXPONENT`]). The larger β of a smaller exponent also certifies faster (measured:
//! the refit at 1/W's β needed 20 CG per iteration where ¾'s needs 9).
use super::choose::{choose, Scored};
use super::{class_of, solve_path_counted, Metric, PathPoint, PathSettings};
use crate::error::{invalid_setting, Result};
use crate::loss::Loss;
use crate::model::Model;
use crate::real::Real;
use crate::settings::{Beta, Settings};
use crate::solver::{Observer, Solution, Solver};
use faer::{Mat, MatRef};
use std::time::Instant;

/// The exponent e of the refit's fraction f·(W_path/W_all)^e (see the module doc).
pub const REFIT_EXPONENT: f64 = 0.75;

/// The outcome of [`fit_auto`].
pub struct AutoFit<T: Real> {
    /// The solver refitted on all rows at the chosen β (its [`Solver::model`] is the result).
    pub solver: Solver<T>,
    /// The refit's solution.
    pub solution: Solution,
    /// The path on the training part, with validation metrics.
    pub path: Vec<PathPoint>,
    /// The chosen fraction of β_max of the refit on all rows.
    pub fraction: f64,
    /// The chosen point's fraction of the path's β_max (see [`BetaChoice::path_fraction`]).
    pub path_fraction: f64,
    /// Seconds of the path (setup included) and of the refit (setup included).
    pub path_seconds: f64,
    /// Seconds of the refit.
    pub refit_seconds: f64,
    /// The path's model at the chosen β (its scores on the validation rows are out of sample:
    /// the probability temperature is fitted on them).
    pub path_model: Model<T>,
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
    /// The chosen fraction of β_max for a fit on all rows (the path point's fraction, rescaled
    /// by the weight of the path's rows over that of all rows to the power [`REFIT_EXPONENT`]).
    pub fraction: f64,
    /// The chosen point's own fraction of the path's β_max.
    pub path_fraction: f64,
    /// Rows the path ran on (a subsample of the training part when it exceeds `path_rows`).
    pub path_rows: usize,
    /// The path on the training part, with validation metrics.
    pub path: Vec<PathPoint>,
    /// The path's model at the chosen β (a warm start for the refit).
    pub model: Model<T>,
    /// Seconds of the whole selection (split, setup, path).
    pub seconds: f64,
}

/// CG steps per u-step on the path (warm-started; the refit keeps `Settings::cg_max_iter`).
const PATH_CG_MAX_ITER: usize = 10;

/// Holds out `ps.validation_fraction` of the rows (stratified), runs the path on the rest and
/// returns the fraction of β_max with the best validation metric; points within half a
/// standard error of the best tie and the lowest validation loss wins, and a trivial model
/// loses to a smaller β with a lower loss (see `choose`).
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
    let tr = path_subsample(y, &tr, metric, ps.path_rows, settings.seed);
    let (xt, yt, xv, yv) = (x.select_rows(&tr), take_rows(y, &tr), x.select_rows(&va), take_rows(y, &va));
    let wt: Option<Vec<f64>> = weights.map(|w| tr.iter().map(|&i| w[i]).collect());
    let wv: Option<Vec<f64>> = weights.map(|w| va.iter().map(|&i| w[i]).collect());
    // the path ranks β by validation metric and never needs a tight gap: no Newton polish,
    // which cost digits (1,437 × 64, 10 classes) 0.6 s per polished point against 0.12 s for
    // the 15 ADMM iterations of a point (the same β chosen on the pairs and digits)
    // the same reason caps CG per u-step: a point's 8-37 CG steps per iteration refine a u whose
    // next ADMM step moves it anyway (B, 10,000 × 100: the same β and accuracy at 10 as at 50,
    // fit 9.1 s against 10.5 s; a cap of 5 moved the default job's path model, see README)
    let path_settings = Settings { polish_below: 0.0, cg_max_iter: settings.cg_max_iter.min(PATH_CG_MAX_ITER), ..settings.clone() };
    let mut solver = Solver::new_data(xt.as_data(), yt.as_ref(), wt.as_deref(), path_settings)?;
    // each point's validation loss and whether its predictions are constant, for the choice
    // (see `choose`: ties within the noise go to the lower loss, never to the larger β)
    let mut scored: Vec<(Scored, Model<T>)> = Vec::new();
    let last = std::cell::Cell::new((f64::INFINITY, true));
    let loss_kind = settings.loss;
    let mut path = solve_path_counted(
        &mut solver,
        ps,
        Some(va.len()),
        |m| {
            let s = m.predict_data(xv.as_data()).ok()?;
            last.set((validation_loss(loss_kind, s.as_ref(), yv.as_ref(), wv.as_deref()), constant_prediction(metric, s.as_ref())));
            Some(metric.eval_weighted(s.as_ref(), yv.as_ref(), wv.as_deref()))
        },
        |p, m| {
            let (loss, constant) = last.get();
            let metric = p.validation_metric.unwrap_or(f64::NEG_INFINITY);
            scored.push((Scored { fraction: p.fraction, metric, loss, trivial: constant || p.active_neurons == 0 }, m.clone()));
            on_point(p);
        },
    )?;
    for (p, (s, _)) in path.iter_mut().zip(&scored) {
        p.validation_loss = Some(s.loss);
    }
    let keys: Vec<Scored> = scored.iter().map(|(s, _)| *s).collect();
    let at = choose(&keys, metric, va.len()).unwrap_or(0);
    let (chosen, model) = scored.swap_remove(at);
    let path_fraction = chosen.fraction;
    let total = |rows: &mut dyn Iterator<Item = usize>| -> f64 { rows.map(|i| weights.map_or(1.0, |w| w[i])).sum() };
    let scale = total(&mut tr.iter().copied()) / total(&mut (0..y.nrows()));
    let fraction = (path_fraction * scale.powf(REFIT_EXPONENT)).min(1.0);
    Ok(BetaChoice { fraction, path_fraction, path_rows: tr.len(), path, model, seconds: t0.elapsed().as_secs_f64() })
}

/// The rows the path runs on: `rows` itself when it has at most `max_rows` (or `max_rows` is
/// 0), else a stratified seeded subsample of about `max_rows` of them, sorted.
fn path_subsample<T: Real>(y: MatRef<'_, T>, rows: &[usize], metric: Metric, max_rows: usize, seed: u64) -> Vec<usize> {
    if max_rows == 0 || rows.len() <= max_rows {
        return rows.to_vec();
    }
    let y_rows = take_rows(y, rows);
    let (_, kept) = stratified_split(y_rows.as_ref(), metric, max_rows as f64 / rows.len() as f64, seed ^ 0x9a7_5ab5);
    kept.into_iter().map(|i| rows[i]).collect()
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

/// Whether scores `s` predict the same on every row: one class (classification) or one
/// value per output (regression) — a model that ignores its input.
fn constant_prediction<T: Real>(metric: Metric, s: MatRef<'_, T>) -> bool {
    let n = s.nrows();
    if n <= 1 {
        return false;
    }
    match metric {
        Metric::Accuracy => (1..n).all(|i| class_of(s, i) == class_of(s, 0)),
        Metric::NegMse => (0..s.ncols()).all(|c| {
            let (lo, hi) = (0..n).map(|i| s[(i, c)].to_f64()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            hi - lo <= 1e-9 * (1.0 + hi.abs().max(lo.abs()))
        }),
    }
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
    fit_auto_observed(x, y, weights, settings, ps, on_point, &mut [])
}

/// [`fit_auto`] with `observers` of the refit's driver loop ([`Solver::run`]: progress,
/// Ctrl-C; the Python binding's), called from its first iteration on.
///
/// # Errors
/// As [`select_beta`].
pub fn fit_auto_observed<'a, T: Real>(
    x: impl Into<crate::data::DataRef<'a, T>>,
    y: MatRef<'_, T>,
    weights: Option<&[f64]>,
    settings: Settings,
    ps: &PathSettings,
    on_point: impl FnMut(&PathPoint),
    observers: &mut [&mut dyn Observer<T>],
) -> Result<AutoFit<T>> {
    let x = x.into();
    let choice = select_beta(x, y, weights, &settings, ps, on_point)?;
    let t1 = Instant::now();
    let mut solver = refit_solver(Some(&choice), settings, |s| Solver::new_data(x, y, weights, s))?;
    let solution = solver.run(observers);
    Ok(AutoFit { solver, solution, path: choice.path, fraction: choice.fraction, path_fraction: choice.path_fraction, path_seconds: choice.seconds, refit_seconds: t1.elapsed().as_secs_f64(), path_model: choice.model })
}

/// The refit of `beta = auto`: the solver that `make` builds on all fitting rows (borrowed,
/// owned or one rank's rows: the caller's choice) at the chosen fraction of β_max,
/// warm-started from the chosen path model. [`fit_auto_observed`], the CLI and the Python
/// binding all refit through it.
///
/// # Errors
/// Those of `make`.
/// With no choice (a fixed β) it is `make(settings)`.
pub fn refit_solver<T: Real>(choice: Option<&BetaChoice<T>>, settings: Settings, make: impl FnOnce(Settings) -> Result<Solver<T>>) -> Result<Solver<T>> {
    let Some(choice) = choice else { return make(settings) };
    let mut solver = make(Settings { beta: Beta::Fraction(choice.fraction), ..settings })?;
    // a model from other rows may have a different pattern count: then start cold
    let _ = solver.warm_start(&choice.model);
    Ok(solver)
}
