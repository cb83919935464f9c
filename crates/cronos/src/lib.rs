//! # cronos: convex training of two-layer ReLU networks to a certified global optimum
//!
//! A two-layer ReLU network f(x) = Σ_j (xᵀu_j)₊ α_j trained with squared loss and weight
//! decay is equivalent (Pilanci & Ergen 2020) to the convex program, over activation
//! patterns D_i = diag(1[X h_i ≥ 0]) sampled from Gaussian gates h_i,
//!
//! ```text
//!   min_{v_i, w_i}  ½ ‖ Σ_i D_i X (v_i − w_i) − y ‖²  +  β Σ_i (‖v_i‖₂ + ‖w_i‖₂)
//!   s.t.            (2D_i − I) X v_i ≥ 0,   (2D_i − I) X w_i ≥ 0,
//! ```
//!
//! (gated ReLU drops the constraints). Neurons are recovered as v_i/√‖v_i‖ with output
//! weight +√‖v_i‖ and w_i/√‖w_i‖ with −√‖w_i‖.
//!
//! The program is solved by CRONOS (Feng, Frangella, Pilanci 2024): ADMM whose u-step is
//! the linear system (I + FᵀF/ρ + GᵀG) u = rhs, solved by warm-started conjugate gradients
//! with a Nyström preconditioner. This crate exploits structure the reference ignores:
//! GᵀG = blkdiag(XᵀX) exactly, the system matrix does not depend on y (all outputs share
//! it), all P patterns go through X together as GEMMs, and rows live in shards. Every
//! solution carries a certified lower bound on the optimal value (see [`certificate`]).
//! Gated-ReLU solves finish with Newton steps on the active neurons once ADMM has found
//! them (see [`polish`]): ADMM's slow linear tail is replaced by a few Newton-CG steps, and
//! gate hyperplanes pass through the data mean so that patterns split the rows evenly.
//!
//! ```
//! use cronos::{Activation, Settings, Solver, Status};
//! use faer::Mat;
//! // y = |x| on 40 points: a two-neuron ReLU network fits it exactly
//! let x = Mat::<f64>::from_fn(40, 1, |i, _| i as f64 / 20.0 - 1.0);
//! let y = Mat::<f64>::from_fn(40, 1, |i, _| x[(i, 0)].abs());
//! let settings = Settings { activation: Activation::GatedRelu, n_patterns: 16, ..Settings::default() };
//! let mut solver = Solver::new(x.as_ref(), y.as_ref(), settings)?;
//! let solution = solver.solve();
//! let _ = Status::Solved;
//! assert!(solution.certificate.relative_gap <= 1e-2);
//! let model = solver.model();
//! let pred = model.predict(x.as_ref())?;
//! assert!((pred[(10, 0)] - 0.5).abs() < 0.1);
//! Ok::<(), cronos::CronosError>(())
//! ```
#![warn(missing_docs)]

pub mod admm;
pub mod block_precond;
pub mod calibration;
pub mod certificate;
pub mod comm;
#[cfg(feature = "mpi")]
pub mod comm_mpi;
pub mod comm_threads;
pub mod data;
pub mod design;
pub mod distributed;
pub mod error;
pub mod feasibility;
pub mod gram;
pub mod layout;
pub mod loss;
pub mod memory;
pub mod model;
pub mod newton_precond;
pub mod nnls;
pub mod nystrom;
pub mod path;
pub mod patterns;
pub mod pcg;
pub mod polish;
mod polish_block;
pub mod pricing;
pub mod relu_endgame;
pub mod precond;
pub mod real;
pub mod settings;
pub mod solver;
pub mod sparse;
pub mod system;
pub mod woodbury;

pub use calibration::{fit_temperature, Calibration};
pub use certificate::Certificate;
pub use comm::{Comm, LocalComm};
pub use data::{DataRef, OwnedData, Storage};
pub use sparse::Csr;
#[cfg(feature = "mpi")]
pub use comm_mpi::MpiComm;
pub use error::{CronosError, Result};
pub use layout::WeightLayout;
pub use loss::{Loss, LossData};
pub use model::{Model, Network};
pub use path::{
    fit_auto, fit_auto_observed, refit_solver, select_beta, REFIT_EXPONENT, solve_path, AutoFit, BetaChoice, Metric, PathPoint, PathSettings,
};
pub use pricing::{price, PricingReport, PricingRound, PricingSettings, PricingStop};
pub use real::Real;
pub use settings::{Activation, Beta, PrecondKind, Rank, Settings};
pub use solver::{Checkpoint, BestPoint, Control, EndgameAttempt, IterInfo, Observer, Solution, Solver, SolverState, Status};
