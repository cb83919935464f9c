//! Randomized Nyström approximation Â = U Λ̂ Uᵀ of a PSD operator A (Frangella, Tropp,
//! Udell 2023, Algorithm 2.1): orthonormal Gaussian test matrix Ω, Y = AΩ, a stabilising
//! shift ν = √N·eps·‖Y‖ sized to the working precision, Cholesky of the core Ωᵀ(Y + νΩ)
//! (eigendecomposition fallback when it fails), B's singular values and vectors (from the
//! ℓ × ℓ BᵀB: only Ω, Y and the N × r result are ever held), Λ̂ = max(Σ² − ν, 0).
//!
//! The adaptive variant doubles the sketch, reusing every column already applied, until
//! λ̂_r / μ ≤ [`ADAPTIVE_RATIO`] or the rank cap is reached. The small dense algebra runs in
//! f64 whatever the solver's scalar type, since it is cheap next to the sketch itself.

use crate::error::{CronosError, Result};
use crate::real::Real;
use crate::settings::Rank;
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
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
    // Ω and Y = AΩ grow in place up to the rank cap, in the solver's type (the Ω that is
    // applied is the rounded one, and Y is computed in T): reserved once, touched as columns
    // arrive; the small products are formed in f64 by row blocks
    let mut omega = Mat::<T>::with_capacity(n, max);
    let mut y = Mat::<T>::with_capacity(n, max);
    loop {
        // new orthonormal test columns, orthogonal to those already applied
        let have = omega.ncols();
        let add = l - have;
        let mut g = Mat::<f64>::from_fn(n, add, |_, _| StandardNormal.sample(&mut rng));
        for _ in 0..2 {
            if have > 0 {
                let c = cross(omega.as_ref(), g.as_ref());
                subtract_product(&mut g, omega.as_ref(), &c);
            }
            orthonormalize(&mut g)?;
        }
        omega.resize_with(n, l, |i, j| T::from_f64(g[(i, j - have)]));
        drop(g);
        let mut yq = Mat::<T>::zeros(n, add);
        apply(omega.as_ref().subcols(have, add), &mut yq);
        y.resize_with(n, l, |i, j| yq[(i, j - have)]);
        drop(yq);
        let core = factor(omega.as_ref(), y.as_ref(), T::EPS)?;
        let done = l >= max || core.lam.last().map_or(true, |&v| v <= ADAPTIVE_RATIO * mu);
        if done || matches!(rank, Rank::Fixed(_)) {
            let u = core.eigenvectors(omega.as_ref(), y.as_ref());
            return Ok(NystromFactor { u, lam: core.lam, sketch_columns: l });
        }
        l = (2 * l).min(max);
    }
}

/// Rows per block of the f64 products below (a block of 4,096 × 256 is 8 MB).
const ROWS: usize = 4096;

/// Rows `start..start + rows` of `a` in f64.
fn rows_f64<A: Real>(a: MatRef<'_, A>, start: usize, rows: usize) -> Mat<f64> {
    Mat::<f64>::from_fn(rows, a.ncols(), |i, j| a[(start + i, j)].to_f64())
}

/// aᵀ b in f64, by row blocks.
fn cross<A: Real, B: Real>(a: MatRef<'_, A>, b: MatRef<'_, B>) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(a.ncols(), b.ncols());
    for start in (0..a.nrows()).step_by(ROWS) {
        let rows = ROWS.min(a.nrows() - start);
        let (ab, bb) = (rows_f64(a, start, rows), rows_f64(b, start, rows));
        matmul(out.as_mut(), Accum::Add, ab.transpose(), bb.as_ref(), 1.0, Par::rayon(0));
    }
    out
}

/// g −= a c, by row blocks of a.
fn subtract_product<A: Real>(g: &mut Mat<f64>, a: MatRef<'_, A>, c: &Mat<f64>) {
    for start in (0..a.nrows()).step_by(ROWS) {
        let rows = ROWS.min(a.nrows() - start);
        let ab = rows_f64(a, start, rows);
        matmul(g.as_mut().subrows_mut(start, rows), Accum::Add, ab.as_ref(), c.as_ref(), -1.0, Par::rayon(0));
    }
}

/// Orthonormalizes the columns of `g` in place (Cholesky QR: g ← g R⁻¹ with RᵀR = gᵀg; the
/// caller runs it twice, which makes it as accurate as Householder QR for Gaussian columns,
/// and it needs no second N × ℓ matrix).
fn orthonormalize(g: &mut Mat<f64>) -> Result<()> {
    let gram = g.transpose() * &*g;
    let llt = gram.llt(Side::Lower).map_err(|e| CronosError::Numerical {
        context: "Nyström test matrix",
        reason: format!("{e:?}"),
    })?;
    // g R⁻¹ with R = Lᵀ: solve L (g R⁻¹)ᵀ = gᵀ
    solve_lower_triangular_in_place(llt.L(), g.as_mut().transpose_mut(), Par::rayon(0));
    Ok(())
}

