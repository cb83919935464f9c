//! Newton polishing of a gated-ReLU solution on its active set.
//!
//! ADMM finds the active groups (neurons) quickly but converges only linearly in its tail:
//! on Fashion-MNIST, 10 classes, the objective is right to 6 digits after ~100 iterations
//! while the certified gap needs hundreds more. Once the support is known the problem is
//! smooth on it — for z_g ≠ 0, ‖z_g‖ has gradient ẑ_g = z_g/‖z_g‖ and Hessian
//! (I − ẑ_gẑ_gᵀ)/‖z_g‖ — so Newton's method on the active groups,
//!
//!   (Fᵀ∇²ℓ(Fz)F + β·blkdiag((I − ẑ_gẑ_gᵀ)/‖z_g‖)) δ = −(−Fᵀλ + β ẑ),  λ = −∇ℓ(Fz),
//!
//! converges fast. The system is solved by PCG with the u-step's preconditioner (re-targeted
//! to the typical curvature β/‖z_g‖), restricted to the active groups, and each step is
//! backtracked on the true objective (F is linear, so one product F δ prices every trial).
//! Inactive groups stay at zero; the certificate then says whether that was right.
//! The ReLU endgame ([`crate::relu_endgame`]) takes the same steps with one more smooth term
//! (a [`SmoothTerm`]: its augmented Lagrangian on the cone constraints).

use crate::block_precond::BlockPrecond;
use crate::design::Design;
use crate::loss::LossData;
use crate::newton_precond::{GroupScaledNystrom, PatternGrams};
use crate::nystrom::NystromFactor;
use crate::pcg::{pcg, PcgWorkspace, Precond, Scratch, ScratchReq};
use crate::real::{dot, sum_sq, Real};
use crate::system::System;
use faer::Mat;

/// What a polish did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolishReport {
    /// Newton steps taken (accepted).
    pub steps: usize,
    /// CG iterations over all steps.
    pub cg_iterations: usize,
    /// Objective (internal scaling) before and after.
    pub objective_before: f64,
    /// Objective after the accepted steps.
    pub objective_after: f64,
    /// Groups solved exactly after the Newton steps (the worst dual violators).
    pub groups_refined: usize,
}

/// A smooth convex term added to the objective of a Newton step (the ReLU endgame's
/// augmented Lagrangian on the cone constraints, see [`crate::relu_endgame`]).
pub trait SmoothTerm<T: Real> {
    /// Its value at `z`, without side effects.
    fn value(&mut self, design: &mut Design<T>, z: &[T]) -> f64;
    /// Its value at `z`, with its gradient added to `grad`; the Hessian is then taken at `z`.
    fn value_grad(&mut self, design: &mut Design<T>, z: &[T], grad: &mut [T]) -> f64;
    /// Adds its (generalized) Hessian at the last `value_grad` point times `v` to `out`.
    fn hess_add(&mut self, design: &mut Design<T>, v: &[T], out: &mut [T]);
    /// Adds the diagonal blocks `groups[t]` of that Hessian to `out[t]` (d × d each), for
    /// [`NewtonPrecond::Blocks`].
    fn add_block_hessians(&mut self, design: &mut Design<T>, groups: &[usize], out: &mut [Mat<f64>]);
}

/// The preconditioner of a Newton step's PCG.
pub enum NewtonPrecond<'a, T: Real> {
    /// A fixed one (the u-step's, re-targeted by the caller).
    Shared(&'a dyn Precond<T>),
    /// The exact diagonal blocks of this step's Newton matrix ([`BlockPrecond`]), formed
    /// after the gradient (which fixes the smooth term's Hessian). Small d only: the caller
    /// checks [`BlockPrecond::fits`].
    Blocks,
    /// The u-step's unwhitened Nyström factor of FᵀF for the loss part, scaled by the loss
    /// curvature `curvature`, and each active group's own β/‖z_g‖ ([`GroupScaledNystrom`]);
    /// `fallback` where that cannot be formed.
    GroupScaled {
        /// The factor (one output's N × r).
        factor: &'a NystromFactor<T>,
        /// Its per-pattern Grams.
        grams: &'a PatternGrams,
        /// The loss curvature c.
        curvature: f64,
        /// Used when the factor does not fit the weights' layout.
        fallback: &'a dyn Precond<T>,
    },
}

