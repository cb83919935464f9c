//! Which point of the path [`super::select_beta`] chooses.
//!
//! The validation metric of a point is an estimate on a few thousand rows at most, so two
//! points whose metrics differ by less than the noise are a tie, and the validation loss (a
//! finer, continuous measure of the same fit) decides between them. Measured on a 5-class,
//! 100-feature tabular set: with ties going to the larger β (strictly best accuracy, an
//! exact tie only then to the loss), the ReLU path picked 0.35·β_max, a near-constant model at
//! 36.7 % test accuracy.
//!
//! The rule, on the points that have a validation metric:
//! 1. a *trivial* point (no active neuron, or the same prediction on every validation row)
//!    is not eligible when a point at a smaller β has a lower validation loss;
//! 2. among the eligible points, those within half a standard error of the best metric
//!    (the noise rule of the walk, `point::Walk::push`) tie;
//! 3. of the tied points the one with the lowest validation loss wins (then the larger β,
//!    the sparser model, on an exact tie of both).

use super::point::standard_error;
use super::Metric;

/// What the choice needs to know of one path point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// β / β_max.
    pub fraction: f64,
    /// Validation metric (larger is better).
    pub metric: f64,
    /// Validation loss (smaller is better).
    pub loss: f64,
    /// No active neuron, or a constant prediction on the validation rows.
    pub trivial: bool,
}

/// Index in `points` of the chosen point (see the module doc), `None` when no point has a
/// finite metric. `n_validation` rows estimated each metric.
pub fn choose(points: &[Scored], metric: Metric, n_validation: usize) -> Option<usize> {
    let finite = |p: &Scored| p.metric.is_finite();
    let better_below = |p: &Scored| points.iter().any(|q| finite(q) && q.fraction < p.fraction && q.loss < p.loss);
    let eligible: Vec<usize> = (0..points.len()).filter(|&i| finite(&points[i]) && !(points[i].trivial && better_below(&points[i]))).collect();
    let best = eligible.iter().map(|&i| points[i].metric).fold(f64::NEG_INFINITY, f64::max);
    if !best.is_finite() {
        return None;
    }
    let tol = 0.5 * standard_error(metric, best, n_validation.max(1));
    eligible.into_iter().filter(|&i| points[i].metric >= best - tol).min_by(|&a, &b| {
        let (pa, pb) = (&points[a], &points[b]);
        // NaN losses sort last
        let la = if pa.loss.is_nan() { f64::INFINITY } else { pa.loss };
        let lb = if pb.loss.is_nan() { f64::INFINITY } else { pb.loss };
        la.total_cmp(&lb).then(pb.fraction.total_cmp(&pa.fraction))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(fraction: f64, metric: f64, loss: f64, trivial: bool) -> Scored {
        Scored { fraction, metric, loss, trivial }
    }

    /// The rule before: the strictly best metric, an exact tie to the lower loss.
    fn old_rule(points: &[Scored]) -> usize {
        let mut best = 0;
        for (i, p) in points.iter().enumerate() {
            let b = &points[best];
            if p.metric > b.metric || (p.metric == b.metric && p.loss < b.loss) {
                best = i;
            }
        }
        best
    }

    #[test]
    fn a_tie_within_the_noise_goes_to_the_lower_loss_not_the_larger_beta() {
        // 500 validation rows at 0.80: half a standard error is 0.9 points
        let pts = [s(0.35, 0.804, 0.90, false), s(0.12, 0.800, 0.55, false), s(0.04, 0.70, 0.60, false)];
        assert_eq!(old_rule(&pts), 0, "the old rule took the larger β");
        assert_eq!(choose(&pts, Metric::Accuracy, 500), Some(1));
        // a clear difference still goes to the metric
        let pts = [s(0.35, 0.85, 0.90, false), s(0.12, 0.80, 0.55, false)];
        assert_eq!(choose(&pts, Metric::Accuracy, 500), Some(0));
    }

    #[test]
    fn a_trivial_model_loses_to_a_smaller_beta_with_a_lower_loss() {
        // the constant model at 0.35 scores best on accuracy (a chance tie on an imbalanced
        // split) but a smaller β fits better on the loss
        let pts = [s(0.35, 0.40, 0.95, true), s(0.12, 0.36, 0.80, false), s(0.04, 0.38, 0.85, false)];
        assert_eq!(old_rule(&pts), 0);
        assert_eq!(choose(&pts, Metric::Accuracy, 2000), Some(2), "the best non-trivial metric, 0.38 (within its noise only itself)");
        // trivial at the smallest β with nothing better below: still eligible
        let pts = [s(0.35, 0.30, 0.95, false), s(0.12, 0.50, 0.70, true)];
        assert_eq!(choose(&pts, Metric::Accuracy, 2000), Some(1));
    }

    #[test]
    fn exact_ties_go_to_the_larger_beta_and_nan_is_skipped() {
        let pts = [s(0.1, 0.9, 0.3, false), s(0.01, 0.9, 0.3, false)];
        assert_eq!(choose(&pts, Metric::Accuracy, 100), Some(0));
        let pts = [s(0.1, f64::NAN, 0.1, false), s(0.01, 0.5, f64::NAN, false)];
        assert_eq!(choose(&pts, Metric::Accuracy, 100), Some(1));
        assert_eq!(choose(&[s(0.1, f64::NEG_INFINITY, 0.1, false)], Metric::Accuracy, 100), None);
        // a perfect accuracy has no noise: only equals tie
        let pts = [s(0.1, 1.0, 0.3, false), s(0.01, 0.999, 0.1, false)];
        assert_eq!(choose(&pts, Metric::Accuracy, 100), Some(0));
    }
}
