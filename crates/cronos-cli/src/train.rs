//! `cronos train`.

use crate::data::{self, accuracy, check_output, mse, r2, select_rows, to_mat};
use crate::{PrecondArg, PreprocessArg, TaskArg, TrainArgs, BUNDLED_DATA};
use anyhow::{anyhow, bail, Context, Result};
use cronos::{
    Activation, Beta, Certificate, Checkpoint, IterInfo, Model, PrecondKind, Settings, Solver,
    Status,
};
use cronos_data::{Split, Table};
use cronos_model::{Classes, Metadata, ModelFile, PreprocessKind, Preprocessing, Task};
use faer::Mat;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One iteration's record (metrics line, plot, checkpoint).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    info: IterInfo,
    train: Option<f64>,
    test: Option<f64>,
    val: Option<f64>,
}

/// Early-stopping state.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Best {
    score: f64,
    /// Tie-breaker: minus the validation loss.
    secondary: f64,
    iteration: usize,
    since: usize,
    weights: Vec<f32>,
    rows: usize,
    cols: usize,
    objective: f64,
    lower_bound: f64,
    relative_gap: f64,
}

const CHECKPOINT_MAGIC: &str = "cronos-checkpoint-1";

#[derive(Serialize, Deserialize)]
struct CheckpointFile {
    magic: String,
    fingerprint: String,
    settings: String,
    solver: Checkpoint<f32>,
    records: Vec<Record>,
    best: Option<Best>,
}

fn settings_key(s: &Settings) -> String {
    let mut s = s.clone();
    s.max_iter = 1;
    s.time_limit = None;
    serde_json::to_string(&s).unwrap_or_default()
}

struct Split3 {
    x: Mat<f32>,
    labels: Vec<f64>,
    y: Mat<f32>,
}

/// Something that prints progress lines on stderr, through the progress bar when it is drawn.
struct Out {
    pb: ProgressBar,
    quiet: bool,
}

impl Out {
    fn line(&self, s: &str) {
        if self.quiet {
            return;
        }
        if self.pb.is_hidden() {
            eprintln!("{s}");
        } else {
            self.pb.println(s);
        }
    }
}

