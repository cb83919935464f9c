//! The ReLU endgame run from the solver (the method is in [`crate::relu_endgame`]).

use super::*;
use crate::relu_endgame::ConeAl;

/// Multiplier updates at most.
const OUTER: usize = 20;
/// Newton steps per subproblem at most.
const NEWTON: usize = 25;
/// CG iterations per Newton step at most (the u-step preconditioner does not model the
/// cone term, so the subproblems need more than the gated polish's 60).
const CG_MAX: usize = 200;
/// Growth of the penalty per multiplier update while the cones are violated (on 200 rows of
/// Fashion-MNIST, ×3 took 152 Newton steps to a violation of 2e-11, ×10 took 241).
const SIGMA_GROWTH: f64 = 3.0;
/// CG iterations per attempt at most: an attempt whose subproblems the u-step preconditioner
/// cannot solve (iris, 3 outputs: 25 Newton steps of 200 CG per update, a million CG in a
/// 300-iteration solve) stops there; the 200-row Fashion-MNIST test certifies in 18,000.
const ATTEMPT_CG: usize = 30_000;
/// Accelerated projected-gradient steps on the cone multipliers before the certificate.
const DUAL_STEPS: usize = 500;
/// Cone violation (relative, as `constraint_violation`) at which the updates stop.
const VIOLATION_TARGET: f64 = 1e-10;

impl<T: Real> Solver<T> {
    /// The augmented-Lagrangian endgame on the current ReLU iterate's active blocks. Its
    /// weights and multipliers are kept when they satisfy the cones (within `tol_residual`)
    /// and certify the target gap (the solve then ends `solved`); otherwise z and ADMM's duals
    /// are restored.
    pub(super) fn relu_endgame(&mut self) -> PolishReport {
        let (d, len) = (self.sys.d(), self.state.z.len());
        let rho_sigma = self.state.rho * self.state.sigma;
        // start at ADMM's own penalty on the cone rows: the block σGu = s is penalized by ρ
        let mut term = ConeAl::<T>::new(rho_sigma, rho_sigma * self.state.sigma, d, len);
        let saved_nu: Vec<Vec<T>> = self.design.shards_mut().iter().map(|s| s.nu.clone()).collect();
        let saved_cert = self.cert.clone();
        let mut z = self.state.z.clone();
        let mut total = PolishReport { objective_before: self.cert.objective, objective_after: self.cert.objective, ..Default::default() };
        let mut violation = f64::INFINITY;
        for _ in 0..OUTER {
            for _ in 0..NEWTON {
                let (design, sys, loss, beta, pre) = (&mut self.design, &mut self.sys, &self.loss, &self.beta, self.precond.as_dyn());
                let rep = self.pool.install(|| newton_step(&mut z, design, sys, loss, beta, pre, CG_MAX, Some(&mut term)));
                self.cg_total += rep.cg_iterations;
                total.cg_iterations += rep.cg_iterations;
                if rep.steps == 0 {
                    break;
                }
                total.steps += 1;
                drop_collapsed_blocks(&mut z, d);
                if rep.objective_before - rep.objective_after <= 1e-12 * rep.objective_before.abs() || total.cg_iterations >= ATTEMPT_CG {
                    break;
                }
            }
            let design = &mut self.design;
            violation = self.pool.install(|| term.update_multipliers(design, &z));
            if violation <= VIOLATION_TARGET || total.cg_iterations >= ATTEMPT_CG {
                break;
            }
            term.sigma *= SIGMA_GROWTH;
        }
        self.refine_cone_multipliers(&z, DUAL_STEPS);
        let old_z = std::mem::replace(&mut self.state.z, z);
        let gap = self.certify().relative_gap;
        // kept only when certified: ADMM cannot resume from the endgame's point (its consensus
        // dual λ belongs to the old one; on iris, resuming took the gap from 0.36 to 0.80), while
        // a restored ADMM keeps improving the multipliers of the inactive blocks, which the next
        // attempt then starts from; every bound certified on the way is kept either way
        let keep = violation <= self.settings.tol_residual && gap >= 0.0 && gap <= self.settings.tol_gap;
        if keep {
            let z = self.state.z.clone();
            self.set_weights_internal(z);
            self.resync_slack();
            total.objective_after = self.cert.objective;
        } else {
            self.state.z = old_z;
            for (sh, nu) in self.design.shards_mut().iter_mut().zip(saved_nu) {
                sh.nu = nu;
            }
            // the old point's certificate, with any better bound the attempt found (still valid)
            self.cert = self.with_best_bounds(saved_cert);
            total.steps = 0;
        }
        total
    }

