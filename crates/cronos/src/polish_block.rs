//! Exact block solves of the worst groups after a Newton step of the polish.
//!
//! The certificate scales λ by the largest dual violation max_g ‖F_gᵀλ‖/β of each output, so
//! one group that Newton has not converged caps the gap. On 60,000 Fashion-MNIST rows (10
//! classes, 64 patterns) the smallest group (‖z_g‖ = 0.3 of a median 16) was the worst after
//! every Newton step (violation 1.165, 1.019, 1.004) and cost the polish a fourth 60-CG step.
//! With the other groups fixed, a group's problem is d-dimensional,
//!
//!   min_w ½ wᵀH_j w − bᵀw + β‖w‖,  H_j = Xᵀ D_j W X,  b = F_gᵀλ + H_j z_g
//!
//! (squared loss, row weights W, pattern j of the group), solved exactly by one
//! eigendecomposition of H_j and a scalar equation for μ = β/‖w‖. H_j costs one pass over the
//! pattern's rows (n·d² flops, about a third of a CG step) and is shared by the k outputs.

use crate::design::Design;
use crate::loss::{Loss, LossData};
use crate::real::{sum_sq, Real};
use crate::system::System;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

/// Rows per block when forming H_j (bounds the scratch to a few MB).
const ROW_BLOCK: usize = 4096;

/// What a refinement did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Refined {
    /// Groups solved.
    pub groups: usize,
    /// The objective after (internal scaling) when groups were solved.
    pub objective: Option<f64>,
}

/// Solves, one after the other, the block problems of the (at most `max_groups`) groups
/// with the largest dual violations above `min_violation` (‖F_gᵀλ‖/β). `fz` is F z (the
/// certificate just computed it: [`crate::certificate::CertWorkspace::predictions`]).
/// Squared loss and dense X only (returns 0 otherwise, and when no group qualifies). Each
/// solve lowers the objective exactly in exact arithmetic; the whole change is kept only if
/// the objective went down.
#[allow(clippy::too_many_arguments)]
pub(crate) fn refine_worst_groups<T: Real>(z: &mut [T], fz: MatRef<'_, T>, design: &mut Design<T>, sys: &mut System<T>, loss: &LossData<T>, beta: &[f64], max_groups: usize, min_violation: f64) -> Refined {
    if loss.loss != Loss::Squared || sys.relu() || design.x().dense().is_none() {
        return Refined::default();
    }
    let (d, n, k) = (sys.d(), loss.n(), loss.k());
    let lay = sys.layout.for_len(z.len());
    let mut r = fz.to_owned();
    let mut lam = Mat::<T>::zeros(n, k);
    let pen = |z: &[T]| crate::certificate::penalty(z, &lay, beta);
    let obj = loss.total(r.as_ref(), design.comm()) + pen(z);
    loss.neg_grad(r.as_ref(), lam.as_mut());
    let mut q = vec![T::default(); z.len()];
    sys.ft(design, lam.as_ref(), &mut q);
    let mut worst: Vec<(f64, usize)> = (0..lay.groups())
        .map(|g| (sum_sq(&q[lay.group_range(g)]).sqrt() / beta[lay.group_output(g)], g))
        .filter(|&(v, _)| v > min_violation)
        .collect();
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    worst.truncate(max_groups);
    if worst.is_empty() {
        return Refined::default();
    }
    let before = z.to_vec();
    let mut grams: Vec<(usize, Mat<f64>)> = Vec::new();
    let mut solved = 0;
    for &(_, g) in &worst {
        let (c, j) = (lay.group_output(g), lay.group_pattern(g));
        let mask = pattern_mask(design, j);
        if !grams.iter().any(|(p, _)| *p == j) {
            grams.push((j, pattern_gram(design, loss.weights(), &mask)));
        }
        let h = &grams.iter().find(|(p, _)| *p == j).expect("formed above").1;
        let s = lay.group_range(g);
        // b = F_gᵀλ + H z_g with λ as updated by the groups solved before this one
        let lam_c = col(lam.as_ref(), c);
        let mut b = masked_tmul(design, &mask, lam_c);
        let zg: Vec<f64> = z[s.clone()].iter().map(|v| v.to_f64()).collect();
        for (a, row) in b.iter_mut().zip(0..d) {
            *a += (0..d).map(|t| h[(row, t)] * zg[t]).sum::<f64>();
        }
        let Some(w) = group_lasso_block(h, &b, beta[c]) else { continue };
        let delta: Vec<T> = w.iter().zip(&zg).map(|(a, b)| T::from_f64(a - b)).collect();
        z[s].iter_mut().zip(&w).for_each(|(o, v)| *o = T::from_f64(*v));
        // r_c += D_j X Δ, λ_c −= W D_j X Δ (squared loss)
        let xd = masked_mul(design, &mask, &delta);
        for i in 0..n {
            r[(i, c)] = r[(i, c)] + T::from_f64(xd[i]);
            lam[(i, c)] = lam[(i, c)] - T::from_f64(loss.weights()[i] * xd[i]);
        }
        solved += 1;
    }
    let after = loss.total(r.as_ref(), design.comm()) + pen(z);
    if !(after < obj) {
        z.copy_from_slice(&before);
        return Refined::default();
    }
    Refined { groups: solved, objective: Some(after) }
}

