//! The solver's state as a value: checkpoints, restore, warm starts and changes of β.

use super::*;

impl<T: Real> Solver<T> {
    /// Everything the iteration depends on, as one value (the checkpoint): the ADMM
    /// iterates, the cone duals ν of every shard, the counters, the history, the best lower
    /// bounds, the best certified point (and whether it is shown), and β and the shard layout
    /// so that [`Solver::restore`] can check them.
    pub fn checkpoint(&self) -> SolverState<T> {
        let (state, nu, cert, best_lower) = self.admm_point();
        SolverState {
            state,
            nu,
            cg_total: self.cg_total,
            history: self.history.clone(),
            cert,
            last_sigma_change: self.last_sigma_change,
            sigma_changes: self.sigma_changes,
            beta: self.beta.clone(),
            shard_rows: self.shard_layout(),
            iter_base: self.iter_base,
            best_lower,
            best_point: self.best_point.clone(),
            shows_best_point: self.displaced.is_some(),
        }
    }

    /// The cone duals ν of all shards, concatenated (as a checkpoint holds them).
    pub(super) fn concat_cone_duals(&self) -> Vec<T> {
        self.design.shards().iter().flat_map(|s| s.nu.iter().copied()).collect()
    }

    /// Copies concatenated cone duals (from [`Solver::concat_cone_duals`]) into the shards.
    pub(super) fn load_cone_duals(&mut self, nu: &[T]) {
        let mut off = 0;
        for sh in self.design.shards_mut() {
            let l = sh.nu.len();
            sh.nu.copy_from_slice(&nu[off..off + l]);
            off += l;
        }
    }

    /// Rows per shard of this rank, then this rank and the rank count.
    pub(super) fn shard_layout(&self) -> Vec<usize> {
        let comm = self.design.comm();
        let mut v: Vec<usize> = self.design.shards().iter().map(|s| s.rows.len()).collect();
        v.extend([comm.rank(), comm.size()]);
        v
    }

    /// Restores a state taken by [`Solver::checkpoint`] from a solver with the same data,
    /// settings, β and shard layout; the continuation is then bit-identical to the
    /// uninterrupted run.
    ///
    /// # Errors
    /// When the state's shapes, β or shard layout differ from this solver's (a warm start
    /// across those is [`Solver::warm_start`]).
    pub fn restore(&mut self, cp: SolverState<T>) -> Result<()> {
        self.check_restorable(&cp)?;
        let (rho, sigma) = (cp.state.rho, cp.state.sigma);
        // bring the operator to the checkpoint's penalties first, then load its iterates
        // (rebalancing rescales the duals it finds, so they must be loaded afterwards)
        if rho != self.state.rho || sigma != self.state.sigma {
            self.rebalance(rho, sigma)?;
        }
        self.last_sigma_change = cp.last_sigma_change;
        self.sigma_changes = cp.sigma_changes;
        self.state = cp.state;
        self.load_cone_duals(&cp.nu);
        self.cg_total = cp.cg_total;
        self.history = cp.history;
        self.iter_base = cp.iter_base;
        self.best_point = cp.best_point;
        self.displaced = None;
        self.best_lower = if cp.best_lower.is_empty() { cp.cert.lower_bounds.clone() } else { cp.best_lower };
        self.cert = cp.cert;
        // the weights the solver showed when the state was taken (a pricing round undone
        // goes back to what the user saw, not to ADMM's point behind it)
        if cp.shows_best_point {
            self.display_best_point();
        }
        Ok(())
    }

    pub(super) fn check_restorable(&self, cp: &SolverState<T>) -> Result<()> {
        let total: usize = self.design.shards().iter().map(|s| s.nu.len()).sum();
        if cp.state.u.len() != self.state.u.len() || cp.nu.len() != total {
            return Err(invalid_data(
                "checkpoint",
                "shapes do not match this problem (different data, settings or thread count?)",
            ));
        }
        // layout first: another thread count also moves β_max in its last bits
        let layout = self.shard_layout();
        if cp.shard_rows != layout {
            return Err(invalid_data(
                "checkpoint",
                format!(
                    "made with shard layout {:?} (rows per shard, rank, ranks), this solver has {layout:?}: same threads and ranks needed",
                    cp.shard_rows
                ),
            ));
        }
        let same_beta = cp.beta.len() == self.beta.len()
            && cp.beta.iter().zip(&self.beta).all(|(a, b)| a.to_bits() == b.to_bits());
        if !same_beta {
            return Err(invalid_data(
                "checkpoint",
                format!("made at β = {:?} (internal scaling), this solver has β = {:?}", cp.beta, self.beta),
            ));
        }
        Ok(())
    }

