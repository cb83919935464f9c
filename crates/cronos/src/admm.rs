//! One ADMM iteration as a function of explicit state.
//!
//! Splitting (scaled form, penalty ρ, dual step γ): u = (v, w) with copy z and slack s ≥ 0,
//! u = z and Gu = s. With λ, ν the scaled duals of the two constraints:
//!
//! 1. u-step: (I + FᵀF/ρ + GᵀG) u = Fᵀy/ρ + (z − λ) + Gᵀ(s − ν), by warm-started PCG;
//! 2. z-step: z_g = group soft-threshold(u_g + λ_g, β/ρ);
//! 3. s-step: s = max(0, Gu + ν) (ReLU only), fused with ν ← ν + γ(Gu − s) in one pass;
//! 4. λ ← λ + γ(u − z).
//!
//! The slack s and the dual ν have one entry per (sample, pattern, side, output); only ν is
//! stored (in the design's shards) and only Gᵀs, Gᵀν (d × 2P·k) are kept between steps.

use crate::design::Design;
use crate::pcg::{pcg, PcgInfo, PcgWorkspace, Precond};
use crate::real::{sum_sq, Real};
use crate::system::System;
use serde::{Deserialize, Serialize};

/// The iterates of ADMM (weights layout d × nb·k, in the solver's internal scaling).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdmmState<T> {
    /// Completed iterations.
    pub iteration: usize,
    /// Current penalty ρ.
    pub rho: f64,
    /// Current cone-block scale σ.
    pub sigma: f64,
    /// u iterate.
    pub u: Vec<T>,
    /// z iterate (group sparse; the returned weights).
    pub z: Vec<T>,
    /// Scaled dual of u = z.
    pub lam: Vec<T>,
    /// Gᵀs.
    pub gts: Vec<T>,
    /// Gᵀν.
    pub gtnu: Vec<T>,
}

impl<T: Real> AdmmState<T> {
    /// All-zero state for weights of length `len`.
    pub fn zeros(len: usize, rho: f64, sigma: f64) -> Self {
        let z = vec![T::default(); len];
        AdmmState { iteration: 0, rho, sigma, u: z.clone(), z: z.clone(), lam: z.clone(), gts: z.clone(), gtnu: z }
    }
}

/// What one iteration measured.
#[derive(Clone, Debug, Default)]
pub struct StepStats {
    /// CG iterations of the u-step.
    pub cg_iterations: usize,
    /// Largest final relative CG residual over outputs.
    pub cg_residual: f64,
    /// ‖(u − z, Gu − s)‖ / max(‖(u, Gu)‖, ‖(z, s)‖).
    pub primal_rel: f64,
    /// ρ‖(z − z⁻) + Gᵀ(s − s⁻)‖ / ‖ρ(λ + Gᵀν)‖.
    pub dual_rel: f64,
    /// Per block (consensus u = z, cone σGu = s): relative primal residuals.
    pub primal_blocks: [f64; 2],
    /// Per block: relative dual residuals.
    pub dual_blocks: [f64; 2],
}

/// Buffers of the iteration, allocated once.
pub struct AdmmWorkspace<T: Real> {
    rhs: Vec<T>,
    z_old: Vec<T>,
    gts_old: Vec<T>,
    pcg: PcgWorkspace<T>,
}

impl<T: Real> AdmmWorkspace<T> {
    /// Buffers for weights of length `len`.
    pub fn new(len: usize) -> Self {
        AdmmWorkspace { rhs: vec![T::default(); len], z_old: vec![T::default(); len], gts_old: vec![T::default(); len], pcg: PcgWorkspace::new(len) }
    }
}

/// Fixed inputs of an iteration.
pub struct StepInput<'a, T: Real> {
    /// Fᵀy in the weights layout.
    pub fty: &'a [T],
    /// β per output (internal scaling).
    pub beta: &'a [f64],
    /// Dual step γ.
    pub gamma: f64,
    /// Relative CG tolerance for this step.
    pub cg_tol: f64,
    /// CG iteration cap.
    pub cg_max_iter: usize,
    /// Scale σ of the cone-constraint block σGu = s.
    pub sigma: f64,
}

