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
//!
//! **Other losses** (and weighted squared loss) split r = Fu as one more block, scaled by η
//! (ηFu = ηr, scaled dual θ). The u-step keeps the same operator, with FᵀF/ρ replaced by
//! η²FᵀF, so the loss only enters through its proximal operator:
//!
//! 1. u-step: (I + η²FᵀF + GᵀG) u = ηFᵀ(ηr − θ) + (z − λ) + Gᵀ(s − ν);
//! 2. z- and s-steps as above;
//! 3. r-step: r = prox_{ℓ/(ρη²)}(Fu + θ/η), then θ ← θ + γη(Fu − r).
//!
//! Changing ρ leaves this operator unchanged: residual balancing is free for every loss.

use crate::design::{Design, SlackStats};
use crate::loss::LossData;
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
    /// Split predictions r ≈ Fu (n × k, column-major; empty for the unweighted squared loss).
    #[serde(default = "Vec::new")]
    pub r: Vec<T>,
    /// Scaled dual θ of ηFu = ηr (n × k; empty without the split).
    #[serde(default = "Vec::new")]
    pub theta: Vec<T>,
}

impl<T: Real> AdmmState<T> {
    /// All-zero state for weights of length `len`.
    pub fn zeros(len: usize, rho: f64, sigma: f64) -> Self {
        let z = vec![T::default(); len];
        AdmmState { iteration: 0, rho, sigma, u: z.clone(), z: z.clone(), lam: z.clone(), gts: z.clone(), gtnu: z, r: Vec::new(), theta: Vec::new() }
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
    /// n × k buffers of the split: Fu, and ηr − θ.
    fu: Vec<T>,
    tmp: Vec<T>,
    ftb: Vec<T>,
    /// r of the previous step, and [η²(r − r⁻) | ηθ] (n × 2k) with its image under Fᵀ.
    r_old: Vec<T>,
    dual_rows: Vec<T>,
    dual_ft: Vec<T>,
}

impl<T: Real> AdmmWorkspace<T> {
    /// Buffers for weights of length `len` and `split` entries (n·k) of the split r = Fu (0: none).
    pub fn new(len: usize, split: usize) -> Self {
        let v = |l| vec![T::default(); l];
        AdmmWorkspace { rhs: v(len), z_old: v(len), gts_old: v(len), pcg: PcgWorkspace::new(len), fu: v(split), tmp: v(split), ftb: v(if split > 0 { len } else { 0 }), r_old: v(split), dual_rows: v(2 * split), dual_ft: v(if split > 0 { 2 * len } else { 0 }) }
    }
}

/// The split r = Fu of a loss handled by its proximal operator.
#[derive(Clone, Copy)]
pub struct Split<'a, T: Real> {
    /// The loss with its targets and weights.
    pub loss: &'a LossData<T>,
    /// Scale η of the block ηFu = ηr (the operator is I + η²FᵀF + GᵀG).
    pub eta: f64,
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
    /// The loss split, or `None` for the unweighted squared loss (exact in the u-step).
    pub split: Option<Split<'a, T>>,
    /// Whether to compute the split block's share of the dual residual (one more pass over
    /// X; only residual balancing needs it).
    pub split_dual: bool,
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
    let info = u_step(st, design, sys, precond, inp, ws);
    ws.z_old.copy_from_slice(&st.z);
    z_step(st, sys, inp.beta);

    // s-step and ν update (ReLU), fused in one pass over X
    ws.gts_old.copy_from_slice(&st.gts);
    let d = sys.d();
    let slack = if sys.relu() {
        let (gts, gtnu) = (&mut st.gts, &mut st.gtnu);
        Some(design.slack_pass(crate::system::view(&st.u, d), T::from_f64(inp.sigma), T::from_f64(inp.gamma), crate::system::view_mut(gts, d), crate::system::view_mut(gtnu, d)))
    } else {
        None
    };

    let split_sq = inp.split.map(|sp| r_step(st, design, sys, sp, inp, ws));
    let split_dual = inp.split.is_some() && inp.split_dual;
    let mut stats = dual_update_and_residuals(st, ws, inp.gamma, slack, split_sq, split_dual);
    stats.cg_iterations = info.iterations;
    stats.cg_residual = info.rel_residual.iter().copied().fold(0.0, f64::max);
    st.iteration += 1;
    stats
}