    /// Lowers the certificate's dual-feasibility scale at weights `z` by `steps` FISTA steps on
    /// the cone multipliers ([`crate::design::Design::cone_dual_step`]). The augmented
    /// Lagrangian gives the active blocks their exact multipliers, but the inactive blocks keep
    /// ADMM's: on 200 rows of Fashion-MNIST at the exact optimum their dual norms reached 3.8β
    /// (certified gap 4e-2) until ADMM, resumed, had improved them.
    fn refine_cone_multipliers(&mut self, z: &[T], steps: usize) {
        let top = match &self.white_eig {
            Some(GramEigen::Primal { lam, .. }) => lam.iter().copied().fold(0.0, f64::max),
            Some(GramEigen::Dual { eig: Some((_, lam)), scale, .. }) => lam.iter().copied().fold(0.0, f64::max) / scale,
            _ => return,
        };
        if !(top > 0.0 && top.is_finite()) {
            return;
        }
        let (n, k, d, len) = (self.loss.n(), self.loss.k(), self.sys.d(), z.len());
        let rs = self.state.rho * self.state.sigma;
        let (design, sys, loss) = (&mut self.design, &mut self.sys, &self.loss);
        self.pool.install(|| {
            let (mut fz, mut lam) = (Mat::<T>::zeros(n, k), Mat::<T>::zeros(n, k));
            sys.f(design, z, fz.as_mut());
            loss.neg_grad(fz.as_ref(), lam.as_mut());
            let (mut q, mut b, mut q_next) = (vec![T::default(); len], vec![T::default(); len], vec![T::default(); len]);
            design.certificate_pass(lam.as_ref(), T::from_f64(rs), crate::system::view_mut(&mut q, d), crate::system::view_mut(&mut b, d));
            q.iter_mut().zip(&b).for_each(|(a, b)| *a += *b);
            let mut t = 1.0f64;
            for step in 0..steps {
                let t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t).sqrt());
                design.cone_dual_step(lam.as_ref(), view(&q, d), rs, 1.0 / (1.01 * top), (t - 1.0) / t_next, step == 0, crate::system::view_mut(&mut q_next, d));
                std::mem::swap(&mut q, &mut q_next);
                t = t_next;
            }
            design.cone_dual_finish(rs);
        });
    }

    /// ADMM's slack terms Gᵀs, Gᵀν for u = z and the current ν (the s-step without a dual
    /// step), so that ADMM resumes from the endgame's point.
    fn resync_slack(&mut self) {
        let d = self.sys.d();
        let (st, design) = (&mut self.state, &mut self.design);
        let sigma = T::from_f64(st.sigma);
        self.pool.install(|| {
            design.slack_pass(view(&st.u, d), sigma, T::default(), crate::system::view_mut(&mut st.gts, d), crate::system::view_mut(&mut st.gtnu, d))
        });
    }
}

/// Blocks whose norm fell below 1e-6 of the largest are set to zero: Newton on ‖z_b‖ cannot
/// cross its kink at 0 and stalls with vanishing steps as a block heads there (measured on
/// 200 rows: steps of 1e-12 with the gradient stuck; with this rule 4–14 steps per update).
fn drop_collapsed_blocks<T: Real>(z: &mut [T], d: usize) {
    let norms: Vec<f64> = z.chunks(d).map(|b| crate::real::sum_sq(b).sqrt()).collect();
    let big = norms.iter().copied().fold(0.0, f64::max);
    for (b, nb) in z.chunks_mut(d).zip(norms) {
        if nb > 0.0 && nb < 1e-6 * big {
            b.fill(T::default());
        }
    }
}
