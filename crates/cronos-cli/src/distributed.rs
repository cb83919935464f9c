//! `cronos train --distributed`: training with the rows spread over MPI ranks.
//!
//! Launch: `mpirun -np K cronos train --distributed [DIR | --train FILE] ...` (a binary built
//! with `--features mpi`). Rank r reads only rows ⌊r·n/K⌋ .. ⌊(r+1)·n/K⌋ of the training file
//! (the row count comes from the IDX labels file or the `.npy` header; CSV, LIBSVM and `.npz`
//! are parsed whole and sliced), keeps its rows of the chosen classes, and the preprocessing
//! statistics and the class list are combined over ranks, so the solve is the single-process
//! one. Only rank 0 loads the test set, prints, and writes the model and metrics.
//!
//! Errors: each local phase (options, loading) ends with an agreement step, so a failure on
//! any rank ends every rank with one message on rank 0 (exit 2). Inside the ADMM loop every
//! rank is in collectives; an unexpected error there aborts the MPI job.

use crate::data::{self, accuracy, check_output, to_mat};
use crate::train::observe::{install_interrupt, Progress, Scores, TrainObserver};
use crate::{PreprocessArg, TaskArg, TrainArgs};
use anyhow::{anyhow, bail, Result};
use cronos::comm::{all_gather_f64, Comm};
use cronos::design::shard_rows;
use cronos::{Settings, Solver, Status};
use cronos_data::{LoadOptions, Split, Table};
use cronos_model::{Classes, Metadata, ModelFile, PreprocessKind, Preprocessing, Task};
use faer::Mat;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The MPI communicator (a build without the `mpi` feature says how to get one).
#[cfg(feature = "mpi")]
fn init_comm() -> Result<Arc<dyn Comm>> {
    Ok(Arc::new(cronos::MpiComm::init()?))
}
#[cfg(not(feature = "mpi"))]
fn init_comm() -> Result<Arc<dyn Comm>> {
    bail!("--distributed: this cronos was built without MPI support (build it with `cargo build --release -p cronos-cli --features mpi`, then launch it with `mpirun -np K`)")
}

