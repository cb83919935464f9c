//! Growing the polish's active set: neurons that ADMM has not switched on yet but the dual
//! says should be.
//!
//! The Newton polish ([`crate::polish`]) keeps inactive groups at zero, so its certificate is
//! only as good as ADMM's support. After 20 ADMM iterations on 12,000 Fashion-MNIST rows
//! (10 classes, 64 patterns) 9 inactive groups still had ‖F_gᵀλ‖ = 2–4·β: the polish then
//! stalled at a gap of 0.13 while the objective was already right to 1e-4. A group with
//! ‖q_g‖ > β, q_g = F_gᵀλ, λ = −∇ℓ(Fz), is a descent direction from zero: along
//! Δ_g = (‖q_g‖ − β)·q_g/‖q_g‖ the objective's slope is −Σ_g (‖q_g‖ − β)² < 0. One joint step
//! along Δ (length from the loss curvature, backtracked on the true objective) switches all
//! of them on at a sensible size, and the next Newton step then works on the grown support.

use crate::design::Design;
use crate::loss::LossData;
use crate::real::{sum_sq, Real};
use crate::system::System;
use faer::Mat;

/// What a growth step did.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Growth {
    /// Groups switched on.
    pub added: usize,
    /// Objective before and after (internal scaling).
    pub objective_before: f64,
    pub objective_after: f64,
}

/// Switches on, in one backtracked step, every zero group of `z` whose dual norm ‖F_gᵀλ‖
/// exceeds its β by more than `margin` (relative). Gated ReLU only (groups are independent
/// weight blocks, see [`crate::WeightLayout`]). Leaves `z` unchanged when no group
/// qualifies or no decrease is found.
pub(crate) fn grow_support<T: Real>(z: &mut [T], design: &mut Design<T>, sys: &mut System<T>, loss: &LossData<T>, beta: &[f64], margin: f64) -> Growth {
    let (d, n, k) = (sys.d(), loss.n(), loss.k());
    let layout = sys.layout.for_len(z.len());
    let mut r = Mat::<T>::zeros(n, k);
    let mut lam = Mat::<T>::zeros(n, k);
    sys.f(design, z, r.as_mut());
    let pen = |z: &[T]| crate::certificate::penalty(z, &layout, beta);
    let obj = loss.total(r.as_ref(), design.comm()) + pen(z);
    let mut out = Growth { objective_before: obj, objective_after: obj, ..Default::default() };
    loss.neg_grad(r.as_ref(), lam.as_mut());
    let mut delta = vec![T::default(); z.len()];
    sys.ft(design, lam.as_ref(), &mut delta);
    // Δ_g = (‖q_g‖ − β)·q̂_g on the qualifying zero groups, 0 elsewhere; slope = −Σ(‖q_g‖ − β)²
    let mut slope = 0.0;
    for (g, (dg, zg)) in delta.chunks_mut(d).zip(z.chunks(d)).enumerate() {
        let (qn, b) = (sum_sq(dg).sqrt(), beta[layout.group_output(g)]);
        let on = zg.iter().any(|v| v.to_f64() != 0.0);
        if on || !(qn > b * (1.0 + margin)) {
            dg.fill(T::default());
            continue;
        }
        let s = T::from_f64((qn - b) / qn);
        dg.iter_mut().for_each(|v| *v = *v * s);
        slope -= (qn - b) * (qn - b);
        out.added += 1;
    }
    if out.added == 0 {
        return out;
    }
    // step length: the minimiser of the loss's quadratic model along Δ, then backtracking
    let mut fd = Mat::<T>::zeros(n, k);
    let mut hfd = Mat::<T>::zeros(n, k);
    sys.f(design, &delta, fd.as_mut());
    loss.hess_vec(r.as_ref(), fd.as_ref(), hfd.as_mut());
    let mut curv: f64 = (0..k).flat_map(|c| (0..n).map(move |i| (i, c))).map(|(i, c)| fd[(i, c)].to_f64() * hfd[(i, c)].to_f64()).sum();
    let mut c = [curv];
    design.comm().sum_f64(&mut c);
    curv = c[0];
    if !(curv > 0.0) {
        out.added = 0;
        return out;
    }
    let mut t = -slope / curv;
    let mut trial = vec![T::default(); z.len()];
    for _ in 0..30 {
        let tt = T::from_f64(t);
        trial.iter_mut().zip(z.iter().zip(&delta)).for_each(|(o, (a, b))| *o = *a + tt * *b);
        let rt = Mat::<T>::from_fn(n, k, |i, c| r[(i, c)] + tt * fd[(i, c)]);
        let val = loss.total(rt.as_ref(), design.comm()) + pen(&trial);
        if val <= obj + 1e-4 * t * slope {
            z.copy_from_slice(&trial);
            out.objective_after = val;
            return out;
        }
        t *= 0.5;
    }
    out.added = 0;
    out
}
