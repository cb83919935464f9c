//! The driver: one ADMM iteration, the certificate, the termination test and the one loop
//! that runs them, observed by callers.

use super::*;

/// Cone violation (relative, as `constraint_violation`) at most of a `Solved` ReLU network,
/// below the default `tol_residual` of 1e-4: issue 12 asks a solved network to satisfy its cones
/// to 1e-6, and weights outside them can lie below the optimum (a bound that looks met).
pub(crate) const SOLVED_CONE_VIOLATION: f64 = 1e-6;

impl<T: Real> Solver<T> {
    /// Whether certified iteration `it`, whose gap is below `polish_below`, polishes: at
    /// multiples of `polish_every` (for ReLU at 1, 2, 3, 4, 6, 8, … times it, see
    /// `relu_endgame_due`), and for gated ReLU also
    /// at the first certificate below `polish_below`. Without that, a gap that crossed it just
    /// after a multiple waited a whole period (the default job's refit: 0.66 at iteration 20,
    /// 0.30 at 25, next chance 40, about 70 s later). A function of the history, which the
    /// checkpoint holds, so resumed runs polish where uninterrupted ones do.
    fn polish_due(&self, it: usize) -> bool {
        if self.sys.relu() {
            return it % self.settings.polish_every == 0 && self.relu_endgame_due(it);
        }
        let crossed = self.history.iter().rev().find(|h| h.certified).is_some_and(|h| h.relative_gap > self.settings.polish_below);
        it % self.settings.polish_every == 0 || crossed
    }

    /// Performs one ADMM iteration and returns its report.
    pub fn step(&mut self) -> IterInfo {
        self.resume_admm_point();
        let t = self.history.last().map_or(0.0, |h| h.seconds);
        let t0 = Instant::now();
        let it = self.state.iteration + 1 - self.iter_base;
        let cg_tol =
            (self.settings.cg_tol / (it as f64).powf(1.5)).max(self.settings.cg_floor::<T>());
        let split = self.eta.map(|eta| Split {
            loss: &self.loss,
            eta,
        });
        let inp = StepInput {
            fty: &self.fty,
            beta: &self.beta,
            gamma: self.settings.gamma,
            cg_tol,
            cg_max_iter: self.settings.cg_max_iter,
            sigma: self.state.sigma,
            split,
            split_dual: self.settings.adaptive_rho && it % 5 == 0,
        };
        let (st, design, sys, pre, ws) = (
            &mut self.state,
            &mut self.design,
            &mut self.sys,
            self.precond.as_dyn(),
            &mut self.ws,
        );
        let mut stats = self.pool.install(|| step(st, design, sys, pre, &inp, ws));
        self.cg_total += stats.cg_iterations;
        let certified = it % self.settings.certificate_every == 0 || it == 1;
        if certified {
            self.certify();
            let gap = self.cert.relative_gap;
            // the same test as termination's: a negative gap never certifies (for ReLU an
            // infeasible iterate below a kept bound; breast_cancer in f32 went negative after
            // the endgame's attempt at iteration 20 and, before this, none followed)
            if !self.gap_certifies(gap)
                && gap <= self.settings.polish_below
                && self.polish_due(it)
            {
                let admm_gain = self.admm_gain_per_cg(it, gap, stats.cg_iterations);
                let rep = self.polish_against(admm_gain);
                stats.cg_iterations += rep.cg_iterations;
                if rep.steps > 0 {
                    // u = z (and r = Fz) after an accepted polish
                    stats.primal_rel = 0.0;
                }
            }
            self.remember_certified_iterate();
        }
        let (rho, sigma) = (self.state.rho, self.state.sigma);
        if self.settings.adaptive_rho && it % 5 == 0 {
            self.balance(it, &stats);
        }
        let info = IterInfo {
            iteration: it,
            seconds: t + t0.elapsed().as_secs_f64(),
            objective: self.cert.objective,
            lower_bound: self.cert.lower_bound,
            relative_gap: self.cert.relative_gap,
            certified,
            primal_residual: stats.primal_rel,
            dual_residual: stats.dual_rel,
            cg_iterations: stats.cg_iterations,
            cg_residual: stats.cg_residual,
            rho,
            sigma,
            primal_blocks: stats.primal_blocks,
            dual_blocks: stats.dual_blocks,
        };
        self.history.push(info.clone());
        info
    }