/// The preconditioner restricted to the active groups (and applied to all k outputs at once
/// even when PCG runs the coupled system as one block).
struct Masked<'a, T: Real> {
    inner: &'a dyn Precond<T>,
    mask: &'a [bool],
    d: usize,
    k: usize,
}

impl<T: Real> Precond<T> for Masked<'_, T> {
    fn scratch_req(&self, len: usize, _k: usize) -> ScratchReq {
        self.inner.scratch_req(len, self.k)
    }
    fn apply(&self, r: &[T], z: &mut [T], _k: usize, scratch: Scratch<'_, T>) {
        self.inner.apply(r, z, self.k, scratch);
        zero_inactive(z, self.mask, self.d);
    }
}

fn zero_inactive<T: Real>(v: &mut [T], mask: &[bool], d: usize) {
    for (g, on) in mask.iter().enumerate() {
        if !on {
            v[g * d..(g + 1) * d].fill(T::default());
        }
    }
}

/// One damped Newton step on the active groups of `z` (gated ReLU: groups are independent
/// weight blocks), solved by PCG to a relative residual of 1e-2 with at most `cg_max`
/// iterations and backtracked on the objective. `precond` is either a fixed approximation of the
/// Newton matrix up to a scalar (the caller re-targets it, see [`crate::Solver::polish`]) or
/// its exact diagonal blocks, formed here. The caller certifies
/// between steps (the certificate needs the solver), so one call is one step; the report has
/// `steps == 0` when no decrease was found. `extra` adds a smooth term to the objective.
#[allow(clippy::too_many_arguments)]
pub fn newton_step<T: Real>(
    z: &mut [T],
    design: &mut Design<T>,
    sys: &mut System<T>,
    loss: &LossData<T>,
    beta: &[f64],
    precond: NewtonPrecond<'_, T>,
    cg_max: usize,
    mut extra: Option<&mut dyn SmoothTerm<T>>,
) -> PolishReport {
    let (d, k, n) = (sys.d(), loss.k(), loss.n());
    let lay = sys.layout.for_len(z.len());
    let groups = lay.groups();
    let len = z.len();
    let mut r = Mat::<T>::zeros(n, k);
    let mut lam = Mat::<T>::zeros(n, k);
    let mut fv = Mat::<T>::zeros(n, k);
    let mut hv = Mat::<T>::zeros(n, k);
    let (mut grad, mut delta, mut rhs, mut trial) = (
        vec![T::default(); len],
        vec![T::default(); len],
        vec![T::default(); len],
        vec![T::default(); len],
    );
    let mut ws = PcgWorkspace::new(len);
    let mask: Vec<bool> = z
        .chunks(d)
        .map(|zg| zg.iter().any(|v| v.to_f64() != 0.0))
        .collect();
    sys.f(design, z, r.as_mut());
    let pen = |z: &[T]| crate::certificate::penalty(z, &lay, beta);
    // gradient on the active groups: −Fᵀλ + β ẑ (+ the extra term's)
    loss.neg_grad(r.as_ref(), lam.as_mut());
    sys.ft(design, lam.as_ref(), &mut grad);
    grad.iter_mut().for_each(|g| *g = -*g);
    let extra_value = match extra.as_deref_mut() {
        Some(e) => e.value_grad(design, z, &mut grad),
        None => 0.0,
    };
    let obj = loss.total(r.as_ref(), design.comm()) + pen(z) + extra_value;
    let mut report = PolishReport {
        objective_before: obj,
        objective_after: obj,
        ..Default::default()
    };
    let mut norms = vec![0.0; groups];
    for g in 0..groups {
        let s = lay.group_range(g);
        if !mask[g] {
            grad[s].fill(T::default());
            continue;
        }
        let nz = sum_sq(&z[s.clone()]).sqrt();
        norms[g] = nz;
        let b = beta[lay.group_output(g)] / nz;
        for i in s {
            grad[i] = T::from_f64(b * z[i].to_f64() + grad[i].to_f64());
        }
    }
    let gn = sum_sq(&grad).sqrt();
    if gn == 0.0 || !gn.is_finite() {
        return report;
    }
    let blocks;
    let scaled;
    let precond: &dyn Precond<T> = match precond {
        NewtonPrecond::Shared(p) => p,
        NewtonPrecond::GroupScaled { factor, grams, curvature, fallback } => {
            let b: Vec<Option<f64>> = (0..groups)
                .map(|g| mask[g].then(|| beta[lay.group_output(g)] / norms[g]))
                .collect();
            match GroupScaledNystrom::new(factor, grams, curvature, d, &b) {
                Some(p) => {
                    scaled = p;
                    &scaled
                }
                None => fallback,
            }
        }
        NewtonPrecond::Blocks => {
            blocks = block_precond(design, loss, r.as_ref(), z, &mask, &norms, beta, &lay, extra.as_deref_mut());
            &blocks
        }
    };
    rhs.iter_mut().zip(&grad).for_each(|(r, g)| *r = -*g);
    delta.fill(T::default());
    let r_ref = &r;
    let mask_ref = &mask;
    let info = pcg(
        |v, out| {
            sys.f(design, v, fv.as_mut());
            loss.hess_vec(r_ref.as_ref(), fv.as_ref(), hv.as_mut());
            sys.ft(design, hv.as_ref(), out);
            if let Some(e) = extra.as_deref_mut() {
                e.hess_add(design, v, out);
            }
            for g in 0..groups {
                let s = lay.group_range(g);
                if !mask_ref[g] {
                    out[s].fill(T::default());
                    continue;
                }
                let nz = norms[g];
                let b = beta[lay.group_output(g)] / nz;
                let proj = dot(&z[s.clone()], &v[s.clone()]) / (nz * nz);
                for i in s {
                    out[i] =
                        T::from_f64(out[i].to_f64() + b * (v[i].to_f64() - proj * z[i].to_f64()));
                }
            }
        },
        &Masked {
            inner: precond,
            mask: mask_ref,
            d,
            k,
        },
        &rhs,
        &mut delta,
        1,
        1e-2,
        cg_max,
        &mut ws,
    );
    report.cg_iterations += info.iterations;
    // backtracking on the objective along δ; F(z + tδ) = r + t Fδ
    sys.f(design, &delta, fv.as_mut());
    let slope = dot(&grad, &delta);
    if !(slope < 0.0) {
        return report;
    }
    let mut t = 1.0;
    for _ in 0..30 {
        let tt = T::from_f64(t);
        trial
            .iter_mut()
            .zip(z.iter().zip(&delta))
            .for_each(|(o, (a, b))| *o = *a + tt * *b);
        let rt = Mat::<T>::from_fn(n, k, |i, c| r[(i, c)] + tt * fv[(i, c)]);
        let extra_value = match extra.as_deref_mut() {
            Some(e) => e.value(design, &trial),
            None => 0.0,
        };
        let val = loss.total(rt.as_ref(), design.comm()) + pen(&trial) + extra_value;
        if val <= obj + 1e-4 * t * slope {
            z.copy_from_slice(&trial);
            report.steps = 1;
            report.objective_after = val;
            break;
        }
        t *= 0.5;
    }
    report
}

