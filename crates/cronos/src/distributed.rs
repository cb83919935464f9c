//! What a solve over several ranks adds to the single-process setup: the start-up agreement
//! check, the sums over rows that happen before the design exists, and the agreement on
//! wall-clock decisions.
//!
//! The data layout: rank r holds rows of X and y (any contiguous split; the CLI gives rank r
//! rows ⌊r·n/K⌋ .. ⌊(r+1)·n/K⌋). Everything else (settings, seed, gates, weights, duals of
//! u = z, the preconditioner) is replicated. Collectives are called in the same order on
//! every rank; the replicated state stays bit-identical because every sum is broadcast from
//! rank 0 (see [`crate::comm`]), so every data-dependent branch (CG stopping, ρ/σ balancing,
//! termination) is taken on all ranks alike. The one input that differs per rank, the clock,
//! is replaced by rank 0's ([`agree_elapsed`]).

use crate::comm::{check_agreement, fnv1a, tree_reduce, Comm, Fact};
use crate::data::{DataRef, XMat};
use crate::design::shard_rows;
use crate::error::{invalid_data, Result};
use crate::loss::LossData;
use crate::real::Real;
use crate::settings::Settings;
use faer::MatRef;
use std::time::Duration;

/// Validates this rank's inputs exactly as the solver will (so no rank can fail on its own
/// later), then checks with all ranks that every one validated and that settings (threads
/// aside), widths, output count, scalar type and weighting agree.
///
/// # Errors
/// The same error as a single process on one rank; across ranks,
/// [`crate::CronosError::Distributed`] naming each failing rank and its problem.
pub fn startup_check<T: Real>(
    x: MatRef<'_, T>,
    y: MatRef<'_, T>,
    weights: Option<&[f64]>,
    settings: &Settings,
    comm: &dyn Comm,
) -> Result<()> {
    if comm.size() == 1 {
        return Ok(());
    }
    let local = validate_local(x, y, weights, settings);
    // threads may differ per machine; everything else must not
    let key = format!(
        "{:?}",
        Settings {
            threads: 0,
            ..settings.clone()
        }
    );
    let facts = [
        Fact {
            name: "the settings hash (all options but threads)",
            value: fnv1a(key.as_bytes()),
        },
        Fact {
            name: "the number of features",
            value: x.ncols() as u64,
        },
        Fact {
            name: "the number of outputs",
            value: y.ncols() as u64,
        },
        Fact {
            name: "the scalar type (f32 = 32, f64 = 64)",
            value: 8 * std::mem::size_of::<T>() as u64,
        },
        Fact {
            name: "whether sample weights are given (1 = yes)",
            value: u64::from(weights.is_some()),
        },
    ];
    check_agreement(comm, local, &facts)
}

fn validate_local<T: Real>(
    x: MatRef<'_, T>,
    y: MatRef<'_, T>,
    weights: Option<&[f64]>,
    settings: &Settings,
) -> Result<()> {
    settings.validate()?;
    let (n, d, k) = (x.nrows(), x.ncols(), y.ncols());
    if n == 0 || d == 0 {
        return Err(invalid_data(
            "x",
            format!("empty data on this rank: {n} rows × {d} columns"),
        ));
    }
    if y.nrows() != n {
        return Err(invalid_data(
            "y",
            format!("{} rows but x has {n}", y.nrows()),
        ));
    }
    if k == 0 {
        return Err(invalid_data("y", "no output column"));
    }
    for (m, what) in [(x, "x"), (y, "y")] {
        for j in 0..m.ncols() {
            for i in 0..m.nrows() {
                if !m[(i, j)].to_f64().is_finite() {
                    return Err(invalid_data(
                        what,
                        format!("non-finite value at local row {i}, column {j}"),
                    ));
                }
            }
        }
    }
    LossData::new(settings.loss, y, weights).map(|_| ())
}

/// Sums `per_shard(rows)` (vectors of one length) over the shards of
/// [`shard_rows`]`(n, threads)` in the shared tree order, then over ranks: the one reduction
/// order of the sums over rows taken before the design exists, so K one-thread ranks give the
/// bits of one K-thread process.
fn sum_over_shards(n: usize, threads: usize, comm: &dyn Comm, per_shard: impl Fn(std::ops::Range<usize>) -> Vec<f64>) -> Vec<f64> {
    let parts: Vec<Vec<f64>> = shard_rows(n, threads).into_iter().map(per_shard).collect();
    let mut s = tree_reduce(parts, |mut a, b| {
        a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
        a
    });
    comm.sum_f64(&mut s);
    s
}

