//! Time of the solver's hot pass (the u-step operator u + FᵀFu/ρ, one fused forward and
//! backward pass over X for all P patterns) with X stored dense (GEMMs) and sparse (CSR),
//! across densities: the measurement behind `cronos::data::SPARSE_DENSITY`.
//!
//! `cargo run --release -p cronos --example sparse_density -- [n] [d] [P] [threads]`
//! (defaults 4000 2000 32 2; densities from `DENSITIES`, comma-separated, default
//! 0.001,0.005,0.01,0.02,0.05,0.1,0.2). Prints a Markdown table (ms per pass, median of 7).
use cronos::data::{with_storage, Storage};
use cronos::{Activation, Beta, Csr, Real, Settings, Solver};
use faer::Mat;
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn data<T: Real>(n: usize, d: usize, density: f64) -> (Csr<T>, Mat<T>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (mut indptr, mut idx, mut val) = (vec![0usize], Vec::new(), Vec::new());
    for _ in 0..n {
        for j in 0..d {
            if rng.random::<f64>() < density {
                idx.push(j as u32);
                val.push(T::from_f64(rng.random::<f64>()));
            }
        }
        indptr.push(val.len());
    }
    let x = Csr::new(n, d, indptr, idx, val).expect("valid CSR");
    let y = Mat::<T>::from_fn(n, 1, |i, _| T::from_f64((i % 3) as f64 - 1.0));
    (x, y)
}

fn pass_ms<T: Real>(x: &Csr<T>, y: &Mat<T>, p: usize, threads: usize, storage: Storage) -> f64 {
    let s = Settings { activation: Activation::GatedRelu, n_patterns: p, beta: Beta::Fraction(0.1), threads, max_iter: 1, ..Settings::default() };
    let mut solver = with_storage(storage, || Solver::new_data(x, y.as_ref(), None, s).expect("setup"));
    let len = x.ncols() * p + p; // d (with bias) × P
    let u: Vec<T> = (0..len).map(|i| T::from_f64(((i % 7) as f64 - 3.0) / 7.0)).collect();
    let mut out = vec![T::default(); len];
    solver.apply_system(&u, &mut out);
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            solver.apply_system(&u, &mut out);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[3]
}

fn main() {
    let a: Vec<usize> = std::env::args().skip(1).filter_map(|s| s.parse().ok()).collect();
    let (n, d, p, threads) = (a.first().copied().unwrap_or(4000), a.get(1).copied().unwrap_or(2000), a.get(2).copied().unwrap_or(32), a.get(3).copied().unwrap_or(2));
    println!("n = {n}, d = {d}, P = {p}, threads = {threads}: ms per FᵀF pass (median of 7)\n");
    println!("| density | f64 dense | f64 sparse | f32 dense | f32 sparse |");
    println!("|---|---|---|---|---|");
    let densities: Vec<f64> = std::env::var("DENSITIES")
        .unwrap_or_else(|_| "0.001,0.005,0.01,0.02,0.05,0.1,0.2".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for density in densities {
        let (x64, y64) = data::<f64>(n, d, density);
        let (x32, y32) = data::<f32>(n, d, density);
        let r = [
            pass_ms(&x64, &y64, p, threads, Storage::Dense),
            pass_ms(&x64, &y64, p, threads, Storage::Sparse),
            pass_ms(&x32, &y32, p, threads, Storage::Dense),
            pass_ms(&x32, &y32, p, threads, Storage::Sparse),
        ];
        println!("| {:.1}% | {:.1} | {:.1} | {:.1} | {:.1} |", density * 100.0, r[0], r[1], r[2], r[3]);
    }
}