/// H_j = Σ_i m_ij w_i x_i x_iᵀ over the local rows, summed over ranks (f64). Only the rows of
/// the pattern enter the GEMMs (about half of them).
fn pattern_gram<T: Real>(design: &Design<T>, w: &[f64], m: &[bool]) -> Mat<f64> {
    let x = design.x().dense().expect("dense X (checked by the caller)");
    let d = x.ncols();
    let rows: Vec<usize> = (0..x.nrows()).filter(|&i| m[i]).collect();
    let mut acc = Mat::<T>::zeros(d, d);
    let (mut a, mut s) = (Mat::<T>::zeros(ROW_BLOCK, d), Mat::<T>::zeros(ROW_BLOCK, d));
    for chunk in rows.chunks(ROW_BLOCK) {
        let bl = chunk.len();
        for t in 0..d {
            for (r, &i) in chunk.iter().enumerate() {
                a[(r, t)] = x[(i, t)];
                s[(r, t)] = T::from_f64(w[i]) * x[(i, t)];
            }
        }
        matmul(acc.as_mut(), Accum::Add, a.as_ref().subrows(0, bl).transpose(), s.as_ref().subrows(0, bl), T::from_f64(1.0), Par::rayon(0));
    }
    let mut h: Vec<f64> = (0..d * d).map(|e| acc[(e % d, e / d)].to_f64()).collect();
    design.comm().sum_f64(&mut h);
    Mat::from_fn(d, d, |a, b| h[a + b * d])
}

/// Xᵀ (m_j ⊙ v) over the local rows, summed over ranks.
fn masked_tmul<T: Real>(design: &Design<T>, m: &[bool], v: &[T]) -> Vec<f64> {
    let x = design.x().dense().expect("dense X (checked by the caller)");
    let mv = Mat::<T>::from_fn(x.nrows(), 1, |i, _| if m[i] { v[i] } else { T::default() });
    let mut xt = Mat::<T>::zeros(x.ncols(), 1);
    matmul(xt.as_mut(), Accum::Replace, x.transpose(), mv.as_ref(), T::from_f64(1.0), Par::rayon(0));
    let mut out: Vec<f64> = (0..x.ncols()).map(|t| xt[(t, 0)].to_f64()).collect();
    design.comm().sum_f64(&mut out);
    out
}

/// m_j ⊙ (X δ) over the local rows.
fn masked_mul<T: Real>(design: &Design<T>, m: &[bool], delta: &[T]) -> Vec<f64> {
    let x = design.x().dense().expect("dense X (checked by the caller)");
    let mut xd = Mat::<T>::zeros(x.nrows(), 1);
    matmul(xd.as_mut(), Accum::Replace, x, MatRef::from_column_major_slice(delta, delta.len(), 1), T::from_f64(1.0), Par::rayon(0));
    (0..x.nrows()).map(|i| if m[i] { xd[(i, 0)].to_f64() } else { 0.0 }).collect()
}

/// Which local rows pattern j switches on.
fn pattern_mask<T: Real>(design: &Design<T>, j: usize) -> Vec<bool> {
    (0..design.x().nrows()).map(|i| design.patterns().get(i, j)).collect()
}

/// argmin_w ½wᵀHw − bᵀw + β‖w‖ (H symmetric PSD): 0 when ‖b‖ ≤ β, else w = (H + μI)⁻¹b with
/// μ‖w(μ)‖ = β, found by bisection in log μ (μ‖w(μ)‖ rises from 0 to ‖b‖). `None` when the
/// eigendecomposition fails.
pub(crate) fn group_lasso_block(h: &Mat<f64>, b: &[f64], beta: f64) -> Option<Vec<f64>> {
    let d = b.len();
    let bn = b.iter().map(|v| v * v).sum::<f64>().sqrt();
    if bn <= beta {
        return Some(vec![0.0; d]);
    }
    let (u, lam) = crate::gram::sym_eigen(h.clone(), "eigendecomposition of a pattern's Gram").ok()?;
    let c: Vec<f64> = (0..d).map(|i| (0..d).map(|t| u[(t, i)] * b[t]).sum()).collect();
    let norm_at = |mu: f64| c.iter().zip(&lam).map(|(ci, li)| (ci / (li + mu)).powi(2)).sum::<f64>().sqrt();
    // μ‖w(μ)‖ = β: at hi, μ/(λ_max + μ) > β/‖b‖ bounds it from above; lo shrinks until below
    let lmax = lam.iter().cloned().fold(0.0, f64::max);
    let mut hi = 2.0 * beta * (lmax + 1.0) / (bn - beta) + 1.0;
    let mut lo = 1e-30 * (lmax + 1.0);
    while lo * norm_at(lo) > beta && lo > 1e-300 {
        lo *= 1e-3;
    }
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        if mid * norm_at(mid) > beta {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi / lo < 1.0 + 1e-14 {
            break;
        }
    }
    let mu = (lo * hi).sqrt();
    Some((0..d).map(|t| (0..d).map(|i| u[(t, i)] * c[i] / (lam[i] + mu)).sum()).collect())
}

