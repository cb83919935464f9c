//! The distributed solver with ranks as threads (`comm_threads::ThreadComm`, no MPI needed):
//! K ranks with one thread each against one process with K threads on the same rows, and a
//! mismatched launch that must fail on every rank instead of hanging.
use cronos::comm::Comm;
use cronos::comm_threads::ThreadComm;
use cronos::design::shard_rows;
use cronos::{Activation, CronosError, Settings, Solver};
use faer::Mat;
use std::sync::Arc;

fn problem(n: usize, d: usize, k: usize) -> (Mat<f64>, Mat<f64>) {
    let x = Mat::<f64>::from_fn(n, d, |i, j| ((i * 37 + j * 101) as f64 * 0.618).sin() + 0.1 * j as f64);
    let y = Mat::<f64>::from_fn(n, k, |i, c| (0..d).map(|j| x[(i, j)] * ((j * 3 + c) as f64).cos()).sum::<f64>().max(0.0) - 0.5);
    (x, y)
}

fn settings(activation: Activation, threads: usize) -> Settings {
    Settings { activation, n_patterns: 10, max_iter: 25, seed: 5, threads, ..Settings::default() }
}

/// Weights, objective, lower bound of every rank's solve.
fn distributed(k: usize, activation: Activation, x: &Mat<f64>, y: &Mat<f64>) -> Vec<Result<(Vec<f64>, f64, f64), CronosError>> {
    let n = x.nrows();
    std::thread::scope(|s| {
        let hs: Vec<_> = ThreadComm::group(k)
            .into_iter()
            .map(|c| {
                s.spawn(move || {
                    let rows = shard_rows(n, k)[c.rank()].clone();
                    let comm: Arc<dyn Comm> = Arc::new(c);
                    let mut solver = Solver::new_distributed(x.subrows(rows.start, rows.len()), y.subrows(rows.start, rows.len()), settings(activation, 1), comm)?;
                    let sol = solver.solve();
                    let w = solver.model().weights;
                    Ok((w.col_iter().flat_map(|c| c.iter().copied().collect::<Vec<_>>()).collect(), sol.certificate.objective, sol.certificate.lower_bound))
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn thread_ranks_match_one_process() {
    let (x, y) = problem(301, 7, 2);
    for activation in [Activation::Relu, Activation::GatedRelu] {
        for k in [2, 3] {
            let mut single = Solver::new(x.as_ref(), y.as_ref(), settings(activation, k)).unwrap();
            let sol = single.solve();
            let w = single.model().weights;
            let ws: Vec<f64> = w.col_iter().flat_map(|c| c.iter().copied().collect::<Vec<_>>()).collect();
            let scale = ws.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let ranks = distributed(k, activation, &x, &y);
            for (r, res) in ranks.into_iter().enumerate() {
                let (wd, obj, lb) = res.unwrap();
                let diff = wd.iter().zip(&ws).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                assert!(diff <= 1e-10 * scale, "{activation:?} K={k} rank {r}: weights differ by {diff:e}");
                assert!(((obj - sol.certificate.objective) / sol.certificate.objective).abs() <= 1e-12);
                assert!(((lb - sol.certificate.lower_bound) / sol.certificate.lower_bound.abs().max(1e-300)).abs() <= 1e-12);
            }
        }
    }
}

#[test]
fn mismatched_ranks_all_fail_naming_the_rank() {
    let (x, y) = problem(60, 4, 1);
    let results: Vec<Result<(), CronosError>> = std::thread::scope(|s| {
        let hs: Vec<_> = ThreadComm::group(3)
            .into_iter()
            .map(|c| {
                let (x, y) = (&x, &y);
                s.spawn(move || {
                    let r = c.rank();
                    let rows = shard_rows(60, 3)[r].clone();
                    let mut st = settings(Activation::Relu, 1);
                    if r == 2 {
                        st.seed = 99;
                    }
                    // rank 1 brings a NaN: its own validation fails, and the others must learn it
                    let mut xs = x.subrows(rows.start, rows.len()).to_owned();
                    if r == 1 {
                        xs[(0, 0)] = f64::NAN;
                    }
                    Solver::new_distributed(xs.as_ref(), y.subrows(rows.start, rows.len()), st, Arc::new(c)).map(|_| ())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for res in results {
        match res {
            Err(CronosError::Distributed { reason }) => {
                assert!(reason.contains("rank 1") && reason.contains("non-finite"), "{reason}");
                assert!(reason.contains("rank 2") && reason.contains("settings"), "{reason}");
                assert!(!reason.contains("rank 0:"), "{reason}"); // rank 0 itself is fine
            }
            other => panic!("expected a start-up error, got {:?}", other.err()),
        }
    }
}
