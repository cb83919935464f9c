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
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par, Side};
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
    // Ω in f64 (orthonormality matters), Y = AΩ kept in T, the precision it was computed in:
    // no f64 copy of the N × ℓ image (on the default job N·ℓ = 6.4 M, 51 MB per f64 copy)
    let mut omega = Mat::<f64>::zeros(n, 0);
    let mut y = Mat::<T>::zeros(n, 0);
    loop {
        // new orthonormal test columns, orthogonal to those already applied
        let add = l - omega.ncols();
        let mut g = Mat::<f64>::from_fn(n, add, |_, _| StandardNormal.sample(&mut rng));
        for _ in 0..2 {
            if omega.ncols() > 0 {
                let c = omega.transpose() * &g;
                g -= &omega * &c;
            }
        }
        let q = g.qr().compute_thin_Q();
        drop(g);
        let mut yq = Mat::<T>::zeros(n, add);
        apply(Mat::<T>::from_fn(n, add, |i, j| T::from_f64(q[(i, j)])).as_ref(), &mut yq);
        omega = concat(&omega, &q);
        y = concat(&y, &yq);
        let (u, lam) = factor(omega.as_ref(), y.as_ref(), T::EPS)?;
        let done = l >= max || lam.last().map_or(true, |&v| v <= ADAPTIVE_RATIO * mu);
        if done || matches!(rank, Rank::Fixed(_)) {
            return Ok(NystromFactor { u, lam, sketch_columns: l });
        }
        l = (2 * l).min(max);
    }
}

fn concat<T: Real>(a: &Mat<T>, b: &Mat<T>) -> Mat<T> {
    let (n, ca) = (a.nrows().max(b.nrows()), a.ncols());
    Mat::from_fn(n, ca + b.ncols(), |i, j| if j < ca { a[(i, j)] } else { b[(i, j - ca)] })
}

/// Rows per block of the N × ℓ passes of [`factor`] (f64 temporaries of this many rows only).
const BLOCK: usize = 4096;

/// The core of Algorithm 2.1 from Ω (orthonormal) and Y = AΩ; `eps` is the precision Y was
/// computed in. With Y_ν = Y + νΩ, the core is ΩᵀY_ν = ΩᵀY + νI and B = Y_ν C⁻ᵀ (C the
/// Cholesky factor of the core). B's thin SVD comes from the ℓ × ℓ BᵀB = C⁻¹ Y_νᵀY_ν C⁻ᵀ =
/// V Σ² Vᵀ, so U = Y_ν (C⁻ᵀ V Σ⁻¹) is written straight into T, block by block of rows: the
/// only N × ℓ matrices are Ω, Y and U. Directions with σ² below 1e-12·σ²_max (numerically
/// outside the range) get λ̂ = 0 and a zero column, which the preconditioner then ignores.
fn factor<T: Real>(omega: MatRef<'_, f64>, y: MatRef<'_, T>, eps: f64) -> Result<(Mat<T>, Vec<f64>)> {
    let (n, l) = (y.nrows(), y.ncols());
    // ΩᵀY and YᵀY in f64, accumulated over row blocks
    let (mut oty, mut yty) = (Mat::<f64>::zeros(l, l), Mat::<f64>::zeros(l, l));
    for r0 in (0..n).step_by(BLOCK) {
        let m = BLOCK.min(n - r0);
        let yb = Mat::<f64>::from_fn(m, l, |i, j| y[(r0 + i, j)].to_f64());
        let ob = omega.subrows(r0, m);
        matmul(oty.as_mut(), Accum::Add, ob.transpose(), yb.as_ref(), 1.0, Par::Seq);
        matmul(yty.as_mut(), Accum::Add, yb.transpose(), yb.as_ref(), 1.0, Par::Seq);
    }
    let ynorm = (0..l).map(|j| yty[(j, j)]).sum::<f64>().sqrt(); // ‖Y‖_F ≥ ‖Y‖₂
    let nu = (n as f64).sqrt() * eps * ynorm.max(f64::MIN_POSITIVE);
    // core = ΩᵀY + νI (symmetrised); Y_νᵀY_ν = YᵀY + ν(ΩᵀY + YᵀΩ) + ν²I
    let mut core = Mat::<f64>::from_fn(l, l, |i, j| 0.5 * (oty[(i, j)] + oty[(j, i)]) + if i == j { nu } else { 0.0 });
    let gram = Mat::<f64>::from_fn(l, l, |i, j| yty[(i, j)] + nu * (oty[(i, j)] + oty[(j, i)]) + if i == j { nu * nu } else { 0.0 });
    // W with B = Y_ν W: C⁻ᵀ from the Cholesky factor, or V_c S_c^{-1/2} from the core's
    // eigendecomposition when it is not numerically positive definite
    let w = match core.llt(Side::Lower) {
        Ok(llt) => {
            let mut lt = llt.L().transpose().to_owned(); // Cᵀ, upper
            let mut inv = Mat::<f64>::identity(l, l);
            faer::linalg::triangular_solve::solve_upper_triangular_in_place(lt.as_ref(), inv.as_mut(), Par::Seq);
            lt = inv; // C⁻ᵀ
            lt
        }
        Err(_) => {
            let evd = core.self_adjoint_eigen(Side::Lower).map_err(|e| CronosError::Numerical {
                context: "Nyström core",
                reason: format!("{e:?}"),
            })?;
            let (v, s) = (evd.U(), evd.S().column_vector());
            let smax = (0..l).map(|i| s[i]).fold(0.0, f64::max);
            Mat::<f64>::from_fn(l, l, |i, j| if s[j] > smax * 1e-12 { v[(i, j)] / s[j].sqrt() } else { 0.0 })
        }
    };
    core = w.transpose() * &gram * &w; // BᵀB
    let evd = core.self_adjoint_eigen(Side::Lower).map_err(|e| CronosError::Numerical { context: "Nyström SVD", reason: format!("{e:?}") })?;
    // eigenvalues ascending: reverse to the non-increasing order of an SVD
    let (v, s2) = (evd.U(), evd.S().column_vector());
    let order: Vec<usize> = (0..l).rev().collect();
    let smax2 = order.first().map_or(0.0, |&j| s2[j].max(0.0));
    let keep = |j: usize| s2[j] > 1e-12 * smax2 && s2[j] > 0.0;
    let lam: Vec<f64> = order.iter().map(|&j| if keep(j) { (s2[j] - nu).max(0.0) } else { 0.0 }).collect();
    let m = Mat::<f64>::from_fn(l, l, |i, c| {
        let j = order[c];
        if keep(j) { (0..l).map(|t| w[(i, t)] * v[(t, j)]).sum::<f64>() / s2[j].sqrt() } else { 0.0 }
    });
    let mut u = Mat::<T>::zeros(n, l);
    for r0 in (0..n).step_by(BLOCK) {
        let rows = BLOCK.min(n - r0);
        let yb = Mat::<f64>::from_fn(rows, l, |i, j| y[(r0 + i, j)].to_f64() + nu * omega[(r0 + i, j)]);
        let ub = &yb * &m;
        for j in 0..l {
            for i in 0..rows {
                u[(r0 + i, j)] = T::from_f64(ub[(i, j)]);
            }
        }
    }
    Ok((u, lam))
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
