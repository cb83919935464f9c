//! Activation patterns D_i = diag(1[X h_i ≥ 0]) from seeded Gaussian gate vectors h_i.
//!
//! Patterns are stored one bit per (sample, pattern): pattern j owns `words` consecutive
//! `u64`s, bit `i % 64` of word `i / 64` being 1 when sample i is active. Duplicates and
//! all-zero patterns are dropped and more gates are drawn until P distinct patterns exist
//! (at most `16 P + 64` draws, so tiny data sets with few possible patterns still finish).
//!
//! With rows on several ranks, a pattern is a column of bits spread over the ranks: it is
//! all-zero, or equal to another, only when it is so on every rank. Gates come from the shared
//! seed (no communication); per batch, each rank counts its active rows per candidate and flags
//! which earlier patterns each candidate equals on its rows, and one sum over ranks turns these
//! into the global answers, so every rank keeps the same gates as a single process would.

use crate::comm::{Comm, LocalComm};
use crate::data::XMat;
use crate::real::Real;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// Bit-packed activation patterns of the training rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Patterns {
    n: usize,
    p: usize,
    words: usize,
    bits: Vec<u64>,
}

impl Patterns {
    /// Builds from a column-major boolean layout: `active(i, j)` for sample i, pattern j.
    pub fn from_fn(n: usize, p: usize, mut active: impl FnMut(usize, usize) -> bool) -> Self {
        let words = n.div_ceil(64);
        let mut bits = vec![0u64; words * p];
        for j in 0..p {
            for i in 0..n {
                if active(i, j) {
                    bits[j * words + i / 64] |= 1 << (i % 64);
                }
            }
        }
        Patterns { n, p, words, bits }
    }

    /// Number of samples.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Number of patterns P.
    pub fn p(&self) -> usize {
        self.p
    }
    /// Whether sample `i` is active in pattern `j`.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> bool {
        (self.bits[j * self.words + i / 64] >> (i % 64)) & 1 == 1
    }
    /// The packed bits of pattern `j` (bit `i % 64` of word `i / 64` for sample i).
    pub fn column(&self, j: usize) -> &[u64] {
        &self.bits[j * self.words..(j + 1) * self.words]
    }

    /// Patterns from packed columns (each `n.div_ceil(64)` words, as [`Patterns::column`]
    /// gives them): the pattern set of a pricing round, kept columns and new ones together.
    ///
    /// # Panics
    /// When a column has the wrong number of words (a caller bug, not bad input).
    pub fn from_columns<'c>(n: usize, cols: impl IntoIterator<Item = &'c [u64]>) -> Self {
        let words = n.div_ceil(64);
        let mut bits = Vec::new();
        let mut p = 0;
        for c in cols {
            assert_eq!(c.len(), words, "a pattern column of {} words for {n} rows", c.len());
            bits.extend_from_slice(c);
            p += 1;
        }
        Patterns { n, p, words, bits }
    }

    /// Bytes used by the bit store.
    pub fn bytes(&self) -> usize {
        self.bits.len() * 8
    }

    /// Writes rows `r0..r0 + rows` as 0/1 values into `out` (column-major, `rows × P`,
    /// leading dimension `rows`), so the hot loops multiply instead of branching.
    pub fn unpack_rows<T: Real>(&self, r0: usize, rows: usize, out: &mut [T]) {
        let (one, zero) = (T::from_f64(1.0), T::from_f64(0.0));
        for j in 0..self.p {
            let col = &self.bits[j * self.words..(j + 1) * self.words];
            let dst = &mut out[j * rows..(j + 1) * rows];
            for (k, d) in dst.iter_mut().enumerate() {
                let i = r0 + k;
                *d = if (col[i / 64] >> (i % 64)) & 1 == 1 {
                    one
                } else {
                    zero
                };
            }
        }
    }

    /// Patterns of new rows `x` (n × d, bias column already appended) under `gates` (d × P).
    pub fn from_gates<T: Real>(x: MatRef<'_, T>, gates: MatRef<'_, T>, par: Par) -> Self {
        let mut z = Mat::<T>::zeros(x.nrows(), gates.ncols());
        matmul(z.as_mut(), Accum::Replace, x, gates, T::from_f64(1.0), par);
        let zero = T::from_f64(0.0);
        Patterns::from_fn(x.nrows(), gates.ncols(), |i, j| z[(i, j)] >= zero)
    }
}

