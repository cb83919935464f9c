//! The endgame: Newton polishing of the active groups once ADMM has identified them.

use super::*;
use crate::newton_precond::{GroupGrams, NewtonPrecond};
use crate::pcg::Precond;
use crate::polish_growth::grow_support;

impl<T: Real> Solver<T> {
    /// Newton polishing of the current weights on their active groups (gated ReLU; a no-op
    /// for ReLU), see [`crate::polish`]: the polished weights replace z (and u, and the
    /// split's r) when they lower the objective, and the certificate is recomputed. `step`
    /// calls it on certified iterations that are multiples of 20 once the gap is below
    /// `Settings::polish_below`.
    pub fn polish(&mut self) -> PolishReport {
        if self.sys.relu() {
            return PolishReport::default();
        }
        let (d, lay) = (self.sys.d(), self.sys.layout);
        let sys_rho = self.sys_rho();
        // without a Nyström factor of FᵀF (plain Nyström kind, wide data) the u-step's
        // preconditioner approximates (I + FᵀF/ρ)⁻¹ and serves for c·FᵀF + b·I with one
        // b (the median β/‖z_g‖), i.e. ρ = b/c
        let factor = match &self.precond {
            AnyPrecond::Structured(p) if !p.is_exact() && p.factor().u.ncols() > 0 => Some(p.factor().clone()),
            _ => None,
        };
        let grams = factor.as_ref().map(|f| self.pool.install(|| GroupGrams::new(f.u.as_ref(), d)));
        // one Newton step at a time, certified after each: stop at the gap target or when a
        // step no longer lowers the objective (on 10,000 × 785, 10 outputs: one step from a
        // gap of 6e-2 gives 5e-7 relative objective error, later steps cost 100 CG each)
        let mut total = PolishReport {
            objective_before: f64::NAN,
            ..Default::default()
        };
        let mut last_gap = self.cert.relative_gap;
        // the per-group preconditioner where there is a factor of FᵀF (30,000 Fashion-MNIST
        // rows: gap 2.8e-4 after the polish where the uniform one stalled at 0.40; on all 60,000
        // rows it stalls at 6e-3 where the uniform one reached 3.5e-4, and the next polish, 20
        // cheap ADMM iterations later, certifies). Falling back to the uniform one on a stall
        // made K ranks and K threads differ by 4e-6 (tests/threads_comm.rs): not done.
        let per_group = factor.is_some();
        for _ in 0..6 {
            let mut z = self.state.z.clone();
            // neurons the dual says are missing first: Newton keeps zero groups at zero
            let (design, sys, loss, beta) = (&mut self.design, &mut self.sys, &self.loss, &self.beta);
            let added = self.pool.install(|| grow_support(&mut z, design, sys, loss, beta, 0.0)).added;
            let curvatures = group_curvatures(&z, &lay, &self.beta);
            let newton = factor.as_ref().zip(grams.as_ref()).filter(|_| per_group).and_then(|(f, g)| {
                NewtonPrecond::new(f, self.settings.loss.curvature(), g, &curvatures, d)
            });
            if newton.is_none() {
                let target = median_curvature(&z, &lay, &self.beta).map_or(sys_rho, |b| b / self.settings.loss.curvature());
                if let AnyPrecond::Structured(p) = &mut self.precond {
                    p.set_rho(target);
                }
            }
            let (design, sys, loss, beta) = (&mut self.design, &mut self.sys, &self.loss, &self.beta);
            let pre: &dyn Precond<T> = match &newton {
                Some(p) => p,
                None => self.precond.as_dyn(),
            };
            let rep = self
                .pool
                .install(|| newton_step(&mut z, design, sys, loss, beta, pre, 60));
            self.cg_total += rep.cg_iterations;
            total.cg_iterations += rep.cg_iterations;
            if total.objective_before.is_nan() {
                total.objective_before = rep.objective_before;
                total.objective_after = rep.objective_before;
            }
            if !(rep.steps > 0 && rep.objective_after < rep.objective_before) {
                // the growth step alone lowered the objective: keep it
                if added > 0 {
                    self.set_weights_internal(z);
                    total.steps += 1;
                    self.certify();
                }
                break;
            }
            self.set_weights_internal(z);
            total.steps += 1;
            total.objective_after = rep.objective_after;
            let gap = self.certify().relative_gap;
            if gap <= 0.5 * self.settings.tol_gap {
                break;
            }
            // not converging fast: likely a wrong active set, which ADMM must fix
            if added == 0 && gap > 0.5 * last_gap {
                break;
            }
            last_gap = gap;
        }
        if let AnyPrecond::Structured(p) = &mut self.precond {
            p.set_rho(sys_rho);
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

/// b_g = β/‖z_g‖ per group of all outputs (output-major), 0 for a zero group.
fn group_curvatures<T: Real>(z: &[T], layout: &crate::WeightLayout, beta: &[f64]) -> Vec<f64> {
    let lay = layout.for_len(z.len());
    (0..lay.groups())
        .map(|g| {
            let nz = crate::real::sum_sq(&z[lay.group_range(g)]).sqrt();
            if nz > 0.0 { beta[lay.group_output(g)] / nz } else { 0.0 }
        })
        .collect()
}


/// The median of β/‖z_g‖ over the non-zero groups (`None` when all are zero).
fn median_curvature<T: Real>(z: &[T], layout: &crate::WeightLayout, beta: &[f64]) -> Option<f64> {
    let mut curv: Vec<f64> = group_curvatures(z, layout, beta).into_iter().filter(|&b| b > 0.0).collect();
    curv.sort_by(f64::total_cmp);
    curv.get(curv.len() / 2).copied()
}
