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

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};

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

/// Checks the shapes of the inputs (single output).
fn validate(x: &[f64], n: usize, d: usize, y: &[f64], masks: &[Vec<bool>]) -> Result<(), String> {
    validate_loss(x, n, d, y, 1, None, masks, Loss::Squared).map(|_| ())
}

/// Checks the shapes and values of the inputs; returns the softmax labels
/// (argmax column of each row of `y`; empty for the other losses).
#[allow(clippy::too_many_arguments)]
fn validate_loss(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    k: usize,
    weights: Option<&[f64]>,
    masks: &[Vec<bool>],
    loss: Loss,
) -> Result<Vec<usize>, String> {
    if d == 0 {
        return Err("d must be positive".into());
    }
    if k == 0 {
        return Err("k must be positive".into());
    }
    if x.len() != n * d {
        return Err(format!("x has length {} but n*d = {}", x.len(), n * d));
    }
    if y.len() != n * k {
        return Err(format!("y has length {} but n*k = {}", y.len(), n * k));
    }
    if let Some((i, m)) = masks.iter().enumerate().find(|(_, m)| m.len() != n) {
        return Err(format!("mask {} has length {} but n = {}", i, m.len(), n));
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err("x or y contains non-finite values".into());
    }
    if let Some(wt) = weights {
        if wt.len() != n {
            return Err(format!("weights have length {} but n = {}", wt.len(), n));
        }
        if wt.iter().any(|&v| !(v >= 0.0 && v.is_finite())) {
            return Err("weights must be finite and nonnegative".into());
        }
    }
    match loss {
        Loss::Squared => Ok(Vec::new()),
        Loss::Logistic => {
            if y.iter().any(|&t| t != 1.0 && t != -1.0) {
                return Err("logistic loss needs targets in {-1, +1}".into());
            }
            Ok(Vec::new())
        }
        Loss::Softmax => {
            if k < 2 {
                return Err("softmax loss needs k >= 2 outputs".into());
            }
            Ok((0..n)
                .map(|j| {
                    let row = &y[j * k..(j + 1) * k];
                    let mut best = 0;
                    for c in 1..k {
                        if row[c] > row[best] {
                            best = c;
                        }
                    }
                    best
                })
                .collect())
        }
    }
}