fn spinner(quiet: bool, msg: &str) -> ProgressBar {
    let pb = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").unwrap());
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

pub fn run(a: TrainArgs) -> Result<i32> {
    if a.deep.kind != crate::deep::ModelKind::Convex {
        return crate::deep::run(a);
    }
    let t_start = Instant::now();
    // ---- settings, checked before anything heavy
    let (mut settings, beta_auto) = solver_settings(&a)?;
    let path_settings = crate::auto_beta::path_settings(&a)?;
    if let Some(f) = a.val_fraction {
        if !(f > 0.0 && f < 1.0) {
            bail!("--val-fraction {f}: must lie in (0, 1)");
        }
    }
    if a.checkpoint_every == 0 {
        bail!("--checkpoint-every 0: must be >= 1");
    }
    // ---- outputs, checked before training
    check_output(&a.out, a.force, "the model")?;
    if let Some(p) = &a.plot {
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        if !matches!(ext.as_deref(), Some("svg") | Some("png")) {
            bail!("{}: the plot must be a .svg or .png file", p.display());
        }
        check_output(p, a.force, "the plot")?;
    }
    if let Some(p) = &a.metrics {
        check_output(p, a.force, "the metrics")?;
    }
    if let Some(p) = &a.checkpoint {
        if a.resume {
            if !p.is_file() {
                bail!(
                    "{}: no such checkpoint file (--resume needs one)",
                    p.display()
                );
            }
        } else if p.exists() && !a.force {
            bail!(
                "{}: already exists (use --resume to continue from it, or --force to overwrite)",
                p.display()
            );
        } else {
            check_output(p, true, "the checkpoint")?;
        }
    }

    // ---- data
    let sp = spinner(a.quiet, "loading data");
    let opts = data::load_options(&a.data);
    let (train_path, test_path): (PathBuf, Option<PathBuf>) = match (&a.train, &a.dir) {
        (Some(t), _) => (t.clone(), a.test.clone()),
        (None, Some(d)) => (d.clone(), Some(d.clone())),
        (None, None) => (
            PathBuf::from(BUNDLED_DATA),
            Some(PathBuf::from(BUNDLED_DATA)),
        ),
    };
    if a.train.is_none() && !train_path.is_dir() {
        bail!(
            "{}: not a directory of IDX files (use --train FILE for a data file)",
            train_path.display()
        );
    }
    let train_t = data::load(&train_path, &opts, Split::Train)?;
    let test_t = match &test_path {
        Some(p) => Some(data::load(p, &opts, Split::Test)?),
        None => None,
    };
    sp.finish_and_clear();
    let idx_data = data::is_idx(&train_path, &opts);
    let train_labels = data::labels(&train_t, &train_path)?.to_vec();
    if let (Some(t), Some(p)) = (&test_t, &test_path) {
        data::labels(t, p)?;
        if t.d != train_t.d {
            bail!(
                "{}: {} features but the training data {} has {}",
                p.display(),
                t.d,
                train_path.display(),
                train_t.d
            );
        }
    }
    if train_t.n == 0 {
        bail!("{}: no rows", train_path.display());
    }

    // ---- class subset
    let mut train_idx: Vec<usize> = (0..train_t.n).collect();
    let mut test_idx: Vec<usize> = test_t
        .as_ref()
        .map(|t| (0..t.n).collect())
        .unwrap_or_default();
    if let Some(cl) = &a.classes {
        if cl.len() < 2 {
            bail!("--classes: give at least two classes (e.g. --classes 0,6)");
        }
        let present = Classes::from_labels(&train_labels);
        for &c in cl {
            if present.index_of(c).is_none() {
                bail!(
                    "{}: class {c} given in --classes does not occur in the labels (classes: {})",
                    train_path.display(),
                    fmt_list(&present.labels)
                );
            }
        }
        train_idx.retain(|&i| cl.contains(&train_labels[i]));
        if let Some(t) = &test_t {
            let tl = t.labels.as_ref().unwrap();
            test_idx.retain(|&i| cl.contains(&tl[i]));
        }
    }
    if let Some(n) = a.n_train {
        if n == 0 {
            bail!("--n-train 0: need at least one row");
        }
        train_idx.truncate(n);
    }
    if let Some(n) = a.n_test {
        test_idx.truncate(n);
    }
    let train_t = select_rows(&train_t, &train_idx);
    let test_t = test_t.map(|t| select_rows(&t, &test_idx));
    let fingerprint = train_t.fingerprint();
    let train_labels = train_t.labels.clone().unwrap();

    // ---- task
    let all_int = train_labels.iter().all(|l| l.fract() == 0.0);
    let classification = match a.task {
        TaskArg::Classification => true,
        TaskArg::Regression => false,
        TaskArg::Auto => all_int && Classes::from_labels(&train_labels).len() <= 1000,
    };
    let task = if classification {
        let c = Classes::from_labels(&train_labels);
        if c.len() < 2 {
            bail!(
                "{}: only one class ({}) in the training labels; a classifier needs two",
                train_path.display(),
                fmt_list(&c.labels)
            );
        }
        Task::Classification(c)
    } else {
        Task::Regression
    };
    settings.loss = crate::auto_beta::loss_for(a.loss, &task)?;

    // ---- validation split (seeded shuffle)
    let (fit_t, val_t) = match a.val_fraction {
        Some(f) => {
            let n = train_t.n;
            let nv = ((n as f64) * f).round() as usize;
            if nv == 0 || nv >= n {
                bail!(
                    "--val-fraction {f}: leaves {} validation and {} training rows of {n}",
                    nv,
                    n - nv.min(n)
                );
            }
            let mut perm: Vec<usize> = (0..n).collect();
            let mut s = a.seed ^ 0x9e37_79b9_7f4a_7c15;
            for i in (1..n).rev() {
                s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = s;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                perm.swap(i, (z % (i as u64 + 1)) as usize);
            }
            let (fit, val) = perm.split_at(n - nv);
            let (mut fit, mut val) = (fit.to_vec(), val.to_vec());
            fit.sort_unstable();
            val.sort_unstable();
            (
                select_rows(&train_t, &fit),
                Some(select_rows(&train_t, &val)),
            )
        }
        None => (train_t.clone(), None),
    };

    // ---- preprocessing
    let kind = match a.preprocess {
        Some(PreprocessArg::None) => PreprocessKind::None,
        Some(PreprocessArg::Scale) => PreprocessKind::Scale01,
        Some(PreprocessArg::Standardize) => PreprocessKind::Standardize,
        None if idx_data => PreprocessKind::Scale01,
        None => PreprocessKind::Standardize,
    };
    let fit_x_raw = to_mat(&fit_t);
    let pre = Preprocessing::fit(fit_x_raw.as_ref(), kind);
    let prep = |t: &Table, path: &Path| -> Result<Split3> {
        let mut x = to_mat(t);
        pre.apply(x.as_mut());
        let labels = t.labels.clone().unwrap_or_default();
        let y = match &task {
            Task::Classification(c) => c
                .encode(&labels)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?,
            Task::Regression => data::targets(&labels),
        };
        Ok(Split3 { x, labels, y })
    };
    let fit = prep(&fit_t, &train_path)?;
    let val = val_t.as_ref().map(|t| prep(t, &train_path)).transpose()?;
    let test = match (&test_t, &test_path) {
        (Some(t), Some(p)) => Some(prep_lenient(t, p, &pre, &task)?),
        _ => None,
    };
    drop(fit_x_raw);

    // ---- β (path on a validation split of the fitting rows), then setup
    let weights = crate::auto_beta::class_weights(a.class_weight, &task, &fit.labels)?;
    let choice = if beta_auto {
        let c = crate::auto_beta::choose(
            fit.x.as_ref(),
            fit.y.as_ref(),
            weights.as_deref(),
            &settings,
            &path_settings,
            a.quiet,
        )
        .with_context(|| format!("{}", train_path.display()))?;
        settings.beta = Beta::Fraction(c.fraction);
        Some(c)
    } else {
        None
    };
    let sp = spinner(
        a.quiet,
        "setup: sampling patterns, Gram matrix, preconditioner",
    );
    let mut solver = Solver::new_weighted(
        fit.x.as_ref(),
        fit.y.as_ref(),
        weights.as_deref(),
        settings.clone(),
    )
    .with_context(|| format!("{}", train_path.display()))?;
    if let Some(c) = &choice {
        // warm start from the chosen path model (a different pattern count means a cold start)
        let _ = solver.warm_start(&c.model);
    }
    sp.finish_and_clear();
    let mut records: Vec<Record> = Vec::new();
    let mut best: Option<Best> = None;
    if a.resume {
        let p = a.checkpoint.as_ref().unwrap();
        let bytes = std::fs::read(p).with_context(|| format!("{}", p.display()))?;
        let cf: CheckpointFile = bincode::deserialize(&bytes)
            .map_err(|e| anyhow!("{}: not a cronos checkpoint or corrupted: {e}", p.display()))?;
        if cf.magic != CHECKPOINT_MAGIC {
            bail!(
                "{}: not a cronos checkpoint (or from another version)",
                p.display()
            );
        }
        if cf.fingerprint != fingerprint {
            bail!(
                "{}: checkpoint was taken on different training data (fingerprint {} vs {})",
                p.display(),
                cf.fingerprint,
                fingerprint
            );
        }
        if cf.settings != settings_key(&settings) {
            bail!("{}: checkpoint was taken with different settings (only --max-iter and --time-limit may change)", p.display());
        }
        solver
            .restore(cf.solver)
            .with_context(|| format!("{}", p.display()))?;
        records = cf.records;
        best = cf.best;
    }

    // ---- Ctrl-C
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }

    let pb = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(settings.max_iter as u64), ProgressDrawTarget::stderr())
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} ADMM [{bar:30}] {pos}/{len} it  {elapsed} elapsed, ETA {eta}  {msg}",
        )
        .unwrap()
        .progress_chars("=> "),
    );
    let out = Out {
        pb: pb.clone(),
        quiet: a.quiet,
    };
    let start_iter = records.len();
    pb.set_position(start_iter as u64);
    if !a.quiet {
        let what = match &task {
            Task::Classification(c) => format!("classification, {} classes", c.len()),
            Task::Regression => "regression".into(),
        };
        out.line(&format!(
            "cronos: {} rows × {} features ({what}) from {}; {} patterns, β = {}, setup {:.2}s{}",
            fit.x.nrows(),
            fit.x.ncols(),
            train_path.display(),
            solver.n_patterns(),
            fmt_list(&solver.beta()),
            solver.setup_seconds(),
            if a.resume {
                format!(", resumed at iteration {start_iter}")
            } else {
                String::new()
            }
        ));
        out.line("    iter   objective  cert. gap   primal     dual       train    test     CG   elapsed");
    }

    let classes = match &task {
        Task::Classification(c) => Some(c.clone()),
        Task::Regression => None,
    };
    let score_of = |pred: faer::MatRef<'_, f32>, sp: &Split3| -> f64 {
        match &classes {
            Some(c) => accuracy(&c.decode(pred), &sp.labels),
            None => -mse(pred, sp.y.as_ref()),
        }
    };
    let show = |v: Option<f64>| -> String {
        match (v, &classes) {
            (Some(v), Some(_)) => format!("{:6.2}%", 100.0 * v),
            (Some(v), None) => format!("{:.3e}", -v),
            (None, _) => "     - ".into(),
        }
    };

    // ---- the ADMM loop (mirrors Solver::solve_with, with our own evaluation per certificate)
    let t_solve = Instant::now();
    let time_offset = records.last().map_or(0.0, |r| r.info.seconds);
    let status;
    let mut early = false;
    loop {
        if records.last().map_or(0, |r| r.info.iteration) >= settings.max_iter {
            status = Status::MaxIterations;
            break;
        }
        solver.step();
        // the library's own termination test (NaN, certified convergence, limits)
        let (info, end) = solver.termination(t_solve.elapsed());
        let mut rec = Record {
            info: info.clone(),
            train: None,
            test: None,
            val: None,
        };
        if info.certified {
            rec.train = Some(score_of(solver.train_predictions(), &fit));
            let model = solver.model();
            if let Some(t) = &test {
                rec.test = Some(score_of(model.predict(t.x.as_ref())?.as_ref(), t));
            }
            if let Some(v) = &val {
                let vp = model.predict(v.x.as_ref())?;
                let s = score_of(vp.as_ref(), v);
                let sec = -mse(vp.as_ref(), v.y.as_ref());
                rec.val = Some(s);
                let improved = match best.as_ref() {
                    None => true,
                    Some(b) => s > b.score || (s == b.score && sec > b.secondary),
                };
                if improved {
                    best = Some(Best {
                        score: s,
                        secondary: sec,
                        iteration: info.iteration,
                        since: 0,
                        rows: model.weights.nrows(),
                        cols: model.weights.ncols(),
                        weights: (0..model.weights.ncols())
                            .flat_map(|j| (0..model.weights.nrows()).map(move |i| (i, j)))
                            .map(|(i, j)| model.weights[(i, j)])
                            .collect(),
                        objective: info.objective,
                        lower_bound: info.lower_bound,
                        relative_gap: info.relative_gap,
                    });
                } else if let Some(b) = &mut best {
                    b.since += 1;
                }
            }
            out.line(&format!(
                "{:>8} {:>11.5e} {:>10.3e} {:>10.3e} {:>10.3e}  {} {}  {:>4}  {:>7.2}s",
                info.iteration,
                info.objective,
                info.relative_gap,
                info.primal_residual,
                info.dual_residual,
                show(rec.train),
                show(rec.test.or(rec.val)),
                info.cg_iterations,
                time_offset + t_solve.elapsed().as_secs_f64()
            ));
            pb.set_message(format!("gap {:.2e}", info.relative_gap));
        }
        records.push(rec);
        pb.set_position(info.iteration as u64);
        let interrupted = stop.load(Ordering::SeqCst);
        if let Some(p) = &a.checkpoint {
            if info.iteration % a.checkpoint_every == 0 || interrupted {
                write_checkpoint(p, &solver, &records, &best, &fingerprint, &settings)?;
            }
        }
        if let Some(s @ (Status::Solved | Status::NumericalError)) = end {
            status = s;
            break;
        }
        if interrupted {
            status = Status::Interrupted;
            break;
        }
        if best.as_ref().is_some_and(|b| b.since >= a.patience) {
            status = Status::Interrupted;
            early = true;
            break;
        }
        if let Some(s) = end {
            status = s;
            break;
        }
    }
    pb.finish_and_clear();
    let solve_seconds = t_solve.elapsed().as_secs_f64();

    // ---- the model to save: the best validation iterate, or the last one
    let (model, certificate, best_iteration): (Model<f32>, Certificate, Option<usize>) = match &best
    {
        Some(b) => {
            let mut m = solver.model();
            m.weights = Mat::from_fn(b.rows, b.cols, |i, j| b.weights[j * b.rows + i]);
            let c = Certificate {
                objective: b.objective,
                lower_bound: b.lower_bound,
                relative_gap: b.relative_gap,
                ..Certificate::default()
            };
            (m, c, Some(b.iteration))
        }
        None => (solver.model(), solver.certify().clone(), None),
    };
    // the saved weights as a network (a restored best iterate is not the solver's state)
    let feasibility = best.is_none().then(|| solver.feasibility());
    let iterations = records.last().map_or(0, |r| r.info.iteration);
    let cg_iterations: usize = records.iter().map(|r| r.info.cg_iterations).sum();

    // ---- final metrics with the saved network
    let train_pred = model.predict(fit.x.as_ref())?;
    let test_pred = test
        .as_ref()
        .map(|t| model.predict(t.x.as_ref()))
        .transpose()?;
    let val_pred = val
        .as_ref()
        .map(|v| model.predict(v.x.as_ref()))
        .transpose()?;
    let mut metrics = serde_json::Map::new();
    let status_s = if early {
        "early_stopped".to_string()
    } else {
        status.to_string()
    };
    match &classes {
        Some(c) => {
            metrics.insert(
                "train_accuracy".into(),
                json!(accuracy(&c.decode(train_pred.as_ref()), &fit.labels)),
            );
            metrics.insert(
                "test_accuracy".into(),
                json!(test_pred
                    .as_ref()
                    .zip(test.as_ref())
                    .map(|(p, t)| accuracy(&c.decode(p.as_ref()), &t.labels))),
            );
            metrics.insert(
                "validation_accuracy".into(),
                json!(val_pred
                    .as_ref()
                    .zip(val.as_ref())
                    .map(|(p, v)| accuracy(&c.decode(p.as_ref()), &v.labels))),
            );
            metrics.insert("train_mse".into(), json!(null));
            metrics.insert("test_mse".into(), json!(null));
            metrics.insert("test_r2".into(), json!(null));
        }
        None => {
            metrics.insert("train_accuracy".into(), json!(null));
            metrics.insert("test_accuracy".into(), json!(null));
            metrics.insert(
                "train_mse".into(),
                json!(mse(train_pred.as_ref(), fit.y.as_ref())),
            );
            metrics.insert(
                "test_mse".into(),
                json!(test_pred
                    .as_ref()
                    .zip(test.as_ref())
                    .map(|(p, t)| mse(p.as_ref(), t.y.as_ref()))),
            );
            metrics.insert(
                "test_r2".into(),
                json!(test_pred
                    .as_ref()
                    .zip(test.as_ref())
                    .map(|(p, t)| r2(p.as_ref(), t.y.as_ref()))),
            );
            metrics.insert(
                "validation_mse".into(),
                json!(val_pred
                    .as_ref()
                    .zip(val.as_ref())
                    .map(|(p, v)| mse(p.as_ref(), v.y.as_ref()))),
            );
        }
    }
    metrics.insert("objective".into(), json!(certificate.objective));
    metrics.insert("lower_bound".into(), json!(certificate.lower_bound));
    metrics.insert("relative_gap".into(), json!(certificate.relative_gap));
    metrics.insert("constraint_violation".into(), json!(feasibility.map(|f| f.constraint_violation)));
    metrics.insert("network_objective".into(), json!(feasibility.map(|f| f.network_objective)));
    metrics.insert("admm_iterations".into(), json!(iterations));
    metrics.insert("cg_iterations".into(), json!(cg_iterations));
    metrics.insert("active_neurons".into(), json!(model.active_neurons()));
    metrics.insert("n_test".into(), json!(test.as_ref().map(|t| t.x.nrows())));
    metrics.insert(
        "n_validation".into(),
        json!(val.as_ref().map(|v| v.x.nrows())),
    );
    metrics.insert("best_iteration".into(), json!(best_iteration));

    // ---- save
    let mut meta = Metadata::new(settings.clone());
    meta.n_train = fit.x.nrows();
    meta.data_fingerprint = fingerprint.clone();
    meta.data_source = match &a.train {
        Some(_) => data::source_name(&train_path),
        None if a.dir.is_none() => "bundled fashion-mnist".into(),
        None => data::source_name(&train_path),
    };
    meta.metrics = metrics.clone().into_iter().collect();
    meta.certificate = certificate.clone();
    meta.status = status_s.clone();
    let active = model.active_neurons();
    let n_patterns = model.n_patterns();
    let beta = model.beta.clone();
    let mf = ModelFile::new(model, pre.clone(), task.clone(), meta);
    mf.save(&a.out, a.force)?;

    // ---- metrics file and plot
    if let Some(p) = &a.metrics {
        let mut s = String::new();
        for r in &records {
            let mut v = serde_json::to_value(&r.info)?;
            let o = v.as_object_mut().unwrap();
            let (tk, vk) = if classes.is_some() {
                ("train_accuracy", "test_accuracy")
            } else {
                ("train_mse", "test_mse")
            };
            let conv = |x: Option<f64>| x.map(|v| if classes.is_some() { v } else { -v });
            o.insert(tk.into(), json!(conv(r.train)));
            o.insert(vk.into(), json!(conv(r.test)));
            o.insert(
                if classes.is_some() {
                    "validation_accuracy"
                } else {
                    "validation_mse"
                }
                .into(),
                json!(conv(r.val)),
            );
            s.push_str(&serde_json::to_string(&v)?);
            s.push('\n');
        }
        cronos_data::atomic_write(p, a.force, |w| w.write_all(s.as_bytes()))?;
    }
    if let Some(p) = &a.plot {
        let acc = |f: fn(&Record) -> Option<f64>| -> Vec<Option<f64>> {
            records
                .iter()
                .map(|r| if classes.is_some() { f(r) } else { None })
                .collect()
        };
        let series = cronos_plot::Series {
            seconds: records.iter().map(|r| r.info.seconds).collect(),
            objective: records.iter().map(|r| r.info.objective).collect(),
            relative_gap: records.iter().map(|r| r.info.relative_gap).collect(),
            train_accuracy: acc(|r| r.train),
            test_accuracy: acc(|r| r.test.or(r.val)),
            cg_iterations: records
                .iter()
                .map(|r| r.info.cg_iterations as f64)
                .collect(),
            primal_residual: records.iter().map(|r| r.info.primal_residual).collect(),
            dual_residual: records.iter().map(|r| r.info.dual_residual).collect(),
        };
        // one β per output: show the range, so the title fits whatever the class count
        let (lo, hi) = beta
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(l, h), &b| (l.min(b), h.max(b)));
        let beta_text = if beta.len() == 1 || lo == hi {
            format!("{lo:.4}")
        } else {
            format!("{lo:.4}…{hi:.4} ({} outputs)", beta.len())
        };
        let source = std::path::Path::new(&mf.metadata.data_source)
            .file_name()
            .map_or(mf.metadata.data_source.clone(), |f| {
                f.to_string_lossy().into_owned()
            });
        let title = format!(
            "cronos: {}, {}, n={}, P={}, β={}",
            if settings.activation == Activation::Relu {
                "convex ReLU"
            } else {
                "convex gated ReLU"
            },
            source,
            fit.x.nrows(),
            n_patterns,
            beta_text
        );
        cronos_plot::write_report(p, &cronos_plot::ReportInfo { title }, &series)
            .map_err(|e| anyhow!("{}: {e}", p.display()))?;
    }

    // ---- summary
    let total = t_start.elapsed().as_secs_f64();
    let mut summary = serde_json::Map::new();
    summary.insert("status".into(), json!(status_s));
    for k in [
        "objective",
        "lower_bound",
        "relative_gap",
        "constraint_violation",
        "network_objective",
        "train_accuracy",
        "test_accuracy",
        "validation_accuracy",
        "train_mse",
        "test_mse",
        "test_r2",
        "validation_mse",
    ] {
        if let Some(v) = metrics.get(k) {
            summary.insert(k.into(), v.clone());
        }
    }
    summary.insert("seconds".into(), json!(solve_seconds + time_offset));
    summary.insert("setup_seconds".into(), json!(solver.setup_seconds()));
    summary.insert("total_seconds".into(), json!(total));
    summary.insert("admm_iterations".into(), json!(iterations));
    summary.insert("cg_iterations".into(), json!(cg_iterations));
    summary.insert("active_neurons".into(), json!(active));
    summary.insert("n_patterns".into(), json!(n_patterns));
    summary.insert(
        "beta".into(),
        json!(if beta.len() == 1 {
            json!(beta[0])
        } else {
            json!(beta)
        }),
    );
    summary.insert(
        "loss".into(),
        json!(format!("{:?}", settings.loss).to_lowercase()),
    );
    summary.insert("beta_auto".into(), json!(choice.is_some()));
    if let Some(c) = &choice {
        summary.insert("beta_fraction".into(), json!(c.fraction));
        summary.insert("path_seconds".into(), json!(c.seconds));
        summary.insert("beta_path".into(), serde_json::to_value(&c.path)?);
    }
    summary.insert("n_train".into(), json!(fit.x.nrows()));
    summary.insert("n_test".into(), metrics["n_test"].clone());
    summary.insert("n_validation".into(), metrics["n_validation"].clone());
    summary.insert("n_features".into(), json!(fit.x.ncols()));
    summary.insert(
        "task".into(),
        json!(if classes.is_some() {
            "classification"
        } else {
            "regression"
        }),
    );
    summary.insert(
        "classes".into(),
        json!(classes.as_ref().map(|c| c.labels.clone())),
    );
    summary.insert("best_iteration".into(), json!(best_iteration));
    summary.insert("model_path".into(), json!(a.out.display().to_string()));
    summary.insert("data_fingerprint".into(), json!(fingerprint));
    if a.json {
        println!("{}", serde_json::Value::Object(summary.clone()));
    }
    if !a.quiet {
        let f = |k: &str| summary.get(k).and_then(|v| v.as_f64());
        eprintln!("status: {status_s} after {iterations} ADMM iterations ({cg_iterations} CG), {:.2}s (+{:.2}s setup)", solve_seconds + time_offset, solver.setup_seconds());
        eprintln!(
            "objective {:.6e}, certified lower bound {:.6e}, relative gap {:.3e}",
            certificate.objective, certificate.lower_bound, certificate.relative_gap
        );
        if let Some(f) = feasibility.filter(|f| f.constraint_violation > 1e-6) {
            eprintln!(
                "ReLU cone constraints violated by {:.2e} (relative): the network's objective is {:.6e}; the gap certifies feasible weights only",
                f.constraint_violation, f.network_objective
            );
        }
        match &classes {
            Some(_) => eprintln!(
                "accuracy: train {}, test {}{}",
                pct(f("train_accuracy")),
                pct(f("test_accuracy")),
                f("validation_accuracy")
                    .map(|v| format!(
                        ", validation {} (best at iteration {})",
                        pct(Some(v)),
                        best_iteration.unwrap_or(0)
                    ))
                    .unwrap_or_default()
            ),
            None => eprintln!(
                "MSE: train {:.4e}, test {}, test R² {}",
                f("train_mse").unwrap_or(f64::NAN),
                opt(f("test_mse")),
                opt(f("test_r2"))
            ),
        }
        eprintln!(
            "{active} active neurons of {} convex blocks; model saved to {}",
            mf.model.weights.ncols(),
            a.out.display()
        );
        if let Some(p) = &a.plot {
            eprintln!("report plot: {}", p.display());
        }
    }
    if status == Status::Interrupted && !early {
        if !a.quiet {
            eprintln!(
                "interrupted: saved the best model so far to {}",
                a.out.display()
            );
        }
        return Ok(130);
    }
    if status == Status::NumericalError {
        eprintln!(
            "error: {}: the solver hit a numerical error (NaN/Inf); saved the last model",
            train_path.display()
        );
        return Ok(1);
    }
    Ok(0)
}

