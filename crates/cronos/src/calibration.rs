//! Temperature scaling: calibrated class probabilities from the scores of a classifier.
//!
//! A squared-loss classifier fits ±1 targets, so its scores live in about [−1, 1] and their
//! plain softmax is far too flat (a 10-class model at 98% accuracy gave a mean top probability
//! of 0.35). The probabilities are instead softmax(z / T), with z the class logits
//! ([`class_logits`]) and one scalar temperature T fitted on held-out rows by minimising the
//! (weighted) log-loss ([`fit_temperature`]).
//!
//! The fit runs on the inverse temperature u = 1/T, where the log-loss
//! Σᵢ wᵢ [logsumexp(u zᵢ) − u qᵢ·zᵢ] is convex (a log-sum-exp of functions linear in u; it
//! is not convex in log T): a safeguarded Newton iteration inside a bracket of the monotone
//! derivative, deterministic and independent of any seed. The targets qᵢ are the one-hot
//! labels smoothed by ε = 1/(n + 2) (Platt's prior; n the total weight, weights counting as
//! repeated rows):
//! without it a held-out set that the scores separate perfectly (a few dozen rows) would drive
//! T to 0 and the probabilities to exactly 0 and 1.

use crate::error::Result;
use crate::loss::Loss;
use crate::model::Model;
use crate::path::{stratified_split, Metric, PathSettings};
use crate::real::Real;
use crate::settings::Settings;
use crate::solver::Solver;
use faer::{Mat, MatRef};
use serde::{Deserialize, Serialize};

/// Smallest and largest temperature returned (scores at the ±1 scale of the squared loss).
const T_MIN: f64 = 1e-6;
const T_MAX: f64 = 1e6;

/// The fitted temperature and what it did on the rows it was fitted on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The temperature T: probabilities are softmax(logits / T).
    pub temperature: f64,
    /// Rows it was fitted on.
    pub rows: usize,
    /// Mean (weighted) log-loss of those rows at T = 1.
    pub log_loss_before: f64,
    /// Mean (weighted) log-loss of those rows at the fitted T.
    pub log_loss_after: f64,
}

/// Class index of each row of ±1 (or one-hot) targets: one column → 1 where y > 0; several
/// columns → the first maximum.
pub fn class_indices<T: Real>(y: MatRef<'_, T>) -> Vec<usize> {
    (0..y.nrows())
        .map(|i| {
            if y.ncols() == 1 {
                return (y[(i, 0)].to_f64() > 0.0) as usize;
            }
            let mut best = 0;
            for c in 1..y.ncols() {
                if y[(i, c)].to_f64() > y[(i, best)].to_f64() {
                    best = c;
                }
            }
            best
        })
        .collect()
}

/// The class logits (n × c) of network scores (n × k) whose row softmax gives the
/// probabilities at T = 1: one output → (−s, s) for the squared loss and (0, s) for the
/// logistic loss (so softmax is (1 − σ(s), σ(s))); several outputs → the scores themselves.
pub fn class_logits<T: Real>(loss: Loss, s: MatRef<'_, T>) -> Mat<f64> {
    if s.ncols() != 1 {
        return Mat::from_fn(s.nrows(), s.ncols(), |i, j| s[(i, j)].to_f64());
    }
    Mat::from_fn(s.nrows(), 2, |i, j| {
        let v = s[(i, 0)].to_f64();
        match (j, loss) {
            (1, _) => v,
            (_, Loss::Logistic) => 0.0,
            _ => -v,
        }
    })
}

/// Row-wise softmax of logits / `temperature` (n × c probabilities summing to one per row).
pub fn probabilities(logits: MatRef<'_, f64>, temperature: f64) -> Mat<f64> {
    let u = 1.0 / temperature;
    let mut p = Mat::<f64>::zeros(logits.nrows(), logits.ncols());
    for i in 0..logits.nrows() {
        let mx = (0..logits.ncols()).map(|c| logits[(i, c)]).fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for c in 0..logits.ncols() {
            let e = ((logits[(i, c)] - mx) * u).exp();
            p[(i, c)] = e;
            sum += e;
        }
        for c in 0..logits.ncols() {
            p[(i, c)] /= sum;
        }
    }
    p
}

/// Mean (weighted) log-loss of softmax(logits / `temperature`) on class indices `classes`.
pub fn log_loss(logits: MatRef<'_, f64>, classes: &[usize], weights: Option<&[f64]>, temperature: f64) -> f64 {
    let rows = Rows::new(logits, classes, weights, 0.0);
    rows.value(1.0 / temperature)
}

