//! [`Comm`] over MPI (rsmpi), behind the `mpi` cargo feature.
//!
//! Sums follow the tree order documented in [`crate::comm`]: at stride s = 1, 2, 4, … rank r
//! with r mod 2s = s sends its partial sum to rank r − s, which adds it on the right; rank 0
//! then broadcasts. That is ⌈log₂K⌉ point-to-point steps plus a broadcast (itself a tree in
//! Open MPI): the d·P·log K term of the cost model in the README.
//!
//! Failure behaviour: MPI's default error handler on `MPI_COMM_WORLD` is
//! `MPI_ERRORS_ARE_FATAL`, which we keep: an MPI error on any rank ends the whole job. A rank
//! that dies (signal, `exit`) makes `mpirun` terminate the others. A Rust panic would unwind
//! into `MPI_Finalize` (collective: it would wait for ranks that are blocked in a sum), so
//! [`MpiComm::init`] installs a panic hook that prints the panic and calls `MPI_Abort`.

use crate::comm::Comm;
use crate::error::{CronosError, Result};
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;
use std::sync::atomic::{AtomicU64, Ordering};

/// `MPI_COMM_WORLD` as a [`Comm`]; finalizes MPI when dropped.
pub struct MpiComm {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    bytes: AtomicU64,
    // dropped last: MPI_Finalize
    _universe: Universe,
}

// SAFETY: MPI is initialised with at least `MPI_THREAD_SERIALIZED` (checked in `init`), and
// the solver makes its collective calls one at a time (a sum runs after the parallel shard
// loop has joined), so the handle may move to and be used from rayon's worker threads.
unsafe impl Send for MpiComm {}
unsafe impl Sync for MpiComm {}

impl MpiComm {
    /// Initialises MPI (once per process) and installs the abort-on-panic hook.
    ///
    /// # Errors
    /// When MPI was already initialised or cannot give `MPI_THREAD_SERIALIZED` (the solver
    /// calls MPI from its worker threads, one call at a time).
    pub fn init() -> Result<Self> {
        let (universe, level) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| CronosError::Distributed { reason: "MPI is already initialised in this process".into() })?;
        if matches!(level, Threading::Single | Threading::Funneled) {
            return Err(CronosError::Distributed {
                reason: format!("the MPI library gives thread level {level:?}, but MPI_THREAD_SERIALIZED is needed"),
            });
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default_hook(info);
            eprintln!("rank {rank}: panic, aborting the MPI job");
            // SAFETY: plain FFI call on the world communicator; it does not return.
            unsafe {
                mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, 101);
            }
        }));
        Ok(MpiComm { world, rank, size, bytes: AtomicU64::new(0), _universe: universe })
    }

    fn tree_sum<T>(&self, buf: &mut [T])
    where
        T: Equivalence + Copy + Default + std::ops::Add<Output = T>,
        [T]: Buffer + BufferMut,
    {
        assert!(buf.len() <= i32::MAX as usize, "MPI message too long");
        self.bytes.fetch_add(std::mem::size_of_val(buf) as u64, Ordering::Relaxed);
        let (r, k) = (self.rank, self.size);
        let mut tmp: Vec<T> = Vec::new();
        let mut stride = 1;
        while stride < k {
            if r % (2 * stride) == 0 {
                if r + stride < k {
                    tmp.resize(buf.len(), T::default());
                    self.world.process_at_rank((r + stride) as i32).receive_into(&mut tmp[..]);
                    for (a, b) in buf.iter_mut().zip(&tmp) {
                        *a = *a + *b;
                    }
                }
            } else {
                self.world.process_at_rank((r - stride) as i32).send(&buf[..]);
                break;
            }
            stride *= 2;
        }
        self.world.process_at_rank(0).broadcast_into(buf);
    }
}

impl Comm for MpiComm {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn sum_f64(&self, buf: &mut [f64]) {
        self.tree_sum(buf);
    }
    fn sum_f32(&self, buf: &mut [f32]) {
        self.tree_sum(buf);
    }
    fn broadcast_u64(&self, buf: &mut [u64]) {
        self.world.process_at_rank(0).broadcast_into(buf);
    }
    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
    fn bytes_reduced(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}
