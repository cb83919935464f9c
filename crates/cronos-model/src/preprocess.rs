//! Feature preprocessing: the per-feature statistics and the affine map x ↦ (x − offset) /
//! scale stored in the model file. The one implementation of the statistics: the CLI's local
//! training ([`Preprocessing::fit`]) and the Python estimators (`cronos._cronos.preprocess_stats`,
//! with sample weights and float64 data) both call [`column_stats`]; sparse data (no
//! centering) [`sparse_column_stats`].

use cronos::Real;
use faer::{MatMut, MatRef};
use serde::{Deserialize, Serialize};

/// Which feature preprocessing to fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PreprocessKind {
    /// Features are used as they are (offset 0, scale 1).
    #[default]
    None,
    /// Per-feature min/max scaling to [0, 1] (a constant feature gets scale 1).
    Scale01,
    /// Per-feature standardization to mean 0 and standard deviation 1 (std 0 → 1).
    Standardize,
}

/// An affine per-feature preprocessing x ↦ (x − offset) / scale, fitted on the training data
/// and applied identically at prediction time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// How it was fitted.
    pub kind: PreprocessKind,
    /// Subtracted from each feature.
    pub offset: Vec<f32>,
    /// Each feature is divided by this (never 0).
    pub scale: Vec<f32>,
}

/// The standard deviation below which a feature counts as constant (scale 1), relative to
/// max(1, |mean|): rounding noise of the mean of a constant float64 column (the sum of n equal
/// values divided by n need not give the value back) must not become a scale. On float32 data
/// this is the rule `sd > 0` (a float32 column that is not constant has sd ≥ ~6e-8·|mean|/√n).
const CONSTANT_SD: f64 = 1e-12;

/// Per-feature (offset, scale) of `kind` on the rows of `x` (n × d), in f64.
///
/// * `Standardize`: the mean and standard deviation (population, weighted by `weights` when
///   given: Σwx/Σw and √(Σw(x − mean)²/Σw)); a standard deviation that is not finite or is at
///   most 1e-12·max(1, |mean|) gives scale 1 (a constant feature is centred, not blown up).
/// * `Scale01`: the minimum and the range over all rows (weights play no part); a range that is
///   0 or not finite gives scale 1.
/// * `None`, or no rows: offset 0, scale 1.
///
/// `weights` must have one entry per row (the caller validates them: finite, ≥ 0, not all 0).
pub fn column_stats<T: Real>(x: MatRef<'_, T>, weights: Option<&[f64]>, kind: PreprocessKind) -> (Vec<f64>, Vec<f64>) {
    let (n, d) = (x.nrows(), x.ncols());
    let (mut offset, mut scale) = (vec![0.0; d], vec![1.0; d]);
    if n == 0 {
        return (offset, scale);
    }
    let col = |j: usize| (0..n).map(move |i| x[(i, j)].to_f64());
    for j in 0..d {
        match kind {
            PreprocessKind::None => {}
            PreprocessKind::Scale01 => {
                let (lo, hi) = col(j).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
                let range = hi - lo;
                offset[j] = lo;
                scale[j] = if range > 0.0 && range.is_finite() { range } else { 1.0 };
            }
            PreprocessKind::Standardize => {
                let (mean, var) = match weights {
                    // unweighted: the sums of the CLI's fit, in the same order
                    None => {
                        let mean = col(j).sum::<f64>() / n as f64;
                        (mean, col(j).map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64)
                    }
                    Some(w) => {
                        let total = pairwise_sum(w);
                        let mean = col(j).zip(w).map(|(v, w)| w * v).sum::<f64>() / total;
                        (mean, col(j).zip(w).map(|(v, w)| w * (v - mean).powi(2)).sum::<f64>() / total)
                    }
                };
                let sd = var.sqrt();
                offset[j] = mean;
                scale[j] = if sd.is_finite() && sd > CONSTANT_SD * mean.abs().max(1.0) { sd } else { 1.0 };
            }
        }
    }
    (offset, scale)
}

