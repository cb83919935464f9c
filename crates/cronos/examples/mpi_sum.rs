//! Cost of the sums of one ADMM iteration on Fashion-MNIST (10 outputs, P = 64, ReLU, f32)
//! between MPI ranks, without the compute: 7 CG sums of d × P·k, the slack pass's two
//! d × 2P·k, and a fifth of the certificate's two d × 2P·k (d = 785, P = 64, k = 10).
//!   cargo build --release -p cronos --features mpi --example mpi_sum
//!   mpirun -np 2 target/release/examples/mpi_sum [REPEATS]
use cronos::comm::Comm;
use cronos::MpiComm;
use std::time::Instant;

fn main() {
    let comm = MpiComm::init().expect("MPI");
    let reps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let (d, p, k) = (785, 64, 10);
    let (cg, wide) = (vec![1.0f32; d * p * k], vec![1.0f32; d * 2 * p * k]);
    let (mut a, mut b) = (cg.clone(), wide.clone());
    let mut best = f64::INFINITY;
    let mut bytes = 0;
    for rep in 0..reps {
        let b0 = comm.bytes_reduced();
        let t0 = Instant::now();
        for _ in 0..7 {
            a.copy_from_slice(&cg);
            comm.sum_f32(&mut a);
        }
        for _ in 0..2 {
            b.copy_from_slice(&wide);
            comm.sum_f32(&mut b);
        }
        if rep % 5 == 0 {
            for _ in 0..2 {
                b.copy_from_slice(&wide);
                comm.sum_f32(&mut b);
            }
        }
        let mut t = [t0.elapsed().as_secs_f64()];
        comm.sum_f64(&mut t); // the slowest rank's view is what an iteration waits for
        let t = t[0] / comm.size() as f64;
        if rep % 5 != 0 {
            best = best.min(t);
            bytes = comm.bytes_reduced() - b0 - 8;
        }
    }
    if comm.rank() == 0 {
        println!(
            "{} ranks: {:.1} MB summed per (non-certificate) iteration in {:.1} ms (best of {reps}): {:.2} GB/s per tree step",
            comm.size(),
            bytes as f64 / 1e6,
            best * 1e3,
            bytes as f64 * 2.0 * (comm.size() as f64).log2().ceil() / best / 1e9
        );
    }
}
