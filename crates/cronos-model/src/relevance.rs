//! Feature relevance weights: a supervised rescaling of the preprocessed features that makes
//! the sampled gates and the group-lasso penalty favour the features that carry the target.
//!
//! **Why.** Gates are drawn isotropically in the preprocessed feature space, so on tabular data
//! with many uninformative features (scikit-learn's `make_classification`: 20 informative of
//! 100) most of each random hyperplane's direction is noise and the sampled patterns barely
//! follow the class structure; an MLP instead learns first-layer directions in the informative
//! subspace. Scaling feature j by s_j tilts both the gate distribution (h ~ N(0, diag(s²)) in
//! the standardized space) and the penalty (‖u‖ on the rescaled features penalizes weight on
//! a feature by 1/s_j) toward relevant features, at the cost of one pass over X.
//!
//! **The score.** For each feature, the share R²_j of the targets' (weighted) sum of squares,
//! as the solver sees them (±1 one-vs-rest columns or one-hot rows for classes, values for
//! regression), that a regression on (z, z²) explains, z the standardized feature: for one
//! target and the linear part the squared correlation (scikit-learn's `f_classif` /
//! `f_regression` up to a common factor), and z² catches the symmetric dependence, y = |x|,
//! that a linear score rates 0. With F_j = R²/(1 − R²),
//!
//!   s_j = max((F_j / mean F)^(e/2), [`MIN_WEIGHT`]),
//!
//! so that feature variances are proportional to F^e. Only ratios of weighted sums enter:
//! scaling the row weights, or replacing a row of weight 2 by two copies, changes nothing
//! (as the fit itself), and on any number of ranks the sums are those of one process; sparse
//! rows visit their non-zeros only. Two passes over X. (Binned scores, η² over 16 bins, were
//! tried: without a chance correction of (bins − 1)/n they scored noise features too high,
//! and such a correction depends on the row count, which breaks both invariances.)

//! **Measured** (`scripts/bench-tabular.py`; 5-fold CV or 4,000 held-out rows,
//! `GatedReLUClassifier()` defaults otherwise): see the README's table. e = ½ is
//! [`DEFAULT_EXPONENT`]: with the linear F statistic, e = 1 was better on the synthetic sets
//! but worse on the small public ones.

use cronos::{Comm, Real};
use faer::MatRef;

/// The exponent e of [`relevance_weights`]' default (see the module doc).
pub const DEFAULT_EXPONENT: f64 = 0.5;

/// The smallest weight: a feature with no relevance is shrunk, never removed (the scale
/// stored in the model stays finite).
pub const MIN_WEIGHT: f64 = 1e-3;

/// A feature whose explained fraction exceeds this counts as fully explained (F capped).
const MAX_R2: f64 = 1.0 - 1e-12;

/// Relevance weights s_j (see the module doc) of the features of `x` (n × d) after the
/// preprocessing x ↦ (x − offset) / scale, for targets `y` (n × k), rows weighted by
/// `weights`. All ones when no feature varies or the targets are constant.
pub fn relevance_weights<T: Real>(x: MatRef<'_, T>, offset: &[f64], scale: &[f64], y: MatRef<'_, T>, weights: Option<&[f64]>, exponent: f64) -> Vec<f64> {
    relevance_weights_over(x, offset, scale, y, weights, exponent, &cronos::LocalComm)
}

/// [`relevance_weights`] over the ranks of `comm` (`x`, `y`, `weights`: this rank's rows; a
/// collective): the sums run over all rows, so every rank gets the weights of one process.
pub fn relevance_weights_over<T: Real>(x: MatRef<'_, T>, offset: &[f64], scale: &[f64], y: MatRef<'_, T>, weights: Option<&[f64]>, exponent: f64, comm: &dyn Comm) -> Vec<f64> {
    let d = x.ncols();
    relevance_from_rows(x.nrows(), d, y, weights, exponent, comm, |i, f| (0..d).for_each(|j| f(j, (x[(i, j)].to_f64() - offset[j]) / scale[j])))
}

/// [`relevance_weights`] on CSR data (preprocessed by x ↦ x / scale, no centering).
pub fn sparse_relevance_weights<T: Real>(x: &cronos::Csr<T>, scale: &[f64], y: MatRef<'_, T>, weights: Option<&[f64]>, exponent: f64) -> Vec<f64> {
    relevance_from_rows(x.nrows(), x.ncols(), y, weights, exponent, &cronos::LocalComm, |i, f| x.row(i).for_each(|(j, v)| f(j, v.to_f64() / scale[j])))
}

