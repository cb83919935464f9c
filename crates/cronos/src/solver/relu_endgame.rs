//! The ReLU endgame run from the solver (the method is in [`crate::relu_endgame`]).

use super::*;
use crate::block_precond::BlockPrecond;
use crate::relu_endgame::ConeAl;

/// Numbers in one pass over X (n·d·2P·k) at most for the endgame to run by default: iris,
/// wine and breast_cancer (≤ 2e6) certify in seconds; digits (1.2e8) took 270 s where ADMM
/// alone spends 27 s on 500 iterations.
const AUTO_PASS_WORK: f64 = 2e7;
/// Numbers in the active blocks' Grams (n·d² per active block) at most for the default: each
/// Newton step forms them. breast_cancer's are ≤ 1.1e8; 600 Fashion-MNIST rows (d = 785, 8
/// patterns) are 3e9–6e9, and there the endgame's attempts took minutes of a 40-iteration fit.
const AUTO_BLOCK_WORK: f64 = 1e9;
/// Multiplier updates at most.
const OUTER: usize = 20;
/// Newton steps per subproblem at most.
const NEWTON: usize = 25;
/// CG iterations per Newton step at most (more than the gated polish's 60: where the block
/// preconditioner does not fit, the u-step's one does not model the cone term; with it, the
/// small sets take 10–100 per step).
const CG_MAX: usize = 200;
/// The smallest starting penalty, in units of the loss's curvature: ADMM's own (ρσ², 0.14 on
/// an iris fold) left the subproblems dominated by the coupled loss (200 CG per Newton step)
/// and cost five folds of iris, wine and breast_cancer their certificate within the CG budget;
/// 10, 100 and 1,000 certified all four, 1,000 in the fewest CG (3,100–17,700), 10,000 lost
/// two in f32.
const SIGMA_START: f64 = 1e3;
/// Growth of the penalty per multiplier update while the cones are violated (on 200 rows of
/// Fashion-MNIST, ×3 took 152 Newton steps to a violation of 2e-11, ×10 took 241) ...
const SIGMA_GROWTH: f64 = 3.0;
/// ... unless the violation fell to this fraction of the last one (the textbook rule).
const SIGMA_KEEP: f64 = 0.25;
/// Growth of the penalty per attempt at most: beyond it the subproblems
/// are noise (digits: σ went from 6.5 to 6.5e38 as the violation stalled at 1.6e-7).
const SIGMA_MAX_GROWTH: f64 = 1e8;
/// Rounds of the multiplier method, each after adding the blocks that violate dual
/// feasibility at its solution ([`Solver::activate_violators`]).
const SUPPORT_ROUNDS: usize = 4;
/// Relative excess of ‖q_b‖ over β at which a zero block is added.
const ACTIVATE_ABOVE: f64 = 1e-6;
/// Numbers n·d² at most for the exact multipliers of one block ([`crate::nnls`]).
const NNLS_WORK: f64 = 1e8;
/// The smallest norm of an added block, relative to the largest block (100 times the collapse
/// threshold of `drop_collapsed_blocks`).
const ACTIVATE_FLOOR: f64 = 1e-4;
/// The violation target in units of the type's rounding (f32: 1.2e-7). At 8 units (9.5e-7)
/// two iris folds in f32 ended with gaps of −2e-7 and −4e-7 (weights that violate the cones
/// can lie below the optimum); at 1 unit all five certified with violations of 2e-8–1e-7.
const VIOLATION_EPS: f64 = 1.0;
/// CG iterations per attempt at most: an attempt whose subproblems PCG cannot solve stops
/// there (with the u-step preconditioner, an iris solve once spent a million CG); with the
/// block preconditioner the small sets' attempts take 800–12,000.
const ATTEMPT_CG: usize = 30_000;
/// Accelerated projected-gradient steps on the cone multipliers before the certificate.
const DUAL_STEPS: usize = 500;
/// Cone violation (relative, as `constraint_violation`) at which the updates stop (f64; at
/// 1e-10 a breast_cancer fold ended at its optimum with a gap of −5e-11: weights outside the
/// cones by that much lie below the optimum).
const VIOLATION_TARGET: f64 = 1e-12;

