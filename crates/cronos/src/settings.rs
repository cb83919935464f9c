//! Solver settings: one plain struct with documented defaults, validated once in
//! [`crate::Solver::new`].
//!
//! | field | default | valid range | meaning |
//! |---|---|---|---|
//! | `activation` | `Relu` | `Relu`, `GatedRelu` | cone-constrained ReLU program or its unconstrained gated relaxation |
//! | `loss` | `Squared` | `Squared`, `Logistic`, `Softmax` | data-fitting loss (see [`crate::loss`]); other than unweighted squared, it is split off as r = Fu |
//! | `beta` | `Fraction(1e-3)` | value ≥ 0 / fraction in (0, 1] | group-lasso weight β, absolute or as a fraction of β_max = max_g ‖F_gᵀ∇ℓ(0)‖ (= max_g ‖F_gᵀy‖ for the squared loss) |
//! | `n_patterns` | 64 | ≥ 1 | activation patterns P (distinct, non-zero) |
//! | `bias` | `true` | | append a column of ones to X |
//! | `centered_gates` | `true` | | gated ReLU with a bias: gate hyperplanes through the data mean (balanced patterns) instead of near the origin (ReLU keeps origin-near gates) |
//! | `rho` | `None` (scale-aware) | > 0 | initial ADMM penalty ρ (data are normalised internally, see [`crate::solver`]) |
//! | `adaptive_rho` | `true` | | residual balancing of ρ (free: the preconditioner does not depend on ρ) |
//! | `adaptive_sigma` | `true` | | balancing of the cone block's scale σ against the consensus block (each change re-sketches) |
//! | `gamma` | 1.0 | (0, 1.618) | dual step γ |
//! | `constraint_scale` | 1.0 | > 0 | σ in the equivalent constraint σGu = s: weight of the cone block against u = z (X is normalised so the Gram's mean eigenvalue is 1) |
//! | `preconditioner` | `Structured` | `None`, `Nystrom`, `Structured` | u-step preconditioner |
//! | `rank` | `Adaptive { max: 256 }` | ≥ 1 | Nyström rank, fixed or adaptive |
//! | `max_iter` | 500 | ≥ 1 | ADMM iteration limit |
//! | `time_limit` | `None` | > 0 s | wall-clock limit |
//! | `tol_gap` | 1e-3 | > 0 | stop when the certified relative gap is below this |
//! | `tol_residual` | 1e-4 | > 0 | stop when the relative primal and dual residuals are below this (and the gap is met) |
//! | `cg_max_iter` | 50 | ≥ 1 | CG iterations per u-step |
//! | `cg_tol` | 1e-2 | (0, 1) | first relative CG tolerance of the summable forcing sequence tol_k = cg_tol / k^1.5 |
//! | `cg_tol_min` | 1e-7 (f64), 1e-5 (f32) | > 0 | floor of the forcing sequence |
//! | `polish_below` | 0.5 | ≥ 0 | gated ReLU: Newton polishing on the active groups once the certified gap is below this (0: off) |
//! | `polish_every` | 20 | ≥ 1 | gated ReLU: polish on certified iterations that are multiples of this (and where the gap first falls below `polish_below`) |
//! | `relu_endgame` | `None` | | ReLU: the augmented-Lagrangian endgame of [`crate::relu_endgame`] (exact feasible weights, a tight certificate): `None` where it is cheap (small d and n), `Some(true)` always, `Some(false)` never |
//! | `certificate_every` | 5 | ≥ 1 | ADMM iterations between certificates (one extra pass over X) |
//! | `seed` | 0 | | seed of gates and sketches |
//! | `threads` | 0 (all cores) | | row shards processed in parallel; results are bit-identical for a given seed and thread count |

use crate::error::{invalid_setting, Result};
use crate::real::Real;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which convex program to solve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// Cone-constrained program, equivalent to a ReLU network.
    Relu,
    /// Unconstrained program, equivalent to a gated-ReLU network (gates are part of the model).
    GatedRelu,
}