/// The weights from a visitor of each row's (feature, preprocessed value) entries (absent
/// entries are 0).
/// The weights from a visitor of each row's (feature, preprocessed value) entries (absent
/// entries are 0): two passes, the moments of each feature, then per feature the sums that
/// regress the targets on (z, z²), z the standardized feature.
#[allow(clippy::too_many_arguments)]
fn relevance_from_rows<T: Real>(n: usize, d: usize, y: MatRef<'_, T>, weights: Option<&[f64]>, exponent: f64, comm: &dyn Comm, row: impl Fn(usize, &mut dyn FnMut(usize, f64))) -> Vec<f64> {
    let k = y.ncols();
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    // pass 1, summed over ranks: the total weight, Σw y, and per feature Σw x, Σw x²
    let mut head = vec![0.0; 1 + k + 2 * d];
    for i in 0..n {
        let wi = w(i);
        head[0] += wi;
        (0..k).for_each(|c| head[1 + c] += wi * y[(i, c)].to_f64());
        row(i, &mut |j, v| {
            head[1 + k + j] += wi * v;
            head[1 + k + d + j] += wi * v * v;
        });
    }
    comm.sum_f64(&mut head);
    let total = head[0];
    if !(total > 0.0) || d == 0 || k == 0 {
        return vec![1.0; d];
    }
    let ybar: Vec<f64> = head[1..1 + k].iter().map(|s| s / total).collect();
    let moments: Vec<(f64, f64)> = (0..d)
        .map(|j| {
            let mean = head[1 + k + j] / total;
            (mean, (head[1 + k + d + j] / total - mean * mean).max(0.0).sqrt())
        })
        .collect();
    // one-pass variances cancel: a constant feature can show a standard deviation of ~1e-8·|mean|
    let varying: Vec<bool> = moments.iter().map(|&(m, sd)| sd > 1e-6 * m.abs() && sd > 0.0).collect();
    let z = |j: usize, v: f64| (v - moments[j].0) / moments[j].1;
    // pass 2: per feature Σw z^p (p = 1..4) and Σw (y − ȳ) z^p (p = 1, 2). Every row starts at
    // the value 0 and its stored entries correct that (sparse rows visit their non-zeros only)
    let stride = 4 + 2 * k;
    let mut acc = vec![0.0; d * stride + 1];
    let (mut yc, mut local_yc) = (vec![0.0; k], vec![0.0; k]);
    for i in 0..n {
        let wi = w(i);
        (0..k).for_each(|c| {
            yc[c] = y[(i, c)].to_f64() - ybar[c];
            local_yc[c] += wi * yc[c];
        });
        acc[d * stride] += wi * yc.iter().map(|v| v * v).sum::<f64>();
        row(i, &mut |j, v| {
            if !varying[j] {
                return;
            }
            let (z1, z0) = (z(j, v), z(j, 0.0));
            let a = &mut acc[j * stride..(j + 1) * stride];
            for p in 0..4 {
                a[p] += wi * (z1.powi(p as i32 + 1) - z0.powi(p as i32 + 1));
            }
            for c in 0..k {
                a[4 + c] += wi * yc[c] * (z1 - z0);
                a[4 + k + c] += wi * yc[c] * (z1 * z1 - z0 * z0);
            }
        });
    }
    let local_total: f64 = (0..n).map(w).sum();
    for j in (0..d).filter(|&j| varying[j]) {
        let z0 = z(j, 0.0);
        let a = &mut acc[j * stride..(j + 1) * stride];
        for p in 0..4 {
            a[p] += local_total * z0.powi(p as i32 + 1);
        }
        for c in 0..k {
            a[4 + c] += local_yc[c] * z0;
            a[4 + k + c] += local_yc[c] * z0 * z0;
        }
    }
    comm.sum_f64(&mut acc);
    let target_ss = acc[d * stride];
    if !(target_ss > 0.0) {
        return vec![1.0; d];
    }
    let fstat: Vec<Option<f64>> = (0..d).map(|j| varying[j].then(|| explained_share(&acc[j * stride..(j + 1) * stride], k, total, target_ss))).map(|r| r.map(|r2| r2 / (1.0 - r2))).collect();
    let scored: Vec<f64> = fstat.iter().flatten().copied().collect();
    let mean = scored.iter().sum::<f64>() / scored.len().max(1) as f64;
    if !(mean > 0.0 && mean.is_finite()) {
        return vec![1.0; d];
    }
    fstat.iter().map(|f| f.map_or(1.0, |f| (f / mean).powf(exponent / 2.0).max(MIN_WEIGHT))).collect()
}

