//! The endgame: Newton polishing of the active groups once ADMM has identified them.

use super::*;
use crate::polish_block::refine_worst_groups;

/// Groups solved exactly after a Newton step (the worst dual violators) ...
const REFINE_GROUPS: usize = 8;
/// ... once the gap is within this multiple of the target.
const REFINE_BELOW: f64 = 4.0;
/// In f32 the group-scaled Newton preconditioner is used only for gap targets from this one.
const F32_SCALED_FROM: f64 = 1e-5;

impl<T: Real> Solver<T> {
    /// Newton polishing of the current weights on their active groups, see [`crate::polish`]
    /// (for ReLU, as `Settings::relu_endgame` says, the augmented-Lagrangian endgame of
    /// [`crate::relu_endgame`]; otherwise a no-op for ReLU): the polished
    /// weights replace z (and u, and the split's r) when they lower the objective (ReLU: when
    /// they satisfy the cones and certify a smaller gap), and the certificate is recomputed.
    /// `step` calls it on certified iterations that are multiples of
    /// `Settings::polish_every` once the gap is below `Settings::polish_below`.
    pub fn polish(&mut self) -> PolishReport {
        self.polish_against(0.0)
    }

    /// [`Solver::polish`], whose gated Newton steps stop once one gains less, in
    /// ln(gap) per CG step, than `admm_gain` (ADMM's recent gain per unit of work: the
    /// driver's `admm_gain_per_cg`): then ADMM is the cheaper way on.
    pub(super) fn polish_against(&mut self, admm_gain: f64) -> PolishReport {
        if self.sys.relu() && !self.relu_endgame_wanted() {
            return PolishReport::default();
        }
        let Some(target) = self.newton_rho() else {
            return PolishReport::default();
        };
        let sys_rho = self.sys_rho();
        if let AnyPrecond::Structured(p) = &mut self.precond {
            p.set_rho(target);
        }
        let report = if self.sys.relu() { self.relu_endgame() } else { self.gated_polish(admm_gain) };
        if let AnyPrecond::Structured(p) = &mut self.precond {
            p.set_rho(sys_rho);
        }
        report
    }

    /// The penalty that re-targets the u-step's preconditioner (an approximate inverse of
    /// I + FᵀF/ρ) to the Newton matrix, about c·FᵀF + b·I (c: loss curvature, b: typical
    /// β/‖z_g‖), i.e. ρ = b/c; `None` without active groups.
    fn newton_rho(&self) -> Option<f64> {
        let (d, lay) = (self.sys.d(), self.sys.layout);
        let mut curv: Vec<f64> = self
            .state
            .z
            .chunks(d)
            .enumerate()
            .filter_map(|(g, zg)| {
                let nz = crate::real::sum_sq(zg).sqrt();
                (nz > 0.0).then(|| self.beta[lay.group_output(g)] / nz)
            })
            .collect();
        if curv.is_empty() {
            return None;
        }
        curv.sort_by(f64::total_cmp);
        Some(curv[curv.len() / 2] / self.settings.loss.curvature())
    }

