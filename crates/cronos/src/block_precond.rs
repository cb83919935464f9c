//! A block-Jacobi preconditioner: the exact diagonal d × d blocks of a Newton matrix,
//! Cholesky-factored once per Newton step.
//!
//! The ReLU endgame's Newton matrix is Fᵀ∇²ℓF + β·blkdiag((I − ẑẑᵀ)/‖z_b‖) + σ·blkdiag(XᵀΠ_bX).
//! The u-step's preconditioner models only the first two terms (up to a scalar), so once the
//! penalty σ of the cone term grows, the Newton systems become ill-conditioned exactly in the
//! direction it does not see: on iris, 200 CG per step did not reach 1e-2 and an attempt spent a
//! million CG. The diagonal blocks capture the cone term exactly; what they miss is the
//! coupling between blocks through the loss, which is bounded by the loss's own curvature.
//! Small d only: the blocks take d² numbers each (see [`BlockPrecond::fits`]).

use crate::pcg::{Precond, Scratch, ScratchReq};
use crate::real::Real;
use faer::Mat;

/// Numbers the factors may hold at most (128 MiB of f64).
const MAX_NUMBERS: usize = 1 << 24;

/// Cholesky factors of the diagonal blocks of the active groups; inactive groups map to 0.
pub struct BlockPrecond {
    d: usize,
    /// Per group: the index of its factor.
    index: Vec<Option<usize>>,
    /// Lower-triangular factors, column-major d × d each.
    factors: Vec<Vec<f64>>,
}

impl BlockPrecond {
    /// Whether `blocks` factors of dimension `d` fit the memory cap.
    pub fn fits(blocks: usize, d: usize) -> bool {
        blocks.saturating_mul(d).saturating_mul(d) <= MAX_NUMBERS
    }

    /// Factors `blocks` (group index, its d × d block) among `groups` groups. A block that is
    /// not numerically positive definite is shifted by a growing multiple of its largest
    /// diagonal entry (a preconditioner need only be SPD).
    pub fn new(d: usize, groups: usize, blocks: Vec<(usize, Mat<f64>)>) -> Self {
        let mut index = vec![None; groups];
        let mut factors = Vec::with_capacity(blocks.len());
        for (g, m) in blocks {
            index[g] = Some(factors.len());
            factors.push(factor_shifted(&m));
        }
        BlockPrecond { d, index, factors }
    }
}

/// The Cholesky factor of `m + δI`, δ = 0, then 1e-12, 1e-10, … of its largest diagonal entry.
fn factor_shifted(m: &Mat<f64>) -> Vec<f64> {
    let d = m.nrows();
    let top = (0..d).map(|i| m[(i, i)].abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let mut shift = 0.0;
    loop {
        let mut l: Vec<f64> = (0..d * d).map(|t| m[(t % d, t / d)]).collect();
        (0..d).for_each(|i| l[i * d + i] += shift);
        if cholesky_in_place(&mut l, d) {
            return l;
        }
        shift = if shift == 0.0 { 1e-12 * top } else { shift * 100.0 };
    }
}

/// Lower Cholesky factor of the column-major SPD matrix `a` in place; false if a pivot is not
/// positive.
pub(crate) fn cholesky_in_place(a: &mut [f64], d: usize) -> bool {
    for j in 0..d {
        let mut s = a[j * d + j];
        for k in 0..j {
            s -= a[k * d + j] * a[k * d + j];
        }
        if !(s > 0.0 && s.is_finite()) {
            return false;
        }
        let pivot = s.sqrt();
        a[j * d + j] = pivot;
        for i in j + 1..d {
            let mut t = a[j * d + i];
            for k in 0..j {
                t -= a[k * d + i] * a[k * d + j];
            }
            a[j * d + i] = t / pivot;
        }
    }
    true
}

/// Solves L Lᵀ x = b in place (L column-major lower).
pub(crate) fn cholesky_solve(l: &[f64], d: usize, x: &mut [f64]) {
    for i in 0..d {
        let mut t = x[i];
        for k in 0..i {
            t -= l[k * d + i] * x[k];
        }
        x[i] = t / l[i * d + i];
    }
    for i in (0..d).rev() {
        let mut t = x[i];
        for k in i + 1..d {
            t -= l[i * d + k] * x[k];
        }
        x[i] = t / l[i * d + i];
    }
}

impl<T: Real> Precond<T> for BlockPrecond {
    fn scratch_req(&self, _len: usize, _k: usize) -> ScratchReq {
        ScratchReq::new(0, self.d)
    }

    fn apply(&self, r: &[T], z: &mut [T], _k: usize, scratch: Scratch<'_, T>) {
        let d = self.d;
        let (x, _) = scratch.take_f64(d);
        for (g, (rg, zg)) in r.chunks(d).zip(z.chunks_mut(d)).enumerate() {
            match self.index.get(g).copied().flatten() {
                Some(f) => {
                    x.iter_mut().zip(rg).for_each(|(a, b)| *a = b.to_f64());
                    cholesky_solve(&self.factors[f], d, x);
                    zg.iter_mut().zip(x.iter()).for_each(|(a, b)| *a = T::from_f64(*b));
                }
                None => zg.fill(T::default()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_each_block_exactly_and_zeroes_the_rest() {
        let d = 3;
        let a = Mat::from_fn(d, d, |i, j| if i == j { 4.0 } else { 1.0 / (1.0 + (i + j) as f64) });
        let pre = BlockPrecond::new(d, 3, vec![(0, a.clone()), (2, a.clone() * faer::Scale(2.0))]);
        let r: Vec<f64> = (0..9).map(|i| 1.0 + i as f64).collect();
        let mut z = vec![0.0; 9];
        let mut buf = crate::pcg::ScratchBuf::new(<BlockPrecond as Precond<f64>>::scratch_req(&pre, 9, 1));
        pre.apply(&r, &mut z, 1, buf.scratch());
        for (g, scale) in [(0, 1.0), (2, 2.0)] {
            for i in 0..d {
                let back: f64 = (0..d).map(|j| scale * a[(i, j)] * z[g * d + j]).sum();
                assert!((back - r[g * d + i]).abs() < 1e-12, "block {g} row {i}: {back}");
            }
        }
        assert!(z[3..6].iter().all(|v| *v == 0.0));
    }

    #[test]
    fn a_singular_block_is_shifted_not_refused() {
        let d = 2;
        let a = Mat::from_fn(d, d, |_, _| 1.0);
        let pre = BlockPrecond::new(d, 1, vec![(0, a)]);
        let mut z = vec![0.0; 2];
        let mut buf = crate::pcg::ScratchBuf::new(<BlockPrecond as Precond<f64>>::scratch_req(&pre, 2, 1));
        pre.apply(&[1.0, -1.0], &mut z, 1, buf.scratch());
        assert!(z.iter().all(|v: &f64| v.is_finite()));
    }
}