/// Per-feature (offset, scale) of `kind` on a sparse matrix, without centering (centering
/// would fill every entry; the model's bias absorbs the offset): offset 0, and
///
/// * `Standardize`: the (weighted) standard deviation √(Σw x²/Σw − mean²), with the rule of
///   [`column_stats`] for constant features (like scikit-learn's `StandardScaler(with_mean=False)`);
/// * `Scale01`: the largest |value| (for non-negative data exactly min/max scaling to [0, 1],
///   a sparse column's minimum being 0); an all-zero column gets scale 1.
///
/// Sums run over each column's entries in row order, as `X.T @ w` of a CSC matrix does.
pub fn sparse_column_stats<T: Real>(x: &cronos::Csr<T>, weights: Option<&[f64]>, kind: PreprocessKind) -> (Vec<f64>, Vec<f64>) {
    let (n, d) = (x.nrows(), x.ncols());
    let (mut s1, mut s2, mut amax) = (vec![0.0f64; d], vec![0.0f64; d], vec![0.0f64; d]);
    for i in 0..n {
        let w = weights.map_or(1.0, |w| w[i]);
        for (j, v) in x.row(i) {
            let v = v.to_f64();
            s1[j] += v * w;
            s2[j] += (v * v) * w;
            amax[j] = amax[j].max(v.abs());
        }
    }
    let total = weights.map_or(n as f64, pairwise_sum);
    let scale = (0..d)
        .map(|j| {
            let s = match kind {
                PreprocessKind::None => 1.0,
                PreprocessKind::Scale01 => amax[j],
                PreprocessKind::Standardize => {
                    let mean = s1[j] / total;
                    let sd = (s2[j] / total - mean * mean).max(0.0).sqrt();
                    if sd > CONSTANT_SD * mean.abs().max(1.0) { sd } else { 1.0 }
                }
            };
            if s > 0.0 && s.is_finite() { s } else { 1.0 }
        })
        .collect();
    (vec![0.0; d], scale)
}

/// Σ v by pairwise summation over blocks of 8 (error O(ε log n) rather than O(ε n)), in the
/// order of numpy's `np.sum`: the Python package computed its weighted statistics with numpy
/// before they moved here, and they stay the same to the bit (the temperature of a
/// squared-loss classifier can react to the last bit of the means).
fn pairwise_sum(v: &[f64]) -> f64 {
    let n = v.len();
    if n < 8 {
        return v.iter().fold(0.0, |s, &x| s + x);
    }
    if n > 128 {
        let half = n / 2 - (n / 2) % 8;
        return pairwise_sum(&v[..half]) + pairwise_sum(&v[half..]);
    }
    let mut r = [0.0; 8];
    r.copy_from_slice(&v[..8]);
    let m = n - n % 8;
    for block in v[8..m].chunks_exact(8) {
        r.iter_mut().zip(block).for_each(|(r, &x)| *r += x);
    }
    let sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    v[m..].iter().fold(sum, |s, &x| s + x)
}

impl Preprocessing {
    /// The identity on `d` features.
    pub fn identity(d: usize) -> Self {
        Preprocessing { kind: PreprocessKind::None, offset: vec![0.0; d], scale: vec![1.0; d] }
    }

    /// Fits the preprocessing on the rows of `x` (n × d), unweighted ([`column_stats`]);
    /// statistics are accumulated in f64 and stored as f32.
    pub fn fit(x: MatRef<'_, f32>, kind: PreprocessKind) -> Self {
        let (offset, scale) = column_stats(x, None, kind);
        Preprocessing {
            kind,
            offset: offset.iter().map(|&o| o as f32).collect(),
            // a scale too small for f32 is no scale
            scale: scale.iter().map(|&s| s as f32).map(|s| if s > 0.0 { s } else { 1.0 }).collect(),
        }
    }

    /// Fits the preprocessing on the rows of every rank of `comm` (`x`: this rank's rows; a
    /// collective, called by every rank): the statistics of [`Preprocessing::fit`] on all rows
    /// together (min/max, or the mean, then the squared deviations from it, summed over ranks),
    /// so a distributed fit preprocesses like one process. On one process it *is* `fit`, to
    /// the bit.
    pub fn fit_over(x: MatRef<'_, f32>, kind: PreprocessKind, comm: &dyn cronos::comm::Comm) -> Self {
        if comm.size() == 1 {
            return Self::fit(x, kind);
        }
        let d = x.ncols();
        let mut p = Preprocessing::identity(d);
        p.kind = kind;
        let mut n = [x.nrows() as f64];
        comm.sum_f64(&mut n);
        let n = n[0];
        if n == 0.0 {
            return p;
        }
        let col = |j: usize| (0..x.nrows()).map(move |i| x[(i, j)] as f64);
        let summed = |mut v: Vec<f64>| {
            comm.sum_f64(&mut v);
            v
        };
        let f32_scale = |s: f64| if (s as f32) > 0.0 { s as f32 } else { 1.0 };
        match kind {
            PreprocessKind::None => {}
            PreprocessKind::Scale01 => {
                let local: Vec<f64> = (0..d).flat_map(|j| [col(j).fold(f64::INFINITY, f64::min), col(j).fold(f64::NEG_INFINITY, f64::max)]).collect();
                let all = cronos::comm::all_gather_f64(comm, &local);
                for j in 0..d {
                    let lo = all.iter().map(|v| v[2 * j]).fold(f64::INFINITY, f64::min);
                    let hi = all.iter().map(|v| v[2 * j + 1]).fold(f64::NEG_INFINITY, f64::max);
                    let range = hi - lo;
                    p.offset[j] = lo as f32;
                    p.scale[j] = if range > 0.0 && range.is_finite() { f32_scale(range) } else { 1.0 };
                }
            }
            PreprocessKind::Standardize => {
                let mean: Vec<f64> = summed((0..d).map(|j| col(j).sum::<f64>()).collect()).iter().map(|s| s / n).collect();
                let var = summed((0..d).map(|j| col(j).map(|v| (v - mean[j]).powi(2)).sum::<f64>()).collect());
                for j in 0..d {
                    let sd = (var[j] / n).sqrt();
                    p.offset[j] = mean[j] as f32;
                    // the constant-feature rule of [`column_stats`]
                    p.scale[j] = if sd.is_finite() && sd > CONSTANT_SD * mean[j].abs().max(1.0) { f32_scale(sd) } else { 1.0 };
                }
            }
        }
        p
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.offset.len()
    }

