//! Cleaning of raw series into plottable points, and axis ranges that are
//! always valid for plotters (finite, non-empty, positive on log axes).

use std::ops::Range;

/// Smallest value drawn on a log axis; non-positive values are clipped to it.
pub(crate) const LOG_FLOOR: f64 = 1e-12;

/// Largest value drawn on a log axis; larger finite values are clipped to it
/// (plotters cannot lay out a log axis spanning more than ~300 decades).
pub(crate) const LOG_CEIL: f64 = 1e30;

/// Magnitudes beyond this are treated as non-plottable (like infinities), so
/// that range arithmetic can never overflow.
const HUGE: f64 = 1e300;

fn plottable(v: f64) -> bool {
    v.is_finite() && v.abs() <= HUGE
}

/// `(x, y)` pairs of the common prefix where both coordinates are plottable.
pub(crate) fn linear_points(xs: &[f64], ys: &[f64]) -> Vec<(f64, f64)> {
    xs.iter()
        .zip(ys)
        .filter(|(x, y)| plottable(**x) && plottable(**y))
        .map(|(x, y)| (*x, *y))
        .collect()
}

/// `(x, y)` pairs for a log axis: NaN and `+inf` are skipped, values below
/// [`LOG_FLOOR`] (including zero, negatives and `-inf`) are clipped to it and
/// finite values above [`LOG_CEIL`] are clipped to that.
pub(crate) fn log_points(xs: &[f64], ys: &[f64]) -> Vec<(f64, f64)> {
    xs.iter()
        .zip(ys)
        .filter(|(x, y)| plottable(**x) && !y.is_nan() && **y != f64::INFINITY)
        .map(|(x, y)| (*x, y.clamp(LOG_FLOOR, LOG_CEIL)))
        .collect()
}

/// Whether [`log_points`] clips any value of `ys` up to [`LOG_FLOOR`].
pub(crate) fn clips_to_floor(ys: &[f64]) -> bool {
    ys.iter().any(|y| *y < LOG_FLOOR)
}

/// `(x, y * scale)` pairs for an optional series, skipping `None` and
/// non-plottable values.
pub(crate) fn option_points(xs: &[f64], ys: &[Option<f64>], scale: f64) -> Vec<(f64, f64)> {
    xs.iter()
        .zip(ys)
        .filter_map(|(x, y)| y.map(|y| (*x, y * scale)))
        .filter(|(x, y)| plottable(*x) && plottable(*y))
        .collect()
}

/// Factor that turns accuracies into percent: 100 for fractions in `[0, 1]`,
/// 1 if any value exceeds 1 (the series is then taken to be in percent).
pub(crate) fn percent_scale<'a>(values: impl IntoIterator<Item = &'a f64>) -> f64 {
    if values.into_iter().any(|v| plottable(*v) && *v > 1.0) {
        1.0
    } else {
        100.0
    }
}

/// Finite min and max of `values`, if any.
fn min_max(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| plottable(*v))
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Range for a time axis: starts at 0 unless some time is negative.
pub(crate) fn time_range(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    match min_max(values) {
        None => 0.0..1.0,
        Some((lo, hi)) => {
            let lo = lo.min(0.0);
            let hi = if hi - lo > 0.0 {
                hi + (hi - lo) * 0.02
            } else {
                lo + 1.0
            };
            lo..hi
        }
    }
}

/// A range for percentages covering `values`, padded and clamped to `[0, 100]`
/// (unless the data itself leaves it), at least 2 percentage points wide.
pub(crate) fn percent_range(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    match min_max(values) {
        None => 0.0..100.0,
        Some((lo, hi)) => {
            let pad = ((hi - lo) * 0.08).max(1.0);
            let lo = (lo - pad).max(0.0_f64.min(lo));
            let hi = (hi + pad).min(100.0_f64.max(hi));
            lo..hi
        }
    }
}

/// A range for a log axis covering the (already floored) positive `values`,
/// padded by a factor of 2 at each end; `1e-3..1` when there are none.
pub(crate) fn log_range(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    match min_max(values.into_iter().filter(|v| *v > 0.0)) {
        None => 1e-3..1.0,
        Some((lo, hi)) if hi <= lo => lo / 10.0..hi * 10.0,
        Some((lo, hi)) => lo / 2.0..hi * 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_points_clip_and_skip() {
        let xs = [0.0, 1.0, 2.0, 3.0, f64::NAN, 5.0];
        let ys = [1.0, 0.0, f64::NAN, -2.0, 1.0, f64::INFINITY];
        assert_eq!(
            log_points(&xs, &ys),
            vec![(0.0, 1.0), (1.0, LOG_FLOOR), (3.0, LOG_FLOOR)]
        );
        assert_eq!(log_points(&[0.0], &[1e300]), vec![(0.0, LOG_CEIL)]);
        assert!(clips_to_floor(&[1.0, 0.0]) && !clips_to_floor(&[1.0]));
    }

    #[test]
    fn option_points_skip_none_and_scale() {
        let pts = option_points(&[0.0, 1.0, 2.0], &[Some(0.5), None, Some(f64::NAN)], 100.0);
        assert_eq!(pts, vec![(0.0, 50.0)]);
    }

    #[test]
    fn ranges_are_never_empty() {
        for r in [
            time_range([]),
            time_range([0.0]),
            time_range([f64::NAN, f64::INFINITY]),
            time_range([-1.0, -1.0]),
            percent_range([]),
            percent_range([100.0, 100.0]),
            log_range([]),
            log_range([1e-12]),
            log_range([0.5, 0.5]),
            log_range([LOG_FLOOR, LOG_CEIL]),
        ] {
            assert!(
                r.start.is_finite() && r.end.is_finite() && r.start < r.end,
                "{r:?}"
            );
        }
        assert!(log_range([0.0, -1.0]).start > 0.0);
    }

    #[test]
    fn percent_scale_detects_percent() {
        assert_eq!(percent_scale(&[0.2, 0.9]), 100.0);
        assert_eq!(percent_scale(&[20.0, 90.0]), 1.0);
        assert_eq!(percent_scale(&[]), 100.0);
    }
}