/// Column means from weighted column sums followed by the weight total (total 0: the sums).
fn means_from_sums(mut s: Vec<f64>) -> Vec<f64> {
    let d = s.len() - 1;
    let total = if s[d] > 0.0 { s[d] } else { 1.0 };
    s.truncate(d);
    s.iter_mut().for_each(|v| *v /= total);
    s
}

/// ‖[X, 1]‖²_F over all ranks (the bias column counts one per row when `bias`): per shard of
/// [`shard_rows`]`(n, threads)`, column by column, then in the shared tree order, then over
/// ranks, so K one-thread ranks give the bits of one K-thread process.
pub fn frobenius_sq<T: Real>(x: MatRef<'_, T>, bias: bool, threads: usize, comm: &dyn Comm) -> f64 {
    sum_over_shards(x.nrows(), threads, comm, |rows| {
        let mut ss = 0.0;
        for j in 0..x.ncols() {
            for i in rows.clone() {
                let v = x[(i, j)].to_f64();
                ss += v * v;
            }
        }
        vec![ss + if bias { rows.len() as f64 } else { 0.0 }]
    })[0]
}

/// Column means of `x` over all rows of all ranks, weighted by `weights` (this rank's rows)
/// when given, so that a weight of m equals m copies of the row; in the reduction order of
/// [`frobenius_sq`] (bitwise independent of how rows are split).
pub fn column_means<T: Real>(x: MatRef<'_, T>, weights: Option<&[f64]>, threads: usize, comm: &dyn Comm) -> Vec<f64> {
    let d = x.ncols();
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    means_from_sums(sum_over_shards(x.nrows(), threads, comm, |rows| {
        let mut s = vec![0.0; d + 1];
        for (j, sj) in s.iter_mut().enumerate().take(d) {
            for i in rows.clone() {
                *sj += w(i) * x[(i, j)].to_f64();
            }
        }
        s[d] = rows.map(w).sum();
        s
    }))
}

/// [`frobenius_sq`] of dense or sparse data. Sparse data are summed in the dense order (per
/// shard, column by column, rows in order; skipped zeros add nothing), so a matrix gives the
/// same bits, and so the same solve, whether it comes dense or sparse.
pub fn frobenius_sq_data<T: Real>(x: DataRef<'_, T>, bias: bool, threads: usize, comm: &dyn Comm) -> f64 {
    let s = match x {
        DataRef::Dense(m) => return frobenius_sq(m, bias, threads, comm),
        DataRef::Sparse(s) => s,
    };
    let cols = s.transpose();
    sum_over_shards(s.nrows(), threads, comm, |rows| {
        let mut ss = 0.0;
        for j in 0..cols.nrows() {
            for (i, v) in cols.row(j) {
                if rows.contains(&i) {
                    let v = v.to_f64();
                    ss += v * v;
                }
            }
        }
        vec![ss + if bias { rows.len() as f64 } else { 0.0 }]
    })[0]
}

/// [`column_means`] of the solver's X in either storage.
pub fn column_means_x<T: Real>(x: &XMat<T>, weights: Option<&[f64]>, threads: usize, comm: &dyn Comm) -> Vec<f64> {
    let s = match x {
        XMat::Dense(m) => return column_means(m.as_ref(), weights, threads, comm),
        XMat::Sparse { x, .. } => x,
    };
    let d = s.ncols();
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    means_from_sums(sum_over_shards(s.nrows(), threads, comm, |rows| {
        let mut acc = vec![0.0; d + 1];
        for i in rows.clone() {
            for (j, v) in s.row(i) {
                acc[j] += w(i) * v.to_f64();
            }
        }
        acc[d] = rows.map(w).sum();
        acc
    }))
}

/// Rank 0's `elapsed` on every rank (a time limit must end all ranks at the same iteration).
pub fn agree_elapsed(comm: &dyn Comm, elapsed: Duration) -> Duration {
    if comm.size() == 1 {
        return elapsed;
    }
    let mut ns = [elapsed.as_nanos().min(u128::from(u64::MAX)) as u64];
    comm.broadcast_u64(&mut ns);
    Duration::from_nanos(ns[0])
}

/// A scalar row sum summed over ranks.
pub fn sum_scalar(comm: &dyn Comm, v: f64) -> f64 {
    let mut a = [v];
    comm.sum_f64(&mut a);
    a[0]
}

/// A per-rank minimum (e.g. a domain bound over rows) taken over all ranks.
pub fn min_scalar(comm: &dyn Comm, v: f64) -> f64 {
    if comm.size() == 1 {
        return v;
    }
    crate::comm::all_gather_f64(comm, &[v])
        .iter()
        .map(|a| a[0])
        .fold(f64::INFINITY, f64::min)
}
