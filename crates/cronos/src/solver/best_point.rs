//! The best certified point of a solve: what a solve shows instead of a worse last iterate
//! (ReLU: only short of `tol_gap`), never continued from (ADMM's point is put aside).
//! For the ReLU program, the endgame's best feasible attempt; for the gated program, the
//! certified iterate with the lowest objective (split ADMM's objective is not monotone: the
//! 10-class softmax refit rose from 1.37e4 to 1.88e4 in its last 5 iterations, test 88.9% →
//! 86.7%, and the time limit returned the worse one).

use super::*;

/// A solve's best certified point (see [`Solver::show_best_point`]): weights, cone
/// duals ν of all shards concatenated (empty for gated ReLU), its gap, objective and
/// iteration. Part of the checkpoint.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BestPoint<T> {
    z: Vec<T>,
    nu: Vec<T>,
    gap: f64,
    objective: f64,
    iteration: usize,
}

/// The former name of [`BestPoint`].
pub type EndgameAttempt<T> = BestPoint<T>;

/// ADMM's point, put aside while a stopped solve shows the best point.
pub(super) struct Displaced<T> {
    state: AdmmState<T>,
    nu: Vec<T>,
    cert: Certificate,
    best_lower: Vec<f64>,
}

impl<T: Real> Solver<T> {
    /// At the end of a solve with `status`, the best point replaces the last iterate when that
    /// is worse. ReLU, short of `tol_gap`: when the iterate violates the cones (beyond the
    /// `solved` limit), has a negative gap, or a larger one than the endgame's best feasible
    /// attempt (an f32 fit asked for 1e-7: gap −5.5e-2 before); the user then gets weights in
    /// the cones with a certified gap. Gated, whatever the status but `EarlyStopped` (whose
    /// observer chose its iterate): when an earlier certified iterate had a lower objective (or
    /// the last is not finite) — also after `Solved`, so that a solve resumed from a shown
    /// point never ends above it (a pricing round or a finishing solve). ADMM's point is put
    /// aside ([`Solver::resume_admm_point`] brings it back before the next step, a checkpoint
    /// or a change of β), so that a resumed solve continues as if it had never stopped.
    pub(super) fn show_best_point(&mut self, status: Status) {
        let Some(best) = self.best_point.as_ref() else { return };
        let keep_last = if self.sys.relu() {
            let gap = self.cert.relative_gap;
            status == Status::Solved || (gap >= 0.0 && gap <= best.gap && self.feasibility().constraint_violation <= self.solved_violation_limit())
        } else {
            // a solved claim stays sound: the shown objective lies between the bound and the last one
            status == Status::EarlyStopped || self.cert.objective <= best.objective || (status == Status::Solved && best.objective < self.cert.lower_bound)
        };
        if !keep_last {
            self.display_best_point();
        }
    }

    /// Shows the best point: its weights (and cone duals) replace the iterate, ADMM's point
    /// is put aside, and the certificate is recomputed at the shown weights.
    pub(super) fn display_best_point(&mut self) {
        // already shown (a solve restored at its limit ends without a step): ADMM's point
        // is the one put aside, never the shown one
        if self.displaced.is_some() {
            return;
        }
        let Some(best) = self.best_point.as_ref() else { return };
        let (z, nu) = (best.z.clone(), best.nu.clone());
        let displaced = Displaced { state: self.state.clone(), nu: self.concat_cone_duals(), cert: self.cert.clone(), best_lower: self.best_lower.clone() };
        self.set_weights_internal(z);
        if self.sys.relu() {
            self.load_cone_duals(&nu);
            self.resync_slack();
        }
        self.certify();
        self.displaced = Some(displaced);
    }

    /// The iteration whose weights the solver shows, when a solve shows its best point instead
    /// of the last iterate (see [`Solver::show_best_point`]).
    pub fn shown_iteration(&self) -> Option<usize> {
        self.displaced.as_ref().and(self.best_point.as_ref()).map(|b| b.iteration)
    }

    /// Keeps the current weights and cone duals as the best attempt when they satisfy the cones
    /// (`violation` within the `solved` limit) with a certified `gap` ≥ 0 below the best so far.
    pub(super) fn remember_attempt(&mut self, violation: f64, gap: f64) {
        if violation <= self.solved_violation_limit() && gap >= 0.0 && self.best_point.as_ref().is_none_or(|b| gap < b.gap) {
            self.best_point = Some(self.current_point(gap));
        }
    }

    /// Gated ReLU: keeps the just-certified iterate when its objective is the lowest so far
    /// (a copy of z, P·k·d numbers, on improving certificates only).
    pub(super) fn remember_certified_iterate(&mut self) {
        let (objective, gap) = (self.cert.objective, self.cert.relative_gap);
        if self.sys.relu() || !objective.is_finite() || self.best_point.as_ref().is_some_and(|b| objective >= b.objective) {
            return;
        }
        let iteration = self.state.iteration - self.iter_base;
        match &mut self.best_point {
            // the same pattern set (a change of patterns or β clears it): refill, no allocation
            Some(b) if b.z.len() == self.state.z.len() => {
                b.z.copy_from_slice(&self.state.z);
                (b.gap, b.objective, b.iteration) = (gap, objective, iteration);
            }
            _ => self.best_point = Some(self.current_point(gap)),
        }
    }

    fn current_point(&self, gap: f64) -> BestPoint<T> {
        let iteration = self.state.iteration - self.iter_base;
        BestPoint { z: self.state.z.clone(), nu: self.concat_cone_duals(), gap, objective: self.cert.objective, iteration }
    }

    /// Puts ADMM's own point back after [`Solver::show_best_point`] (a no-op otherwise).
    pub(super) fn resume_admm_point(&mut self) {
        if let Some(d) = self.displaced.take() {
            self.state = d.state;
            self.load_cone_duals(&d.nu);
            self.cert = d.cert;
            self.best_lower = d.best_lower;
        }
    }

    /// The state a checkpoint holds: ADMM's point (the displaced one while an attempt is shown),
    /// its cone duals (concatenated), certificate and best bounds.
    pub(super) fn admm_point(&self) -> (AdmmState<T>, Vec<T>, Certificate, Vec<f64>) {
        match &self.displaced {
            Some(d) => (d.state.clone(), d.nu.clone(), d.cert.clone(), d.best_lower.clone()),
            None => (self.state.clone(), self.concat_cone_duals(), self.cert.clone(), self.best_lower.clone()),
        }
    }
}