/// How β is given.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Beta {
    /// β as it appears in the objective.
    Value(f64),
    /// β as a fraction of β_max = max_g ‖F_gᵀ y‖ (all neurons vanish at β_max for gated ReLU), per output.
    Fraction(f64),
}

/// The u-step preconditioner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrecondKind {
    /// Plain conjugate gradients.
    None,
    /// Randomized Nyström approximation of H = FᵀF/ρ + GᵀG (Frangella, Tropp, Udell), shift μ = 1.
    Nystrom,
    /// Exact block-diagonal part I + blkdiag(XᵀX) plus a Nyström low-rank part of the whitened FᵀF/ρ, by Woodbury.
    Structured,
}

/// Rank of the Nyström approximation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rank {
    /// Exactly this rank.
    Fixed(usize),
    /// Start at 16 and double (reusing the sketch) until λ̂_r is small or `max` is reached.
    Adaptive {
        /// Largest rank tried.
        max: usize,
    },
}

/// All solver settings. See the module docs for the table of defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// ReLU or gated ReLU.
    pub activation: Activation,
    /// Data-fitting loss.
    pub loss: crate::loss::Loss,
    /// Group-lasso weight.
    pub beta: Beta,
    /// Number of activation patterns P.
    pub n_patterns: usize,
    /// Append a column of ones to X.
    pub bias: bool,
    /// Gated ReLU with a bias: gate hyperplanes through the mean of the data (balanced
    /// patterns) rather than near the origin. ReLU always uses origin-near gates.
    pub centered_gates: bool,
    /// Initial ADMM penalty (None: scale-aware default).
    pub rho: Option<f64>,
    /// Residual balancing of ρ.
    pub adaptive_rho: bool,
    /// Balancing of σ between the two constraint blocks.
    pub adaptive_sigma: bool,
    /// Dual step size γ.
    pub gamma: f64,
    /// Scale σ of the cone-constraint block σGu = s (ReLU).
    pub constraint_scale: f64,
    /// u-step preconditioner.
    pub preconditioner: PrecondKind,
    /// Nyström rank.
    pub rank: Rank,
    /// ADMM iteration limit.
    pub max_iter: usize,
    /// Wall-clock limit.
    pub time_limit: Option<Duration>,
    /// Target certified relative gap.
    pub tol_gap: f64,
    /// Target relative primal/dual residual.
    pub tol_residual: f64,
    /// CG iteration limit per u-step.
    pub cg_max_iter: usize,
    /// First CG tolerance of the forcing sequence.
    pub cg_tol: f64,
    /// Floor of the CG forcing sequence (None: 1e-7 for f64, 1e-5 for f32).
    pub cg_tol_min: Option<f64>,
    /// Gated ReLU: Newton polishing on the active groups once the certified gap is below
    /// this (0 turns it off); see [`crate::polish`]. With `relu_endgame`, the same for the
    /// ReLU endgame.
    pub polish_below: f64,
    /// Gated ReLU: polishing is tried on certified iterations that are multiples of this,
    /// and at the first certificate whose gap falls below `polish_below` (a function of the
    /// history, which the checkpoint holds, so a resumed run polishes where an uninterrupted
    /// one did).
    pub polish_every: usize,
    /// ReLU: run the augmented-Lagrangian endgame ([`crate::relu_endgame`]) where the gated
    /// program polishes (`polish_below`; at `polish_every` times 1, 2, 3, 4, 6, 8, 12, … iterations).
    /// `None` (the default): where it is cheap, i.e. where its block preconditioner fits and
    /// a pass over X is small (tabular data of hundreds of rows); `Some(true)`: always;
    /// `Some(false)`: never.
    #[serde(default)]
    pub relu_endgame: Option<bool>,
    /// Iterations between certificates.
    pub certificate_every: usize,
    /// Seed of gates and sketches.
    pub seed: u64,
    /// Worker threads (0 = all cores).
    pub threads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            activation: Activation::Relu,
            loss: crate::loss::Loss::Squared,
            beta: Beta::Fraction(1e-3),
            n_patterns: 64,
            bias: true,
            centered_gates: true,
            rho: None,
            adaptive_rho: true,
            adaptive_sigma: true,
            gamma: 1.0,
            constraint_scale: 1.0,
            preconditioner: PrecondKind::Structured,
            rank: Rank::Adaptive { max: 256 },
            max_iter: 500,
            time_limit: None,
            tol_gap: 1e-3,
            tol_residual: 1e-4,
            cg_max_iter: 50,
            cg_tol: 1e-2,
            cg_tol_min: None,
            polish_below: 0.5,
            polish_every: 20,
            relu_endgame: None,
            certificate_every: 5,
            seed: 0,
            threads: 0,
        }
    }
}