impl<T: Real> Solver<T> {
    /// Whether the ReLU endgame runs: as `Settings::relu_endgame` says, or by default where
    /// it is cheap (the block preconditioner fits, a pass over X is at most
    /// [`AUTO_PASS_WORK`] and the blocks' Grams at most [`AUTO_BLOCK_WORK`]).
    pub(super) fn relu_endgame_wanted(&self) -> bool {
        match self.settings.relu_endgame {
            Some(on) => on,
            None => {
                let d = self.sys.d();
                let active = self.state.z.chunks(d).filter(|b| b.iter().any(|v| v.to_f64() != 0.0)).count();
                let groups = self.state.z.len() / d.max(1);
                // all rows, so that every rank decides alike (the endgame's passes are collective)
                let n = crate::distributed::sum_scalar(self.design.comm(), self.loss.n() as f64);
                let block_work = n * (d * d) as f64 * active as f64;
                BlockPrecond::fits(active, d) && n * (d * groups) as f64 <= AUTO_PASS_WORK && block_work <= AUTO_BLOCK_WORK
            }
        }
    }

    /// Whether iteration `it` (a multiple of `polish_every`) tries the endgame: at 1, 2, 3, 4,
    /// 6, 8, 12, 16, … times `polish_every` (ratio about √2), so that failed attempts cost a
    /// bounded share of the solve (a function of the iteration count alone, as resumed runs
    /// need). Powers of two alone left the default 500 iterations' last attempt at 320 (wine,
    /// one fold: its attempt there had the optimum but a 1.7e-2 bound; one at 500
    /// certifies 1.5e-8).
    pub(super) fn relu_endgame_due(&self, it: usize) -> bool {
        let q = it / self.settings.polish_every.max(1);
        q.is_power_of_two() || (q % 3 == 0 && (q / 3).is_power_of_two())
    }

    /// The augmented-Lagrangian endgame on the current ReLU iterate's active blocks. Its
    /// weights and multipliers are kept when they satisfy the cones (within `tol_residual`)
    /// and certify the target gap (the solve then ends `solved`); otherwise z and ADMM's duals
    /// are restored.
    pub(super) fn relu_endgame(&mut self) -> PolishReport {
        let (d, len) = (self.sys.d(), self.state.z.len());
        let rho_sigma = self.state.rho * self.state.sigma;
        // start at ADMM's own penalty on the cone rows (the block σGu = s is penalized by ρ),
        // but no lower than SIGMA_START times the loss's curvature
        let floor = SIGMA_START * self.largest_weight() * self.settings.loss.curvature();
        let mut term = ConeAl::<T>::new(rho_sigma, (rho_sigma * self.state.sigma).max(floor), d, len);
        let sigma_max = SIGMA_MAX_GROWTH * term.sigma;
        let saved_nu = self.cone_duals();
        let saved_cert = self.cert.clone();
        let mut z = self.state.z.clone();
        let mut total = PolishReport { objective_before: self.cert.objective, objective_after: self.cert.objective, ..Default::default() };
        let mut violation = f64::INFINITY;
        // the last round's point that met the violation target: a round after activating
        // blocks may fail to (wine at β = 6e-4·β_max: 2e-8 before, stuck at 3e-7 after)
        let mut converged: Option<(Vec<T>, Vec<Vec<T>>, f64)> = None;
        let target = self.violation_target();
        let mut added = vec![false; len / d.max(1)];
        for _ in 0..SUPPORT_ROUNDS {
            violation = self.multiplier_method(&mut z, &mut term, sigma_max, &added, &mut total);
            self.refine_cone_multipliers(&z, DUAL_STEPS);
            if violation > target {
                break;
            }
            converged = Some((z.clone(), self.cone_duals(), violation));
            if total.cg_iterations >= ATTEMPT_CG || self.activate_violators(&mut z, &mut added) == 0 {
                break;
            }
        }
        if violation > target {
            if let Some((z_ok, nu_ok, v_ok)) = converged {
                z = z_ok;
                violation = v_ok;
                self.restore_cone_duals(nu_ok);
            }
        }
        let old_z = std::mem::replace(&mut self.state.z, z);
        let gap = self.certify().relative_gap;
        // kept only when certified: ADMM cannot resume from the endgame's point (its consensus
        // dual λ belongs to the old one; on iris, resuming took the gap from 0.36 to 0.80), while
        // a restored ADMM keeps improving the multipliers of the inactive blocks, which the next
        // attempt then starts from; every bound certified on the way is kept either way
        let keep = violation <= self.solved_violation_limit() && gap >= 0.0 && gap <= self.settings.tol_gap;
        if keep {
            let z = self.state.z.clone();
            self.set_weights_internal(z);
            self.resync_slack();
            total.objective_after = self.cert.objective;
        } else {
            self.remember_attempt(violation, gap);
            self.state.z = old_z;
            self.restore_cone_duals(saved_nu);
            // the old point's certificate, with any better bound the attempt found (still valid)
            self.cert = self.with_best_bounds(saved_cert);
            total.steps = 0;
        }
        total
    }

