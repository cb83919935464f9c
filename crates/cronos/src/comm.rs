//! The communication seam between the solver and the processes that hold the rows.
//!
//! Rows of X and y may live on several processes (MPI ranks). Everything over rows is a sum
//! of per-rank partial sums, combined with [`Comm::sum_f64`] / [`Comm::sum_f32`] exactly where
//! the per-shard products are reduced; everything on the d × P-sized weights is replicated and
//! computed identically on every rank. [`LocalComm`] (one process, a no-op) is the default; the
//! `mpi` cargo feature adds [`crate::comm_mpi::MpiComm`].
//!
//! **Reduction order.** Sums over shards and over ranks follow one fixed binary tree (pairs at
//! stride 1, 2, 4, … in index order; see [`tree_reduce`]), and the result is broadcast from
//! rank 0, so (1) every rank holds bit-identical replicated state (the MPI standard does not
//! promise that for `MPI_Allreduce`, and diverging replicas would call different collectives
//! and hang), and (2) K ranks with one thread each compute the same sums, bit for bit, as a
//! single process with K threads on the same rows (with t threads per rank, t a power of
//! two: K·t threads); the replicated dense algebra (faer's eigen, QR, SVD) may still round
//! differently under another thread count, so whole solves agree to ~1e-14 in f64.

use crate::error::{CronosError, Result};
use crate::real::Real;
use std::any::TypeId;
use std::sync::Arc;

/// Collective operations over the processes that share one solve. Every method is
/// collective: all ranks must call it, in the same order, with buffers of the same length.
pub trait Comm: Send + Sync {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// Number of processes.
    fn size(&self) -> usize;
    /// Element-wise sum over ranks in the fixed tree order, result on every rank.
    fn sum_f64(&self, buf: &mut [f64]);
    /// As [`Comm::sum_f64`] for `f32` buffers.
    fn sum_f32(&self, buf: &mut [f32]);
    /// Overwrites `buf` on every rank with rank 0's values.
    fn broadcast_u64(&self, buf: &mut [u64]);
    /// Ends every process of the job with exit code `code` (for errors that only one rank
    /// sees once the ranks are inside collectives: returning would leave the others waiting).
    fn abort(&self, code: i32) -> !;
    /// Bytes this rank has passed to sums so far (payload only; for benchmarks).
    fn bytes_reduced(&self) -> u64 {
        0
    }
}

/// The single-process communicator: sums and broadcasts are the identity.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalComm;

impl Comm for LocalComm {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f64(&self, _buf: &mut [f64]) {}
    fn sum_f32(&self, _buf: &mut [f32]) {}
    fn broadcast_u64(&self, _buf: &mut [u64]) {}
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// The default communicator, shared.
pub fn local() -> Arc<dyn Comm> {
    Arc::new(LocalComm)
}

/// Sums a slice of the solver's scalar type over ranks (no-op on one rank).
pub fn sum_real<T: Real>(comm: &dyn Comm, buf: &mut [T]) {
    if comm.size() == 1 {
        return;
    }
    // `Real` is implemented for f32 and f64 only; the casts below are between identical types.
    if TypeId::of::<T>() == TypeId::of::<f64>() {
        // SAFETY: T is f64.
        comm.sum_f64(unsafe { &mut *(buf as *mut [T] as *mut [f64]) });
    } else if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: T is f32.
        comm.sum_f32(unsafe { &mut *(buf as *mut [T] as *mut [f32]) });
    } else {
        unreachable!("Real is implemented for f32 and f64 only")
    }
}

/// Reduces `leaves` with `add` in the fixed binary-tree order shared by shards and ranks:
/// leaf i is combined with leaf i + 1 for even i, then blocks of 2 at stride 2, and so on
/// (for 3 leaves: (a₀ + a₁) + a₂). Panics on an empty list.
pub fn tree_reduce<V>(leaves: Vec<V>, add: impl Fn(V, V) -> V) -> V {
    let mut level: Vec<Option<V>> = leaves.into_iter().map(Some).collect();
    assert!(!level.is_empty(), "tree_reduce of nothing");
    let mut stride = 1;
    while stride < level.len() {
        let mut i = 0;
        while i + stride < level.len() {
            let (a, b) = (level[i].take().unwrap(), level[i + stride].take().unwrap());
            level[i] = Some(add(a, b));
            i += 2 * stride;
        }
        stride *= 2;
    }
    level[0].take().unwrap()
}

