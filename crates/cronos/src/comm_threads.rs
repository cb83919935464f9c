//! [`Comm`] between threads of one process: K "ranks" that share memory, with the same sum
//! order as [`crate::comm_mpi::MpiComm`] (rank r's buffer is leaf r of
//! [`crate::comm::tree_reduce`]). It needs no MPI, so the distributed code paths (pattern
//! agreement, row sums, the start-up check) are tested in every build; it is also a template
//! for other transports.

use crate::comm::{tree_reduce, Comm};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};

struct Shared {
    barrier: Barrier,
    f64s: Mutex<Vec<Vec<f64>>>,
    f32s: Mutex<Vec<Vec<f32>>>,
    u64s: Mutex<Vec<u64>>,
}

/// One rank of a group of threads; create the group with [`ThreadComm::group`] and move
/// one member into each thread. Every collective blocks until all members have called it.
pub struct ThreadComm {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
    bytes: AtomicU64,
}

impl ThreadComm {
    /// `size` connected members, rank 0 first.
    pub fn group(size: usize) -> Vec<ThreadComm> {
        assert!(size >= 1, "a group needs a member");
        let shared = Arc::new(Shared {
            barrier: Barrier::new(size),
            f64s: Mutex::new(vec![Vec::new(); size]),
            f32s: Mutex::new(vec![Vec::new(); size]),
            u64s: Mutex::new(Vec::new()),
        });
        (0..size).map(|rank| ThreadComm { rank, size, shared: shared.clone(), bytes: AtomicU64::new(0) }).collect()
    }

    /// Deposit, wait for all, reduce every deposit in tree order (the same on every member),
    /// wait again so no deposit is overwritten before all have read.
    fn tree_sum<T: Copy + Default + std::ops::Add<Output = T>>(&self, slots: &Mutex<Vec<Vec<T>>>, buf: &mut [T]) {
        self.bytes.fetch_add(std::mem::size_of_val(buf) as u64, Ordering::Relaxed);
        slots.lock().unwrap()[self.rank] = buf.to_vec();
        self.shared.barrier.wait();
        let leaves = slots.lock().unwrap().clone();
        let sum = tree_reduce(leaves, |a, b| a.iter().zip(&b).map(|(x, y)| *x + *y).collect());
        self.shared.barrier.wait();
        buf.copy_from_slice(&sum);
    }
}

impl Comm for ThreadComm {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn sum_f64(&self, buf: &mut [f64]) {
        self.tree_sum(&self.shared.f64s, buf);
    }
    fn sum_f32(&self, buf: &mut [f32]) {
        self.tree_sum(&self.shared.f32s, buf);
    }
    fn broadcast_u64(&self, buf: &mut [u64]) {
        if self.rank == 0 {
            *self.shared.u64s.lock().unwrap() = buf.to_vec();
        }
        self.shared.barrier.wait();
        buf.copy_from_slice(&self.shared.u64s.lock().unwrap());
        self.shared.barrier.wait();
    }
    /// Ends the process: the other members may be blocked in a collective.
    fn abort(&self, code: i32) -> ! {
        eprintln!("rank {}: abort({code})", self.rank);
        std::process::exit(code)
    }
    fn bytes_reduced(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_in_tree_order_and_broadcasts_from_rank_0() {
        let group = ThreadComm::group(3);
        let out: Vec<(Vec<f64>, Vec<u64>)> = std::thread::scope(|s| {
            let hs: Vec<_> = group
                .iter()
                .map(|c| {
                    s.spawn(move || {
                        // 1e16 + 1 − 1e16 depends on the order: tree order is (a₀ + a₁) + a₂
                        let mut v = vec![[1e16, 1.0, -1e16][c.rank()], c.rank() as f64];
                        c.sum_f64(&mut v);
                        let mut b = vec![c.rank() as u64 + 7];
                        c.broadcast_u64(&mut b);
                        (v, b)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (v, b) in &out {
            assert_eq!(v, &vec![(1e16 + 1.0) - 1e16, 3.0]);
            assert_eq!(b, &vec![7]);
        }
    }
}
