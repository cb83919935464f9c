//! Benchmarks on the bundled Fashion-MNIST (f32, bias, P = 64 unless varied):
//!
//! `cargo run --release -p cronos --example bench [-- quick]`
//!
//! Prints markdown tables: GEMM peak of faer on the same shapes, H·u apply time and achieved
//! GFLOP/s, time per ADMM iteration, CG iterations per step for each preconditioner, peak
//! memory against the bytes of X, and the cost as n, d and P double.
use cronos::{Activation, PrecondKind, Settings, Solver};
use cronos_data::{load_idx_dir, Split};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use std::time::Instant;

fn status_mb(key: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok()).map_or(0.0, |kb| kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn time<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    f();
    median((0..reps).map(|_| { let t = Instant::now(); f(); t.elapsed().as_secs_f64() }).collect())
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist");
    let t = load_idx_dir(&dir, Split::Train).expect("bundled data");
    let lab = t.labels.clone().unwrap();
    let n_full = if quick { 15000 } else { t.n };
    let xfull = Mat::<f32>::from_fn(n_full, t.d, |i, j| t.get(i, j) / 255.0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {threads} threads; data: Fashion-MNIST {} × {} (+ bias), f32\n", n_full, t.d);

    // GEMM peak with the same library, layout and shapes as the hot loop
    let (n, d, p) = (n_full, t.d + 1, 64);
    let x = Mat::<f32>::from_fn(n, d, |i, j| if j < t.d { xfull[(i, j)] } else { 1.0 });
    let u = Mat::<f32>::from_fn(d, p, |i, j| ((i + j) % 7) as f32 * 0.01);
    let mut z = Mat::<f32>::zeros(n, p);
    let mut g = Mat::<f32>::zeros(d, p);
    let fl = 2.0 * n as f64 * d as f64 * p as f64;
    let t_xu = time(5, || matmul(z.as_mut(), Accum::Replace, x.as_ref(), u.as_ref(), 1.0, Par::rayon(0)));
    let t_xtz = time(5, || matmul(g.as_mut(), Accum::Replace, x.transpose(), z.as_ref(), 1.0, Par::rayon(0)));
    let peak = fl * 2.0 / (t_xu + t_xtz) / 1e9;
    println!("| GEMM (faer, X column-major, {threads} threads) | ms | GFLOP/s |\n|---|---|---|");
    println!("| X·U ({n}×{d} by {d}×{p}) | {:.1} | {:.0} |", t_xu * 1e3, fl / t_xu / 1e9);
    println!("| Xᵀ·Z | {:.1} | {:.0} |", t_xtz * 1e3, fl / t_xtz / 1e9);
    println!("| pair (reference peak) | {:.1} | {:.0} |\n", (t_xu + t_xtz) * 1e3, peak);

    // H·u apply and ADMM iteration, binary (k = 1) and 10 classes (k = 10)
    println!("| task | k | H·u ms | H·u GFLOP/s | GEMM pair peak at width P·k | % of peak | ADMM s/iter | CG/iter | solver memory MB (peak RSS growth) | ÷ bytes(X f32) |\n|---|---|---|---|---|---|---|---|---|---|");
    let xbytes = (n * t.d * 4) as f64 / 1e6;
    drop(z);
    drop(g);
    for k in [1usize, 10] {
        // the reference peak at the width the hot loop really uses (P·k columns)
        let uk = Mat::<f32>::from_fn(d, p * k, |i, j| ((i + j) % 7) as f32 * 0.01);
        let (mut zk, mut gk) = (Mat::<f32>::zeros(n, p * k), Mat::<f32>::zeros(d, p * k));
        let tp = time(3, || {
            matmul(zk.as_mut(), Accum::Replace, x.as_ref(), uk.as_ref(), 1.0, Par::rayon(0));
            matmul(gk.as_mut(), Accum::Replace, x.transpose(), zk.as_ref(), 1.0, Par::rayon(0));
        });
        let peak = 2.0 * fl * k as f64 / tp / 1e9;
        drop((zk, gk, uk));
        let rss0 = status_mb("VmRSS");
        let y = Mat::<f32>::from_fn(n, k, |i, c| {
            let l = lab[i] as usize;
            if k == 1 { if l < 5 { 1.0 } else { -1.0 } } else if l == c { 1.0 } else { -1.0 }
        });
        let s = Settings { n_patterns: p, max_iter: 1000, ..Settings::default() };
        let mut solver = Solver::new(xfull.as_ref(), y.as_ref(), s).unwrap();
        let len = solver.weights_len();
        let uu: Vec<f32> = (0..len).map(|i| ((i % 13) as f32 - 6.0) * 1e-3).collect();
        let mut out = vec![0f32; len];
        let th = time(3, || solver.apply_system(&uu, &mut out));
        let flops = (2.0 * 2.0 * n as f64 * d as f64 * p as f64 + 2.0 * d as f64 * d as f64 * 2.0 * p as f64) * k as f64;
        let iters = if quick { 3 } else { 5 };
        let t0 = Instant::now();
        let mut cg = 0;
        for _ in 0..iters {
            cg += solver.step().cg_iterations;
        }
        let per = t0.elapsed().as_secs_f64() / iters as f64;
        let grow = status_mb("VmHWM") - rss0;
        println!("| {} | {k} | {:.1} | {:.0} | {:.0} | {:.0}% | {:.2} | {:.1} | {:.0} (design {:.0}) | {:.2} |", if k == 1 { "0–4 vs 5–9" } else { "10 classes" }, th * 1e3, flops / th / 1e9, peak, 100.0 * flops / th / 1e9 / peak, per, cg as f64 / iters as f64, grow, solver.design_bytes() as f64 / 1e6, grow / xbytes);
        drop(solver);
    }

    // CG iterations per ADMM step, by preconditioner (binary task, first 30 iterations)
    println!("\n| preconditioner | setup s | rank | CG/iter (it 1–30) | s/iter |\n|---|---|---|---|---|");
    let nsub = if quick { 6000 } else { 20000 };
    let xs = Mat::<f32>::from_fn(nsub, t.d, |i, j| xfull[(i, j)]);
    let ys = Mat::<f32>::from_fn(nsub, 1, |i, _| if lab[i] < 5.0 { 1.0 } else { -1.0 });
    for pk in [PrecondKind::None, PrecondKind::Nystrom, PrecondKind::Structured] {
        let s = Settings { n_patterns: p, preconditioner: pk, max_iter: 30, activation: Activation::Relu, ..Settings::default() };
        let mut solver = Solver::new(xs.as_ref(), ys.as_ref(), s).unwrap();
        let t0 = Instant::now();
        let sol = solver.solve();
        println!("| {pk:?} | {:.2} | {:?} | {:.1} | {:.3} |", solver.setup_seconds(), solver.precond_rank().map(|r| r.0), sol.cg_iterations as f64 / sol.iterations as f64, t0.elapsed().as_secs_f64() / sol.iterations as f64);
    }

    // scaling of one H·u apply as n, d, P double
    println!("\n| n | d | P | H·u ms | ms per (n·d·P/1e9) |\n|---|---|---|---|---|");
    let base = if quick { 3750 } else { 15000 };
    for (nn, dd, pp) in [(base, 196, 16), (2 * base, 196, 16), (4 * base, 196, 16), (base, 392, 16), (base, 784, 16), (base, 196, 32), (base, 196, 64)] {
        let xs = Mat::<f32>::from_fn(nn, dd, |i, j| xfull[(i, j * (784 / dd))]);
        let ys = Mat::<f32>::from_fn(nn, 1, |i, _| if lab[i] < 5.0 { 1.0 } else { -1.0 });
        let mut solver = Solver::new(xs.as_ref(), ys.as_ref(), Settings { n_patterns: pp, ..Settings::default() }).unwrap();
        let len = solver.weights_len();
        let uu: Vec<f32> = (0..len).map(|i| ((i % 13) as f32 - 6.0) * 1e-3).collect();
        let mut out = vec![0f32; len];
        let th = time(3, || solver.apply_system(&uu, &mut out));
        println!("| {nn} | {dd} | {pp} | {:.2} | {:.2} |", th * 1e3, th * 1e3 / (nn as f64 * (dd + 1) as f64 * pp as f64 / 1e9));
    }
}