/// Every rank's copy of `local` (lengths may differ), gathered through two sums.
pub fn all_gather_f64(comm: &dyn Comm, local: &[f64]) -> Vec<Vec<f64>> {
    let (k, r) = (comm.size(), comm.rank());
    if k == 1 {
        return vec![local.to_vec()];
    }
    let mut lens = vec![0.0; k];
    lens[r] = local.len() as f64;
    comm.sum_f64(&mut lens);
    let lens: Vec<usize> = lens.iter().map(|&l| l as usize).collect();
    let off: Vec<usize> = lens.iter().scan(0, |s, &l| { let o = *s; *s += l; Some(o) }).collect();
    let mut all = vec![0.0; lens.iter().sum()];
    all[off[r]..off[r] + local.len()].copy_from_slice(local);
    comm.sum_f64(&mut all);
    (0..k).map(|i| all[off[i]..off[i] + lens[i]].to_vec()).collect()
}

/// A fact every rank must agree on at start-up, with its value on this rank.
#[derive(Clone, Debug)]
pub struct Fact {
    /// What it is (for the message).
    pub name: &'static str,
    /// Its value here, shown in the message (a hash for settings).
    pub value: u64,
}

/// The start-up check of a distributed solve, called by every rank once: `local` is this
/// rank's own validation outcome, `facts` what must be equal everywhere. On one rank this
/// returns `local` unchanged. Otherwise every rank returns the same result: `Ok` when all
/// ranks validated and agree, else an error naming each failing rank and what it said, so
/// a mismatched launch ends with a message instead of a hang.
///
/// # Errors
/// [`CronosError::Distributed`] when a rank failed validation or disagrees with rank 0.
pub fn check_agreement(comm: &dyn Comm, local: Result<()>, facts: &[Fact]) -> Result<()> {
    if comm.size() == 1 {
        return local;
    }
    let mut reference: Vec<u64> = facts.iter().map(|f| f.value).collect();
    comm.broadcast_u64(&mut reference);
    let mut problems: Vec<String> = Vec::new();
    if let Err(e) = &local {
        problems.push(e.to_string());
    }
    for (f, r) in facts.iter().zip(&reference) {
        if f.value != *r {
            problems.push(format!("{} is {} here but {} on rank 0", f.name, f.value, r));
        }
    }
    // the messages travel as bytes so rank 0 can print them
    let text: Vec<f64> = problems.join("; ").bytes().map(f64::from).collect();
    let all = all_gather_f64(comm, &text);
    let failed: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.is_empty())
        .map(|(r, m)| format!("rank {r}: {}", String::from_utf8_lossy(&m.iter().map(|&b| b as u8).collect::<Vec<u8>>())))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CronosError::Distributed { reason: failed.join(" | ") })
    }
}

/// A stable 64-bit FNV-1a hash (for settings agreement: `std`'s hasher is randomly seeded).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_order_pairs_neighbours_first() {
        let s = tree_reduce(vec!["a", "b", "c", "d", "e"].into_iter().map(String::from).collect(), |x, y| format!("({x}+{y})"));
        assert_eq!(s, "(((a+b)+(c+d))+e)");
        assert_eq!(tree_reduce(vec![1], |a, b| a + b), 1);
        let s = tree_reduce(vec!["a", "b", "c"].into_iter().map(String::from).collect(), |x, y| format!("({x}+{y})"));
        assert_eq!(s, "((a+b)+c)");
    }

    #[test]
    fn local_agreement_passes_the_local_result_through() {
        assert!(check_agreement(&LocalComm, Ok(()), &[Fact { name: "d", value: 3 }]).is_ok());
        let e = crate::error::CronosError::InvalidData { what: "x", reason: "bad".into() };
        let r = check_agreement(&LocalComm, Err(e), &[]);
        assert!(matches!(r, Err(CronosError::InvalidData { .. })));
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
