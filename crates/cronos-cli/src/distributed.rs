//! `cronos train --distributed`: the train pipeline ([`crate::train::run_on`]) with the rows
//! spread over MPI ranks.
//!
//! Launch: `mpirun -np K cronos train --distributed [DIR | --train FILE] ...` (a binary built
//! with `--features mpi`). Rank r reads only its rows of the training file (see
//! [`crate::train::load`]), keeps its rows of the chosen classes, and the class list, the
//! preprocessing statistics and the scores are combined over ranks, so the solve is the
//! single-process one. Only rank 0 loads the test set, prints, and writes the model and
//! metrics; its JSON summary is the single-process schema plus `ranks`,
//! `allreduce_bytes_per_iteration` and `seconds_per_iteration`.
//!
//! Errors: each local stage ends with an agreement step, so a failure on any rank ends every
//! rank with one message on rank 0 (exit 2). Inside the ADMM loop every rank is in
//! collectives; an unexpected error there aborts the MPI job.

use crate::train::agree::Agreed;
use crate::TrainArgs;
use anyhow::Result;
use cronos::comm::Comm;
use std::sync::Arc;

/// The MPI communicator (a build without the `mpi` feature says how to get one).
#[cfg(feature = "mpi")]
fn init_comm() -> Result<Arc<dyn Comm>> {
    Ok(Arc::new(cronos::MpiComm::init()?))
}
#[cfg(not(feature = "mpi"))]
fn init_comm() -> Result<Arc<dyn Comm>> {
    anyhow::bail!("--distributed: this cronos was built without MPI support (build it with `cargo build --release -p cronos-cli --features mpi`, then launch it with `mpirun -np K`)")
}

/// Runs on every rank; rank 0 returns the errors (printed by `main`), the others exit 2.
///
/// A failure every rank knows about (an agreement step, the collective setup) is printed by
/// rank 0 *before* the other ranks exit: mpirun ends the job at the first non-zero exit, which
/// could otherwise kill rank 0 before its message is out.
pub fn run(a: TrainArgs) -> Result<i32> {
    let comm = init_comm()?;
    match crate::train::run_on(&a, &comm) {
        Ok(code) => Ok(code),
        Err(e) if e.downcast_ref::<Agreed>().is_some() => {
            if comm.rank() == 0 {
                eprintln!("error: {}", crate::error_line(&e));
            }
            comm.broadcast_u64(&mut [0]); // a barrier: rank 0 has printed
            Ok(2)
        }
        Err(e) if comm.rank() == 0 => Err(e),
        Err(e) => {
            // this rank alone failed (rank 0 does not know): say so here
            eprintln!("error: rank {}: {}", comm.rank(), crate::error_line(&e));
            Ok(2)
        }
    }
}