    /// Newton steps on the gated program's active groups, certified after each.
    fn gated_polish(&mut self, admm_gain: f64) -> PolishReport {
        // one Newton step at a time, certified after each: stop at the gap target or when a
        // step no longer lowers the objective (on 10,000 × 785, 10 outputs: one step from a
        // gap of 6e-2 gives 5e-7 relative objective error, later steps cost 100 CG each)
        let mut total = PolishReport {
            objective_before: f64::NAN,
            ..Default::default()
        };
        let mut last_gap = self.cert.relative_gap;
        for _ in 0..6 {
            let mut z = self.state.z.clone();
            let precond = newton_precond::<T>(&self.precond, &self.settings, self.sys.d());
            let (design, sys, loss, beta) = (&mut self.design, &mut self.sys, &self.loss, &self.beta);
            let rep = self
                .pool
                .install(|| newton_step(&mut z, design, sys, loss, beta, precond, 60, None));
            self.cg_total += rep.cg_iterations;
            total.cg_iterations += rep.cg_iterations;
            if total.objective_before.is_nan() {
                total.objective_before = rep.objective_before;
                total.objective_after = rep.objective_before;
            }
            if !(rep.steps > 0 && rep.objective_after < rep.objective_before) {
                break;
            }
            self.set_weights_internal(z);
            total.steps += 1;
            total.objective_after = rep.objective_after;
            let mut gap = self.certify().relative_gap;
            // near the target a few groups cap the certificate: solved exactly (squared loss)
            // they certify the default Fashion-MNIST job one 60-CG Newton step sooner
            if gap > self.settings.tol_gap && gap <= REFINE_BELOW * self.settings.tol_gap {
                let mut z = self.state.z.clone();
                // the certificate just left F z in its workspace
                let (fz, design, sys, loss, beta) = (self.cert_ws.predictions(), &mut self.design, &mut self.sys, &self.loss, &self.beta);
                let refined = self.pool.install(|| refine_worst_groups(&mut z, fz, design, sys, loss, beta, REFINE_GROUPS, 1.0));
                if let Some(objective) = refined.objective {
                    self.set_weights_internal(z);
                    total.groups_refined += refined.groups;
                    total.objective_after = objective;
                    gap = self.certify().relative_gap;
                }
            }
            // done, or not converging fast: likely a wrong active set, which ADMM must fix;
            // or slower per CG step than ADMM was (digits, 1,437 × 64, 10 classes: six 60-CG
            // steps took 1.3 s from a gap of 1.3e-2 to 2.7e-3, where ADMM's next 10
            // iterations took 0.07 s to 8e-4; on the default job the polish gained about 35×
            // ADMM's ln(gap) per CG step, from the logged trajectory: 7.0 in 177 CG vs 0.06 in 55)
            let gain = (last_gap / gap).ln() / rep.cg_iterations.max(1) as f64;
            if gap <= self.settings.tol_gap || gap > 0.5 * last_gap || gain < admm_gain {
                break;
            }
            last_gap = gap;
        }
        total
    }

    /// Replaces z (and u = z, and the split's r = Fz) by polished weights.
    pub(super) fn set_weights_internal(&mut self, z: Vec<T>) {
        if !self.state.r.is_empty() {
            let (n, k) = (self.loss.n(), self.loss.k());
            let mut fz = Mat::<T>::zeros(n, k);
            let (design, sys) = (&mut self.design, &mut self.sys);
            self.pool.install(|| sys.f(design, &z, fz.as_mut()));
            for c in 0..k {
                for i in 0..n {
                    self.state.r[c * n + i] = fz[(i, c)];
                }
            }
        }
        self.state.u.clone_from(&z);
        self.state.z = z;
    }
}

/// The preconditioner of a gated Newton step: the group-scaled form on the u-step's unwhitened
/// Nyström factor where there is one, else the u-step's own (re-targeted by the caller).
fn newton_precond<'a, T: Real>(precond: &'a AnyPrecond<T>, settings: &Settings, d: usize) -> NewtonPrecond<'a, T> {
    // the group-scaled form's Woodbury update cancels terms up to max_g(1/b_g)·‖cUΛUᵀ‖
    // larger than its result: in f32 that rounding stalls PCG near f32's floor
    // (fingerprint, asked for 1e-7: a logistic solve ran 150 iterations instead of 20;
    // switching forms inside a solve by its gap was worse still), so an f32 solve uses
    // it only for targets far from that floor (the default 1e-3 is)
    let scaled_ok = T::EPS < 1e-10 || settings.tol_gap >= F32_SCALED_FROM;
    let shared = NewtonPrecond::Shared(precond.as_dyn());
    match precond {
        AnyPrecond::Structured(p) if scaled_ok => match p.unwhitened_factor(d) {
            Some((factor, grams)) => {
                NewtonPrecond::GroupScaled { factor, grams, curvature: settings.loss.curvature(), fallback: precond.as_dyn() }
            }
            None => shared,
        },
        _ => shared,
    }
}
