//! The preconditioner of a gated Newton step: the u-step's Nyström factor of FᵀF for the
//! loss part, and each active group's own curvature for the group-norm part.
//!
//! A Newton step on the active groups solves
//! (c·FᵀF + blkdiag(b_g(I − ẑ_gẑ_gᵀ))) δ = −∇, b_g = β/‖z_g‖, with c the loss curvature.
//! The u-step's preconditioner approximates it by c·FᵀF + b·I with one b (the median b_g), but
//! the b_g of one solution spread over orders of magnitude (small groups curve hard), and PCG
//! then spends its iterations on that spread. Here the identity part is the diagonal
//! D = blkdiag(b_g I) itself (the rank-one ẑẑᵀ correction is left out), with the Nyström
//! factor FᵀF ≈ U Λ Uᵀ (U orthonormal, N × r, N = P·d per output):
//!
//!   M = D + c·U Λ Uᵀ,   M⁻¹ = D⁻¹ − D⁻¹ U S (I + S Uᵀ D⁻¹ U S)⁻¹ S Uᵀ D⁻¹,   S = (cΛ)^{1/2}
//!
//! (Woodbury in its symmetric form, sound where λ̂ = 0). D is constant on each pattern's
//! d-block, so Uᵀ D⁻¹ U = Σ_j D_j⁻¹ U_jᵀ U_j: one r × r Gram per pattern, formed once, and
//! per output a weighted sum of them and an r × r inverse. Inactive groups get D⁻¹ = 0, which
//! makes M⁻¹ the inverse of M restricted to the active groups. Outputs are preconditioned
//! independently (softmax's coupling is left to PCG).

use crate::block_precond::{cholesky_in_place, cholesky_solve};
use crate::nystrom::NystromFactor;
use crate::pcg::{Precond, Scratch, ScratchReq};
use crate::real::Real;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// M⁻¹ of a gated Newton step (see the module docs).
pub struct GroupScaledNystrom<'a, T: Real> {
    u: &'a Mat<T>,
    /// D⁻¹ per group (all outputs, output-major), 0 for inactive groups.
    inv_d: Vec<T>,
    /// Per output, S (I + S Uᵀ D_c⁻¹ U S)⁻¹ S, r × r column-major.
    core: Vec<Vec<f64>>,
    d: usize,
}

impl<'a, T: Real> GroupScaledNystrom<'a, T> {
    /// From the u-step's unwhitened factor of FᵀF (one output's N × r) and its
    /// [`PatternGrams`], the loss curvature `c`, and each group's curvature b_g (output-major,
    /// `None` for inactive groups). `None` when the factor has rank 0 or its rows are not P·d
    /// blocks of d.
    pub fn new(factor: &'a NystromFactor<T>, grams: &PatternGrams, c: f64, d: usize, curvature: &[Option<f64>]) -> Option<Self> {
        let (n, r) = (factor.u.nrows(), factor.u.ncols());
        if r == 0 || d == 0 || n % d != 0 || curvature.len() % (n / d) != 0 || grams.0.len() != n / d {
            return None;
        }
        let p = n / d;
        let s: Vec<f64> = factor.lam.iter().map(|&l| (c * l.max(0.0)).sqrt()).collect();
        let inv_d: Vec<f64> = curvature.iter().map(|b| b.map_or(0.0, |b| 1.0 / b)).collect();
        let core = inv_d.chunks(p).map(|w| output_core(&grams.0, w, &s)).collect::<Option<Vec<_>>>()?;
        Some(GroupScaledNystrom {
            u: &factor.u,
            inv_d: inv_d.iter().map(|&v| T::from_f64(v)).collect(),
            core,
            d,
        })
    }

    fn rank(&self) -> usize {
        self.u.ncols()
    }
}

/// U_jᵀ U_j for each pattern block j (rows j·d .. (j+1)·d of a Nyström factor's U), r × r in
/// f64: they depend on the factor only, so its owner forms them once for every Newton step.
pub struct PatternGrams(Vec<Mat<f64>>);

impl PatternGrams {
    /// The Grams of `factor`'s d-row blocks.
    pub fn new<T: Real>(factor: &NystromFactor<T>, d: usize) -> Self {
        let (u, r) = (factor.u.as_ref(), factor.u.ncols());
        PatternGrams(
            (0..u.nrows() / d.max(1))
                .map(|j| {
                    let block = Mat::<f64>::from_fn(d, r, |i, a| u[(j * d + i, a)].to_f64());
                    let mut g = Mat::<f64>::zeros(r, r);
                    matmul(g.as_mut(), Accum::Replace, block.transpose(), block.as_ref(), 1.0, Par::Seq);
                    g
                })
                .collect(),
        )
    }
}

/// S (I + S (Σ_j w_j G_j) S)⁻¹ S for one output (w_j = D_j⁻¹), column-major r × r.
fn output_core(grams: &[Mat<f64>], w: &[f64], s: &[f64]) -> Option<Vec<f64>> {
    let r = s.len();
    let mut m = vec![0.0; r * r];
    for (g, &wj) in grams.iter().zip(w) {
        if wj == 0.0 {
            continue;
        }
        for b in 0..r {
            for a in 0..r {
                m[b * r + a] += wj * g[(a, b)];
            }
        }
    }
    for b in 0..r {
        for a in 0..r {
            m[b * r + a] *= s[a] * s[b];
        }
        m[b * r + b] += 1.0;
    }
    if !cholesky_in_place(&mut m, r) {
        return None;
    }
    // columns of (I + SKS)⁻¹ S, then S on the left
    let mut out = vec![0.0; r * r];
    for b in 0..r {
        let col = &mut out[b * r..(b + 1) * r];
        col[b] = s[b];
        cholesky_solve(&m, r, col);
        col.iter_mut().zip(s).for_each(|(x, sa)| *x *= sa);
    }
    Some(out)
}

