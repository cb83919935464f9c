//! Randomized Nyström approximation Â = U Λ̂ Uᵀ of a PSD operator A (Frangella, Tropp,
//! Udell 2023, Algorithm 2.1): orthonormal Gaussian test matrix Ω, Y = AΩ, a stabilising
//! shift ν = √N·eps·‖Y‖ sized to the working precision, Cholesky of the core Ωᵀ(Y + νΩ)
//! (eigendecomposition fallback when it fails), thin SVD, Λ̂ = max(Σ² − ν, 0).
//!
//! The adaptive variant doubles the sketch, reusing every column already applied, until
//! λ̂_r / μ ≤ [`ADAPTIVE_RATIO`] or the rank cap is reached. The small dense algebra runs in
//! f64 whatever the solver's scalar type, since it is cheap next to the sketch itself.

use crate::error::{CronosError, Result};
use crate::real::Real;
use crate::settings::Rank;
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Mat, MatRef, Par, Side};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// Adaptive rank stops once the smallest kept eigenvalue is at most this multiple of μ:
/// the preconditioned condition number is then at most about 1 + this ratio.
pub const ADAPTIVE_RATIO: f64 = 4.0;

/// A low-rank PSD approximation U diag(λ̂) Uᵀ with orthonormal U (N × r).
#[derive(Clone, Debug)]
pub struct NystromFactor<T: Real> {
    /// Orthonormal eigenvector estimates, N × r.
    pub u: Mat<T>,
    /// Eigenvalue estimates, non-increasing, length r.
    pub lam: Vec<f64>,
    /// Operator applications spent on the sketch.
    pub sketch_columns: usize,
}

