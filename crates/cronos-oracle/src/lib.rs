//! # cronos-oracle
//!
//! Exact reference solver for the convex reformulation of two-layer ReLU network
//! training (Pilanci & Ergen), intended **only** as a test oracle for the main
//! `cronos` solver on small instances.
//!
//! Given data `X` (`n × d`, row-major), targets `y` (`n`), sign patterns
//! `D_i = diag(m_i)` with `m_i ∈ {0,1}^n` for `i = 1..P`, and `β > 0`:
//!
//! * **ReLU** ([`Kind::Relu`]):
//!   `min ½‖Σ_i D_i X (v_i − w_i) − y‖² + β Σ_i (‖v_i‖₂ + ‖w_i‖₂)`
//!   subject to `(2D_i − I) X v_i ≥ 0` and `(2D_i − I) X w_i ≥ 0` for all `i`.
//! * **Gated ReLU** ([`Kind::GatedRelu`]):
//!   `min ½‖Σ_i D_i X u_i − y‖² + β Σ_i ‖u_i‖₂` (unconstrained, `P` groups).
//!
//! The problem is handed to [`clarabel`] (interior-point conic solver) as
//!
//! ```text
//! min  ½‖r‖² + β Σ_g t_g
//! s.t. r − F·z = −y                      (ZeroCone, n rows)
//!      (t_g, z_g) ∈ SOC(d+1)             (one per group g)
//!      (2D_i − I) X z_g ≥ 0              (Nonnegative cone, ReLU only)
//! ```
//!
//! with variables `[z (all weights, group-major), t (one per group), r (n)]`,
//! where `F = [D_1X … D_PX  −D_1X … −D_PX]` for ReLU (groups `v_1..v_P`, then
//! `w_1..w_P`) and `F = [D_1X … D_PX]` for gated ReLU.
//!
//! ## Other losses, several outputs, sample weights ([`solve_loss`])
//!
//! With `k` outputs (`y` is `n × k`, row-major), sample weights `ω_j ≥ 0` and a
//! [`Loss`], the program is
//!
//! ```text
//! min  Σ_j ω_j · loss(r_j, y_j) + β Σ_c Σ_i (‖v_i^c‖₂ + ‖w_i^c‖₂)
//! r = Σ_i D_i X (v_i − w_i)   (n × k; column c uses v_i^c, w_i^c)
//! ```
//!
//! (gated: `u_i^c`, no `w`), i.e. every output has its own `2P` (or `P`) groups
//! and the regulariser is separable over outputs; only [`Loss::Softmax`]
//! couples the outputs. The losses are
//!
//! * [`Loss::Squared`]: `½ Σ_c (r_jc − y_jc)²` (quadratic objective, as above);
//! * [`Loss::Logistic`]: `Σ_c log(1 + exp(−y_jc r_jc))`, `y ∈ {−1, +1}`;
//!   epigraph `ℓ ≥ log(1 + e^a)` ⇔ `u₁ + u₂ ≤ 1`, `(a − ℓ, 1, u₁) ∈ K_exp`,
//!   `(−ℓ, 1, u₂) ∈ K_exp` with `a = −y r`;
//! * [`Loss::Softmax`]: `logsumexp_c(r_jc) − r_{j,l_j}` with `l_j` the argmax
//!   column of row `j` of `y` (first on ties; use [`one_hot`] for labels),
//!   `k ≥ 2`; epigraph `ℓ ≥ logsumexp(r_j)` ⇔ `Σ_c u_c ≤ 1`,
//!   `(r_jc − ℓ, 1, u_c) ∈ K_exp`.
//!
//! Here `K_exp = cl{(x, y, z) : y e^{x/y} ≤ z, y > 0}` is clarabel's
//! (primal) exponential cone. Rows with `ω_j = 0` get no loss variables, but
//! they still take part in the ReLU cone constraints `(2D_i − I) X v_i ≥ 0`
//! (so for [`Kind::Relu`] a zero weight is not the same as deleting the row).
//!
//! The reported objective is always recomputed from the returned weights with
//! [`objective`] / [`objective_loss`], never taken from the solver.

mod backend;
mod eval;
mod program;
mod validate;

pub use eval::{max_violation, objective, objective_loss, one_hot, predictions};

use program::Instance;
use validate::{validate, validate_loss, Inputs};

/// Which convex program to solve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Constrained convex ReLU program (groups `v_i` and `w_i`, cone constraints).
    Relu,
    /// Unconstrained gated-ReLU relaxation (groups `u_i` only).
    GatedRelu,
}

/// Per-sample loss of [`solve_loss`] / [`objective_loss`] (see the crate docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// `½ Σ_c (r_jc − y_jc)²`.
    Squared,
    /// `Σ_c log(1 + exp(−y_jc r_jc))`, targets `y_jc ∈ {−1, +1}`.
    Logistic,
    /// `logsumexp_c(r_jc) − r_{j,l_j}`, `l_j = argmax_c y_jc`, `k ≥ 2`.
    Softmax,
}