/// u-step: PCG on (I + FᵀF/ρ + GᵀG) u = rhs (or the split operator), warm-started from the
/// previous u.
fn u_step<T: Real>(st: &mut AdmmState<T>, design: &mut Design<T>, sys: &mut System<T>, precond: &dyn Precond<T>, inp: &StepInput<'_, T>, ws: &mut AdmmWorkspace<T>) -> PcgInfo {
    let k = sys.layout.for_len(st.u.len()).outputs();
    let sys_rho = match inp.split {
        None => {
            let inv_rho = T::from_f64(1.0 / st.rho);
            for i in 0..ws.rhs.len() {
                ws.rhs[i] = inp.fty[i] * inv_rho + st.z[i] - st.lam[i] + st.gts[i] - st.gtnu[i];
            }
            T::from_f64(st.rho)
        }
        Some(sp) => {
            let eta = T::from_f64(sp.eta);
            for i in 0..ws.tmp.len() {
                ws.tmp[i] = eta * st.r[i] - st.theta[i];
            }
            sys.ft(design, crate::system::view(&ws.tmp, sp.loss.n()), &mut ws.ftb);
            for i in 0..ws.rhs.len() {
                ws.rhs[i] = eta * ws.ftb[i] + st.z[i] - st.lam[i] + st.gts[i] - st.gtnu[i];
            }
            T::from_f64(1.0 / (sp.eta * sp.eta))
        }
    };
    pcg(|x, y| sys.apply(design, sys_rho, x, y), precond, &ws.rhs, &mut st.u, k, inp.cg_tol, inp.cg_max_iter, &mut ws.pcg)
}