/// The solver settings from the command line (validated), and whether β is to be chosen
/// automatically (no `--beta VALUE` / `--beta-fraction`; `settings.beta` then keeps the
/// library default). Shared by the single-process and the distributed `train`.
pub fn solver_settings(a: &TrainArgs) -> Result<(Settings, bool)> {
    let mut settings = Settings {
        n_patterns: a.patterns,
        max_iter: a.max_iter,
        seed: a.seed,
        threads: a.threads,
        ..Settings::default()
    };
    let beta_auto = a.beta_fraction.is_none() && !matches!(a.beta, Some(crate::BetaArg::Value(_)));
    if let Some(crate::BetaArg::Value(b)) = a.beta {
        settings.beta = Beta::Value(b);
    } else if let Some(f) = a.beta_fraction {
        settings.beta = Beta::Fraction(f);
    }
    // gated ReLU by default: certified to 1e-3 within minutes on 10 classes (Newton polishing),
    // where the ReLU program's ADMM stays at gaps of 0.1–0.9
    settings.activation = if a.relu { Activation::Relu } else { Activation::GatedRelu };
    settings.centered_gates = !a.raw_gates;
    if let Some(g) = a.polish_below {
        settings.polish_below = g;
    }
    if let Some(t) = a.time_limit {
        if !(t.is_finite() && t > 0.0) {
            bail!("--time-limit {t}: must be a positive number of seconds");
        }
        settings.time_limit = Some(Duration::from_secs_f64(t));
    }
    if let Some(t) = a.tol_gap {
        settings.tol_gap = t;
    }
    if let Some(c) = a.certificate_every {
        settings.certificate_every = c;
    }
    settings.preconditioner = match a.preconditioner {
        PrecondArg::None => PrecondKind::None,
        PrecondArg::Nystrom => PrecondKind::Nystrom,
        PrecondArg::Structured => PrecondKind::Structured,
    };
    settings.validate().context("invalid option")?;
    Ok((settings, beta_auto))
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}%", 100.0 * v))
        .unwrap_or_else(|| "-".into())
}
fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e9 {
        format!("{x}")
    } else if (1e-3..1e4).contains(&x.abs()) {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{x:.3e}")
    }
}

