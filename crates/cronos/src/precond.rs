//! The two u-step preconditioners built on [`crate::nystrom`].
//!
//! * [`NystromPrecond`]: the textbook Nyström preconditioner of H = FᵀF/ρ + GᵀG with μ = 1,
//!   P⁻¹ = (λ̂_r + μ) U (Λ̂ + μI)⁻¹ Uᵀ + (I − UUᵀ). It depends on ρ (rebuilt when ρ changes).
//! * [`StructuredPrecond`]: B = I + blkdiag(XᵀX) is applied exactly through one
//!   eigendecomposition of the d × d Gram, and FᵀF/ρ by a Nyström factor of the whitened
//!   W = B^{-1/2} FᵀF B^{-1/2} ≈ V Σ Vᵀ:  P = B^{1/2}(I + VΣVᵀ/ρ)B^{1/2}, so
//!   P⁻¹ = B^{-1/2}(I − V diag(σ/(ρ + σ)) Vᵀ)B^{-1/2} (Woodbury). W does not depend on ρ, so
//!   changing ρ is free.
//!   For wide data (d > n), and for gated programs on few rows (see
//!   [`crate::gram::GramForm::choose_for`]), it is instead the exact inverse
//!   [`WoodburyPrecond`], built from n × n matrices (no d × d Gram, no sketch); see
//!   [`crate::woodbury`]. The u-step then applies it once instead of running PCG where its
//!   rounding meets the CG tolerance ([`crate::pcg::pcg`]).

use crate::newton_precond::PatternGrams;
use crate::nystrom::NystromFactor;
use std::sync::OnceLock;
use crate::pcg::{Precond, Scratch, ScratchReq};
use crate::real::Real;
use crate::system::{view, view_mut};
use crate::woodbury::WoodburyPrecond;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// Scratch of [`low_rank_update`]: the r × k coefficients Uᵀr.
fn low_rank_req(u: &Mat<impl Real>, k: usize) -> ScratchReq {
    ScratchReq::new(u.ncols() * k, 0)
}

/// Low-rank correction `z += U diag(coef) Uᵀ r` for k blocks of length N (U is N × r).
fn low_rank_update<T: Real>(u: &Mat<T>, coef: &[T], r: &[T], z: &mut [T], k: usize, scratch: Scratch<'_, T>) {
    let n = u.nrows();
    if u.ncols() == 0 {
        return;
    }
    let (tmp, _) = scratch.take(u.ncols() * k);
    let mut tmp = MatMut::from_column_major_slice_mut(tmp, u.ncols(), k);
    let rv = MatRef::from_column_major_slice(r, n, k);
    matmul(tmp.as_mut(), Accum::Replace, u.transpose(), rv, T::from_f64(1.0), Par::rayon(0));
    for j in 0..k {
        for i in 0..u.ncols() {
            tmp[(i, j)] *= coef[i];
        }
    }
    let zv = faer::MatMut::from_column_major_slice_mut(z, n, k);
    matmul(zv, Accum::Add, u.as_ref(), tmp.as_ref(), T::from_f64(1.0), Par::rayon(0));
}

/// Nyström preconditioner of H with shift μ.
pub struct NystromPrecond<T: Real> {
    factor: NystromFactor<T>,
    coef: Vec<T>,
}

impl<T: Real> NystromPrecond<T> {
    /// From a factor of H and the shift μ.
    pub fn new(factor: NystromFactor<T>, mu: f64) -> Self {
        let lr = factor.lam.last().copied().unwrap_or(0.0);
        let coef = factor.lam.iter().map(|&l| T::from_f64((lr + mu) / (l + mu) - 1.0)).collect();
        NystromPrecond { factor, coef }
    }
    /// The factor.
    pub fn factor(&self) -> &NystromFactor<T> {
        &self.factor
    }
}

impl<T: Real> Precond<T> for NystromPrecond<T> {
    fn scratch_req(&self, _len: usize, k: usize) -> ScratchReq {
        low_rank_req(&self.factor.u, k)
    }
    fn apply(&self, r: &[T], z: &mut [T], k: usize, scratch: Scratch<'_, T>) {
        z.copy_from_slice(r);
        low_rank_update(&self.factor.u, &self.coef, r, z, k, scratch);
    }
}

/// B^{-1/2} = Q diag((1 + λ)^{-1/2}) Qᵀ on every d-block (identity when there is no Gram).
pub struct BlockWhitener<T: Real> {
    d: usize,
    q: Option<(Mat<T>, Mat<T>)>,
}