/// z-step: group soft-threshold of u + λ at β_c/ρ.
fn z_step<T: Real>(st: &mut AdmmState<T>, sys: &System<T>, beta: &[f64]) {
    let lay = sys.layout.for_len(st.u.len());
    for (c, b) in beta.iter().enumerate().take(lay.outputs()) {
        let thr = b / st.rho;
        for s in lay.output_group_ranges(c) {
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
}

/// r-step and θ update of the loss split; returns the block's (‖Fu − r‖², ‖Fu‖², ‖r‖²), scaled
/// by η². With `inp.split_dual` also fills `ws.dual_ft` with [η²Fᵀ(r − r⁻) | ηFᵀθ].
fn r_step<T: Real>(st: &mut AdmmState<T>, design: &mut Design<T>, sys: &mut System<T>, sp: Split<'_, T>, inp: &StepInput<'_, T>, ws: &mut AdmmWorkspace<T>) -> (f64, f64, f64) {
    let n = sp.loss.n();
    let gamma = T::from_f64(inp.gamma);
    sys.f(design, &st.u, crate::system::view_mut(&mut ws.fu, n));
    let (eta, inv_eta) = (T::from_f64(sp.eta), T::from_f64(1.0 / sp.eta));
    ws.r_old.copy_from_slice(&st.r);
    for i in 0..st.r.len() {
        st.r[i] = ws.fu[i] + st.theta[i] * inv_eta;
    }
    sp.loss.prox(crate::system::view_mut(&mut st.r, n), 1.0 / (st.rho * sp.eta * sp.eta));
    let (mut pr, mut fu_sq, mut r_sq) = (0.0, 0.0, 0.0);
    for i in 0..st.r.len() {
        let diff = ws.fu[i] - st.r[i];
        st.theta[i] += gamma * eta * diff;
        pr += diff.to_f64() * diff.to_f64();
        fu_sq += ws.fu[i].to_f64() * ws.fu[i].to_f64();
        r_sq += st.r[i].to_f64() * st.r[i].to_f64();
    }
    let mut sums = [pr, fu_sq, r_sq];
    design.comm().sum_f64(&mut sums); // rows may live on several ranks
    let [pr, fu_sq, r_sq] = sums;
    let e2 = sp.eta * sp.eta;
    if inp.split_dual {
        // dual residual η²Fᵀ(r − r⁻) and dual variable ηFᵀθ of this block, in one pass
        let m = st.r.len();
        let e2t = T::from_f64(e2);
        for i in 0..m {
            ws.dual_rows[i] = e2t * (st.r[i] - ws.r_old[i]);
            ws.dual_rows[m + i] = eta * st.theta[i];
        }
        sys.ft(design, crate::system::view(&ws.dual_rows, n), &mut ws.dual_ft);
    }
    (e2 * pr, e2 * fu_sq, e2 * r_sq)
}

/// λ update, then the relative residuals (whole and per block) from the consensus block,
/// the cone block (`slack`) and the loss split (`split_sq`). CG fields are left at zero.
fn dual_update_and_residuals<T: Real>(st: &mut AdmmState<T>, ws: &AdmmWorkspace<T>, gamma: f64, slack: Option<SlackStats>, split_sq: Option<(f64, f64, f64)>, split_dual: bool) -> StepStats {
    let gamma = T::from_f64(gamma);
    let (mut pr_sq, mut du_sq, mut d1_sq, mut d2_sq) = (0.0, 0.0, 0.0, 0.0);
    let len = st.u.len();
    for i in 0..len {
        let r = st.u[i] - st.z[i];
        pr_sq += r.to_f64() * r.to_f64();
        st.lam[i] += gamma * r;
        let (dz, ds) = ((st.z[i] - ws.z_old[i]).to_f64(), (st.gts[i] - ws.gts_old[i]).to_f64());
        let dr = if split_dual { ws.dual_ft[i].to_f64() } else { 0.0 };
        du_sq += (dz + ds + dr) * (dz + ds + dr);
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
    if let Some((pr, fu_sq, r_sq)) = split_sq {
        pr_sq += pr;
        u_sq += fu_sq;
        z_sq += r_sq;
    }
    // dual variable in the u-space: ρ(λ + Gᵀν)
    let mut y_sq = 0.0;
    for i in 0..len {
        let v = (st.lam[i] + st.gtnu[i]).to_f64();
        y_sq += v * v;
    }
    if split_dual {
        // λ + Gᵀν + ηFᵀθ is minus the dual residual (the u-step has no objective of its
        // own), so it cannot normalise it: use its two parts, equal in size at the optimum
        y_sq = y_sq.max(sum_sq(&ws.dual_ft[len..]));
    }
    let dual_blocks = [d1_sq.sqrt() / sum_sq(&st.lam).sqrt().max(1e-300), d2_sq.sqrt() / sum_sq(&st.gtnu).sqrt().max(1e-300)];
    StepStats {
        cg_iterations: 0,
        cg_residual: 0.0,
        primal_rel: pr_sq.sqrt() / u_sq.sqrt().max(z_sq.sqrt()).max(1e-300),
        dual_rel: du_sq.sqrt() / y_sq.sqrt().max(1e-300),
        primal_blocks: [block1, block2],
        dual_blocks,
    }
}

/// Rescales the scaled duals and slack terms when (ρ, σ) change to (ρ', σ'), keeping the
/// unscaled multipliers: λ' = λρ/ρ', θ' = θρ/ρ', ν' = νρσ/(ρ'σ'), σ'Gᵀν' = (ρ/ρ')σGᵀν, s' = sσ'/σ.
pub fn rescale_duals<T: Real>(st: &mut AdmmState<T>, design: &mut Design<T>, rho: f64, sigma: f64, new_rho: f64, new_sigma: f64) {
    let f = T::from_f64(rho / new_rho);
    st.lam.iter_mut().for_each(|v| *v *= f);
    st.gtnu.iter_mut().for_each(|v| *v *= f);
    let fs = T::from_f64((new_sigma / sigma).powi(2));
    st.gts.iter_mut().for_each(|v| *v *= fs);
    st.theta.iter_mut().for_each(|v| *v *= f);
    let fn_ = T::from_f64(rho * sigma / (new_rho * new_sigma));
    for sh in design.shards_mut() {
        sh.nu.iter_mut().for_each(|v| *v *= fn_);
    }
    st.rho = new_rho;
    st.sigma = new_sigma;
}