    /// Applies x ↦ (x − offset) / scale in place. `x` must have `n_features()` columns
    /// (panics otherwise: check the width first).
    pub fn apply(&self, mut x: MatMut<'_, f32>) {
        assert_eq!(x.ncols(), self.offset.len(), "preprocessing width mismatch");
        if self.kind == PreprocessKind::None && self.offset.iter().all(|&o| o == 0.0) && self.scale.iter().all(|&s| s == 1.0) {
            return;
        }
        for j in 0..x.ncols() {
            let (o, s) = (self.offset[j], self.scale[j]);
            for i in 0..x.nrows() {
                x[(i, j)] = (x[(i, j)] - o) / s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn weights_equal_repeated_rows() {
        let x = Mat::from_fn(3, 2, |i, j| (i * 3 + j) as f64 * 0.7 - 1.0);
        let rep = Mat::from_fn(4, 2, |i, j| x[([0, 1, 1, 2][i], j)]);
        let (o1, s1) = column_stats(x.as_ref(), Some(&[1.0, 2.0, 1.0]), PreprocessKind::Standardize);
        let (o2, s2) = column_stats(rep.as_ref(), None, PreprocessKind::Standardize);
        for j in 0..2 {
            assert!((o1[j] - o2[j]).abs() < 1e-14 && (s1[j] - s2[j]).abs() < 1e-14, "{o1:?} {o2:?} {s1:?} {s2:?}");
        }
    }

    #[test]
    fn sparse_stats_match_dense_without_centering() {
        let x = Mat::from_fn(9, 3, |i, j| if (i + j) % 3 == 0 { 0.0 } else { (i * 5 + j) as f64 * 0.3 - 2.0 });
        let csr = cronos::Csr::from_dense(x.as_ref());
        let w: Vec<f64> = (0..9).map(|i| 0.5 + i as f64 * 0.25).collect();
        for weights in [None, Some(w.as_slice())] {
            let (o, s) = sparse_column_stats(&csr, weights, PreprocessKind::Standardize);
            let (_, sd) = column_stats(x.as_ref(), weights, PreprocessKind::Standardize);
            assert!(o.iter().all(|&o| o == 0.0));
            for j in 0..3 {
                assert!((s[j] - sd[j]).abs() < 1e-12 * sd[j], "{s:?} {sd:?}");
            }
        }
        let (_, s) = sparse_column_stats(&csr, None, PreprocessKind::Scale01);
        let amax: Vec<f64> = (0..3).map(|j| (0..9).map(|i| x[(i, j)].abs()).fold(0.0, f64::max)).collect();
        assert_eq!(s, amax);
        let empty = cronos::Csr::<f64>::from_dense(Mat::zeros(4, 2).as_ref());
        assert_eq!(sparse_column_stats(&empty, None, PreprocessKind::Standardize).1, vec![1.0, 1.0]);
    }

    #[test]
    fn constant_columns_get_scale_one() {
        // 0.1 summed 7 times and divided by 7 is not 0.1 in f64: the noise is no scale
        let x = Mat::from_fn(7, 2, |i, j| if j == 0 { 0.1 } else { i as f64 });
        let (o, s) = column_stats(x.as_ref(), None, PreprocessKind::Standardize);
        assert_eq!(s[0], 1.0);
        assert!((o[0] - 0.1).abs() < 1e-15 && (s[1] - 2.0).abs() < 1e-12, "{o:?} {s:?}");
        let (o, s) = column_stats(x.as_ref(), None, PreprocessKind::Scale01);
        assert_eq!((o[0], s[0], o[1], s[1]), (0.1, 1.0, 0.0, 6.0));
    }
}