impl<T: Real> BlockWhitener<T> {
    /// From the Gram's eigendecomposition (`None` for B = I).
    pub fn new(d: usize, eig: Option<(Mat<T>, Vec<f64>)>) -> Self {
        let q = eig.map(|(q, lam)| {
            let scaled = Mat::<T>::from_fn(d, d, |i, j| q[(i, j)] * T::from_f64(1.0 / (1.0 + lam[j].max(0.0)).sqrt()));
            (q, scaled)
        });
        BlockWhitener { d, q }
    }
    /// `out = B^{-1/2} x` for weights in the d × w layout; `tmp` has the length of x.
    pub fn apply(&self, x: &[T], out: &mut [T], tmp: &mut [T]) {
        match &self.q {
            None => out.copy_from_slice(x),
            Some((q, qs)) => {
                let one = T::from_f64(1.0);
                matmul(view_mut(tmp, self.d), Accum::Replace, q.transpose(), view(x, self.d), one, Par::rayon(0));
                matmul(view_mut(out, self.d), Accum::Replace, qs.as_ref(), view(tmp, self.d), one, Par::rayon(0));
            }
        }
    }
}

/// Structured preconditioner: exact block-diagonal part and a Woodbury low-rank part, or
/// (wide data, or a gated program on few rows) the exact inverse through n × n matrices.
pub struct StructuredPrecond<T: Real> {
    white: BlockWhitener<T>,
    factor: NystromFactor<T>,
    coef: Vec<T>,
    exact: Option<WoodburyPrecond<T>>,
    /// The factor's per-pattern Grams for Newton steps, formed on first use.
    grams: OnceLock<PatternGrams>,
}

impl<T: Real> StructuredPrecond<T> {
    /// From the whitener and a Nyström factor of W = B^{-1/2}FᵀFB^{-1/2}, for penalty ρ.
    pub fn new(white: BlockWhitener<T>, factor: NystromFactor<T>, rho: f64) -> Self {
        let mut p = StructuredPrecond {
            white,
            factor,
            coef: Vec::new(),
            exact: None,
            grams: OnceLock::new(),
        };
        p.set_rho(rho);
        p
    }
    /// The exact inverse of the dual form; its Nyström factor is empty (rank 0).
    pub fn exact(w: WoodburyPrecond<T>) -> Self {
        let factor = NystromFactor { u: Mat::zeros(0, 0), lam: Vec::new(), sketch_columns: 0 };
        let mut p = Self::new(BlockWhitener::new(0, None), factor, 1.0);
        p.exact = Some(w);
        p
    }
    /// Re-targets the preconditioner to a new ρ (no new sketch needed).
    pub fn set_rho(&mut self, rho: f64) {
        if let Some(w) = &mut self.exact {
            w.set_rho(rho);
        }
        self.coef = self.factor.lam.iter().map(|&s| T::from_f64(-s / (rho + s))).collect();
    }
    /// The factor of W.
    pub fn factor(&self) -> &NystromFactor<T> {
        &self.factor
    }
    /// The factor and its per-pattern Grams (d-row blocks, formed once) when W = FᵀF itself
    /// (no block part, as for gated programs) and it has a positive rank; `None` for the
    /// whitened and the exact forms.
    pub fn unwhitened_factor(&self, d: usize) -> Option<(&NystromFactor<T>, &PatternGrams)> {
        let plain = self.exact.is_none() && self.white.q.is_none() && self.factor.u.ncols() > 0;
        plain.then(|| (&self.factor, self.grams.get_or_init(|| PatternGrams::new(&self.factor, d))))
    }
}

impl<T: Real> Precond<T> for StructuredPrecond<T> {
    fn scratch_req(&self, len: usize, k: usize) -> ScratchReq {
        match &self.exact {
            Some(w) => w.scratch_req(len, k),
            // the two whitened vectors, then the low-rank coefficients
            None => ScratchReq::new(2 * len, 0).and(low_rank_req(&self.factor.u, k)),
        }
    }
    fn exact_rounding(&self) -> Option<f64> {
        self.exact.as_ref().and_then(|w| w.exact_rounding())
    }
    fn apply(&self, r: &[T], z: &mut [T], k: usize, scratch: Scratch<'_, T>) {
        if let Some(w) = &self.exact {
            return w.apply(r, z, k, scratch);
        }
        let (a, scratch) = scratch.take(r.len());
        let (b, scratch) = scratch.take(r.len());
        self.white.apply(r, a, b); // a = B^{-1/2} r
        b.copy_from_slice(a);
        low_rank_update(&self.factor.u, &self.coef, a, b, k, scratch); // b = (I − V c Vᵀ) a
        self.white.apply(b, z, a); // z = B^{-1/2} b
    }
}
