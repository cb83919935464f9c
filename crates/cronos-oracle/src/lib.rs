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
//! The reported objective is always recomputed from the returned weights with
//! [`objective`], never taken from the solver.

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

/// Solution returned by [`solve`].
#[derive(Clone, Debug)]
pub struct OracleSolution {
    /// Objective recomputed from `v`, `w` with [`objective`].
    pub objective: f64,
    /// `v_i` for ReLU, `u_i` for gated ReLU; `P` vectors of length `d`.
    pub v: Vec<Vec<f64>>,
    /// `w_i` for ReLU (`P` vectors of length `d`); empty for gated ReLU.
    pub w: Vec<Vec<f64>>,
    /// Clarabel's termination status (`"Solved"` or `"AlmostSolved"`), or
    /// `"Trivial"` when there are no masks.
    pub status: String,
}

/// Checks the shapes of the inputs.
fn validate(x: &[f64], n: usize, d: usize, y: &[f64], masks: &[Vec<bool>]) -> Result<(), String> {
    if d == 0 {
        return Err("d must be positive".into());
    }
    if x.len() != n * d {
        return Err(format!("x has length {} but n*d = {}", x.len(), n * d));
    }
    if y.len() != n {
        return Err(format!("y has length {} but n = {}", y.len(), n));
    }
    if let Some((i, m)) = masks.iter().enumerate().find(|(_, m)| m.len() != n) {
        return Err(format!("mask {} has length {} but n = {}", i, m.len(), n));
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err("x or y contains non-finite values".into());
    }
    Ok(())
}

/// Residual `Σ_i D_i X (v_i − w_i) − y` (gated: `Σ_i D_i X v_i − y`).
fn residual(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    masks: &[Vec<bool>],
    v: &[Vec<f64>],
    w: &[Vec<f64>],
) -> Vec<f64> {
    let mut r: Vec<f64> = y.iter().map(|&t| -t).collect();
    for j in 0..n {
        let row = &x[j * d..(j + 1) * d];
        for (i, m) in masks.iter().enumerate() {
            if !m[j] {
                continue;
            }
            let mut acc = dot(row, &v[i]);
            if let Some(wi) = w.get(i) {
                acc -= dot(row, wi);
            }
            r[j] += acc;
        }
    }
    r
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
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
    let w: &[Vec<f64>] = match kind {
        Kind::Relu => w,
        Kind::GatedRelu => &[],
    };
    assert_eq!(v.len(), masks.len(), "objective: v must have P entries");
    if kind == Kind::Relu {
        assert_eq!(w.len(), masks.len(), "objective: w must have P entries");
    }
    assert!(
        v.iter().chain(w).all(|g| g.len() == d),
        "objective: weights must have length d"
    );
    let r = residual(x, n, d, y, masks, v, w);
    let reg: f64 = v.iter().chain(w).map(|g| norm(g)).sum();
    0.5 * dot(&r, &r) + beta * reg
}

/// Maximum constraint violation `max(0, −min_{i,j} ((2D_i − I) X z_i)_j)` over
/// all groups `z ∈ {v_i, w_i}` for [`Kind::Relu`]; always `0` for
/// [`Kind::GatedRelu`].
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
    validate(x, n, d, y, masks).expect("max_violation: bad input shapes");
    if kind == Kind::GatedRelu {
        return 0.0;
    }
    assert_eq!(v.len(), masks.len(), "max_violation: v must have P entries");
    assert_eq!(w.len(), masks.len(), "max_violation: w must have P entries");
    let mut worst = 0.0f64;
    for (i, m) in masks.iter().enumerate() {
        for z in [&v[i], &w[i]] {
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
    if !(beta > 0.0 && beta.is_finite()) {
        return Err(format!("beta must be positive and finite, got {beta}"));
    }
    let p = masks.len();
    let zeros = || vec![vec![0.0; d]; p];
    let w_empty_or_zero = || {
        if kind == Kind::Relu {
            zeros()
        } else {
            Vec::new()
        }
    };
    if p == 0 {
        return Ok(OracleSolution {
            objective: 0.5 * dot(y, y),
            v: Vec::new(),
            w: Vec::new(),
            status: "Trivial".into(),
        });
    }

    // number of groups and their (mask index, sign in F)
    let groups: Vec<(usize, f64)> = match kind {
        Kind::Relu => (0..p)
            .map(|i| (i, 1.0))
            .chain((0..p).map(|i| (i, -1.0)))
            .collect(),
        Kind::GatedRelu => (0..p).map(|i| (i, 1.0)).collect(),
    };
    let ng = groups.len();
    let nz = ng * d; // weight variables
    let col_t = nz; // t_g at col_t + g
    let col_r = nz + ng; // r_j at col_r + j
    let nvar = nz + ng + n;

    // ---- objective: ½‖r‖² + β Σ t_g
    let p_mat = CscMatrix::new_from_triplets(
        nvar,
        nvar,
        (col_r..nvar).collect(),
        (col_r..nvar).collect(),
        vec![1.0; n],
    );
    let mut q = vec![0.0; nvar];
    q[col_t..col_r].iter_mut().for_each(|c| *c = beta);

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
    // zero cone: r − F z = −y
    for j in 0..n {
        push(row, col_r + j, 1.0);
        for (g, &(i, sgn)) in groups.iter().enumerate() {
            if masks[i][j] {
                for k in 0..d {
                    push(row, g * d + k, -sgn * x[j * d + k]);
                }
            }
        }
        b.push(-y[j]);
        row += 1;
    }
    // second-order cones: s = (t_g, z_g)
    for g in 0..ng {
        push(row, col_t + g, -1.0);
        b.push(0.0);
        row += 1;
        for k in 0..d {
            push(row, g * d + k, -1.0);
            b.push(0.0);
            row += 1;
        }
    }
    // nonnegative cone: s = (2D_i − I) X z_g ≥ 0
    if kind == Kind::Relu {
        for (g, &(i, _)) in groups.iter().enumerate() {
            for j in 0..n {
                let s = if masks[i][j] { 1.0 } else { -1.0 };
                for k in 0..d {
                    push(row, g * d + k, -s * x[j * d + k]);
                }
                b.push(0.0);
                row += 1;
            }
        }
    }
    let nrows = row;
    let a_mat = CscMatrix::new_from_triplets(nrows, nvar, ri, ci, vals);

    let mut cones: Vec<SupportedConeT<f64>> = vec![SupportedConeT::ZeroConeT(n)];
    cones.extend((0..ng).map(|_| SupportedConeT::SecondOrderConeT(d + 1)));
    if kind == Kind::Relu {
        cones.push(SupportedConeT::NonnegativeConeT(ng * n));
    }

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
    for (g, &(i, sgn)) in groups.iter().enumerate() {
        let dst = if sgn > 0.0 { &mut v[i] } else { &mut w[i] };
        dst.copy_from_slice(&xsol[g * d..(g + 1) * d]);
    }
    let obj = objective(x, n, d, y, masks, beta, kind, &v, &w);
    Ok(OracleSolution {
        objective: obj,
        v,
        w,
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
