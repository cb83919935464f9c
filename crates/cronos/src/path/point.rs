//! One point of the path (a warm-started solve with the path's early stops) and the walk over
//! the grid (where it starts, when it stops).

use super::{Metric, PathPoint, PathSettings};
use crate::error::Result;
use crate::model::Model;
use crate::real::Real;
use crate::settings::Beta;
use crate::solver::{Control, IterInfo, Solution, Solver, Status};
use std::time::Instant;

/// Sets β to `f`·β_max, solves warm-started (none at β_max, where the zero start is optimal and
/// its certificate says so) and reports the point with its model.
pub(super) fn solve_at<T: Real>(
    solver: &mut Solver<T>,
    ps: &PathSettings,
    f: f64,
    metric: Metric,
    n_validation: Option<usize>,
    validate: &mut impl FnMut(&Model<T>) -> Option<f64>,
) -> Result<(PathPoint, Model<T>)> {
    let t0 = Instant::now();
    solver.set_beta(Beta::Fraction(f))?;
    let sol = if f < 1.0 { Some(solve_point(solver, ps, metric, n_validation, validate)) } else { None };
    let cert = solver.certify().clone();
    let model = solver.model();
    let p = PathPoint {
        fraction: f,
        beta: solver.beta().first().copied().unwrap_or(0.0),
        objective: cert.objective,
        relative_gap: cert.relative_gap,
        active_neurons: model.active_neurons(),
        iterations: sol.as_ref().map_or(0, |s| s.iterations),
        seconds: t0.elapsed().as_secs_f64(),
        // the zero start at β_max is certified like any point: from its gap
        status: sol.as_ref().map_or(
            if (0.0..=ps.tol_gap).contains(&cert.relative_gap) { Status::Solved } else { Status::MaxIterations },
            |s| s.status,
        ),
        train_metric: metric.eval(solver.train_predictions(), solver.loss().y()),
        validation_metric: validate(&model),
        validation_loss: None,
    };
    Ok((p, model))
}

/// One warm-started solve: the solver's own termination, and three stops that only the
/// ranking of β needs (a point's metric matters, not its certificate):
/// - a point still all-zero after `ps.zero_iter` iterations is abandoned: below β_max the
///   optimum is not zero, but ADMM can take its whole budget to leave zero when few neurons
///   enter (10 classes, 10,000 rows: 200 iterations, 245 s, at 0.35 and 0.12·β_max), and the
///   zero model's validation metric is chance level either way; the dual it built up carries
///   over to the next point, so abandoning early loses nothing;
/// - a certified gap within `ps.tol_gap`, whatever the primal residual (only the final fit
///   needs a small one);
/// - with validation rows, a validation metric that moved by at most `ps.stable_se` standard
///   errors over `ps.stable_checks` consecutive certificates: accuracy settles long before
///   the gap does.
fn solve_point<T: Real>(
    solver: &mut Solver<T>,
    ps: &PathSettings,
    metric: Metric,
    n_validation: Option<usize>,
    validate: &mut impl FnMut(&Model<T>) -> Option<f64>,
) -> Solution {
    let mut seen: Vec<f64> = Vec::new();
    let mut rule = |s: &mut Solver<T>, h: &IterInfo| -> Control {
        if !h.certified {
            return Control::Continue;
        }
        let model = s.model();
        if model.active_neurons() == 0 {
            let give_up = h.iteration >= ps.zero_iter && h.relative_gap > ps.tol_gap;
            return if give_up { Control::Stop } else { Control::Continue };
        }
        if h.iteration <= 1 {
            return Control::Continue;
        }
        if (0.0..=ps.tol_gap).contains(&h.relative_gap) {
            return Control::Finish(Status::EarlyStopped);
        }
        let n = match n_validation {
            Some(n) if n > 0 && ps.stable_checks > 0 => n,
            _ => return Control::Continue,
        };
        let Some(v) = validate(&model) else { return Control::Continue };
        seen.push(v);
        let (m, tol) = (seen.len(), ps.stable_se * standard_error(metric, v, n));
        let stable = m > ps.stable_checks && seen[m - 1 - ps.stable_checks..].windows(2).all(|w| (w[1] - w[0]).abs() <= tol);
        if stable {
            Control::Finish(Status::EarlyStopped)
        } else {
            Control::Continue
        }
    };
    solver.run(&mut [&mut rule])
}

/// Standard error of a metric estimated on `n` rows at value `v`: √(v(1 − v)/n) for an
/// accuracy, |v|·√(2/n) for a mean squared error (Gaussian residuals).
pub(super) fn standard_error(metric: Metric, v: f64, n: usize) -> f64 {
    match metric {
        Metric::Accuracy => (v * (1.0 - v) / n as f64).max(0.0).sqrt(),
        Metric::NegMse => v.abs() * (2.0 / n as f64).sqrt(),
    }
}

/// Index of the grid point (fractions descending) where the walk starts: the smallest
/// fraction ≥ `start_rows`/n, so the first points are the sparse, cheap side of the best (0 for
/// `start_rows` = 0 or small n).
pub(super) fn start_index(grid: &[f64], start_rows: f64, n: usize) -> usize {
    let target = start_rows / n.max(1) as f64;
    if start_rows <= 0.0 {
        return 0;
    }
    grid.iter().rposition(|&f| f >= target).unwrap_or(0)
}