fn fmt_list(v: &[f64]) -> String {
    let s: Vec<String> = v.iter().take(12).map(|&x| fmt_num(x)).collect();
    if v.len() > 12 {
        format!("{}, ...", s.join(", "))
    } else {
        s.join(", ")
    }
}

/// Test data: labels outside the training classes are an error naming the file.
fn prep_lenient(t: &Table, path: &Path, pre: &Preprocessing, task: &Task) -> Result<Split3> {
    let mut x = to_mat(t);
    pre.apply(x.as_mut());
    let labels = t.labels.clone().unwrap_or_default();
    let y = match task {
        Task::Classification(c) => c
            .encode(&labels)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?,
        Task::Regression => data::targets(&labels),
    };
    Ok(Split3 { x, labels, y })
}

fn write_checkpoint(
    p: &Path,
    solver: &Solver<f32>,
    records: &[Record],
    best: &Option<Best>,
    fp: &str,
    settings: &Settings,
) -> Result<()> {
    let cf = CheckpointFile {
        magic: CHECKPOINT_MAGIC.into(),
        fingerprint: fp.into(),
        settings: settings_key(settings),
        solver: solver.checkpoint(),
        records: records.to_vec(),
        best: best.clone(),
    };
    let bytes = bincode::serialize(&cf)?;
    cronos_data::atomic_write(p, true, |w| w.write_all(&bytes))?;
    Ok(())
}
