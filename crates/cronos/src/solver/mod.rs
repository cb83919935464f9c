//! The solver: setup (validation, patterns, Gram, preconditioner), the ADMM loop with
//! residual balancing and periodic certificates, and termination as a [`Status`].
//!
//! Internally X is scaled by 1/c with c² = ‖X‖²_F / d (so the Gram's mean eigenvalue is 1
//! and the two constraint blocks of the u-step are balanced); by positive homogeneity this
//! is the same program with β/c, and weights are scaled back by 1/c on the way out.

use crate::admm::{rescale_duals, step, AdmmState, AdmmWorkspace, Split, StepInput};
use crate::certificate::{certify, CertWorkspace, Certificate};
use crate::design::Design;
use crate::error::{invalid_data, invalid_setting, Result};
use crate::gram::{GramEigen, GramForm, GramOp};
use crate::layout::WeightLayout;
use crate::loss::{Loss, LossData};
use crate::model::Model;
use crate::nystrom::{nystrom, NystromFactor};
use crate::data::{DataRef, Storage, XMat};
use crate::patterns::sample_patterns_data;
use crate::pcg::{IdentityPrecond, Precond};
use crate::polish::{newton_step, NewtonPrecond, PolishReport};
use crate::precond::{BlockWhitener, NystromPrecond, StructuredPrecond};
use crate::woodbury::WoodburyPrecond;
use crate::real::Real;
use crate::settings::{Activation, Beta, PrecondKind, Rank, Settings};
use crate::system::{view, System};
use faer::{Mat, MatRef, Par};
use serde::{Deserialize, Serialize};
use std::time::Instant;

mod balance;
mod driver;
mod endgame;
mod best_point;
mod relu_endgame;
mod reshape;
mod setup;
mod state;

pub use driver::Observer;
pub use best_point::{BestPoint, EndgameAttempt};
pub use state::{Checkpoint, SolverState};

/// How a solve ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Status {
    /// Certified gap and primal feasibility within tolerance.
    Solved,
    /// `max_iter` reached.
    MaxIterations,
    /// `time_limit` reached.
    TimeLimit,
    /// NaN/Inf appeared in the iterates.
    NumericalError,
    /// The callback asked to stop.
    Interrupted,
    /// An observer ended the solve because a validation metric stopped improving.
    EarlyStopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Solved => "solved",
            Status::MaxIterations => "max_iterations",
            Status::TimeLimit => "time_limit",
            Status::NumericalError => "numerical_error",
            Status::Interrupted => "interrupted",
            Status::EarlyStopped => "early_stopped",
        };
        f.write_str(s)
    }
}

/// A callback's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop after this iteration (status `Interrupted`).
    Stop,
    /// Stop after this iteration with this status (e.g. [`Status::EarlyStopped`]).
    Finish(Status),
}

/// One iteration's report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IterInfo {
    /// Iteration number (1-based).
    pub iteration: usize,
    /// Seconds since the solve started (setup excluded).
    pub seconds: f64,
    /// Objective at the last certificate.
    pub objective: f64,
    /// Lower bound at the last certificate.
    pub lower_bound: f64,
    /// Certified relative gap at the last certificate.
    pub relative_gap: f64,
    /// Whether the certificate was recomputed this iteration.
    pub certified: bool,
    /// Relative primal residual.
    pub primal_residual: f64,
    /// Relative dual residual.
    pub dual_residual: f64,
    /// CG iterations of this u-step.
    pub cg_iterations: usize,
    /// Final relative CG residual.
    pub cg_residual: f64,
    /// Penalty ρ used.
    pub rho: f64,
    /// Cone-block scale σ used.
    pub sigma: f64,
    /// Relative primal residuals of the blocks u = z and σGu = s.
    pub primal_blocks: [f64; 2],
    /// Relative dual residuals of the two blocks.
    pub dual_blocks: [f64; 2],
}