/// R² of the targets regressed on (z, z²) with an intercept, from one feature's sums `a`
/// (Σw z^p for p = 1..4, then Σw (y − ȳ) z and Σw (y − ȳ) z² per target), capped below 1.
/// z² catches dependence a linear score misses (y = |x|: correlation 0); a feature whose z²
/// is affine in z (two values) is regressed on z alone.
fn explained_share(a: &[f64], k: usize, total: f64, target_ss: f64) -> f64 {
    // centred Gram of (z, z²): z has weighted mean 0 and variance 1 by construction
    let (m1, m2) = (a[0] / total, a[1] / total);
    let g11 = a[1] - total * m1 * m1;
    let g12 = a[2] - total * m1 * m2;
    let g22 = a[3] - total * m2 * m2;
    let det = g11 * g22 - g12 * g12;
    let explained: f64 = (0..k)
        .map(|c| {
            let (c1, c2) = (a[4 + c], a[4 + k + c]);
            if det > 1e-9 * g11 * g22 {
                (g22 * c1 * c1 - 2.0 * g12 * c1 * c2 + g11 * c2 * c2) / det
            } else if g11 > 0.0 {
                c1 * c1 / g11
            } else {
                0.0
            }
        })
        .sum();
    (explained / target_ss).clamp(0.0, MAX_R2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// Feature 0 carries the class, feature 1 is noise, feature 2 is constant.
    fn data() -> (Mat<f64>, Mat<f64>) {
        let n = 200;
        let mut state = 7u64;
        let mut noise = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let class: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let x = Mat::from_fn(n, 3, |i, j| match j {
            0 => class[i] as f64 * 2.0 - 1.0 + 0.5 * noise(),
            1 => noise(),
            _ => 3.0,
        });
        let y = Mat::from_fn(n, 1, |i, _| if class[i] == 1 { 1.0 } else { -1.0 });
        (x, y)
    }

    #[test]
    fn the_informative_feature_outweighs_noise_and_constants_keep_weight_one() {
        let (x, y) = data();
        let s = relevance_weights(x.as_ref(), &[0.0; 3], &[1.0; 3], y.as_ref(), None, 0.5);
        assert!(s[0] > 1.0 && s[1] < 0.5, "{s:?}");
        assert_eq!(s[2], 1.0);
        // one-hot columns span the same targets as the ±1 column: the same weights
        let onehot = Mat::from_fn(y.nrows(), 2, |i, c| if (y[(i, 0)] > 0.0) == (c == 1) { 1.0 } else { 0.0 });
        let t = relevance_weights(x.as_ref(), &[0.0; 3], &[1.0; 3], onehot.as_ref(), None, 0.5);
        for (a, b) in s.iter().zip(&t) {
            assert!((a - b).abs() < 1e-9 * a.abs().max(1.0), "{s:?} vs {t:?}");
        }
    }

    #[test]
    fn the_preprocessing_and_the_sparse_form_do_not_change_the_weights() {
        let (x, y) = data();
        let s = relevance_weights(x.as_ref(), &[0.0; 3], &[1.0; 3], y.as_ref(), None, 0.5);
        // R² is invariant under an affine map of each feature
        let t = relevance_weights(x.as_ref(), &[0.3, -2.0, 0.0], &[4.0, 0.1, 1.0], y.as_ref(), None, 0.5);
        for (a, b) in s.iter().zip(&t) {
            assert!((a - b).abs() < 1e-9, "{s:?} vs {t:?}");
        }
        let csr = cronos::Csr::from_dense(x.as_ref());
        let u = sparse_relevance_weights(&csr, &[1.0; 3], y.as_ref(), None, 0.5);
        for (a, b) in s.iter().zip(&u) {
            assert!((a - b).abs() < 1e-9, "{s:?} vs {u:?}");
        }
    }

    #[test]
    fn weights_act_like_repeated_rows_and_constant_targets_give_ones() {
        let (x, y) = data();
        let w: Vec<f64> = (0..x.nrows()).map(|i| 1.0 + (i % 3) as f64).collect();
        let weighted = relevance_weights(x.as_ref(), &[0.0; 3], &[1.0; 3], y.as_ref(), Some(&w), 0.5);
        let rows: Vec<usize> = (0..x.nrows()).flat_map(|i| std::iter::repeat(i).take(1 + i % 3)).collect();
        let xr = Mat::from_fn(rows.len(), 3, |i, j| x[(rows[i], j)]);
        let yr = Mat::from_fn(rows.len(), 1, |i, _| y[(rows[i], 0)]);
        let repeated = relevance_weights(xr.as_ref(), &[0.0; 3], &[1.0; 3], yr.as_ref(), None, 0.5);
        for (a, b) in weighted.iter().zip(&repeated) {
            assert!((a - b).abs() < 1e-9, "{weighted:?} vs {repeated:?}");
        }
        // and a common factor of the weights changes nothing
        let scaled: Vec<f64> = w.iter().map(|v| 0.004 * v).collect();
        let again = relevance_weights(x.as_ref(), &[0.0; 3], &[1.0; 3], y.as_ref(), Some(&scaled), 0.5);
        for (a, b) in weighted.iter().zip(&again) {
            assert!((a - b).abs() < 1e-9, "{weighted:?} vs {again:?}");
        }
        let flat = Mat::from_fn(x.nrows(), 1, |_, _| 1.0);
        assert_eq!(relevance_weights(x.as_ref(), &[0.0; 3], &[1.0; 3], flat.as_ref(), None, 0.5), vec![1.0; 3]);
    }

    #[test]
    fn a_dependence_no_linear_score_sees_still_counts() {
        // y = |x0|: x0 has no correlation with y, but its bins explain it; x1 is noise
        let n = 400;
        let x = Mat::from_fn(n, 2, |i, j| if j == 0 { (i as f64 / n as f64) * 4.0 - 2.0 } else { ((i * 7919) % 101) as f64 / 50.0 - 1.0 });
        let y = Mat::from_fn(n, 1, |i, _| x[(i, 0)].abs());
        let s = relevance_weights(x.as_ref(), &[0.0; 2], &[1.0; 2], y.as_ref(), None, 0.5);
        assert!(s[0] > 1.0 && s[1] < 0.5, "{s:?}");
    }
}
