//! The Newton polish's preconditioner: the Newton matrix with each group's own curvature.
//!
//! On the active groups the gated-ReLU Newton matrix is H = c·FᵀF + blkdiag(b_g (I − ẑ_gẑ_gᵀ)),
//! b_g = β/‖z_g‖. The u-step's preconditioner approximates c·FᵀF + b·I with one b for all
//! groups, but b_g spans three orders of magnitude once ADMM has found the support (Fashion-MNIST,
//! 10 classes: 0.05 … 80, median 0.22): the small-norm neurons' blocks are then badly scaled and
//! every Newton step ran into its CG cap. Here
//!
//!   M = D + c·U(Λ − λ_r)Uᵀ,  D = blkdiag((b_g + c·λ_r) I),  FᵀF ≈ UΛUᵀ (the u-step's
//!   Nyström factor, λ_r its smallest eigenvalue standing in for the unseen spectrum),
//!
//! inverted by Woodbury per output, M⁻¹ = D⁻¹ − D⁻¹U K⁻¹ UᵀD⁻¹ with the r × r matrix
//! K = (c(Λ − λ_r))⁻¹ + UᵀD⁻¹U = (c(Λ − λ_r))⁻¹ + Σ_g U_gᵀU_g / (b_g + c·λ_r). The per-group Grams U_gᵀU_g are formed once
//! ([`GroupGrams`]), so each Newton step's K costs O(groups·r²) and one application two
//! N × r × k GEMMs.

use crate::nystrom::NystromFactor;
use crate::pcg::{Precond, Scratch, ScratchReq};
use crate::real::Real;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

/// U_gᵀU_g for every d-row block g of the factor U (the blocks of one output), in f64.
pub(crate) struct GroupGrams {
    grams: Vec<Mat<f64>>,
}

impl GroupGrams {
    /// The Grams of the `u.nrows() / d` row blocks of `u`.
    pub(crate) fn new<T: Real>(u: MatRef<'_, T>, d: usize) -> Self {
        let r = u.ncols();
        let grams = (0..u.nrows() / d)
            .map(|g| {
                let ug = u.subrows(g * d, d);
                let mut m = Mat::<T>::zeros(r, r);
                matmul(m.as_mut(), Accum::Replace, ug.transpose(), ug, T::from_f64(1.0), Par::rayon(0));
                Mat::from_fn(r, r, |i, j| m[(i, j)].to_f64())
            })
            .collect();
        GroupGrams { grams }
    }
}

/// (D + c·UΛUᵀ)⁻¹ for k outputs, D = b_g I on each active group (see the module docs); inactive
/// groups (b_g = ∞ or not finite) map to zero.
pub(crate) struct NewtonPrecond<'a, T: Real> {
    u: MatRef<'a, T>,
    /// 1/b_g per group of all outputs (output-major), 0 for inactive groups.
    inv_b: Vec<f64>,
    /// Lower Cholesky factor of K per output.
    chol: Vec<Mat<f64>>,
    d: usize,
}