    /// ADMM's recent progress per unit of work at iteration `it`: ln(gap at the last
    /// certificate / `gap`) over the CG steps since (`cg_now` for this iteration) plus one per
    /// iteration for its other passes over X; 0 when the gap did not fall. The gated polish
    /// stops once a Newton step gains less per CG step than this (see
    /// [`Solver::polish_against`]).
    fn admm_gain_per_cg(&self, it: usize, gap: f64, cg_now: usize) -> f64 {
        let Some(at) = self.history.iter().rposition(|h| h.certified) else { return 0.0 };
        let prev = &self.history[at];
        let since = &self.history[at + 1..];
        let work = (cg_now + since.iter().map(|h| h.cg_iterations).sum::<usize>() + since.len() + 1) as f64;
        // the same run only (a path point restarts the count)
        let contiguous = prev.iteration + since.len() + 1 == it;
        if contiguous && prev.relative_gap > gap && gap > 0.0 {
            (prev.relative_gap / gap).ln() / work
        } else {
            0.0
        }
    }

    /// Recomputes the certificate at the current weights.
    pub fn certify(&mut self) -> &Certificate {
        let (st, design, sys, loss, beta, cw, sigma) = (
            &self.state,
            &mut self.design,
            &mut self.sys,
            &self.loss,
            &self.beta,
            &mut self.cert_ws,
            self.state.sigma,
        );
        let cert = self
            .pool
            .install(|| certify(st, design, sys, loss, beta, sigma, cw));
        self.cert = self.with_best_bounds(cert);
        &self.cert
    }

    /// `cert` with every output's best lower bound certified so far (every bound ever certified
    /// stays valid), which it also records, and the gap recomputed.
    pub(super) fn with_best_bounds(&mut self, mut cert: Certificate) -> Certificate {
        if self.best_lower.len() != cert.lower_bounds.len() {
            self.best_lower = cert.lower_bounds.clone();
        }
        for (b, l) in self.best_lower.iter_mut().zip(&cert.lower_bounds) {
            *b = b.max(*l);
        }
        cert.lower_bounds.clone_from(&self.best_lower);
        cert.lower_bound = cert.lower_bounds.iter().sum();
        cert.relative_gap = if cert.objective > 0.0 {
            (cert.objective - cert.lower_bound) / cert.objective
        } else {
            0.0
        };
        cert
    }

    /// Termination test after a [`Solver::step`], for callers that drive the loop themselves:
    /// NaN/Inf → `NumericalError`; certified gap and primal residual within tolerance →
    /// `Solved` (a claim made on a stale certificate is confirmed on a fresh one first, and the
    /// last report updated); then the iteration and time limits (`elapsed`: time since the
    /// solve started). Returns the last report and the status, if the solve should end.
    pub fn termination(&mut self, elapsed: std::time::Duration) -> (IterInfo, Option<Status>) {
        // ranks must stop together: rank 0's clock decides
        let elapsed = crate::distributed::agree_elapsed(self.design.comm(), elapsed);
        let info = self.history.last().cloned().unwrap_or_default();
        if !(info.primal_residual.is_finite() && info.objective.is_finite()) {
            return (info, Some(Status::NumericalError));
        }
        let mut converged = info.primal_residual <= self.settings.tol_residual
            && self.gap_certifies(info.relative_gap);
        if converged && !info.certified {
            let c = self.certify().clone();
            converged = self.gap_certifies(c.relative_gap);
            if let Some(h) = self.history.last_mut() {
                h.objective = c.objective;
                h.lower_bound = c.lower_bound;
                h.relative_gap = c.relative_gap;
                h.certified = true;
            }
        }
        // a claim is sound only for a non-negative gap (objective below the bound means
        // infeasible weights or rounding) and, for ReLU, weights within the cones
        converged = converged && self.claim_is_sound();
        let info = self.history.last().cloned().unwrap_or(info);
        let end = if converged {
            Some(Status::Solved)
        } else if self.state.iteration - self.iter_base >= self.settings.max_iter {
            Some(Status::MaxIterations)
        } else if self.settings.time_limit.is_some_and(|l| elapsed >= l) {
            Some(Status::TimeLimit)
        } else {
            None
        };
        (info, end)
    }

