//! The agreement step that ends each local stage of the pipeline: over MPI ranks, every rank
//! continues or every rank stops with the messages of the failing ranks, so one failing rank
//! cannot leave the others waiting in a collective. In one process it passes the result
//! through unchanged.

use anyhow::Result;
use cronos::comm::{all_gather_f64, Comm};

/// A failure that all ranks share (each returns it), so they can end together.
#[derive(Debug)]
pub struct Agreed(pub String);

impl std::fmt::Display for Agreed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Agreed {}

/// Every rank's outcome of a local stage: all ranks continue, or all stop with the messages
/// of the failing ranks (rank 0's own message first, as in a single process).
pub fn agree<T>(comm: &dyn Comm, local: Result<T>) -> Result<T> {
    if comm.size() == 1 {
        return local;
    }
    let msg = match &local {
        Ok(_) => String::new(),
        Err(e) => e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": "),
    };
    let all = all_gather_f64(comm, &msg.bytes().map(f64::from).collect::<Vec<_>>());
    let failed: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.is_empty())
        .map(|(r, m)| {
            let text = String::from_utf8_lossy(&m.iter().map(|&b| b as u8).collect::<Vec<u8>>()).into_owned();
            if r == 0 { text } else { format!("rank {r}: {text}") }
        })
        .collect();
    if failed.is_empty() {
        local
    } else {
        Err(Agreed(failed.join(" | ")).into())
    }
}

/// Ends the whole job from inside a collective phase (the other ranks are waiting in a sum);
/// in one process, the error is returned.
pub fn fatal(comm: &dyn Comm, e: anyhow::Error) -> anyhow::Error {
    if comm.size() == 1 {
        return e;
    }
    eprintln!("error: rank {}: {e:#}", comm.rank());
    comm.abort(2)
}

/// Sums of f64 values over ranks.
pub fn sum(comm: &dyn Comm, v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    comm.sum_f64(&mut v);
    v
}