/// Fits the temperature minimising the (weighted) log-loss of softmax(logits / T) on the
/// rows' classes, with Platt-smoothed targets (see the module documentation). Rows of zero
/// weight take no part. When the logits carry no information (every row's logits equal, or
/// no rows) T = 1; when they are anti-informative T is the largest temperature (uniform
/// probabilities).
///
/// # Panics
/// When `classes` or `weights` do not have one entry per row of `logits`, or a class index is
/// out of range (callers derive them from the same rows).
pub fn fit_temperature(logits: MatRef<'_, f64>, classes: &[usize], weights: Option<&[f64]>) -> Calibration {
    assert_eq!(classes.len(), logits.nrows(), "one class per row");
    if let Some(w) = weights {
        assert_eq!(w.len(), logits.nrows(), "one weight per row");
    }
    let sw: f64 = (0..logits.nrows()).map(|i| weights.map_or(1.0, |w| w[i])).sum();
    let before = log_loss(logits, classes, weights, 1.0);
    if !(sw > 0.0) {
        return Calibration { temperature: 1.0, rows: logits.nrows(), log_loss_before: before, log_loss_after: before };
    }
    // weights count as repeated rows (scikit-learn's semantics): Σw is the row count
    let eps = 1.0 / (sw + 2.0);
    let rows = Rows::new(logits, classes, weights, eps);
    let u = rows.minimise();
    let temperature = if u > 0.0 { (1.0 / u).clamp(T_MIN, T_MAX) } else { T_MAX };
    let after = log_loss(logits, classes, weights, temperature);
    Calibration { temperature, rows: logits.nrows(), log_loss_before: before, log_loss_after: after }
}

/// The objective of the fit: logits, classes, weights and the label smoothing ε.
struct Rows<'a> {
    z: MatRef<'a, f64>,
    classes: &'a [usize],
    weights: Option<&'a [f64]>,
    eps: f64,
}

impl<'a> Rows<'a> {
    fn new(z: MatRef<'a, f64>, classes: &'a [usize], weights: Option<&'a [f64]>, eps: f64) -> Self {
        Rows { z, classes, weights, eps }
    }

    fn weight(&self, i: usize) -> f64 {
        self.weights.map_or(1.0, |w| w[i])
    }

    /// Mean weighted loss at inverse temperature u (no smoothing in the value: ε only moves
    /// the minimiser, see [`Rows::derivatives`]).
    fn value(&self, u: f64) -> f64 {
        let (mut total, mut sw) = (0.0, 0.0);
        for i in 0..self.z.nrows() {
            let w = self.weight(i);
            if w == 0.0 {
                continue;
            }
            let mx = (0..self.z.ncols()).map(|c| self.z[(i, c)]).fold(f64::NEG_INFINITY, f64::max);
            let lse = (0..self.z.ncols()).map(|c| ((self.z[(i, c)] - mx) * u).exp()).sum::<f64>().ln();
            total += w * (lse - (self.z[(i, self.classes[i])] - mx) * u);
            sw += w;
        }
        if sw > 0.0 { total / sw } else { f64::NAN }
    }

    /// First and second derivative in u of the smoothed loss Σ wᵢ [lse(u zᵢ) − u qᵢ·zᵢ]:
    /// Σ wᵢ (E_p[zᵢ] − qᵢ·zᵢ) and Σ wᵢ Var_p(zᵢ) ≥ 0.
    fn derivatives(&self, u: f64) -> (f64, f64) {
        let k = self.z.ncols();
        let (mut g, mut h) = (0.0, 0.0);
        let mut p = vec![0.0; k];
        for i in 0..self.z.nrows() {
            let w = self.weight(i);
            if w == 0.0 {
                continue;
            }
            let mx = (0..k).map(|c| self.z[(i, c)]).fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for (c, pc) in p.iter_mut().enumerate() {
                *pc = ((self.z[(i, c)] - mx) * u).exp();
                sum += *pc;
            }
            let (mut mean, mut sq, mut qz) = (0.0, 0.0, 0.0);
            for (c, pc) in p.iter_mut().enumerate() {
                *pc /= sum;
                let zc = self.z[(i, c)] - mx;
                mean += *pc * zc;
                sq += *pc * zc * zc;
                qz += (self.eps / k as f64 + if c == self.classes[i] { 1.0 - self.eps } else { 0.0 }) * zc;
            }
            g += w * (mean - qz);
            h += w * (sq - mean * mean).max(0.0);
        }
        (g, h)
    }