/// Gate vectors (columns, d × P) and their distinct non-zero patterns on `x`.
#[derive(Clone, Debug)]
pub struct SampledPatterns<T: Real> {
    /// Gate vectors h_i as columns (bias coefficient last when the design has a bias).
    pub gates: Mat<T>,
    /// The patterns of the training rows.
    pub patterns: Patterns,
    /// How many gates were drawn in total (≥ P when duplicates were rejected).
    pub draws: usize,
}

/// Draws Gaussian gates with `seed` until `p` distinct non-zero patterns exist on `x`
/// (or the draw cap is hit, in which case fewer patterns are returned).
pub fn sample_patterns<T: Real>(
    x: MatRef<'_, T>,
    p: usize,
    seed: u64,
    par: Par,
) -> SampledPatterns<T> {
    sample_patterns_distributed(x, p, seed, None, par, &LocalComm)
}

/// [`sample_patterns`] when `x` holds this rank's rows of a design spread over `comm`:
/// all-zero and duplicate are decided on the whole column (collective; every rank gets the
/// same gates, and the patterns of its own rows).
///
/// `center`: the column means of `x` when its last column is a constant (the bias). Each
/// gate's bias entry is then shifted so that its hyperplane passes (up to the Gaussian draw of
/// that entry) through the mean of the data: on data far from the origin — pixels in [0, 1] —
/// raw Gaussian gates cut off few rows (12% of 64 patterns on Fashion-MNIST leave < 5% or
/// > 95% of the rows on one side), centred ones split the rows about evenly (38–65%).
pub fn sample_patterns_distributed<T: Real>(x: MatRef<'_, T>, p: usize, seed: u64, center: Option<&[f64]>, par: Par, comm: &dyn Comm) -> SampledPatterns<T> {
    let mul = |r0: usize, rows: usize, h: MatRef<'_, T>, z: MatMut<'_, T>| {
        matmul(z, Accum::Replace, x.subrows(r0, rows), h, T::from_f64(1.0), par)
    };
    sample_with(x.nrows(), x.ncols(), mul, p, seed, center, comm)
}

/// [`sample_patterns_distributed`] on the solver's X in either storage.
pub fn sample_patterns_data<T: Real>(x: &XMat<T>, p: usize, seed: u64, center: Option<&[f64]>, par: Par, comm: &dyn Comm) -> SampledPatterns<T> {
    let mul = |r0: usize, rows: usize, h: MatRef<'_, T>, z: MatMut<'_, T>| x.mul_rows(r0, rows, h, z, par);
    sample_with(x.nrows(), x.ncols(), mul, p, seed, center, comm)
}