/// One-hot `n × k` row-major targets for [`Loss::Softmax`] from class labels.
///
/// # Panics
/// If a label is `≥ k`.
pub fn one_hot(labels: &[usize], k: usize) -> Vec<f64> {
    let mut y = vec![0.0; labels.len() * k];
    for (j, &l) in labels.iter().enumerate() {
        assert!(l < k, "one_hot: label {l} >= k = {k}");
        y[j * k + l] = 1.0;
    }
    y
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `log(1 + e^a)`, stable.
fn softplus(a: f64) -> f64 {
    a.max(0.0) + (-a.abs()).exp().ln_1p()
}

/// `log Σ e^{r_c}`, stable.
fn logsumexp(r: &[f64]) -> f64 {
    let m = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + r.iter().map(|&t| (t - m).exp()).sum::<f64>().ln()
}

/// Predictions `r = Σ_i D_i X (v_i^c − w_i^c)` (`n × k`, row-major) for
/// weights in the [`OracleSolution`] layout (`w` ignored for gated ReLU).
///
/// # Panics
/// If the shapes are inconsistent.
#[allow(clippy::too_many_arguments)]
pub fn predictions(
    x: &[f64],
    n: usize,
    d: usize,
    k: usize,
    masks: &[Vec<bool>],
    kind: Kind,
    v: &[Vec<f64>],
    w: &[Vec<f64>],
) -> Vec<f64> {
    let p = masks.len();
    assert_eq!(x.len(), n * d, "predictions: x must be n*d");
    assert!(
        masks.iter().all(|m| m.len() == n),
        "predictions: masks must have length n"
    );
    let w: &[Vec<f64>] = match kind {
        Kind::Relu => w,
        Kind::GatedRelu => &[],
    };
    assert_eq!(v.len(), k * p, "predictions: v must have k*P entries");
    if kind == Kind::Relu {
        assert_eq!(w.len(), k * p, "predictions: w must have k*P entries");
    }
    assert!(
        v.iter().chain(w).all(|g| g.len() == d),
        "predictions: weights must have length d"
    );
    let mut r = vec![0.0; n * k];
    for j in 0..n {
        let row = &x[j * d..(j + 1) * d];
        for c in 0..k {
            let mut acc = 0.0;
            for (i, m) in masks.iter().enumerate() {
                if !m[j] {
                    continue;
                }
                acc += dot(row, &v[c * p + i]);
                if let Some(wi) = w.get(c * p + i) {
                    acc -= dot(row, wi);
                }
            }
            r[j * k + c] = acc;
        }
    }
    r
}

/// Evaluates the objective of `kind` at the given weights (no constraint check).
///
/// `v` holds `P` vectors of length `d` (`u_i` for gated ReLU); `w` holds `P`
/// vectors for ReLU and is ignored for gated ReLU.
///
/// # Panics
/// If the shapes are inconsistent.
#[allow(clippy::too_many_arguments)]
pub fn objective(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    masks: &[Vec<bool>],
    beta: f64,
    kind: Kind,
    v: &[Vec<f64>],
    w: &[Vec<f64>],
) -> f64 {
    validate(x, n, d, y, masks).expect("objective: bad input shapes");
    objective_loss(x, n, d, y, 1, None, masks, beta, kind, Loss::Squared, v, w)
}

/// Evaluates the objective of [`solve_loss`] at the given weights (no
/// constraint check): `Σ_j ω_j loss(r_j, y_j) + β Σ ‖group‖₂`, with `r` from
/// [`predictions`]; `weights = None` means `ω_j = 1`. Weights in the
/// [`OracleSolution`] layout (`k·P` vectors; `w` ignored for gated ReLU).
///
/// # Panics
/// If the inputs are invalid (as [`solve_loss`] would reject them) or the
/// shapes of `v`, `w` are inconsistent.
#[allow(clippy::too_many_arguments)]
pub fn objective_loss(
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
    v: &[Vec<f64>],
    w: &[Vec<f64>],
) -> f64 {
    let labels =
        validate_loss(x, n, d, y, k, weights, masks, loss).expect("objective_loss: bad input");
    let r = predictions(x, n, d, k, masks, kind, v, w);
    let w: &[Vec<f64>] = match kind {
        Kind::Relu => w,
        Kind::GatedRelu => &[],
    };
    let mut data = 0.0;
    for j in 0..n {
        let om = weights.map_or(1.0, |wt| wt[j]);
        if om == 0.0 {
            continue;
        }
        let rj = &r[j * k..(j + 1) * k];
        let yj = &y[j * k..(j + 1) * k];
        let lj = match loss {
            Loss::Squared => {
                0.5 * rj
                    .iter()
                    .zip(yj)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            }
            Loss::Logistic => rj.iter().zip(yj).map(|(a, b)| softplus(-a * b)).sum(),
            Loss::Softmax => logsumexp(rj) - rj[labels[j]],
        };
        data += om * lj;
    }
    let reg: f64 = v.iter().chain(w).map(|g| norm(g)).sum();
    data + beta * reg
}

/// Maximum constraint violation `max(0, −min_{i,j} ((2D_i − I) X z_i)_j)` over
/// all groups `z ∈ {v_i, w_i}` for [`Kind::Relu`]; always `0` for
/// [`Kind::GatedRelu`].
///
/// Accepts the single-output layout (`P` groups each) as well as the
/// [`solve_loss`] layout with `k·P` groups (`v[c·P + i]` is checked against
/// mask `i`).
///
/// # Panics
/// If the shapes are inconsistent.
#[allow(clippy::too_many_arguments)]
pub fn max_violation(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    masks: &[Vec<bool>],
    _beta: f64,
    kind: Kind,
    v: &[Vec<f64>],
    w: &[Vec<f64>],
) -> f64 {
    // `y` may be `n` (single output) or `n × k`; only its shape is checked
    let k = y.len().checked_div(n).unwrap_or(1).max(1);
    validate_loss(x, n, d, y, k, None, masks, Loss::Squared)
        .expect("max_violation: bad input shapes");
    if kind == Kind::GatedRelu {
        return 0.0;
    }
    let p = masks.len();
    assert!(
        p == 0 || (v.len() % p == 0 && v.len() >= p),
        "max_violation: v must have a multiple of P entries"
    );
    assert_eq!(
        w.len(),
        v.len(),
        "max_violation: w must have as many entries as v"
    );
    if p == 0 {
        return 0.0;
    }
    let mut worst = 0.0f64;
    for (gi, (vi, wi)) in v.iter().zip(w).enumerate() {
        let m = &masks[gi % p];
        for z in [vi, wi] {
            assert_eq!(z.len(), d, "max_violation: weights must have length d");
            for (j, &mj) in m.iter().enumerate() {
                let xz = dot(&x[j * d..(j + 1) * d], z);
                let s = if mj { xz } else { -xz };
                worst = worst.max(-s);
            }
        }
    }
    worst
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
    let labels = validate_loss(x, n, d, y, k, weights, masks, loss)?;
    if !(beta > 0.0 && beta.is_finite()) {
        return Err(format!("beta must be positive and finite, got {beta}"));
    }
    let om = |j: usize| weights.map_or(1.0, |wt| wt[j]);
    let p = masks.len();
    let zeros = || vec![vec![0.0; d]; k * p];
    let w_empty_or_zero = || {
        if kind == Kind::Relu {
            zeros()
        } else {
            Vec::new()
        }
    };
    if p == 0 {
        let (v, w) = (Vec::new(), Vec::new());
        return Ok(OracleSolution {
            objective: objective_loss(x, n, d, y, k, weights, masks, beta, kind, loss, &v, &w),
            v,
            w,
            k,
            status: "Trivial".into(),
        });
    }

    // groups of one output and their (mask index, sign in F)
    let groups: Vec<(usize, f64)> = match kind {
        Kind::Relu => (0..p)
            .map(|i| (i, 1.0))
            .chain((0..p).map(|i| (i, -1.0)))
            .collect(),
        Kind::GatedRelu => (0..p).map(|i| (i, 1.0)).collect(),
    };
    let ng1 = groups.len();
    let ng = k * ng1; // all groups, output-major: gg = c*ng1 + g
    let nz = ng * d; // weight variables
    let col_t = nz; // t_gg at col_t + gg
    let col_r = nz + ng; // r_jc at col_r + j*k + c
    let col_e = col_r + n * k; // epigraph variables of the exp-cone losses
    let active: Vec<usize> = (0..n).filter(|&j| om(j) > 0.0).collect();
    let ne = match loss {
        Loss::Squared => 0,
        Loss::Logistic => 3 * k * active.len(), // (ℓ, u1, u2) per (j, c)
        Loss::Softmax => (1 + k) * active.len(), // (ℓ, u_1..u_k) per j
    };
    let nvar = col_e + ne;

    // ---- objective: Σ_j ω_j loss_j + β Σ t_g
    let mut q = vec![0.0; nvar];
    q[col_t..col_r].iter_mut().for_each(|c| *c = beta);
    let p_mat = if loss == Loss::Squared {
        let mut idx = Vec::new();
        let mut val = Vec::new();
        for j in 0..n {
            if om(j) > 0.0 {
                for c in 0..k {
                    idx.push(col_r + j * k + c);
                    val.push(om(j));
                }
            }
        }
        CscMatrix::new_from_triplets(nvar, nvar, idx.clone(), idx, val)
    } else {
        CscMatrix::new_from_triplets(nvar, nvar, Vec::new(), Vec::new(), Vec::new())
    };

    // ---- constraints  A z + s = b, s ∈ K
    let mut ri = Vec::new();
    let mut ci = Vec::new();
    let mut vals = Vec::new();
    let mut b = Vec::new();
    let mut push = |r: usize, c: usize, v: f64| {
        if v != 0.0 {
            ri.push(r);
            ci.push(c);
            vals.push(v);
        }
    };
    let mut row = 0usize;
    // zero cone: r − F z = −y (squared: r is the residual) or 0 (r = prediction)
    for j in 0..n {
        for c in 0..k {
            push(row, col_r + j * k + c, 1.0);
            for (g, &(i, sgn)) in groups.iter().enumerate() {
                if masks[i][j] {
                    let gg = c * ng1 + g;
                    for l in 0..d {
                        push(row, gg * d + l, -sgn * x[j * d + l]);
                    }
                }
            }
            b.push(if loss == Loss::Squared {
                -y[j * k + c]
            } else {
                0.0
            });
            row += 1;
        }
    }
    // second-order cones: s = (t_g, z_g)
    for gg in 0..ng {
        push(row, col_t + gg, -1.0);
        b.push(0.0);
        row += 1;
        for l in 0..d {
            push(row, gg * d + l, -1.0);
            b.push(0.0);
            row += 1;
        }
    }
    // nonnegative cone: s = (2D_i − I) X z_g ≥ 0
    if kind == Kind::Relu {
        for gg in 0..ng {
            let (i, _) = groups[gg % ng1];
            for j in 0..n {
                let s = if masks[i][j] { 1.0 } else { -1.0 };
                for l in 0..d {
                    push(row, gg * d + l, -s * x[j * d + l]);
                }
                b.push(0.0);
                row += 1;
            }
        }
    }
    let mut cones: Vec<SupportedConeT<f64>> = vec![SupportedConeT::ZeroConeT(n * k)];
    cones.extend((0..ng).map(|_| SupportedConeT::SecondOrderConeT(d + 1)));
    if kind == Kind::Relu {
        cones.push(SupportedConeT::NonnegativeConeT(ng * n));
    }

    // exp-cone losses; each block: [ℓ, u_1, …, u_m] at col_e + e·(m+1)
    if loss != Loss::Squared {
        // one block per (j, c) (logistic, m = 2) or per j (softmax, m = k)
        let m = if loss == Loss::Logistic { 2 } else { k };
        let mut blocks = Vec::new(); // (row j, output c or usize::MAX)
        for &j in &active {
            if loss == Loss::Logistic {
                blocks.extend((0..k).map(|c| (j, c)));
            } else {
                blocks.push((j, usize::MAX));
            }
        }
        let base = |e: usize| col_e + e * (m + 1);
        // Σ u ≤ 1:  s = 1 − Σ u ≥ 0
        for e in 0..blocks.len() {
            for t in 1..=m {
                push(row, base(e) + t, 1.0);
            }
            b.push(1.0);
            row += 1;
        }
        cones.push(SupportedConeT::NonnegativeConeT(blocks.len()));
        for (e, &(j, c)) in blocks.iter().enumerate() {
            let ell = base(e);
            q[ell] += om(j);
            for t in 1..=m {
                // first component: a_t − ℓ
                match loss {
                    Loss::Logistic if t == 1 => {
                        // a = −y r:  s = −y r − ℓ
                        push(row, col_r + j * k + c, y[j * k + c]);
                    }
                    Loss::Logistic => {} // a = 0: s = −ℓ
                    _ => {
                        // a = r_j,t−1: s = r − ℓ
                        push(row, col_r + j * k + (t - 1), -1.0);
                    }
                }
                push(row, ell, 1.0);
                b.push(0.0);
                // second component: 1
                b.push(1.0);
                // third component: u_t
                push(row + 2, ell + t, -1.0);
                b.push(0.0);
                row += 3;
                cones.push(SupportedConeT::ExponentialConeT());
            }
            if loss == Loss::Softmax {
                q[col_r + j * k + labels[j]] -= om(j);
            }
        }
    }
    let nrows = row;
    debug_assert_eq!(b.len(), nrows);
    let a_mat = CscMatrix::new_from_triplets(nrows, nvar, ri, ci, vals);

    // Clarabel's primal residual on the equality block tends to stall (and
    // then grow) around 1e-10..1e-9, so a very tight gap tolerance sometimes
    // ends in InsufficientProgress. Try the tightest gap first and relax.
    let mut fallback: Option<(Vec<f64>, SolverStatus)> = None;
    let mut last = SolverStatus::Unsolved;
    for gap_tol in GAP_TOLS {
        let (xsol, status) = run_clarabel(&p_mat, &q, &a_mat, &b, &cones, gap_tol)?;
        match status {
            SolverStatus::Solved => {
                fallback = Some((xsol, status));
                break;
            }
            SolverStatus::AlmostSolved if fallback.is_none() => fallback = Some((xsol, status)),
            _ => {}
        }
        last = status;
    }
    let Some((xsol, status)) = fallback else {
        return Err(format!("clarabel terminated with status {last}"));
    };

    let mut v = zeros();
    let mut w = w_empty_or_zero();
    for c in 0..k {
        for (g, &(i, sgn)) in groups.iter().enumerate() {
            let gg = c * ng1 + g;
            let dst = if sgn > 0.0 {
                &mut v[c * p + i]
            } else {
                &mut w[c * p + i]
            };
            dst.copy_from_slice(&xsol[gg * d..(gg + 1) * d]);
        }
    }
    let obj = objective_loss(x, n, d, y, k, weights, masks, beta, kind, loss, &v, &w);
    Ok(OracleSolution {
        objective: obj,
        v,
        w,
        k,
        status: status.to_string(),
    })
}

/// Duality-gap tolerances (absolute and relative) tried in order until
/// clarabel reports `Solved`.
const GAP_TOLS: [f64; 3] = [1e-10, 1e-9, 1e-8];

/// One clarabel solve; returns the primal solution and the status.
fn run_clarabel(
    p_mat: &CscMatrix<f64>,
    q: &[f64],
    a_mat: &CscMatrix<f64>,
    b: &[f64],
    cones: &[SupportedConeT<f64>],
    gap_tol: f64,
) -> Result<(Vec<f64>, SolverStatus), String> {
    let settings = DefaultSettingsBuilder::default()
        .verbose(std::env::var_os("CRONOS_ORACLE_VERBOSE").is_some())
        .max_iter(500)
        .tol_gap_abs(gap_tol)
        .tol_gap_rel(gap_tol)
        // the reported objective is recomputed from the weights, so the
        // feasibility tolerance only affects the auxiliary residual `r`
        .tol_feas(1e-8)
        .tol_ktratio(1e-8)
        // Reduced accuracy ("AlmostSolved"), much tighter than clarabel's
        // defaults (5e-5 / 1e-4) so that AlmostSolved is still a usable oracle.
        .reduced_tol_gap_abs(1e-7)
        .reduced_tol_gap_rel(1e-7)
        .reduced_tol_feas(1e-6)
        .reduced_tol_ktratio(1e-6)
        .build()
        .map_err(|e| format!("clarabel settings: {e}"))?;
    let mut solver = DefaultSolver::new(p_mat, q, a_mat, b, cones, settings)
        .map_err(|e| format!("clarabel setup: {e}"))?;
    solver.solve();
    Ok((solver.solution.x.clone(), solver.solution.status))
}