    /// The consensus dual a fixed point of ADMM has at z: ρλ_g = β·z_g/‖z_g‖ for a non-zero
    /// group (the subgradient the z-step's soft threshold needs to return z_g), 0 otherwise.
    /// A warm start with λ = 0 instead pulls every active group towards zero on the first
    /// z-step; with heavily weighted rows that diverged (objective 1.5e5 vs a bound of 16 after
    /// 1,000 iterations where a cold start solves in 40).
    fn consensus_dual_from_z(&mut self) {
        let (lay, rho) = (self.sys.layout, self.state.rho);
        for (c, &b) in self.beta.iter().enumerate() {
            for s in lay.output_group_ranges(c) {
                let norm = crate::real::sum_sq(&self.state.z[s.clone()]).sqrt();
                let f = if norm > 0.0 { T::from_f64(b / (rho * norm)) } else { T::default() };
                for i in s {
                    self.state.lam[i] = f * self.state.z[i];
                }
            }
        }
    }

    /// Changes β for the next solve, keeping the iterates as a warm start (the operator and
    /// the preconditioner do not depend on β). The iteration limit and the forcing sequence
    /// of CG restart; the history and the kept lower bound (valid for the old β only) are cleared.
    ///
    /// # Errors
    /// For an invalid β.
    pub fn set_beta(&mut self, beta: Beta) -> Result<()> {
        self.resume_admm_point();
        let s = Settings {
            beta,
            ..Settings::default()
        };
        s.validate()?;
        self.settings.beta = beta;
        let new = beta_values(beta, &self.beta_max, self.scale);
        // At the optimum ρλ_g is β times a subgradient of ‖z_g‖: scale the consensus dual with
        // β, so the warm start is a point of the new problem's optimality conditions' shape.
        // Measured on a logistic path (Pullover vs Coat, 2,000 rows): whole path 41.5 s with
        // this scaling vs 54.8 s without, and 20× smaller gaps at the small-β points.
        let lay = self.sys.layout;
        for (c, (&b_new, &b_old)) in new.iter().zip(&self.beta).enumerate() {
            if b_old > 0.0 {
                let f = T::from_f64(b_new / b_old);
                self.state.lam[lay.output_range(c)]
                    .iter_mut()
                    .for_each(|v| *v *= f);
            }
        }
        self.beta = new;
        self.iter_base = self.state.iteration;
        self.history.clear();
        self.best_lower.clear();
        self.best_point = None;
        self.certify();
        Ok(())
    }

    /// Starts from the weights of `model` (consensus dual set to the fixed point's, other duals
    /// reset): a model of the same shape fitted on similar data (another β, more rows, features
    /// of a previous alternation step). Returns whether the warm point was kept: one whose
    /// objective is above the cold start's is dropped (a path model stopped far from its
    /// optimum, with rows weighted 1000:1e-4, sat at 7.7e6 against ℓ(0) ≈ 5e4 and the refit
    /// then never converged, where the cold start solves in 40 iterations).
    ///
    /// # Errors
    /// When the model's activation, patterns, outputs or input width differ from this problem.
    pub fn warm_start(&mut self, model: &Model<T>) -> Result<bool> {
        self.resume_admm_point();
        let (d, len) = (self.sys.d(), self.state.u.len());
        if model.activation != self.settings.activation || model.bias != self.settings.bias {
            return Err(invalid_data(
                "model",
                "activation or bias differs from the solver's settings",
            ));
        }
        if model.weights.nrows() != d || model.weights.nrows() * model.weights.ncols() != len {
            return Err(invalid_data(
                "model",
                format!(
                    "weights are {} × {} but this problem needs {d} × {}",
                    model.weights.nrows(),
                    model.weights.ncols(),
                    len / d
                ),
            ));
        }
        let scale = T::from_f64(self.scale);
        let mut z = vec![T::default(); len];
        for j in 0..model.weights.ncols() {
            for i in 0..d {
                z[j * d + i] = model.weights[(i, j)] * scale;
            }
        }
        self.warm_start_z(&z)
    }