    /// The method of multipliers on the active blocks of `z`: Newton steps on each
    /// subproblem, then μ ← max(0, μ − σ(2D − I)Xz); σ grows only while the violation falls
    /// by less than [`SIGMA_KEEP`] per update (a large σ costs accuracy: in f32 it made the
    /// subproblems' gradients noise, active blocks 10–90% off stationarity). Returns the
    /// relative cone violation.
    fn multiplier_method(&mut self, z: &mut [T], term: &mut ConeAl<T>, sigma_max: f64, added: &[bool], total: &mut PolishReport) -> f64 {
        let d = self.sys.d();
        let target = self.violation_target();
        let mut violation = f64::INFINITY;
        for _ in 0..OUTER {
            let mut progress = false;
            for _ in 0..NEWTON {
                let active = z.chunks(d).filter(|b| b.iter().any(|v| v.to_f64() != 0.0)).count();
                let (design, sys, loss, beta) = (&mut self.design, &mut self.sys, &self.loss, &self.beta);
                let pre = if BlockPrecond::fits(active, d) { NewtonPrecond::Blocks } else { NewtonPrecond::Shared(self.precond.as_dyn()) };
                let rep = self.pool.install(|| newton_step(z, design, sys, loss, beta, pre, CG_MAX, Some(&mut *term)));
                self.cg_total += rep.cg_iterations;
                total.cg_iterations += rep.cg_iterations;
                if rep.steps == 0 {
                    break;
                }
                total.steps += 1;
                progress = true;
                drop_collapsed_blocks(z, d, added);
                if rep.objective_before - rep.objective_after <= 1e-12 * rep.objective_before.abs() || total.cg_iterations >= ATTEMPT_CG {
                    break;
                }
            }
            let design = &mut self.design;
            let before = violation;
            violation = self.pool.install(|| term.update_multipliers(design, z));
            // without a Newton step a larger σ cannot help (the subproblem is at its rounding)
            if violation <= target || total.cg_iterations >= ATTEMPT_CG || !progress {
                break;
            }
            if violation > SIGMA_KEEP * before {
                if term.sigma >= sigma_max {
                    break;
                }
                term.sigma = (term.sigma * SIGMA_GROWTH).min(sigma_max);
            }
        }
        violation
    }