/// The sampler, with `mul(r0, rows, H, Z)` computing Z = X[r0 .. r0 + rows, :]·H.
fn sample_with<T: Real>(
    n: usize,
    d: usize,
    mul: impl Fn(usize, usize, MatRef<'_, T>, MatMut<'_, T>),
    p: usize,
    seed: u64,
    center: Option<&[f64]>,
    comm: &dyn Comm,
) -> SampledPatterns<T> {
    let max_draws = 16 * p + 64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
    let words = n.div_ceil(64);
    let mut kept_gates: Vec<Vec<T>> = Vec::with_capacity(p);
    let mut kept_bits: Vec<u64> = Vec::with_capacity(words * p);
    let mut kept_hash: Vec<u64> = Vec::with_capacity(p);
    let mut draws = 0;
    let zero = T::from_f64(0.0);
    while kept_gates.len() < p && draws < max_draws {
        let batch = (p - kept_gates.len()).clamp(8, 256).min(max_draws - draws);
        let mut h = Mat::<T>::from_fn(d, batch, |_, _| {
            let g: f64 = StandardNormal.sample(&mut rng);
            T::from_f64(g)
        });
        if let Some(m) = center.filter(|m| m.len() == d && d > 1 && m[d - 1] != 0.0) {
            for j in 0..batch {
                let proj: f64 = (0..d - 1).map(|i| m[i] * h[(i, j)].to_f64()).sum();
                h[(d - 1, j)] = T::from_f64(h[(d - 1, j)].to_f64() - proj / m[d - 1]);
            }
        }
        draws += batch;
        // by row blocks: a whole-matrix product would let the GEMM pack a copy of X
        let mut z = Mat::<T>::zeros(n, batch);
        for r0 in (0..n).step_by(8192) {
            let rows = 8192.min(n - r0);
            mul(r0, rows, h.as_ref(), z.as_mut().subrows_mut(r0, rows));
        }
        let cand: Vec<Vec<u64>> = (0..batch)
            .map(|j| {
                let mut w = vec![0u64; words];
                for i in 0..n {
                    if z[(i, j)] >= zero {
                        w[i / 64] |= 1 << (i % 64);
                    }
                }
                w
            })
            .collect();
        drop(z);
        let cand_hash: Vec<u64> = cand.iter().map(|w| hash_words(w)).collect();
        // flags: [active rows of candidate j] then, for each j, [equal to kept m] for every
        // kept pattern m and [equal to candidate i] for every earlier candidate i < j
        let kb = kept_gates.len();
        let mut flags = vec![0.0f64; batch + batch * kb + batch * (batch - 1) / 2];
        for (j, w) in cand.iter().enumerate() {
            flags[j] = w.iter().map(|b| b.count_ones() as f64).sum();
        }
        let mut o = batch;
        for j in 0..batch {
            for m in 0..kb {
                let km = &kept_bits[m * words..(m + 1) * words];
                flags[o + m] =
                    f64::from(u8::from(kept_hash[m] == cand_hash[j] && km == &cand[j][..]));
            }
            o += kb;
            for i in 0..j {
                flags[o + i] =
                    f64::from(u8::from(cand_hash[i] == cand_hash[j] && cand[i] == cand[j]));
            }
            o += j;
        }
        comm.sum_f64(&mut flags);
        let everywhere = comm.size() as f64;
        // the sequential rule of one process: keep a candidate unless it is all-zero or equals
        // a pattern kept before it (from an earlier batch or earlier in this one)
        let mut kept_here: Vec<usize> = Vec::new();
        let mut o = batch;
        for j in 0..batch {
            let row = &flags[o..o + kb + j];
            o += kb + j;
            if kept_gates.len() == p {
                break;
            }
            let dup = row[..kb].contains(&everywhere)
                || kept_here.iter().any(|&i| row[kb + i] == everywhere);
            if flags[j] == 0.0 || dup {
                continue;
            }
            kept_here.push(j);
            kept_bits.extend_from_slice(&cand[j]);
            kept_hash.push(cand_hash[j]);
            kept_gates.push((0..d).map(|i| h[(i, j)]).collect());
        }
    }
    let pk = kept_gates.len();
    let gates = Mat::<T>::from_fn(d, pk, |i, j| kept_gates[j][i]);
    SampledPatterns {
        gates,
        patterns: Patterns {
            n,
            p: pk,
            words,
            bits: kept_bits,
        },
        draws,
    }
}

/// FNV-1a over the words of a pattern (a pre-check before comparing the words).
fn hash_words(w: &[u64]) -> u64 {
    w.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn data(n: usize, d: usize) -> Mat<f64> {
        Mat::from_fn(n, d, |i, j| {
            ((i * 7 + j * 13) % 11) as f64 - 5.0 + if j == d - 1 { 6.0 } else { 0.0 }
        })
    }

    #[test]
    fn distinct_nonzero_and_deterministic() {
        let x = data(200, 5);
        let a = sample_patterns(x.as_ref(), 20, 3, Par::Seq);
        let b = sample_patterns(x.as_ref(), 20, 3, Par::Seq);
        assert_eq!(a.patterns, b.patterns);
        assert_eq!(a.patterns.p(), 20);
        let mut set = HashSet::new();
        for j in 0..20 {
            let col: Vec<bool> = (0..200).map(|i| a.patterns.get(i, j)).collect();
            assert!(col.iter().any(|&b| b), "all-zero pattern kept");
            assert!(set.insert(col), "duplicate pattern kept");
        }
        // patterns agree with the gates
        let again = Patterns::from_gates(x.as_ref(), a.gates.as_ref(), Par::Seq);
        assert_eq!(again, a.patterns);
    }

    #[test]
    fn few_possible_patterns_terminate() {
        // one feature and no bias: only the all-ones pattern (x>0 rows) and its complement exist
        let x = Mat::<f64>::from_fn(10, 1, |i, _| if i < 5 { 1.0 } else { -1.0 });
        let s = sample_patterns(x.as_ref(), 8, 0, Par::Seq);
        assert_eq!(s.patterns.p(), 2);
        assert!(s.draws <= 16 * 8 + 64);
    }

    #[test]
    fn unpack_matches_get() {
        let x = data(130, 4);
        let s = sample_patterns(x.as_ref(), 6, 1, Par::Seq);
        let mut buf = vec![0.0f64; 70 * 6];
        s.patterns.unpack_rows(50, 70, &mut buf);
        for j in 0..6 {
            for k in 0..70 {
                assert_eq!(buf[j * 70 + k] == 1.0, s.patterns.get(50 + k, j));
            }
        }
    }
}
