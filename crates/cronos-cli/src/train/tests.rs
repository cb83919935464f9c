//! The pipeline's `Comm` seam without MPI: the same stages on K in-process ranks
//! ([`cronos::comm_threads::ThreadComm`]) prepare the rows one process prepares, and the
//! distributed run saves the single-process model.

use super::prepare::{prepare, Prepared};
use crate::{Cli, Command, TrainArgs};
use clap::Parser;
use cronos::comm::Comm;
use cronos::comm_threads::ThreadComm;
use std::path::Path;
use std::sync::Arc;

/// 3 classes from a fixed rule on 6 features, the label in the last column.
fn write_data(path: &Path, n: usize) {
    let d = 6;
    let mut v = Vec::with_capacity(n * (d + 1));
    for i in 0..n {
        let row: Vec<f32> = (0..d).map(|j| (((i * 31 + j * 17) as f32) * 0.377).sin() * (1.0 + j as f32)).collect();
        let s = row[0] + row[1] * row[2];
        v.extend_from_slice(&row);
        v.push(if s > 0.4 { 2.0 } else if s > -0.4 { 1.0 } else { 0.0 });
    }
    cronos_data::write_npy_f32(path, &v, &[n, d + 1], true).unwrap();
}

fn args(extra: &[&str]) -> TrainArgs {
    let base = ["cronos", "train", "--label-column", "last", "--patterns", "4", "--beta-fraction", "1e-3", "--max-iter", "8", "--quiet", "--force"];
    match Cli::try_parse_from(base.iter().chain(extra)).unwrap().command {
        Command::Train(a) => *a,
        _ => unreachable!(),
    }
}

/// Runs `f` on every member of a K-rank thread group; returns the results by rank.
fn on_ranks<R: Send>(k: usize, f: impl Fn(Arc<dyn Comm>) -> R + Sync) -> Vec<R> {
    let (group, f) = (ThreadComm::group(k), &f);
    std::thread::scope(|s| {
        let handles: Vec<_> = group.into_iter().map(|c| s.spawn(move || f(Arc::new(c)))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

#[test]
fn ranks_prepare_the_rows_of_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.npy");
    write_data(&data, 203);
    let a = args(&["--train", data.to_str().unwrap(), "--classes", "1,2"]);
    let one: Prepared = prepare(&a, &cronos::LocalComm).unwrap();
    let ranks = on_ranks(3, |c| prepare(&a, &*c).unwrap());
    let rows: usize = ranks.iter().map(|p| p.fit.labels.len()).sum();
    assert_eq!(rows, one.fit.labels.len());
    for (r, p) in ranks.iter().enumerate() {
        assert_eq!(p.fit_shape, one.fit_shape, "rank {r}: rows over all ranks and features");
        assert_eq!(p.task, one.task, "rank {r}");
        assert_eq!(p.pre.kind, one.pre.kind);
        assert!(close(&p.pre.offset, &one.pre.offset) && close(&p.pre.scale, &one.pre.scale), "rank {r}: {:?} vs {:?}", p.pre, one.pre);
        assert!(p.fingerprint.starts_with("mpi3-"), "{}", p.fingerprint);
    }
    // a class that no rank has is refused on every rank with the same message
    let bad = args(&["--train", data.to_str().unwrap(), "--classes", "1,7"]);
    let errs = on_ranks(2, |c| prepare(&bad, &*c).err().map(|e| e.to_string()));
    assert!(errs.iter().all(|e| e.as_deref().is_some_and(|e| e.contains("class 7"))), "{errs:?}");
}

#[test]
fn a_distributed_run_saves_the_model_of_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.npy");
    write_data(&data, 151);
    let (one_out, dist_out) = (dir.path().join("one.safetensors"), dir.path().join("dist.safetensors"));
    // one process with 2 threads shards its rows like 2 ranks with one thread each
    let one = args(&["--train", data.to_str().unwrap(), "--threads", "2", "--out", one_out.to_str().unwrap()]);
    assert_eq!(super::run_on(&one, &cronos::comm::local()).unwrap(), 0);
    let dist = args(&["--train", data.to_str().unwrap(), "--threads", "1", "--distributed", "--out", dist_out.to_str().unwrap()]);
    assert_eq!(on_ranks(2, |c| super::run_on(&dist, &c).unwrap()), vec![0, 0]);
    let (m1, m2) = (cronos_model::ModelFile::load(&one_out).unwrap(), cronos_model::ModelFile::load(&dist_out).unwrap());
    let flat = |m: &cronos_model::ModelFile| (0..m.model.weights.ncols()).flat_map(|j| (0..m.model.weights.nrows()).map(move |i| (i, j))).map(|(i, j)| m.model.weights[(i, j)]).collect::<Vec<f32>>();
    assert!(close(&flat(&m2), &flat(&m1)), "weights differ");
    let (c1, c2) = (&m1.metadata.certificate, &m2.metadata.certificate);
    assert!((c1.objective - c2.objective).abs() <= 1e-6 * c1.objective.abs(), "{} vs {}", c1.objective, c2.objective);
    assert_eq!(m2.metadata.metrics.get("ranks").and_then(|v| v.as_u64()), Some(2));
}