    /// Blocks at zero whose dual norm ‖q_b‖ = ‖F_bᵀλ + Xᵀ(2D − I)μ_b‖ exceeds β (with the
    /// refined multipliers) would lower the objective if they were non-zero: the support
    /// ADMM handed over missed them (iris: one to three such blocks at 1.02–1.04β left the
    /// certificate at 2.4e-3). Each gets the proximal-gradient step of its own block,
    /// z_b = (1 − β/‖q_b‖) q_b / L, L the loss curvature times XᵀX's top eigenvalue; the
    /// multiplier method then settles it. Returns how many were activated.
    fn activate_violators(&mut self, z: &mut [T], added: &mut [bool]) -> usize {
        let Some(top) = self.gram_top_eigenvalue() else {
            return 0;
        };
        let (d, len) = (self.sys.d(), z.len());
        let lay = self.sys.layout.for_len(len);
        let rs = self.state.rho * self.state.sigma;
        let (_, q, b) = self.dual_parts(z);
        let curvature = top * self.settings.loss.curvature() * self.largest_weight();
        // no smaller than ACTIVATE_FLOOR of the largest block: a block set below the collapse
        // threshold is dropped by the next Newton step (wine: the one violator came back at
        // 1.09β after every round)
        let largest = z.chunks(d).map(|b| crate::real::sum_sq(b).sqrt()).fold(0.0, f64::max);
        let mut count = 0;
        for g in 0..lay.groups() {
            let s = lay.group_range(g);
            if z[s.clone()].iter().any(|v| v.to_f64() != 0.0) {
                continue;
            }
            let mut qg: Vec<f64> = s.clone().map(|i| q[i].to_f64() + b[i].to_f64()).collect();
            let beta = self.beta[lay.group_output(g)];
            if crate::real::sum_sq(&qg).sqrt() > beta * (1.0 + ACTIVATE_ABOVE) {
                // the refined multipliers may be short of the best ones: solve them exactly
                let a: Vec<f64> = s.clone().map(|i| q[i].to_f64()).collect();
                if let Some(exact) = self.exact_block_multipliers(g, &a, rs) {
                    qg = exact;
                }
            }
            let nq = crate::real::sum_sq(&qg).sqrt();
            if nq > beta * (1.0 + ACTIVATE_ABOVE) && curvature > 0.0 {
                let t = ((1.0 - beta / nq) / curvature).max(ACTIVATE_FLOOR * largest / nq);
                s.zip(qg).for_each(|(i, v)| z[i] = T::from_f64(t * v));
                added[g] = true;
                count += 1;
            }
        }
        count
    }