/// Builds the approximation of the PSD operator `apply` on R^N (`apply(Ω, Y)` maps an
/// N × ℓ column-major block to AΩ). `mu` is the shift the adaptive rule compares against.
pub fn nystrom<T: Real>(
    n: usize,
    mut apply: impl FnMut(MatRef<'_, T>, &mut Mat<T>),
    rank: Rank,
    mu: f64,
    seed: u64,
) -> Result<NystromFactor<T>> {
    let (mut l, max) = match rank {
        Rank::Fixed(r) => (r.min(n), r.min(n)),
        Rank::Adaptive { max } => (16.min(max).min(n), max.min(n)),
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5EED_0F_5EED);
    // Ω and Y = AΩ grow in place up to the rank cap: reserved once, touched as columns arrive
    let mut omega = Mat::<f64>::with_capacity(n, max);
    let mut y = Mat::<f64>::with_capacity(n, max);
    loop {
        // new orthonormal test columns, orthogonal to those already applied
        let have = omega.ncols();
        let add = l - have;
        let mut g = Mat::<f64>::from_fn(n, add, |_, _| StandardNormal.sample(&mut rng));
        for _ in 0..2 {
            if have > 0 {
                let c = omega.transpose() * &g;
                g -= &omega * &c;
            }
        }
        let q = g.qr().compute_thin_Q();
        drop(g);
        let q_t = Mat::<T>::from_fn(n, add, |i, j| T::from_f64(q[(i, j)]));
        let mut yq = Mat::<T>::zeros(n, add);
        apply(q_t.as_ref(), &mut yq);
        drop(q_t);
        omega.resize_with(n, l, |i, j| q[(i, j - have)]);
        drop(q);
        y.resize_with(n, l, |i, j| yq[(i, j - have)].to_f64());
        drop(yq);
        let (u, lam) = factor(omega.as_ref(), y.as_ref(), T::EPS)?;
        let done = l >= max || lam.last().map_or(true, |&v| v <= ADAPTIVE_RATIO * mu);
        if done || matches!(rank, Rank::Fixed(_)) {
            drop((omega, y));
            let u = Mat::<T>::from_fn(n, u.ncols(), |i, j| T::from_f64(u[(i, j)]));
            return Ok(NystromFactor { u, lam, sketch_columns: l });
        }
        l = (2 * l).min(max);
    }
}

/// The core of Algorithm 2.1 from Ω and Y = AΩ; `eps` is the precision Y was computed in.
/// Holds one N × ℓ work matrix besides Ω and Y (Y_ν, then B in place), and the SVD of B
/// comes from its QR factors: B = QR, R = Ũ Σ Vᵀ, U = QŨ.
fn factor(omega: MatRef<'_, f64>, y: MatRef<'_, f64>, eps: f64) -> Result<(Mat<f64>, Vec<f64>)> {
    let l = y.ncols();
    let ynorm = y.norm_l2();
    let nu = (y.nrows() as f64).sqrt() * eps * ynorm.max(f64::MIN_POSITIVE);
    let mut b = y.to_owned();
    b += omega * faer::Scale(nu);
    let mut core = omega.transpose() * &b;
    let core_t = core.transpose().to_owned();
    core += &core_t;
    core *= faer::Scale(0.5);
    // B = Y_ν C⁻ᵀ with C the Cholesky factor of the core; eigen fallback if C fails
    match core.llt(Side::Lower) {
        Ok(llt) => solve_lower_triangular_in_place(llt.L(), b.as_mut().transpose_mut(), Par::Seq),
        Err(_) => {
            let evd = core.self_adjoint_eigen(Side::Lower).map_err(|e| CronosError::Numerical {
                context: "Nyström core",
                reason: format!("{e:?}"),
            })?;
            let (v, s) = (evd.U(), evd.S().column_vector());
            let smax = (0..l).map(|i| s[i]).fold(0.0, f64::max);
            let scale = Mat::<f64>::from_fn(l, l, |i, j| {
                if s[j] > smax * 1e-12 { v[(i, j)] / s[j].sqrt() } else { 0.0 }
            });
            b = &b * &scale;
        }
    }
    let qr = b.qr();
    drop(b);
    let r = qr.thin_R().to_owned();
    let q = qr.compute_thin_Q();
    drop(qr);
    let svd = r.svd().map_err(|e| CronosError::Numerical { context: "Nyström SVD", reason: format!("{e:?}") })?;
    let s = svd.S().column_vector();
    let lam: Vec<f64> = (0..l).map(|i| (s[i] * s[i] - nu).max(0.0)).collect();
    Ok((&q * svd.U(), lam))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn psd(n: usize, rank: usize) -> Mat<f64> {
        let g = Mat::<f64>::from_fn(n, rank, |i, j| (((i * 31 + j * 17) % 13) as f64 - 6.0) / (1.0 + j as f64));
        &g * g.transpose()
    }

    #[test]
    fn exact_when_rank_covers_the_range() {
        let a = psd(40, 6);
        let f = nystrom::<f64>(40, |o, y| *y = &a * o, Rank::Fixed(40), 1.0, 1).unwrap();
        let mut approx = Mat::<f64>::zeros(40, 40);
        for k in 0..f.lam.len() {
            for i in 0..40 {
                for j in 0..40 {
                    approx[(i, j)] += f.u[(i, k)] * f.lam[k] * f.u[(j, k)];
                }
            }
        }
        let err = (&approx - &a).norm_l2() / a.norm_l2();
        assert!(err < 1e-8, "relative error {err}");
    }

    #[test]
    fn adaptive_stops_on_small_eigenvalue_and_respects_cap() {
        let a = psd(200, 5); // rank 5: λ̂_16 ≈ 0 right away
        let f = nystrom::<f64>(200, |o, y| *y = &a * o, Rank::Adaptive { max: 128 }, 1.0, 2).unwrap();
        assert_eq!(f.sketch_columns, 16);
        let full = Mat::<f64>::from_fn(200, 200, |i, j| if i == j { 1000.0 / (1.0 + i as f64) } else { 0.0 });
        let f = nystrom::<f64>(200, |o, y| *y = &full * o, Rank::Adaptive { max: 64 }, 1.0, 2).unwrap();
        assert_eq!(f.sketch_columns, 64);
    }
}