/// The outcome of a solve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Solution {
    /// How it ended.
    pub status: Status,
    /// ADMM iterations.
    pub iterations: usize,
    /// Total CG iterations.
    pub cg_iterations: usize,
    /// Final certificate (user scaling).
    pub certificate: Certificate,
    /// Cone-constraint violation of the returned weights and the recovered network's
    /// objective (ReLU: an unconverged iterate may violate the constraints, and then its
    /// convex objective can lie below the lower bound, which bounds feasible points only).
    #[serde(default)]
    pub feasibility: crate::feasibility::Feasibility,
    /// Setup seconds (patterns, Gram, preconditioner).
    pub setup_seconds: f64,
    /// Solve seconds.
    pub solve_seconds: f64,
    /// Per-iteration reports.
    pub history: Vec<IterInfo>,
    /// The iteration whose weights the solver shows when they are not the last iterate's
    /// (the best certified point, see [`Solver::shown_iteration`]).
    #[serde(default)]
    pub shown_iteration: Option<usize>,
}

enum AnyPrecond<T: Real> {
    None(IdentityPrecond),
    Nystrom(NystromPrecond<T>),
    Structured(StructuredPrecond<T>),
}

impl<T: Real> AnyPrecond<T> {
    fn as_dyn(&self) -> &dyn Precond<T> {
        match self {
            AnyPrecond::None(p) => p,
            AnyPrecond::Nystrom(p) => p,
            AnyPrecond::Structured(p) => p,
        }
    }
    fn factor(&self) -> Option<&NystromFactor<T>> {
        match self {
            AnyPrecond::None(_) => None,
            AnyPrecond::Nystrom(p) => Some(p.factor()),
            AnyPrecond::Structured(p) => Some(p.factor()),
        }
    }
}

/// The CRONOS solver for one data set and settings.
pub struct Solver<T: Real> {
    settings: Settings,
    pool: rayon::ThreadPool,
    design: Design<T>,
    sys: System<T>,
    precond: AnyPrecond<T>,
    white_eig: Option<GramEigen<T>>,
    state: AdmmState<T>,
    ws: AdmmWorkspace<T>,
    cert_ws: CertWorkspace<T>,
    loss: LossData<T>,
    /// Scale η of the loss split r = Fu, or `None` for the unweighted squared loss.
    eta: Option<f64>,
    fty: Vec<T>,
    beta: Vec<f64>,
    /// β_max per output (internal scaling): all neurons are zero for β ≥ β_max (gated), or
    /// an upper bound of that threshold (ReLU).
    beta_max: Vec<f64>,
    /// Iteration count at the start of the current solve (after the last change of β).
    iter_base: usize,
    scale: f64,
    gram0: GramOp<T>,
    last_sigma_change: usize,
    sigma_changes: usize,
    best_lower: Vec<f64>,
    /// The best certified point so far (ReLU: the endgame's best feasible attempt that missed
    /// `tol_gap`; gated: the certified iterate with the lowest objective): what a solve shows
    /// when its last iterate is worse (see [`Solver::show_best_point`]).
    best_point: Option<best_point::BestPoint<T>>,
    /// ADMM's own point while a stopped solve shows the best point (see
    /// [`Solver::show_best_point`]); put back before ADMM goes on.
    displaced: Option<best_point::Displaced<T>>,
    gates: Mat<T>,
    d_user: usize,
    setup_seconds: f64,
    cert: Certificate,
    cg_total: usize,
    history: Vec<IterInfo>,
}

impl<T: Real> Solver<T> {
    /// Cone-constraint violation and recovered-network objective of the current weights (one
    /// pass over X; see [`crate::feasibility`]).
    pub fn feasibility(&self) -> crate::feasibility::Feasibility {
        let (z, design, loss, beta) = (&self.state.z, &self.design, &self.loss, &self.beta);
        let (layout, obj) = (&self.sys.layout, self.cert.objective);
        self.pool.install(|| crate::feasibility::feasibility(z, design, loss, beta, layout, obj))
    }