    /// [`Solver::warm_start`] from weights `z` in the solver's internal scaling and layout.
    pub(super) fn warm_start_z(&mut self, z: &[T]) -> Result<bool> {
        // certified before it is kept: after a change of patterns the certificate the solver
        // holds is the old program's, whose bound does not bound the new one (restored with the
        // cold point, it gave a pricing round a gap of −0.66)
        let cold_objective = self.certify().objective;
        let cold = self.checkpoint();
        self.state.z.copy_from_slice(z);
        self.state.u.copy_from_slice(&self.state.z);
        for v in [
            &mut self.state.lam,
            &mut self.state.gts,
            &mut self.state.gtnu,
            &mut self.state.theta,
        ] {
            v.fill(T::default());
        }
        for sh in self.design.shards_mut() {
            sh.nu.fill(T::default());
        }
        self.consensus_dual_from_z();
        let (d_, sys) = (self.sys.d(), &mut self.sys);
        if self.eta.is_some() {
            // r = Fu (so the first u-step does not pull towards zero predictions)
            let n = self.loss.n();
            let r = &mut self.state.r;
            let (design, u) = (&mut self.design, &self.state.u);
            self.pool
                .install(|| sys.f(design, u, crate::system::view_mut(r, n)));
            super::setup::init_theta(&self.loss, &mut self.state, self.eta.unwrap_or(1.0));
        }
        if self.sys.relu() {
            // s = max(0, σGu) with γ = 0 keeps ν = 0
            let sigma = T::from_f64(self.state.sigma);
            let (st, design) = (&mut self.state, &mut self.design);
            self.pool.install(|| {
                design.slack_pass(
                    crate::system::view(&st.u, d_),
                    sigma,
                    T::default(),
                    crate::system::view_mut(&mut st.gts, d_),
                    crate::system::view_mut(&mut st.gtnu, d_),
                )
            });
        }
        self.best_lower.clear();
        self.best_point = None;
        if self.certify().objective > cold_objective {
            self.restore(cold)?;
            return Ok(false);
        }
        Ok(true)
    }
}

/// The solver's whole iteration state, the resumable snapshot of [`Solver::checkpoint`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SolverState<T> {
    /// ADMM iterates.
    pub state: AdmmState<T>,
    /// Cone duals ν of all shards, concatenated.
    pub nu: Vec<T>,
    /// CG iterations so far.
    pub cg_total: usize,
    /// History so far.
    pub history: Vec<IterInfo>,
    /// Last certificate.
    pub cert: Certificate,
    /// Iteration of the last change of σ.
    pub last_sigma_change: usize,
    /// Number of σ changes so far.
    pub sigma_changes: usize,
    /// β per output (internal scaling) the iterates belong to.
    pub beta: Vec<f64>,
    /// Rows of each shard of this rank, then the rank and the rank count.
    pub shard_rows: Vec<usize>,
    /// Iteration count at the last change of β.
    pub iter_base: usize,
    /// Best lower bound per output so far (valid for `beta`).
    pub best_lower: Vec<f64>,
    /// The best certified point so far (ReLU: the endgame's best feasible attempt that missed
    /// `tol_gap`; gated: the lowest-objective certified iterate), valid for `beta`.
    pub best_point: Option<super::best_point::BestPoint<T>>,
    /// Whether the solver showed `best_point` instead of ADMM's point (the iterates above),
    /// see [`Solver::show_best_point`].
    #[serde(default)]
    pub shows_best_point: bool,
}

/// The former name of [`SolverState`].
pub type Checkpoint<T> = SolverState<T>;