/// Runs on every rank; rank 0 returns the errors (printed by `main`), the others exit 2.
///
/// A failure every rank knows about (an agreement step, the collective setup) is printed by
/// rank 0 *before* the other ranks exit: mpirun ends the job at the first non-zero exit, which
/// could otherwise kill rank 0 before its message is out.
pub fn run(a: TrainArgs) -> Result<i32> {
    let comm = init_comm()?;
    match train(&a, &comm) {
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

/// A failure that all ranks share (each returns it), so they can end together.
#[derive(Debug)]
struct Agreed(String);

impl std::fmt::Display for Agreed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Agreed {}

/// Every rank's outcome of a local phase: all ranks continue, or all stop with the messages
/// of the failing ranks (rank 0's own message first, as in a single process).
fn agree<T>(comm: &dyn Comm, local: Result<T>) -> Result<T> {
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

/// Ends the whole job from inside the collective phase (others are waiting in a sum).
fn fatal(comm: &dyn Comm, e: anyhow::Error) -> ! {
    eprintln!("error: rank {}: {e:#}", comm.rank());
    comm.abort(2)
}

fn settings_of(a: &TrainArgs) -> Result<Settings> {
    if a.beta == Some(crate::BetaArg::Auto) {
        bail!("--beta auto is not supported with --distributed (it needs a validation split): give --beta B or --beta-fraction F");
    }
    // without --beta / --beta-fraction: the library default, a fraction 1e-3 of β_max
    let (s, _) = crate::train::solver_settings(a)?;
    let unsupported = [
        (a.val_fraction.is_some(), "--val-fraction"),
        (a.checkpoint.is_some(), "--checkpoint"),
        (a.source.n_train.is_some(), "--n-train"),
        (a.source.n_test.is_some(), "--n-test"),
        (a.plot.is_some(), "--plot"),
        (a.class_weight != crate::ClassWeightArg::None, "--class-weight"),
        (a.deep.kind != crate::deep::ModelKind::Convex, "--model cnn|mlp"),
    ];
    if let Some((_, flag)) = unsupported.iter().find(|(on, _)| *on) {
        bail!("{flag} is not supported with --distributed");
    }
    Ok(s)
}

/// Rows of the training source from a header, or `None` when the format has none.
fn header_rows(path: &Path, opts: &LoadOptions) -> Result<Option<usize>> {
    if path.is_dir() {
        for name in ["train-labels-idx1-ubyte", "train-labels-idx1-ubyte.gz", "train-labels.idx1-ubyte", "train-labels.idx1-ubyte.gz"] {
            let p = path.join(name);
            if p.is_file() {
                return Ok(Some(cronos_data::read_idx_labels(&p, None)?.len()));
            }
        }
        bail!("{}: no train-labels-idx1-ubyte[.gz] in this directory", path.display());
    }
    let format = opts.format.or_else(|| cronos_data::Format::from_path(path));
    Ok(match format {
        Some(cronos_data::Format::Npy) => Some(cronos_data::npy_shape(&cronos_data::read_bytes(path)?, path)?[0]),
        Some(cronos_data::Format::Idx) => Some(cronos_data::idx_shape(&cronos_data::read_bytes(path)?, path)?[0]),
        _ => None,
    })
}

/// This rank's rows of the training source and the total row count.
fn load_shard(path: &Path, opts: &LoadOptions, comm: &dyn Comm) -> Result<(Table, usize)> {
    if !path.exists() {
        bail!("{}: no such file", path.display());
    }
    let (rank, size) = (comm.rank(), comm.size());
    let check = |n: usize| if n < size { Err(anyhow!("{}: {n} rows for {size} ranks", path.display())) } else { Ok(shard_rows(n, size)[rank].clone()) };
    match header_rows(path, opts)? {
        Some(n) => {
            let range = check(n)?;
            let t = if path.is_dir() {
                cronos_data::load_idx_dir_rows(path, Split::Train, Some(range))?
            } else {
                cronos_data::load(path, &LoadOptions { row_range: Some(range), ..opts.clone() })?
            };
            Ok((t, n))
        }
        None => {
            let t = data::load(path, opts, Split::Train)?;
            let range = check(t.n)?;
            let n = t.n;
            Ok((t.slice_rows(range).ok_or_else(|| anyhow!("{}: bad row range", path.display()))?, n))
        }
    }
}

/// Sums of f64 values over ranks.
fn sum(comm: &dyn Comm, v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    comm.sum_f64(&mut v);
    v
}

/// The preprocessing of [`Preprocessing::fit`] on the rows of all ranks (`n` in total).
fn fit_preprocessing(x: &Mat<f32>, kind: PreprocessKind, n: usize, comm: &dyn Comm) -> Preprocessing {
    let d = x.ncols();
    let mut p = Preprocessing::identity(d);
    p.kind = kind;
    let col = |j: usize| (0..x.nrows()).map(move |i| x[(i, j)] as f64);
    match kind {
        PreprocessKind::None => {}
        PreprocessKind::Scale01 => {
            let local: Vec<f64> = (0..d).flat_map(|j| [col(j).fold(f64::INFINITY, f64::min), col(j).fold(f64::NEG_INFINITY, f64::max)]).collect();
            let all = all_gather_f64(comm, &local);
            for j in 0..d {
                let lo = all.iter().map(|v| v[2 * j]).fold(f64::INFINITY, f64::min);
                let hi = all.iter().map(|v| v[2 * j + 1]).fold(f64::NEG_INFINITY, f64::max);
                let range = hi - lo;
                p.offset[j] = lo as f32;
                p.scale[j] = if range > 0.0 && range.is_finite() { range as f32 } else { 1.0 };
            }
        }
        PreprocessKind::Standardize => {
            let mean: Vec<f64> = sum(comm, &(0..d).map(|j| col(j).sum::<f64>()).collect::<Vec<_>>()).iter().map(|s| s / n as f64).collect();
            let var = sum(comm, &(0..d).map(|j| col(j).map(|v| (v - mean[j]).powi(2)).sum::<f64>()).collect::<Vec<_>>());
            for j in 0..d {
                let sd = (var[j] / n as f64).sqrt();
                p.offset[j] = mean[j] as f32;
                p.scale[j] = if sd > 0.0 && sd.is_finite() && (sd as f32) > 0.0 { sd as f32 } else { 1.0 };
            }
        }
    }
    p
}

/// Score of predictions on this rank's rows, summed over ranks: accuracy, or −MSE.
fn global_score(pred: faer::MatRef<'_, f32>, labels: &[f64], y: faer::MatRef<'_, f32>, classes: Option<&Classes>, n: usize, comm: &dyn Comm) -> f64 {
    let local = match classes {
        Some(c) => accuracy(&c.decode(pred), labels) * labels.len() as f64,
        None => -data::mse(pred, y) * pred.nrows() as f64,
    };
    sum(comm, &[local])[0] / n as f64
}

/// This rank's rows, ready for the solver: the classes and preprocessing agreed over ranks.
struct ShardData {
    train_path: PathBuf,
    /// The rank's rows as read (for the fingerprint).
    shard: Table,
    x: Mat<f32>,
    y: Mat<f32>,
    labels: Vec<f64>,
    /// Rows over all ranks.
    n: usize,
    classes: Option<Classes>,
    task: Task,
    pre: Preprocessing,
    /// The test set (rank 0 only): features, targets, labels.
    test: Option<(Mat<f32>, Mat<f32>, Vec<f64>)>,
}

/// Loads this rank's rows (and the test set on rank 0), agrees on the classes, fits the
/// preprocessing over all ranks and encodes the targets; sets the loss in `settings`.
fn prepare_shard(a: &TrainArgs, c: &dyn Comm, settings: &mut Settings) -> Result<ShardData> {
    let lead = c.rank() == 0;
    // ---- this rank's rows (and the test set, on rank 0)
    let opts = data::load_options(&a.source.data);
    let (train_path, test_path) = a.source.paths();
    let idx_data = data::is_idx(&train_path, &opts);
    let (shard, test_t) = agree(c, (|| {
        let (t, _) = load_shard(&train_path, &opts, c)?;
        data::labels(&t, &train_path)?;
        let test = match (&test_path, lead) {
            (Some(p), true) => Some(data::load(p, &opts, Split::Test)?),
            _ => None,
        };
        // the test rows of the chosen classes
        let test = test.map(|tt| match (&a.source.classes, &tt.labels) {
            (Some(cl), Some(tl)) => data::select_rows(&tt, &(0..tt.n).filter(|&i| cl.contains(&tl[i])).collect::<Vec<_>>()),
            _ => tt,
        });
        if let (Some(tt), Some(p)) = (&test, &test_path) {
            data::labels(tt, p)?;
            if tt.d != t.d {
                bail!("{}: {} features but the training data {} has {}", p.display(), tt.d, train_path.display(), t.d);
            }
        }
        Ok((t, test))
    })())?;
    // ---- classes over all ranks, then this rank's rows of them
    let labels = shard.labels.clone().unwrap_or_default();
    let mut distinct = labels.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let present = Classes::from_labels(&all_gather_f64(c, &distinct).concat());
    let keep: Vec<usize> = agree(c, (|| {
        let Some(cl) = &a.source.classes else { return Ok((0..shard.n).collect()) };
        if cl.len() < 2 {
            bail!("--classes: give at least two classes (e.g. --classes 0,6)");
        }
        if let Some(&missing) = cl.iter().find(|&&x| present.index_of(x).is_none()) {
            bail!("{}: class {missing} given in --classes does not occur in the labels", train_path.display());
        }
        Ok((0..shard.n).filter(|&i| cl.contains(&labels[i])).collect())
    })())?;
    let shard = data::select_rows(&shard, &keep);
    let labels = shard.labels.clone().unwrap_or_default();
    let n = sum(c, &[shard.n as f64])[0] as usize;
    let label_set: Vec<f64> = present.labels.iter().copied().filter(|l| a.source.classes.as_ref().map_or(true, |cl| cl.contains(l))).collect();
    let classification = match a.task {
        TaskArg::Classification => true,
        TaskArg::Regression => false,
        TaskArg::Auto => label_set.iter().all(|l| l.fract() == 0.0) && label_set.len() <= 1000,
    };
    let task = if classification { Task::Classification(Classes::from_labels(&label_set)) } else { Task::Regression };
    let classes = match &task {
        Task::Classification(cl) => Some(cl.clone()),
        Task::Regression => None,
    };
    settings.loss = agree(c, crate::auto_beta::loss_for(a.loss, &task))?;
    // ---- preprocessing fitted on all rows, targets
    let kind = match a.preprocess {
        Some(PreprocessArg::None) => PreprocessKind::None,
        Some(PreprocessArg::Scale) => PreprocessKind::Scale01,
        Some(PreprocessArg::Standardize) => PreprocessKind::Standardize,
        None if idx_data => PreprocessKind::Scale01,
        None => PreprocessKind::Standardize,
    };
    let mut x = to_mat(&shard);
    let pre = fit_preprocessing(&x, kind, n, c);
    pre.apply(x.as_mut());
    let encode = |labels: &[f64], path: &Path| -> Result<Mat<f32>> {
        match &classes {
            Some(cl) => cl.encode(labels).map_err(|e| anyhow!("{}: {e}", path.display())),
            None => Ok(data::targets(labels)),
        }
    };
    let (y, test) = agree(c, (|| {
        if classification && label_set.len() < 2 {
            bail!("{}: fewer than two classes in the training labels; a classifier needs two", train_path.display());
        }
        let y = encode(&labels, &train_path)?;
        let test = match (&test_t, &test_path) {
            (Some(t), Some(p)) => {
                let mut tx = to_mat(t);
                pre.apply(tx.as_mut());
                let tl = t.labels.clone().unwrap_or_default();
                Some((tx, encode(&tl, p)?, tl))
            }
            _ => None,
        };
        Ok((y, test))
    })())?;
    Ok(ShardData { train_path, shard, x, y, labels, n, classes, task, pre, test })
}

fn train(a: &TrainArgs, comm: &Arc<dyn Comm>) -> Result<i32> {
    let t_start = Instant::now();
    let (rank, size, c) = (comm.rank(), comm.size(), &**comm);
    let lead = rank == 0;
    // ---- options and outputs (rank 0 checks the files it will write)
    let settings = agree(c, settings_of(a).and_then(|s| {
        if lead {
            check_output(&a.out, a.force, "the model")?;
            if let Some(p) = &a.metrics {
                check_output(p, a.force, "the metrics")?;
            }
        }
        Ok(s)
    }))?;
    let mut settings = settings;
    let ShardData { train_path, shard, x, y, labels, n, classes, task, pre, test } = prepare_shard(a, c, &mut settings)?;
    // ---- setup (collective; agrees on settings, widths and validation itself)
    let mut solver = Solver::new_distributed(x.as_ref(), y.as_ref(), settings.clone(), comm.clone())
        .map_err(|e| Agreed(format!("{}: {e}", train_path.display())))?;
    let say = |s: &str| if lead && !a.quiet { eprintln!("{s}") };
    say(&format!(
        "cronos: {n} rows × {} features on {size} ranks ({} here) from {}; {} patterns, β = {:?}, setup {:.2}s",
        x.ncols(), x.nrows(), train_path.display(), solver.n_patterns(), solver.beta(), solver.setup_seconds()
    ));
    // ---- the driver loop: every rank observes alike (replicated state, rank 0's clock and
    // rank 0's Ctrl-C flag), so all ranks take the same branches
    let bytes0 = c.bytes_reduced();
    let evaluate = |solver: &mut Solver<f32>, model: &cronos::Model<f32>| -> Result<Scores> {
        let train = Some(global_score(solver.train_predictions(), &labels, y.as_ref(), classes.as_ref(), n, c));
        let test = test.as_ref().map(|(tx, ty, tl)| {
            let pred = model.predict(tx.as_ref()).unwrap_or_else(|e| fatal(c, e.into()));
            global_score(pred.as_ref(), tl, ty.as_ref(), classes.as_ref(), tl.len(), &cronos::LocalComm)
        });
        Ok(Scores { train, test, val: None })
    };
    let mut obs = TrainObserver {
        evaluate: Box::new(evaluate),
        records: Vec::new(),
        best: None,
        patience: usize::MAX,
        progress: Progress::new(a.quiet || !lead, false, settings.max_iter, classes.is_some()),
        checkpoint: None,
        stop: install_interrupt(),
        comm: Some(c),
        error: None,
    };
    obs.progress.header();
    let sol = solver.run(&mut [&mut obs]);
    if let Some(e) = obs.error.take() {
        fatal(c, e);
    }
    let (status, records) = (sol.status, std::mem::take(&mut obs.records));
    drop(obs);
    let solve_seconds = sol.solve_seconds;
    let iterations = records.len();
    let bytes_per_iter = (c.bytes_reduced() - bytes0) as f64 / iterations.max(1) as f64;
    let certificate = solver.certify().clone();
    let feasibility = solver.feasibility(); // collective, like the certificate
    let model = solver.model();
    let train_pred = model.predict(x.as_ref()).unwrap_or_else(|e| fatal(c, e.into()));
    let train_score = global_score(train_pred.as_ref(), &labels, y.as_ref(), classes.as_ref(), n, c);
    // per-rank fingerprints, combined (a single process fingerprints the whole table instead)
    let fp = u64::from_str_radix(&shard.fingerprint(), 16).unwrap_or(0);
    let fps = all_gather_f64(c, &[(fp >> 32) as f64, (fp & 0xffff_ffff) as f64]);
    if !lead {
        return Ok(0);
    }
    // ---- rank 0: metrics, model file, summary
    let fingerprint = format!("mpi{size}-{:016x}", cronos::comm::fnv1a(format!("{fps:?}").as_bytes()));
    let test_score = test.as_ref().map(|(tx, ty, tl)| -> Result<f64> {
        let p = model.predict(tx.as_ref())?;
        Ok(global_score(p.as_ref(), tl, ty.as_ref(), classes.as_ref(), tl.len(), &cronos::LocalComm))
    }).transpose()?;
    let (tk, vk) = if classes.is_some() { ("train_accuracy", "test_accuracy") } else { ("train_mse", "test_mse") };
    let conv = |v: f64| if classes.is_some() { v } else { -v };
    let mut metrics = serde_json::Map::new();
    metrics.insert(tk.into(), json!(conv(train_score)));
    metrics.insert(vk.into(), json!(test_score.map(conv)));
    metrics.insert("objective".into(), json!(certificate.objective));
    metrics.insert("lower_bound".into(), json!(certificate.lower_bound));
    metrics.insert("relative_gap".into(), json!(certificate.relative_gap));
    metrics.insert("constraint_violation".into(), json!(feasibility.constraint_violation));
    metrics.insert("network_objective".into(), json!(feasibility.network_objective));
    metrics.insert("admm_iterations".into(), json!(iterations));
    metrics.insert("cg_iterations".into(), json!(records.iter().map(|r| r.info.cg_iterations).sum::<usize>()));
    metrics.insert("active_neurons".into(), json!(model.active_neurons()));
    metrics.insert("ranks".into(), json!(size));
    metrics.insert("allreduce_bytes_per_iteration".into(), json!(bytes_per_iter));
    let mut meta = Metadata::new(settings.clone());
    meta.n_train = n;
    meta.data_fingerprint = fingerprint.clone();
    meta.data_source = data::source_name(&train_path);
    meta.metrics = metrics.clone().into_iter().collect();
    meta.certificate = certificate.clone();
    meta.status = status.to_string();
    let (n_patterns, beta) = (model.n_patterns(), model.beta.clone());
    ModelFile::new(model, pre, task, meta).save(&a.out, a.force)?;
    if let Some(p) = &a.metrics {
        crate::train::report::write_metrics_file(p, a.force, &records, classes.is_some())?;
    }
    let mut summary = metrics;
    summary.insert("status".into(), json!(status.to_string()));
    summary.insert("seconds".into(), json!(solve_seconds));
    summary.insert("seconds_per_iteration".into(), json!(solve_seconds / iterations.max(1) as f64));
    summary.insert("setup_seconds".into(), json!(solver.setup_seconds()));
    summary.insert("total_seconds".into(), json!(t_start.elapsed().as_secs_f64()));
    summary.insert("n_patterns".into(), json!(n_patterns));
    summary.insert("beta".into(), crate::train::report::beta_json(&beta));
    summary.insert("n_train".into(), json!(n));
    summary.insert("n_test".into(), json!(test.as_ref().map(|t| t.2.len())));
    summary.insert("n_features".into(), json!(x.ncols()));
    summary.insert("classes".into(), json!(classes.as_ref().map(|cl| cl.labels.clone())));
    summary.insert("model_path".into(), json!(a.out.display().to_string()));
    summary.insert("data_fingerprint".into(), json!(fingerprint));
    if a.json {
        println!("{}", serde_json::Value::Object(summary));
    }
    say(&format!(
        "status: {status} after {iterations} ADMM iterations, {solve_seconds:.2}s on {size} ranks ({:.3}s per iteration, {:.0} bytes summed per iteration); objective {:.6e}, lower bound {:.6e}, gap {:.3e}; model saved to {}",
        solve_seconds / iterations.max(1) as f64, bytes_per_iter, certificate.objective, certificate.lower_bound, certificate.relative_gap, a.out.display()
    ));
    Ok(match status {
        Status::Interrupted => 130,
        Status::NumericalError => {
            eprintln!("error: {}: the solver hit a numerical error (NaN/Inf); saved the last model", train_path.display());
            1
        }
        _ => 0,
    })
}