impl Settings {
    /// Checks every field; the error names the field and the value.
    pub fn validate(&self) -> Result<()> {
        match self.beta {
            Beta::Value(b) if !(b.is_finite() && b >= 0.0) => {
                return Err(invalid_setting("beta", b, "must be finite and >= 0"))
            }
            Beta::Fraction(f) if !(f.is_finite() && f > 0.0 && f <= 1.0) => {
                return Err(invalid_setting(
                    "beta",
                    f,
                    "a fraction of beta_max must lie in (0, 1]",
                ))
            }
            _ => {}
        }
        if self.n_patterns == 0 {
            return Err(invalid_setting(
                "n_patterns",
                0,
                "need at least one activation pattern",
            ));
        }
        if let Some(rho) = self.rho {
            if !(rho.is_finite() && rho > 0.0) {
                return Err(invalid_setting("rho", rho, "must be finite and > 0"));
            }
        }
        if !(self.gamma > 0.0 && self.gamma < 1.618) {
            return Err(invalid_setting(
                "gamma",
                self.gamma,
                "must lie in (0, 1.618)",
            ));
        }
        if !(self.constraint_scale.is_finite() && self.constraint_scale > 0.0) {
            return Err(invalid_setting(
                "constraint_scale",
                self.constraint_scale,
                "must be finite and > 0",
            ));
        }
        match self.rank {
            Rank::Fixed(0) => return Err(invalid_setting("rank", 0, "must be >= 1")),
            Rank::Adaptive { max: 0 } => {
                return Err(invalid_setting(
                    "rank",
                    "adaptive max 0",
                    "max must be >= 1",
                ))
            }
            _ => {}
        }
        if self.max_iter == 0 {
            return Err(invalid_setting("max_iter", 0, "must be >= 1"));
        }
        if let Some(t) = self.time_limit {
            if t.is_zero() {
                return Err(invalid_setting("time_limit", "0s", "must be > 0"));
            }
        }
        for (field, v) in [
            ("tol_gap", self.tol_gap),
            ("tol_residual", self.tol_residual),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid_setting(field, v, "must be finite and > 0"));
            }
        }
        if self.cg_max_iter == 0 {
            return Err(invalid_setting("cg_max_iter", 0, "must be >= 1"));
        }
        if !(self.cg_tol > 0.0 && self.cg_tol < 1.0) {
            return Err(invalid_setting("cg_tol", self.cg_tol, "must lie in (0, 1)"));
        }
        if let Some(t) = self.cg_tol_min {
            if !(t > 0.0 && t < 1.0) {
                return Err(invalid_setting("cg_tol_min", t, "must lie in (0, 1)"));
            }
        }
        if self.polish_every == 0 {
            return Err(invalid_setting("polish_every", 0, "must be >= 1"));
        }
        if self.certificate_every == 0 {
            return Err(invalid_setting("certificate_every", 0, "must be >= 1"));
        }
        if !(self.polish_below.is_finite() && self.polish_below >= 0.0) {
            return Err(invalid_setting(
                "polish_below",
                self.polish_below,
                "must be finite and >= 0",
            ));
        }
        Ok(())
    }

    /// The CG tolerance floor for scalar type `T`.
    pub fn cg_floor<T: Real>(&self) -> f64 {
        self.cg_tol_min
            .unwrap_or(if T::NAME == "f32" { 1e-5 } else { 1e-7 })
    }

    /// Number of worker threads actually used.
    pub fn thread_count(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            self.threads
        }
    }
}