    /// The minimiser u ≥ 0 of the convex loss: 0 when its slope at 0 is not negative, else a
    /// bracketed Newton iteration on the increasing derivative.
    fn minimise(&self) -> f64 {
        let (g0, _) = self.derivatives(0.0);
        if !(g0 < 0.0) {
            // no information (g0 = 0: T = 1) or anti-informative scores (uniform probabilities)
            return if g0 == 0.0 { 1.0 } else { 0.0 };
        }
        let (mut lo, mut hi) = (0.0, 1.0);
        while self.derivatives(hi).0 < 0.0 {
            lo = hi;
            hi *= 2.0;
            if hi > 1.0 / T_MIN {
                return hi;
            }
        }
        let mut u = 0.5 * (lo + hi);
        for _ in 0..200 {
            let (g, h) = self.derivatives(u);
            if g == 0.0 {
                return u;
            }
            if g < 0.0 { lo = u } else { hi = u }
            let newton = u - g / h;
            // Newton while it stays strictly inside the bracket, else bisection
            u = if h > 0.0 && newton > lo && newton < hi { newton } else { 0.5 * (lo + hi) };
            if hi - lo <= 1e-12 * hi || (g / h).abs() <= 1e-12 * u {
                break;
            }
        }
        u
    }
}

/// The temperature of `model` fitted on rows `rows` of (x, y) (±1 targets, as trained),
/// weighted by `weights` (all rows' weights; `None`: unweighted). `None` when `rows` is empty.
///
/// # Errors
/// As [`Model::predict`] (wrong width, non-finite values).
pub fn fit_on_rows<'a, T: Real>(model: &Model<T>, x: impl Into<crate::data::DataRef<'a, T>>, y: MatRef<'_, T>, weights: Option<&[f64]>, rows: &[usize]) -> Result<Option<Calibration>> {
    fit_rows(model, x.into(), y, weights, rows, false)
}

/// [`fit_on_rows`]; with `scaled`, the rows of (x, y) are those of the weighted problem
/// multiplied by √w (bias column included), so the scores are divided by √w again.
fn fit_rows<T: Real>(model: &Model<T>, x: crate::data::DataRef<'_, T>, y: MatRef<'_, T>, weights: Option<&[f64]>, rows: &[usize], scaled: bool) -> Result<Option<Calibration>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let xr = x.select_rows(rows);
    let yr = Mat::from_fn(rows.len(), y.ncols(), |i, j| y[(rows[i], j)]);
    let wr: Option<Vec<f64>> = weights.map(|w| rows.iter().map(|&i| w[i]).collect());
    let mut scores = model.predict_data(xr.as_data())?;
    if let (true, Some(w)) = (scaled, &wr) {
        // a ReLU network without a separate bias is positively homogeneous: f(√w x) = √w f(x)
        for i in 0..scores.nrows() {
            for c in 0..scores.ncols() {
                scores[(i, c)] = T::from_f64(scores[(i, c)].to_f64() / w[i].sqrt());
            }
        }
    }
    let logits = class_logits(model.loss, scores.as_ref());
    Ok(Some(fit_temperature(logits.as_ref(), &class_indices(yr.as_ref()), wr.as_deref())))
}

/// The rows [`crate::select_beta`] holds out for validation with these settings (its seeded,
/// stratified split): the path's model at the chosen β never saw them, so its scores there are
/// out of sample, which is what the temperature must be fitted on.
pub fn path_validation_rows<T: Real>(y: MatRef<'_, T>, settings: &Settings, ps: &PathSettings) -> Vec<usize> {
    let (tr, va) = stratified_split(y, Metric::for_problem(settings.loss, y), ps.validation_fraction, settings.seed);
    if tr.is_empty() { Vec::new() } else { va }
}

/// Calibration when no path ran (a fixed β): one extra solve at `settings` on the rows not in
/// `validation` (sorted row indices), and the temperature of that model on `validation`. The
/// training rows' own scores are no substitute: a model that nearly interpolates them gets a
/// temperature far too small (digits: test log-loss 0.55 against 0.08). `None` when either
/// side is empty. `scaled`: the rows are already multiplied by √`weights` (the Python
/// package's exact weighted squared loss at a fixed β), so the solve is unweighted.
/// [`holdout_rows`] gives the CLI's split; the Python package hashes row contents instead, so
/// that a row of weight 2 and two copies of it fall on the same side.
///
/// # Errors
/// As [`Solver::new_weighted`] and [`Model::predict`].
pub fn fit_holdout<'a, T: Real>(
    x: impl Into<crate::data::DataRef<'a, T>>,
    y: MatRef<'_, T>,
    weights: Option<&[f64]>,
    settings: &Settings,
    validation: &[usize],
    scaled: bool,
) -> Result<Option<Calibration>> {
    let x = x.into();
    let mut held = vec![false; x.nrows()];
    let n = x.nrows();
    validation.iter().filter(|&&i| i < n).for_each(|&i| held[i] = true);
    let va: Vec<usize> = (0..x.nrows()).filter(|&i| held[i]).collect();
    let tr: Vec<usize> = (0..x.nrows()).filter(|&i| !held[i]).collect();
    if tr.is_empty() || va.is_empty() {
        return Ok(None);
    }
    let xt = x.select_rows(&tr);
    let yt = Mat::from_fn(tr.len(), y.ncols(), |i, j| y[(tr[i], j)]);
    let wt: Option<Vec<f64>> = weights.filter(|_| !scaled).map(|w| tr.iter().map(|&i| w[i]).collect());
    // gates near the origin, not through the mean of these rows: the full fit's standardized
    // rows have mean 0, a subset's mean is off by noise (and a √w-scaled problem has no bias
    // to centre with, so the weighted and the repeated-rows fits would differ)
    let settings = Settings { centered_gates: false, ..settings.clone() };
    let mut solver = Solver::new_data(xt.as_data(), yt.as_ref(), wt.as_deref(), settings)?;
    solver.solve();
    fit_rows(&solver.model(), x, y, weights, &va, scaled)
}