/// [`BlockPrecond`] of the Newton matrix at `z`: per active group b (pattern j, output c),
/// Xᵀdiag(h_c ⊙ D_j)X + (β_c/‖z_b‖)(I − ẑ_bẑ_bᵀ) + the smooth term's block.
#[allow(clippy::too_many_arguments)]
fn block_precond<'e, T: Real>(
    design: &mut Design<T>,
    loss: &LossData<T>,
    r: faer::MatRef<'_, T>,
    z: &[T],
    mask: &[bool],
    norms: &[f64],
    beta: &[f64],
    lay: &crate::layout::WeightLayout,
    extra: Option<&mut (dyn SmoothTerm<T> + 'e)>,
) -> BlockPrecond {
    let d = lay.d();
    let active: Vec<usize> = (0..mask.len()).filter(|&g| mask[g]).collect();
    let mut h = Mat::<T>::zeros(loss.n(), loss.k());
    loss.hess_diag(r, h.as_mut());
    let mut mats = design.loss_block_grams(lay, &active, h.as_ref());
    if let Some(e) = extra {
        e.add_block_hessians(design, &active, &mut mats);
    }
    for (m, &g) in mats.iter_mut().zip(&active) {
        let (s, nz) = (lay.group_range(g), norms[g]);
        let b = beta[lay.group_output(g)] / nz;
        for p in 0..d {
            for q in 0..d {
                let (zp, zq) = (z[s.start + p].to_f64() / nz, z[s.start + q].to_f64() / nz);
                m[(p, q)] += b * (if p == q { 1.0 } else { 0.0 } - zp * zq);
            }
        }
    }
    BlockPrecond::new(d, mask.len(), active.into_iter().zip(mats).collect())
}