fn col<T: Real>(m: MatRef<'_, T>, c: usize) -> &[T] {
    m.col(c).try_as_col_major().expect("column-major").as_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block solution satisfies the optimality condition Hw − b + β w/‖w‖ = 0, and is 0
    /// when ‖b‖ ≤ β.
    #[test]
    fn block_solution_is_stationary() {
        let d = 6;
        let a = Mat::<f64>::from_fn(9, d, |i, j| ((i * 7 + j * 3) % 5) as f64 - 2.0 + 0.1 * j as f64);
        let h = a.transpose() * &a;
        // b in the range of H, as F_gᵀλ + H z_g is
        let v: Vec<f64> = (0..9).map(|i| (i as f64 * 0.9).sin() * 3.0).collect();
        let b: Vec<f64> = (0..d).map(|j| (0..9).map(|i| a[(i, j)] * v[i]).sum()).collect();
        for beta in [0.5, 3.0] {
            let w = group_lasso_block(&h, &b, beta).unwrap();
            let wn = w.iter().map(|v| v * v).sum::<f64>().sqrt();
            for r in 0..d {
                let hw: f64 = (0..d).map(|t| h[(r, t)] * w[t]).sum();
                let res = hw - b[r] + beta * w[r] / wn;
                assert!(res.abs() < 1e-8, "beta {beta}: residual {res}");
            }
        }
        let w = group_lasso_block(&h, &b, 1e3).unwrap();
        assert!(w.iter().all(|&v| v == 0.0));
    }

    /// On a small problem started at z = 0, the worst group's block solve leaves that group
    /// stationary (F_gᵀλ = β ẑ_g at the new λ) and lowers the objective.
    #[test]
    fn the_worst_group_becomes_stationary() {
        let (n, d0, p, k) = (80, 3, 5, 2);
        let mut seed = 17u64;
        let mut rnd = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let x = Mat::<f64>::from_fn(n, d0 + 1, |_, j| if j < d0 { rnd() } else { 1.0 });
        let y = Mat::<f64>::from_fn(n, k, |i, c| if (x[(i, 0)] + 0.3 * c as f64 - x[(i, 1)] * x[(i, 2)]) > 0.0 { 1.0 } else { -1.0 });
        let pats = crate::patterns::sample_patterns(x.as_ref(), p, 4, Par::Seq).patterns;
        let mut design = Design::new(x.clone(), pats, 1, p * k, 2 * p * k);
        let gram = design.gram();
        let mut sys = System::new(&design, false, k, gram);
        let loss = LossData::new(Loss::Squared, y.as_ref(), None).unwrap();
        let beta = vec![0.02; k];
        let len = sys.layout.d() * sys.layout.p() * k;
        let mut z = vec![0.0; len];
        let lay = sys.layout.for_len(len);
        let objective = |z: &[f64], design: &mut Design<f64>, sys: &mut System<f64>| {
            let mut r = Mat::<f64>::zeros(n, k);
            sys.f(design, z, r.as_mut());
            loss.total(r.as_ref(), design.comm()) + crate::certificate::penalty(z, &lay, &beta)
        };
        let before = objective(&z, &mut design, &mut sys);
        let mut fz = Mat::<f64>::zeros(n, k);
        sys.f(&mut design, &z, fz.as_mut());
        let rep = refine_worst_groups(&mut z, fz.as_ref(), &mut design, &mut sys, &loss, &beta, 1, 1.0);
        assert_eq!(rep.groups, 1);
        let after = objective(&z, &mut design, &mut sys);
        assert!(after < before, "{before} -> {after}");
        assert!((rep.objective.unwrap() - after).abs() <= 1e-10 * after);
        let mut r = Mat::<f64>::zeros(n, k);
        let mut lam = Mat::<f64>::zeros(n, k);
        sys.f(&mut design, &z, r.as_mut());
        loss.neg_grad(r.as_ref(), lam.as_mut());
        let mut q = vec![0.0; len];
        sys.ft(&mut design, lam.as_ref(), &mut q);
        let g = (0..lay.groups()).find(|&g| sum_sq(&z[lay.group_range(g)]) > 0.0).expect("one group switched on");
        let s = lay.group_range(g);
        let zn = sum_sq(&z[s.clone()]).sqrt();
        let res: f64 = s.map(|i| (q[i] - beta[0] * z[i] / zn).powi(2)).sum::<f64>().sqrt();
        assert!(res <= 1e-8 * beta[0], "stationarity residual {res}");
    }
}