    /// Whether the current certificate may be reported as `Solved`: gap in [0, `tol_gap`] and, for the
    /// ReLU program, a cone violation of z within [`Solver::solved_violation_limit`] (one pass
    /// over X, made only when the gap and residual tests already pass).
    fn claim_is_sound(&self) -> bool {
        self.gap_certifies(self.cert.relative_gap)
            && (!self.sys.relu() || self.feasibility().constraint_violation <= self.solved_violation_limit())
    }

    /// Whether a certified gap meets the target: in [0, `tol_gap`] (an objective below its
    /// bound means infeasible weights or rounding, never a certificate).
    pub(crate) fn gap_certifies(&self, gap: f64) -> bool {
        (0.0..=self.settings.tol_gap).contains(&gap)
    }

    /// The largest relative cone violation a `Solved` ReLU network may have: `tol_residual`,
    /// but never above [`SOLVED_CONE_VIOLATION`], whichever method (ADMM or the endgame) found it.
    pub(crate) fn solved_violation_limit(&self) -> f64 {
        self.settings.tol_residual.min(SOLVED_CONE_VIOLATION)
    }

    /// Runs until a termination criterion holds.
    pub fn solve(&mut self) -> Solution {
        self.run(&mut [])
    }

    /// Runs until a termination criterion holds or `callback` says stop (a closure observer
    /// that sees only the report; see [`Solver::run`] for observers that see the solver).
    pub fn solve_with(&mut self, mut callback: impl FnMut(&IterInfo) -> Control) -> Solution {
        let mut obs = |_: &mut Solver<T>, info: &IterInfo| callback(info);
        self.run(&mut [&mut obs])
    }

    /// The driver loop, the only one: [`Solver::step`], [`Solver::termination`], then every
    /// observer in order (each sees every iteration, even after another asked to stop), then
    /// [`Observer::finish`] with the final status. Priorities: `Solved` and `NumericalError`
    /// win over an observer's stop, which wins over the iteration and time limits.
    pub fn run(&mut self, observers: &mut [&mut dyn Observer<T>]) -> Solution {
        let t0 = Instant::now();
        let status = loop {
            // a solve restored at its iteration limit ends without another step
            if self.state.iteration - self.iter_base >= self.settings.max_iter {
                break Status::MaxIterations;
            }
            self.step();
            let (last, end) = self.termination(t0.elapsed());
            let mut asked = Control::Continue;
            for o in observers.iter_mut() {
                let c = o.observe(self, &last);
                if asked == Control::Continue {
                    asked = c;
                }
            }
            match (end, asked) {
                (Some(s @ (Status::Solved | Status::NumericalError)), _) => break s,
                (_, Control::Stop) => break Status::Interrupted,
                (_, Control::Finish(s)) => break s,
                (Some(s), Control::Continue) => break s,
                (None, Control::Continue) => {}
            }
        };
        if !self.history.last().is_some_and(|h| h.certified) {
            self.certify();
        }
        self.show_best_point(status);
        for o in observers.iter_mut() {
            o.finish(self, status);
        }
        Solution {
            status,
            iterations: self.state.iteration - self.iter_base,
            cg_iterations: self.cg_total,
            certificate: self.cert.clone(),
            feasibility: self.feasibility(),
            setup_seconds: self.setup_seconds,
            solve_seconds: t0.elapsed().as_secs_f64(),
            history: self.history.clone(),
            shown_iteration: self.shown_iteration(),
        }
    }
}

/// An observer of the driver loop ([`Solver::run`]): it sees the solver after every
/// iteration's termination test, so it can evaluate the model, keep a best iterate, write a
/// checkpoint or report progress, and it can end the solve with a reason.
///
/// A closure `FnMut(&mut Solver<T>, &IterInfo) -> Control` is an observer.
pub trait Observer<T: Real> {
    /// Called after each iteration with its report; returns whether to go on.
    fn observe(&mut self, solver: &mut Solver<T>, info: &IterInfo) -> Control;
    /// Called once when the loop has ended, with the final status.
    fn finish(&mut self, _solver: &mut Solver<T>, _status: Status) {}
}

impl<T: Real, F: FnMut(&mut Solver<T>, &IterInfo) -> Control> Observer<T> for F {
    fn observe(&mut self, solver: &mut Solver<T>, info: &IterInfo) -> Control {
        self(solver, info)
    }
}