/// The held-out rows of [`fit_holdout`] for the CLI: the seeded stratified split of the β
/// path, `fraction` of each class.
pub fn holdout_rows<T: Real>(y: MatRef<'_, T>, settings: &Settings, fraction: f64) -> Vec<usize> {
    stratified_split(y, Metric::for_problem(settings.loss, y), fraction, settings.seed).1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores of a ±1 squared-loss model: the true class near 0.6, the others near −0.6, with
    /// a few mistakes (deterministic pseudo-noise).
    fn flat_logits(n: usize, k: usize) -> (Mat<f64>, Vec<usize>) {
        let classes: Vec<usize> = (0..n).map(|i| i % k).collect();
        let noise = |i: usize, c: usize| (((i * 7919 + c * 104_729) % 1000) as f64 / 1000.0 - 0.5) * 2.0;
        let z = Mat::from_fn(n, k, |i, c| if c == classes[i] { 0.6 } else { -0.6 } + noise(i, c));
        (z, classes)
    }

    #[test]
    fn temperature_lowers_the_log_loss_and_is_a_minimum() {
        let (z, y) = flat_logits(300, 5);
        let c = fit_temperature(z.as_ref(), &y, None);
        assert!(c.temperature < 0.5, "flat ±1 scores need T < 1: {c:?}");
        assert!(c.log_loss_after < 0.8 * c.log_loss_before, "{c:?}");
        for f in [0.9, 1.1] {
            assert!(log_loss(z.as_ref(), &y, None, c.temperature * f) > c.log_loss_after - 1e-3);
        }
    }

    #[test]
    fn separated_rows_keep_a_finite_temperature() {
        let z = Mat::from_fn(20, 2, |i, c| if c == i % 2 { 1.0 } else { -1.0 });
        let y: Vec<usize> = (0..20).map(|i| i % 2).collect();
        let c = fit_temperature(z.as_ref(), &y, None);
        let p = probabilities(z.as_ref(), c.temperature);
        assert!(c.temperature > 0.05 && p[(0, 0)] < 0.999, "{c:?}");
    }

    #[test]
    fn probabilities_sum_to_one_and_weights_count() {
        let (z, y) = flat_logits(200, 3);
        let p = probabilities(z.as_ref(), 0.3);
        for i in 0..p.nrows() {
            assert!(((0..3).map(|c| p[(i, c)]).sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // weight 2 is two copies of the row; zero weights drop rows
        let w2 = vec![2.0; 200];
        let z2 = Mat::from_fn(400, 3, |i, c| z[(i % 200, c)]);
        let y2: Vec<usize> = (0..400).map(|i| y[i % 200]).collect();
        let a = fit_temperature(z2.as_ref(), &y2, None).temperature;
        assert!((fit_temperature(z.as_ref(), &y, Some(&w2)).temperature - a).abs() < 1e-9 * a);
        let half: Vec<f64> = (0..200).map(|i| (i < 100) as u8 as f64).collect();
        let b = fit_temperature(z.subrows(0, 100), &y[..100], None).temperature;
        assert!((fit_temperature(z.as_ref(), &y, Some(&half)).temperature - b).abs() < 1e-9 * b);
    }

    #[test]
    fn uninformative_scores_give_unit_temperature() {
        let z = Mat::<f64>::zeros(10, 3);
        let y: Vec<usize> = (0..10).map(|i| i % 3).collect();
        assert_eq!(fit_temperature(z.as_ref(), &y, None).temperature, 1.0);
    }

    #[test]
    fn binary_logits_follow_the_loss() {
        let s = Mat::from_fn(2, 1, |i, _| if i == 0 { 0.5 } else { -2.0 });
        let sq = class_logits(Loss::Squared, s.as_ref());
        let lg = class_logits(Loss::Logistic, s.as_ref());
        assert_eq!((sq[(0, 0)], sq[(0, 1)], lg[(1, 0)], lg[(1, 1)]), (-0.5, 0.5, 0.0, -2.0));
        assert_eq!(class_indices(s.as_ref()), vec![1, 0]);
    }
}