    /// The last certificate (objective, best lower bound, gap), as of the last certified
    /// iteration or [`Solver::certify`] call.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The fitted model at the current iterate (weights z, scaled back to the user's units).
    pub fn model(&self) -> Model<T> {
        let inv = T::from_f64(1.0 / self.scale);
        let w: Vec<T> = self.state.z.iter().map(|&v| v * inv).collect();
        Model::from_parts(
            self.settings.activation,
            self.settings.bias,
            self.d_user,
            self.loss.k(),
            self.gates.clone(),
            view(&w, self.sys.d()).to_owned(),
            self.beta.iter().map(|b| b * self.scale).collect(),
        )
        .with_loss(self.settings.loss)
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    /// Number of distinct patterns actually used.
    pub fn n_patterns(&self) -> usize {
        self.sys.layout.p()
    }
    /// β per output in the user's scaling.
    pub fn beta(&self) -> Vec<f64> {
        self.beta.iter().map(|b| b * self.scale).collect()
    }
    /// Rank and sketch size of the preconditioner's Nyström factor, if any.
    pub fn precond_rank(&self) -> Option<(usize, usize)> {
        self.precond
            .factor()
            .map(|f| (f.lam.len(), f.sketch_columns))
    }
    /// Seconds spent in setup.
    pub fn setup_seconds(&self) -> f64 {
        self.setup_seconds
    }
    /// Predictions of `model` (a best iterate, say) on this solver's training rows, from the
    /// solver's own scaled copy of X: a front end that handed its X over
    /// ([`Solver::new_owned_weighted`]) has none left to predict on.
    ///
    /// # Errors
    /// When `model` does not fit this data's width.
    pub fn predict_training_rows(&self, model: &Model<T>) -> Result<Mat<T>> {
        // the network on the unscaled rows x = s·x̃ is the network with s·W1 and s·G (and a
        // zero row for the bias column) on the solver's scaled rows x̃: no copy of X, dense or
        // sparse (a row-block copy of a wide X is as large as X)
        let (x, s) = (self.design.x(), T::from_f64(self.scale));
        let d = x.ncols();
        let widen = |w: &Mat<T>| Mat::<T>::from_fn(d, w.ncols(), |i, j| if i < self.d_user { w[(i, j)] * s } else { T::default() });
        let mut net = model.network();
        if net.w1.nrows() != self.d_user {
            return Err(crate::error::invalid_data("model", format!("{} features but the solver has {}", net.w1.nrows(), self.d_user)));
        }
        net.w1 = widen(&net.w1);
        if let Some((gw, _)) = &mut net.gates {
            *gw = widen(gw);
        }
        Ok(net.predict_with(x.nrows(), |r0, rows, w, out| x.mul_rows(r0, rows, w, out, Par::rayon(0))))
    }
    /// Convex-model predictions Fz on the training rows (n × k) at the last certificate.
    pub fn train_predictions(&self) -> MatRef<'_, T> {
        self.cert_ws.predictions()
    }
    /// Bytes held by the design (X, patterns, shard buffers and cone duals).
    pub fn design_bytes(&self) -> usize {
        self.design.bytes()
    }
    /// Applies the u-step operator I + FᵀF/ρ + σ²GᵀG at the current ρ (benchmarks, tests).
    pub fn apply_system(&mut self, u: &[T], out: &mut [T]) {
        let rho = T::from_f64(self.sys_rho());
        let (design, sys) = (&mut self.design, &mut self.sys);
        self.pool.install(|| sys.apply(design, rho, u, out));
    }
    /// Changes the gap tolerance and the iteration limit of the next solves (the path solves
    /// each point to a looser gap than a final fit).
    pub fn set_limits(&mut self, tol_gap: f64, max_iter: usize) {
        self.settings.tol_gap = tol_gap;
        self.settings.max_iter = max_iter.max(1);
    }

    /// β_max per output in the user's scaling: the smallest β at which every neuron is zero
    /// (gated ReLU; for ReLU an upper bound of it, see [`crate::path::relu_beta_max`]).
    pub fn beta_max(&self) -> Vec<f64> {
        self.beta_max.iter().map(|b| b * self.scale).collect()
    }

    /// The loss with its targets and weights.
    pub fn loss(&self) -> &LossData<T> {
        &self.loss
    }

    /// Length of the weight vector (d·nb·k).
    pub fn weights_len(&self) -> usize {
        self.state.u.len()
    }
}

/// β per output in the solver's internal scaling.
fn beta_values(beta: Beta, beta_max: &[f64], scale: f64) -> Vec<f64> {
    beta_max
        .iter()
        .map(|bmax| match beta {
            Beta::Value(b) => b / scale,
            Beta::Fraction(f) => f * bmax,
        })
        .collect()
}