impl<T: Real> Precond<T> for GroupScaledNystrom<'_, T> {
    fn scratch_req(&self, len: usize, k: usize) -> ScratchReq {
        ScratchReq::new(len + self.rank() * k, self.rank())
    }

    fn apply(&self, r: &[T], z: &mut [T], k: usize, scratch: Scratch<'_, T>) {
        let (n, rank, d) = (self.u.nrows(), self.rank(), self.d);
        let (low, scratch) = scratch.take(r.len());
        let (coef, scratch) = scratch.take(rank * k);
        let (tmp, _) = scratch.take_f64(rank);
        // z = D⁻¹ r
        for ((zg, rg), &w) in z.chunks_mut(d).zip(r.chunks(d)).zip(&self.inv_d) {
            zg.iter_mut().zip(rg).for_each(|(a, b)| *a = w * *b);
        }
        let one = T::from_f64(1.0);
        let mut coef = MatMut::from_column_major_slice_mut(coef, rank, k);
        matmul(coef.as_mut(), Accum::Replace, self.u.transpose(), MatRef::from_column_major_slice(z, n, k), one, Par::rayon(0));
        for c in 0..k {
            let core = &self.core[c];
            for (a, t) in tmp.iter_mut().enumerate() {
                *t = (0..rank).map(|b| core[b * rank + a] * coef[(b, c)].to_f64()).sum();
            }
            (0..rank).for_each(|a| coef[(a, c)] = T::from_f64(tmp[a]));
        }
        matmul(MatMut::from_column_major_slice_mut(low, n, k), Accum::Replace, self.u.as_ref(), coef.as_ref(), one, Par::rayon(0));
        for ((zg, lg), &w) in z.chunks_mut(d).zip(low.chunks(d)).zip(&self.inv_d) {
            zg.iter_mut().zip(lg).for_each(|(a, b)| *a -= w * *b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcg::ScratchBuf;

    /// An orthonormal N × r basis from a fixed pseudo-random matrix.
    fn basis(n: usize, r: usize) -> Mat<f64> {
        let g = Mat::<f64>::from_fn(n, r, |i, j| (((i * 37 + j * 11 + 5) % 17) as f64 - 8.0) / 8.0);
        g.qr().compute_thin_Q()
    }

    #[test]
    fn inverts_the_group_scaled_matrix_on_the_active_groups() {
        let (d, p, r, k, c) = (5, 4, 3, 2, 0.7);
        let n = d * p;
        let factor = NystromFactor { u: basis(n, r), lam: vec![9.0, 2.5, 0.0], sketch_columns: r };
        // output 0: all groups active, curvatures spread 100×; output 1: group 2 inactive
        let curv = [Some(0.05), Some(5.0), Some(0.3), Some(1.0), Some(2.0), Some(0.1), None, Some(0.4)];
        let pre = GroupScaledNystrom::new(&factor, &PatternGrams::new(&factor, d), c, d, &curv).unwrap();
        // M x for x zero on the inactive group, M = D + c U Λ Uᵀ per output
        let x: Vec<f64> = (0..n * k)
            .map(|i| if curv[i / d].is_some() { ((i * 7 % 13) as f64 - 6.0) / 3.0 } else { 0.0 })
            .collect();
        let mut mx = vec![0.0; n * k];
        for o in 0..k {
            let xo = &x[o * n..(o + 1) * n];
            for i in 0..n {
                let low: f64 = (0..r)
                    .map(|a| factor.u[(i, a)] * factor.lam[a] * (0..n).map(|j| factor.u[(j, a)] * xo[j]).sum::<f64>())
                    .sum();
                mx[o * n + i] = curv[o * p + i / d].map_or(0.0, |b| b * xo[i] + c * low);
            }
        }
        let mut buf = ScratchBuf::<f64>::new(pre.scratch_req(n * k, k));
        let mut out = vec![0.0; n * k];
        pre.apply(&mx, &mut out, k, buf.scratch());
        for (a, b) in out.iter().zip(&x) {
            assert!((a - b).abs() < 1e-10, "{a} vs {b}");
        }
    }

    #[test]
    fn refuses_a_factor_that_does_not_fit_the_layout() {
        let factor = NystromFactor { u: basis(12, 2), lam: vec![1.0, 0.5], sketch_columns: 2 };
        assert!(GroupScaledNystrom::new(&factor, &PatternGrams::new(&factor, 5), 1.0, 5, &[Some(1.0); 2]).is_none());
        let empty = NystromFactor { u: Mat::<f64>::zeros(10, 0), lam: vec![], sketch_columns: 0 };
        assert!(GroupScaledNystrom::new(&empty, &PatternGrams::new(&empty, 5), 1.0, 5, &[Some(1.0); 2]).is_none());
    }
}