/// The small part of Algorithm 2.1: U = Y_ν M with Y_ν = Y + νΩ, and Λ̂.
struct Core {
    m: Mat<f64>,
    nu: f64,
    lam: Vec<f64>,
}

impl Core {
    /// U = (Y + νΩ) M in the solver's type, formed by row blocks.
    fn eigenvectors<T: Real>(&self, omega: MatRef<'_, T>, y: MatRef<'_, T>) -> Mat<T> {
        let (n, l) = (y.nrows(), self.m.ncols());
        let mut u = Mat::<T>::zeros(n, l);
        let mut out = Mat::<f64>::zeros(ROWS.min(n), l);
        for start in (0..n).step_by(ROWS) {
            let rows = ROWS.min(n - start);
            let block = Mat::<f64>::from_fn(rows, y.ncols(), |i, j| y[(start + i, j)].to_f64() + self.nu * omega[(start + i, j)].to_f64());
            matmul(out.as_mut().subrows_mut(0, rows), Accum::Replace, block.as_ref(), self.m.as_ref(), 1.0, Par::rayon(0));
            for j in 0..l {
                for i in 0..rows {
                    u[(start + i, j)] = T::from_f64(out[(i, j)]);
                }
            }
        }
        u
    }
}

/// The core of Algorithm 2.1 from Ω and Y = AΩ; `eps` is the precision Y was computed in.
/// B = Y_ν C⁻ᵀ with C the Cholesky factor of Ωᵀ Y_ν; instead of B's thin SVD (which needs
/// two more N × ℓ matrices) the eigendecomposition of the ℓ × ℓ BᵀB = V S² Vᵀ gives
/// U = B V S⁻¹ = Y_ν (C⁻ᵀ V S⁻¹). Squaring makes a direction's relative accuracy about
/// 1e-16·S²_max/S² (f64), so directions with S² ≤ 1e-12·S²_max are dropped (λ̂ = 0, a zero column).
fn factor<T: Real>(omega: MatRef<'_, T>, y: MatRef<'_, T>, eps: f64) -> Result<Core> {
    let l = y.ncols();
    // Ωᵀ Y_ν and Y_νᵀ Y_ν without forming Y_ν (Ω is orthonormal)
    let oy = cross(omega, y);
    let yy = cross(y, y);
    let ynorm = (0..l).map(|j| yy[(j, j)]).sum::<f64>().sqrt();
    let nu = (y.nrows() as f64).sqrt() * eps * ynorm.max(f64::MIN_POSITIVE);
    let eye = Mat::<f64>::identity(l, l);
    let core = symmetrize(&oy + &eye * faer::Scale(nu));
    let gram = symmetrize(&yy + (&oy + oy.transpose()) * faer::Scale(nu) + &eye * faer::Scale(nu * nu));
    // W with B = Y_ν W: C⁻ᵀ, or the eigen fallback's V_c S_c^{-1/2}
    let w = match core.llt(Side::Lower) {
        Ok(llt) => {
            let mut w = eye;
            faer::linalg::triangular_solve::solve_upper_triangular_in_place(llt.L().transpose(), w.as_mut(), Par::Seq);
            w
        }
        Err(_) => {
            let (v, s) = eigen(&core, "Nyström core")?;
            let smax = s.iter().copied().fold(0.0, f64::max);
            Mat::<f64>::from_fn(l, l, |i, j| if s[j] > smax * 1e-12 { v[(i, j)] / s[j].sqrt() } else { 0.0 })
        }
    };
    let (v, s2) = eigen(&symmetrize(w.transpose() * &gram * &w), "Nyström SVD")?;
    let top = s2.iter().copied().fold(0.0, f64::max);
    let mut order: Vec<usize> = (0..l).collect();
    order.sort_by(|&a, &b| s2[b].total_cmp(&s2[a]));
    let mut m = Mat::<f64>::zeros(l, l);
    let mut lam = vec![0.0; l];
    for (col, &i) in order.iter().enumerate() {
        if s2[i] > 1e-12 * top && s2[i] > 0.0 {
            let inv = 1.0 / s2[i].sqrt();
            (0..l).for_each(|a| m[(a, col)] = v[(a, i)] * inv);
            lam[col] = (s2[i] - nu).max(0.0);
        }
    }
    Ok(Core { m: &w * &m, nu, lam })
}

/// (m + mᵀ)/2: products of symmetric factors are symmetric only up to rounding.
fn symmetrize(m: Mat<f64>) -> Mat<f64> {
    (&m + m.transpose()) * faer::Scale(0.5)
}

/// Eigenvectors and eigenvalues of the symmetric `m`.
fn eigen(m: &Mat<f64>, context: &'static str) -> Result<(Mat<f64>, Vec<f64>)> {
    let evd = m.self_adjoint_eigen(Side::Lower).map_err(|e| CronosError::Numerical { context, reason: format!("{e:?}") })?;
    let s = evd.S().column_vector();
    Ok((evd.U().to_owned(), (0..m.nrows()).map(|i| s[i]).collect()))
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