/// Solution returned by [`solve`] and [`solve_loss`].
#[derive(Clone, Debug)]
pub struct OracleSolution {
    /// Objective recomputed from `v`, `w` with [`objective_loss`].
    pub objective: f64,
    /// `v_i` for ReLU, `u_i` for gated ReLU; `k·P` vectors of length `d`,
    /// output-major: `v[c·P + i]` is group `i` of output `c` (for `k = 1`
    /// simply `v[i]`).
    pub v: Vec<Vec<f64>>,
    /// `w_i` for ReLU (`k·P` vectors of length `d`, same layout as `v`);
    /// empty for gated ReLU.
    pub w: Vec<Vec<f64>>,
    /// Number of outputs `k` (1 for [`solve`]).
    pub k: usize,
    /// Clarabel's termination status (`"Solved"` or `"AlmostSolved"`), or
    /// `"Trivial"` when there are no masks.
    pub status: String,
}

/// Solves the convex program of `kind` to high accuracy with clarabel.
///
/// * `x`: `n × d` data matrix, row-major (`x[j*d + k]`).
/// * `y`: `n` targets.
/// * `masks`: `P` sign patterns of length `n` (`D_i = diag(masks[i])`).
/// * `beta`: regularisation strength, must be `> 0` and finite.
///
/// Tolerances: duality gap 1e-10 (absolute and relative; if clarabel does
/// not report `Solved`, the solve is repeated with 1e-9 and then 1e-8),
/// feasibility 1e-8, at most 500 iterations. `AlmostSolved` (returned only if
/// no attempt reached `Solved`) means clarabel met only its reduced
/// tolerances, set here to gap 1e-7 and feasibility 1e-6. Set the environment
/// variable `CRONOS_ORACLE_VERBOSE` to print clarabel's iteration log.
///
/// Returns `Err` on bad input or when clarabel ends with a status other than
/// `Solved` / `AlmostSolved`.
///
/// Same as [`solve_loss`] with `k = 1`, no sample weights and
/// [`Loss::Squared`].
pub fn solve(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    masks: &[Vec<bool>],
    beta: f64,
    kind: Kind,
) -> Result<OracleSolution, String> {
    validate(x, n, d, y, masks)?;
    solve_loss(x, n, d, y, 1, None, masks, beta, kind, Loss::Squared)
}

/// Solves the program of `kind` with `loss`, `k` outputs and optional sample
/// weights (see the crate docs) to high accuracy with clarabel.
///
/// * `x`: `n × d` data matrix, row-major (include any bias column).
/// * `y`: `n × k` targets, row-major (`y[j*k + c]`); `±1` for
///   [`Loss::Logistic`], one-hot (argmax taken) for [`Loss::Softmax`].
/// * `weights`: `n` sample weights `ω_j ≥ 0` (`None`: all 1).
/// * `masks`: `P` sign patterns of length `n` (`D_i = diag(masks[i])`),
///   shared by all outputs.
/// * `beta`: regularisation strength, `> 0` and finite.
///
/// Weights come back as `v[c·P + i]` (and `w[c·P + i]` for ReLU); the
/// objective is recomputed with [`objective_loss`]. Tolerances and statuses
/// as in [`solve`].
#[allow(clippy::too_many_arguments)]
pub fn solve_loss(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    k: usize,
    weights: Option<&[f64]>,
    masks: &[Vec<bool>],
    beta: f64,
    kind: Kind,
    loss: Loss,
) -> Result<OracleSolution, String> {
    let labels = validate_loss(&Inputs::new(x, n, d, y, k, weights, masks), loss)?;
    if !(beta > 0.0 && beta.is_finite()) {
        return Err(format!("beta must be positive and finite, got {beta}"));
    }
    if masks.is_empty() {
        let (v, w) = (Vec::new(), Vec::new());
        return Ok(OracleSolution {
            objective: objective_loss(x, n, d, y, k, weights, masks, beta, kind, loss, &v, &w),
            v,
            w,
            k,
            status: "Trivial".into(),
        });
    }
    let inst = Instance {
        data: Inputs::new(x, n, d, y, k, weights, masks),
        beta,
        kind,
        loss,
        labels: &labels,
    };
    let prog = program::build(&inst);
    let (xsol, status) = backend::solve_program(&prog)?;
    let (v, w) = program::unpack(&inst, &prog.layout, &xsol);
    let obj = objective_loss(x, n, d, y, k, weights, masks, beta, kind, loss, &v, &w);
    Ok(OracleSolution {
        objective: obj,
        v,
        w,
        k,
        status: status.to_string(),
    })
}
