//! The best feasible attempt of the ReLU endgame: kept when it misses `tol_gap`, shown by a
//! solve that stops short of it, and never continued from (ADMM's point is put aside).

use super::*;

/// A feasible, certified endgame result that missed `tol_gap` (see `Solver::best_attempt`):
/// weights, cone duals ν of all shards concatenated, and its gap. Part of the checkpoint.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EndgameAttempt<T> {
    z: Vec<T>,
    nu: Vec<T>,
    gap: f64,
}

/// ADMM's point, put aside while a stopped solve shows the best attempt.
pub(super) struct Displaced<T> {
    state: AdmmState<T>,
    nu: Vec<T>,
    cert: Certificate,
    best_lower: Vec<f64>,
}

impl<T: Real> Solver<T> {
    /// At the end of a solve that did not reach `tol_gap`: the endgame's best attempt replaces
    /// ADMM's iterate when that iterate violates the cones (beyond the `solved` limit), has a
    /// negative gap, or a larger one. The user then gets weights in the cones with a certified
    /// gap instead of an infeasible iterate (an f32 fit asked for 1e-7: gap −5.5e-2 before).
    /// ADMM's point is put aside ([`Solver::resume_admm_point`] brings it back before the next
    /// step, a checkpoint or a change of β), so that a resumed solve continues as if it had
    /// never stopped.
    pub(super) fn prefer_best_attempt(&mut self) {
        let Some(best) = self.best_attempt.as_ref() else { return };
        let gap = self.cert.relative_gap;
        if gap >= 0.0 && gap <= best.gap && self.feasibility().constraint_violation <= self.solved_violation_limit() {
            return;
        }
        let (z, nu) = (best.z.clone(), best.nu.clone());
        let displaced = Displaced { state: self.state.clone(), nu: self.concat_cone_duals(), cert: self.cert.clone(), best_lower: self.best_lower.clone() };
        self.set_weights_internal(z);
        self.load_cone_duals(&nu);
        self.resync_slack();
        self.certify();
        self.displaced = Some(displaced);
    }

    /// Keeps the current weights and cone duals as the best attempt when they satisfy the cones
    /// (`violation` within the `solved` limit) with a certified `gap` ≥ 0 below the best so far.
    pub(super) fn remember_attempt(&mut self, violation: f64, gap: f64) {
        if violation <= self.solved_violation_limit() && gap >= 0.0 && self.best_attempt.as_ref().is_none_or(|b| gap < b.gap) {
            self.best_attempt = Some(EndgameAttempt { z: self.state.z.clone(), nu: self.concat_cone_duals(), gap });
        }
    }

    /// Puts ADMM's own point back after [`Solver::prefer_best_attempt`] (a no-op otherwise).
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
