//! The clarabel call: settings, and the retry over gap tolerances.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};

use crate::program::Program;

/// Duality-gap tolerances (absolute and relative) tried in order until
/// clarabel reports `Solved`.
const GAP_TOLS: [f64; 3] = [1e-10, 1e-9, 1e-8];

/// Solves `prog`; returns the primal solution and the status of the first
/// `Solved` attempt, else of the first `AlmostSolved` one.
///
/// Clarabel's primal residual on the equality block tends to stall (and
/// then grow) around 1e-10..1e-9, so a very tight gap tolerance sometimes
/// ends in InsufficientProgress. Try the tightest gap first and relax.
pub(crate) fn solve_program(prog: &Program) -> Result<(Vec<f64>, SolverStatus), String> {
    let mut fallback: Option<(Vec<f64>, SolverStatus)> = None;
    let mut last = SolverStatus::Unsolved;
    for gap_tol in GAP_TOLS {
        let (xsol, status) = run_clarabel(
            &prog.p_mat,
            &prog.q,
            &prog.a_mat,
            &prog.b,
            &prog.cones,
            gap_tol,
        )?;
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
    fallback.ok_or_else(|| format!("clarabel terminated with status {last}"))
}

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