/// Performs one ADMM iteration in place.
pub fn step<T: Real>(
    st: &mut AdmmState<T>,
    design: &mut Design<T>,
    sys: &mut System<T>,
    precond: &dyn Precond<T>,
    inp: &StepInput<'_, T>,
    ws: &mut AdmmWorkspace<T>,
) -> StepStats {
    let rho = T::from_f64(st.rho);
    let inv_rho = T::from_f64(1.0 / st.rho);
    let (nbd, k) = (sys.block_len(), st.u.len() / sys.block_len());

    // u-step (PCG, warm-started from the previous u)
    for i in 0..ws.rhs.len() {
        ws.rhs[i] = inp.fty[i] * inv_rho + st.z[i] - st.lam[i] + st.gts[i] - st.gtnu[i];
    }
    let info: PcgInfo = pcg(
        |x, y| sys.apply(design, rho, x, y),
        precond,
        &ws.rhs,
        &mut st.u,
        k,
        inp.cg_tol,
        inp.cg_max_iter,
        &mut ws.pcg,
    );

    // z-step: group soft-threshold of u + λ
    ws.z_old.copy_from_slice(&st.z);
    let d = sys.d;
    for c in 0..k {
        let thr = inp.beta[c] / st.rho;
        for g in 0..sys.nb {
            let s = c * nbd + g * d..c * nbd + (g + 1) * d;
            let mut nrm = 0.0;
            for i in s.clone() {
                let a = (st.u[i] + st.lam[i]).to_f64();
                nrm += a * a;
            }
            let nrm = nrm.sqrt();
            let f = T::from_f64(if nrm > thr { 1.0 - thr / nrm } else { 0.0 });
            for i in s {
                st.z[i] = f * (st.u[i] + st.lam[i]);
            }
        }
    }

    // s-step and ν update (ReLU), fused in one pass over X
    ws.gts_old.copy_from_slice(&st.gts);
    let gamma = T::from_f64(inp.gamma);
    let slack = if sys.relu {
        let (gts, gtnu) = (&mut st.gts, &mut st.gtnu);
        Some(design.slack_pass(crate::system::view(&st.u, d), T::from_f64(inp.sigma), gamma, crate::system::view_mut(gts, d), crate::system::view_mut(gtnu, d)))
    } else {
        None
    };

    // λ update and residuals (whole and per block)
    let (mut pr_sq, mut du_sq, mut d1_sq, mut d2_sq) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..st.u.len() {
        let r = st.u[i] - st.z[i];
        pr_sq += r.to_f64() * r.to_f64();
        st.lam[i] += gamma * r;
        let (dz, ds) = ((st.z[i] - ws.z_old[i]).to_f64(), (st.gts[i] - ws.gts_old[i]).to_f64());
        du_sq += (dz + ds) * (dz + ds);
        d1_sq += dz * dz;
        d2_sq += ds * ds;
    }
    let (mut u_sq, mut z_sq) = (sum_sq(&st.u), sum_sq(&st.z));
    let block1 = pr_sq.sqrt() / u_sq.sqrt().max(z_sq.sqrt()).max(1e-300);
    let mut block2 = 0.0;
    if let Some(sl) = slack {
        block2 = sl.primal_sq.sqrt() / sl.gu_sq.sqrt().max(sl.s_sq.sqrt()).max(1e-300);
        pr_sq += sl.primal_sq;
        u_sq += sl.gu_sq;
        z_sq += sl.s_sq;
    }
    // dual variable in the u-space: ρ(λ + Gᵀν)
    let mut y_sq = 0.0;
    for i in 0..st.u.len() {
        let v = (st.lam[i] + st.gtnu[i]).to_f64();
        y_sq += v * v;
    }
    let dual_blocks = [d1_sq.sqrt() / sum_sq(&st.lam).sqrt().max(1e-300), d2_sq.sqrt() / sum_sq(&st.gtnu).sqrt().max(1e-300)];
    st.iteration += 1;
    StepStats {
        cg_iterations: info.iterations,
        cg_residual: info.rel_residual.iter().copied().fold(0.0, f64::max),
        primal_rel: pr_sq.sqrt() / u_sq.sqrt().max(z_sq.sqrt()).max(1e-300),
        dual_rel: du_sq.sqrt() / y_sq.sqrt().max(1e-300),
        primal_blocks: [block1, block2],
        dual_blocks,
    }
}

/// Rescales the scaled duals and slack terms when (ρ, σ) change to (ρ', σ'), keeping the
/// unscaled multipliers: λ' = λρ/ρ', ν' = νρσ/(ρ'σ'), σ'Gᵀν' = (ρ/ρ')σGᵀν, s' = sσ'/σ.
pub fn rescale_duals<T: Real>(st: &mut AdmmState<T>, design: &mut Design<T>, rho: f64, sigma: f64, new_rho: f64, new_sigma: f64) {
    let f = T::from_f64(rho / new_rho);
    st.lam.iter_mut().for_each(|v| *v *= f);
    st.gtnu.iter_mut().for_each(|v| *v *= f);
    let fs = T::from_f64((new_sigma / sigma).powi(2));
    st.gts.iter_mut().for_each(|v| *v *= fs);
    let fn_ = T::from_f64(rho * sigma / (new_rho * new_sigma));
    for sh in design.shards_mut() {
        sh.nu.iter_mut().for_each(|v| *v *= fn_);
    }
    st.rho = new_rho;
    st.sigma = new_sigma;
}