/// The stopping rule of a walk over the grid: the best validation metric so far and the
/// points since; fitted (non-zero) points only count.
pub(super) struct Walk {
    metric: Metric,
    n_validation: Option<usize>,
    patience: usize,
    best: f64,
    best_fraction: Option<f64>,
    since_best: usize,
}

impl Walk {
    pub(super) fn new(metric: Metric, n_validation: Option<usize>, patience: usize) -> Walk {
        Walk { metric, n_validation, patience, best: f64::NEG_INFINITY, best_fraction: None, since_best: 0 }
    }

    /// Takes a point; false when the walk should stop: `patience` points without a better
    /// validation metric, or at once a point more than half a standard error (√(p(1 − p)/n)
    /// for an accuracy, |v|·√(2/n) for an MSE, at the best value) below the best. Past the
    /// best, small β are the expensive points and a clear fall only confirms it (10 classes,
    /// 12,000 path rows: 8.1e-5·β_max took 228 s of a 560 s path); a tie within the noise of
    /// the validation rows (20 rows of a 200-row regression: 0.0005 against a standard error
    /// of 0.13) does not end the walk.
    pub(super) fn push(&mut self, p: &PathPoint) -> bool {
        // patience counts fitted models only: all-zero ones sit at the top of the grid
        let Some(v) = p.validation_metric.filter(|_| p.active_neurons > 0) else { return true };
        if v > self.best {
            (self.best, self.best_fraction, self.since_best) = (v, Some(p.fraction), 0);
            return true;
        }
        self.since_best += 1;
        let se = match self.n_validation {
            Some(n) if n > 0 => standard_error(self.metric, self.best, n),
            _ => f64::INFINITY,
        };
        !(self.since_best >= self.patience || v < self.best - 0.5 * se)
    }

    /// The fraction of the best point so far.
    pub(super) fn best_fraction(&self) -> Option<f64> {
        self.best_fraction
    }

    /// Turns the walk around: the points since the best start counting again.
    pub(super) fn restart(&mut self) {
        self.since_best = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(fraction: f64, v: f64, active: usize) -> PathPoint {
        PathPoint {
            fraction,
            beta: fraction,
            objective: 1.0,
            relative_gap: 0.1,
            active_neurons: active,
            iterations: 10,
            seconds: 0.0,
            status: Status::EarlyStopped,
            train_metric: v,
            validation_metric: Some(v),
            validation_loss: None,
        }
    }

    #[test]
    fn the_walk_starts_at_the_grid_point_just_above_start_rows_over_n() {
        let grid = PathSettings::default().fractions();
        // 54,000 rows: 30/n = 5.6e-4, the grid point above it is 6.58e-4 (index 7)
        assert_eq!(start_index(&grid, 30.0, 54_000), 7);
        assert!((grid[7] - 6.58e-4).abs() < 1e-5, "{}", grid[7]);
        // few rows or start_rows = 0: β_max
        assert_eq!(start_index(&grid, 30.0, 20), 0);
        assert_eq!(start_index(&grid, 0.0, 54_000), 0);
        // more rows than the grid reaches: its last point
        assert_eq!(start_index(&grid, 30.0, 1_000_000_000), grid.len() - 1);
    }

    #[test]
    fn the_walk_stops_on_patience_or_a_fall_of_half_a_standard_error() {
        // 6,000 validation rows: one standard error at 0.89 is 0.40 points
        let mut w = Walk::new(Metric::Accuracy, Some(6000), 2);
        assert!(w.push(&point(1.0, 0.1, 0)), "zero models do not count");
        assert!(w.push(&point(0.5, 0.85, 10)));
        assert!(w.push(&point(0.2, 0.89, 10)));
        assert!(w.push(&point(0.1, 0.889, 10)), "within half a standard error: patience goes on");
        assert!(!w.push(&point(0.05, 0.8895, 10)), "second point without improvement");
        assert_eq!(w.best_fraction(), Some(0.2));
        let mut w = Walk::new(Metric::Accuracy, Some(6000), 2);
        assert!(w.push(&point(0.2, 0.89, 10)));
        assert!(!w.push(&point(0.1, 0.887, 10)), "a fall of more than half a standard error ends it at once");
        w.restart();
        assert!(w.push(&point(0.4, 0.889, 10)), "turned around, patience counts again");
        // an MSE: the standard error at −0.43 on 20 rows is 0.14, so a tie does not stop it
        let mut w = Walk::new(Metric::NegMse, Some(20), 2);
        assert!(w.push(&point(0.12, -0.4271, 10)));
        assert!(w.push(&point(0.04, -0.4276, 10)), "a tie within the noise");
        assert!(!w.push(&point(0.01, -0.6, 10)), "a clear fall");
    }

    #[test]
    fn standard_errors_of_both_metrics() {
        assert!((standard_error(Metric::Accuracy, 0.89, 6000) - 0.00404).abs() < 1e-5);
        assert_eq!(standard_error(Metric::Accuracy, 1.0, 100), 0.0);
        assert!((standard_error(Metric::NegMse, -0.5, 200) - 0.05).abs() < 1e-12);
    }
}