    /// For block `g` at zero with a = F_gᵀλ: the cone multipliers minimizing ‖a + Xᵀ(2D − I)μ‖
    /// exactly ([`crate::nnls`]), stored in ν; returns that residual q_g (the projection of a
    /// onto the block's cone, so a feasible direction). `None` on several ranks or where a
    /// block's n × d columns are too many to solve for (above [`NNLS_WORK`]).
    fn exact_block_multipliers(&mut self, g: usize, a: &[f64], rho_sigma: f64) -> Option<Vec<f64>> {
        let (n, d) = (self.loss.n(), self.sys.d());
        if self.design.comm().size() > 1 || (n * d * d) as f64 > NNLS_WORK {
            return None;
        }
        let j = self.sys.layout.for_len(self.state.z.len()).group_pattern(g);
        let cols: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let mut row = vec![0.0; d];
                self.design.x().row_into(i, &mut row);
                let e = if self.design.patterns().get(i, j) { 1.0 } else { -1.0 };
                row.iter_mut().for_each(|v| *v *= e);
                row
            })
            .collect();
        let mu = crate::nnls::nnls_residual(a, &cols, 4 * d + 16);
        let mut q = a.to_vec();
        for (c, m) in cols.iter().zip(&mu) {
            q.iter_mut().zip(c).for_each(|(x, y)| *x += m * y);
        }
        for sh in self.design.shards_mut() {
            let (r0, nr) = (sh.rows.start, sh.rows.len());
            for i in 0..nr {
                sh.nu[g * nr + i] = T::from_f64(-mu[r0 + i] / rho_sigma);
            }
        }
        Some(q)
    }

    /// A copy of the cone duals ν, per shard (where the endgame keeps its multipliers).
    fn cone_duals(&self) -> Vec<Vec<T>> {
        self.design.shards().iter().map(|s| s.nu.clone()).collect()
    }

    /// Puts back cone duals from [`Solver::cone_duals`].
    fn restore_cone_duals(&mut self, nu: Vec<Vec<T>>) {
        for (sh, v) in self.design.shards_mut().iter_mut().zip(nu) {
            sh.nu = v;
        }
    }

    /// The cone violation at which the multiplier updates stop: [`VIOLATION_TARGET`], or the
    /// type's rounding for f32.
    fn violation_target(&self) -> f64 {
        VIOLATION_TARGET.max(VIOLATION_EPS * T::EPS)
    }

    /// The largest row weight of the loss, over all ranks.
    fn largest_weight(&self) -> f64 {
        let w_max = self.loss.weights().iter().copied().fold(0.0, f64::max);
        -crate::distributed::min_scalar(self.design.comm(), -w_max)
    }

    /// The top eigenvalue of the (scaled) Gram XᵀX, from the u-step's eigendecomposition.
    fn gram_top_eigenvalue(&self) -> Option<f64> {
        let top = match &self.white_eig {
            Some(GramEigen::Primal { lam, .. }) => lam.iter().copied().fold(0.0, f64::max),
            Some(GramEigen::Dual { eig: Some((_, lam)), scale, .. }) => lam.iter().copied().fold(0.0, f64::max) / scale,
            _ => return None,
        };
        (top > 0.0 && top.is_finite()).then_some(top)
    }

    /// Lowers the certificate's dual-feasibility scale at weights `z` by `steps` FISTA steps on
    /// the cone multipliers ([`crate::design::Design::cone_dual_step`]). The augmented
    /// Lagrangian gives the active blocks their exact multipliers, but the inactive blocks keep
    /// ADMM's: on 200 rows of Fashion-MNIST at the exact optimum their dual norms reached 3.8β
    /// (certified gap 4e-2) until ADMM, resumed, had improved them.
    fn refine_cone_multipliers(&mut self, z: &[T], steps: usize) {
        let Some(top) = self.gram_top_eigenvalue() else {
            return;
        };
        let (d, len) = (self.sys.d(), z.len());
        let rs = self.state.rho * self.state.sigma;
        let (lam, mut q, b) = self.dual_parts(z);
        q.iter_mut().zip(&b).for_each(|(a, b)| *a += *b);
        let design = &mut self.design;
        self.pool.install(|| {
            let mut q_next = vec![T::default(); len];
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

    /// At weights `z`: λ = −∇ℓ(Fz) and the certificate's parts per block, a = F_bᵀλ and
    /// b = Xᵀ(2D − I)μ_b with the multipliers kept in ν.
    fn dual_parts(&mut self, z: &[T]) -> (Mat<T>, Vec<T>, Vec<T>) {
        let (n, k, d, len) = (self.loss.n(), self.loss.k(), self.sys.d(), z.len());
        let rs = T::from_f64(self.state.rho * self.state.sigma);
        let (design, sys, loss) = (&mut self.design, &mut self.sys, &self.loss);
        let (mut a, mut b) = (vec![T::default(); len], vec![T::default(); len]);
        let mut lam = Mat::<T>::zeros(n, k);
        self.pool.install(|| {
            let mut fz = Mat::<T>::zeros(n, k);
            sys.f(design, z, fz.as_mut());
            loss.neg_grad(fz.as_ref(), lam.as_mut());
            design.certificate_pass(lam.as_ref(), rs, crate::system::view_mut(&mut a, d), crate::system::view_mut(&mut b, d));
        });
        (lam, a, b)
    }

    /// ADMM's slack terms Gᵀs, Gᵀν for u = z and the current ν (the s-step without a dual
    /// step), so that ADMM resumes from the endgame's point.
    pub(super) fn resync_slack(&mut self) {
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
/// Blocks `added` for violating dual feasibility are exempt down to 1e-12: the dual says they
/// belong to the support, however small (wine: a block at 1.09β whose optimum lies below 1e-6
/// of the largest was dropped after every activation, leaving the certificate at 1.7e-2).
fn drop_collapsed_blocks<T: Real>(z: &mut [T], d: usize, added: &[bool]) {
    let norms: Vec<f64> = z.chunks(d).map(|b| crate::real::sum_sq(b).sqrt()).collect();
    let big = norms.iter().copied().fold(0.0, f64::max);
    for ((b, nb), keep) in z.chunks_mut(d).zip(norms).zip(added) {
        if nb > 0.0 && nb < if *keep { 1e-12 } else { 1e-6 } * big {
            b.fill(T::default());
        }
    }
}