impl<'a, T: Real> NewtonPrecond<'a, T> {
    /// From the Nyström factor of FᵀF, the loss curvature `c`, the groups' Grams and
    /// `b` (b_g per group of all outputs, output-major; 0 marks an inactive group). `None` when
    /// the factor has no positive eigenvalue or a K is not positive definite (the caller falls
    /// back to the u-step's preconditioner).
    pub(crate) fn new(factor: &'a NystromFactor<T>, c: f64, grams: &GroupGrams, b: &[f64], d: usize) -> Option<Self> {
        let nb = grams.grams.len();
        let lam = &factor.lam;
        if nb == 0 || b.len() % nb != 0 || lam.first().is_none_or(|&l| !(l > 0.0)) {
            return None;
        }
        // the spectrum the sketch did not see (below λ_r) counts as λ_r on every direction, as
        // in the textbook Nyström preconditioner: on 30,000 Fashion-MNIST rows this took the
        // polish to a gap of 2.8e-4 in 207 CG (without the shift: 2.5e-4 in 288; the u-step's
        // preconditioner with one median b: stalled at 0.40)
        let shift = lam.last().copied().unwrap_or(0.0);
        let lam: Vec<f64> = lam.iter().map(|l| l - shift).collect();
        let lam = &lam;
        // directions the sketch did not see (λ ≈ 0) carry no curvature: leave them out
        let r = lam.iter().take_while(|&&l| l > 1e-12 * lam[0]).count();
        let inv_b: Vec<f64> = b.iter().map(|&bg| if bg > 0.0 && bg.is_finite() { 1.0 / (bg + c * shift) } else { 0.0 }).collect();
        let chol = inv_b
            .chunks(nb)
            .map(|ib| {
                let mut k = Mat::<f64>::from_fn(r, r, |i, j| if i == j { 1.0 / (c * lam[i]) } else { 0.0 });
                for (g, &w) in ib.iter().enumerate().filter(|(_, &w)| w > 0.0) {
                    let gg = &grams.grams[g];
                    for j in 0..r {
                        for i in j..r {
                            k[(i, j)] += w * gg[(i, j)];
                        }
                    }
                }
                cholesky_lower(k)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(NewtonPrecond {
            u: factor.u.as_ref().subcols(0, r),
            inv_b,
            chol,
            d,
        })
    }

    /// `v *= D⁻¹` (group by group) on the k blocks of `v`.
    fn scale(&self, v: &mut [T]) {
        for (block, &w) in v.chunks_mut(self.d).zip(&self.inv_b) {
            let w = T::from_f64(w);
            block.iter_mut().for_each(|x| *x = *x * w);
        }
    }
}

impl<T: Real> Precond<T> for NewtonPrecond<'_, T> {
    fn scratch_req(&self, len: usize, k: usize) -> ScratchReq {
        // UᵀD⁻¹r (r × k) and U·K⁻¹(…) (len)
        ScratchReq::new(self.u.ncols() * k + len, self.u.ncols())
    }

    fn apply(&self, r: &[T], z: &mut [T], k: usize, scratch: Scratch<'_, T>) {
        let (n, rank) = (self.u.nrows(), self.u.ncols());
        z.copy_from_slice(r);
        self.scale(z); // z = D⁻¹ r
        let (s, scratch) = scratch.take(rank * k);
        let (w, scratch) = scratch.take(n * k);
        let (x, _) = scratch.take_f64(rank);
        let one = T::from_f64(1.0);
        let mut sm = faer::MatMut::from_column_major_slice_mut(s, rank, k);
        matmul(sm.as_mut(), Accum::Replace, self.u.transpose(), MatRef::from_column_major_slice(z, n, k), one, Par::rayon(0));
        for (c, l) in self.chol.iter().enumerate() {
            (0..rank).for_each(|i| x[i] = sm[(i, c)].to_f64());
            cholesky_solve(l, x);
            (0..rank).for_each(|i| sm[(i, c)] = T::from_f64(x[i]));
        }
        matmul(faer::MatMut::from_column_major_slice_mut(w, n, k), Accum::Replace, self.u, sm.as_ref(), one, Par::rayon(0));
        // z −= D⁻¹ W
        for ((zb, wb), &ib) in z.chunks_mut(self.d).zip(w.chunks(self.d)).zip(&self.inv_b) {
            let ib = T::from_f64(ib);
            zb.iter_mut().zip(wb).for_each(|(a, b)| *a = *a - ib * *b);
        }
    }
}

/// The lower Cholesky factor of the symmetric matrix whose lower triangle is `a`; `None` when
/// it is not positive definite.
fn cholesky_lower(mut a: Mat<f64>) -> Option<Mat<f64>> {
    let n = a.nrows();
    for j in 0..n {
        let mut djj = a[(j, j)];
        for p in 0..j {
            djj -= a[(j, p)] * a[(j, p)];
        }
        if !(djj > 0.0) {
            return None;
        }
        let ljj = djj.sqrt();
        a[(j, j)] = ljj;
        for i in j + 1..n {
            let mut v = a[(i, j)];
            for p in 0..j {
                v -= a[(i, p)] * a[(j, p)];
            }
            a[(i, j)] = v / ljj;
        }
    }
    Some(a)
}

/// Solves L Lᵀ x = b in place.
fn cholesky_solve(l: &Mat<f64>, x: &mut [f64]) {
    let n = x.len();
    for i in 0..n {
        let s: f64 = (0..i).map(|p| l[(i, p)] * x[p]).sum();
        x[i] = (x[i] - s) / l[(i, i)];
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|p| l[(p, i)] * x[p]).sum();
        x[i] = (x[i] - s) / l[(i, i)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// M⁻¹ applied to M x gives x back (M with the tail shift), for a random factor and
    /// spread-out b_g.
    #[test]
    fn inverts_the_model_matrix() {
        let (d, nb, k, r) = (3, 4, 2, 5);
        let n = d * nb;
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        // orthonormal U from Gram–Schmidt
        let mut u = Mat::<f64>::from_fn(n, r, |_, _| rnd());
        for j in 0..r {
            for p in 0..j {
                let dot: f64 = (0..n).map(|i| u[(i, j)] * u[(i, p)]).sum();
                for i in 0..n {
                    u[(i, j)] -= dot * u[(i, p)];
                }
            }
            let nrm: f64 = (0..n).map(|i| u[(i, j)] * u[(i, j)]).sum::<f64>().sqrt();
            (0..n).for_each(|i| u[(i, j)] /= nrm);
        }
        let factor = NystromFactor { u: u.clone(), lam: vec![50.0, 20.0, 5.0, 1.0, 0.3], sketch_columns: r };
        let b: Vec<f64> = (0..nb * k).map(|g| 0.05 * 4f64.powi(g as i32 % 5)).collect();
        let c = 0.5;
        let grams = GroupGrams::new(u.as_ref(), d);
        let p = NewtonPrecond::new(&factor, c, &grams, &b, d).unwrap();
        let x: Vec<f64> = (0..n * k).map(|_| rnd()).collect();
        // M x per output block
        let mut mx = vec![0.0; n * k];
        for o in 0..k {
            for i in 0..n {
                let lr = factor.lam[r - 1];
                let mut v = (b[o * nb + i / d] + c * lr) * x[o * n + i];
                for a in 0..r {
                    let ux: f64 = (0..n).map(|j| u[(j, a)] * x[o * n + j]).sum();
                    v += c * (factor.lam[a] - lr) * u[(i, a)] * ux;
                }
                mx[o * n + i] = v;
            }
        }
        let mut back = vec![0.0; n * k];
        let mut buf = crate::pcg::ScratchBuf::new(p.scratch_req(n * k, k));
        p.apply(&mx, &mut back, k, buf.scratch());
        for (a, b) in x.iter().zip(&back) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }
}
