//! `cronos compare`: CRONOS (the convex two-layer model), CRONOS-AM and end-to-end baselines
//! (SGD with momentum, Adam, AdamW over a learning-rate grid) on one data set, same feature
//! architecture for the deep methods. Prints a table (best validation accuracy, time to it,
//! total time including the grid) and writes validation accuracy vs time for each method
//! ([`table`]).

mod table;

use crate::deep::{head_config, load_data, point_line, DataRequest, DeepData, DeepOpts, ModelKind, OptimizerArg};
use crate::data::check_output;
use anyhow::{bail, Context, Result};
use clap::Args;
use cronos::{Activation, Beta, Control, IterInfo, Observer, Settings, Solver, Status};
use cronos_deep::loss::{accuracy, pm1_targets};
use cronos_deep::{default_grid, train_am, train_baseline, AmConfig, Arch, BaselineConfig, Dataset, EvalSets, Loss, OptimizerKind, Point, RunReport, Tensor};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct CompareArgs {
    // where the data come from (one declaration, shared with `cronos train`)
    #[command(flatten)]
    pub source: crate::source::DataSourceArgs,
    /// Fraction of the training rows held out for validation (model selection)
    #[arg(long, value_name = "F", default_value_t = 1.0 / 12.0)]
    pub val_fraction: f64,
    /// Feature network of the deep methods: cnn or mlp
    #[arg(long = "model", value_enum, default_value = "cnn")]
    pub kind: ModelKind,
    /// Epochs of every deep run
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub epochs: usize,
    /// Mini-batch size
    #[arg(long, value_name = "B", default_value_t = 128)]
    pub batch_size: usize,
    /// Channels of the two CNN convolutions
    #[arg(long, value_name = "C1,C2", value_delimiter = ',', default_value = "16,32")]
    pub channels: Vec<usize>,
    /// Width of the CNN's dense feature layer (0: none)
    #[arg(long, value_name = "D", default_value_t = 128)]
    pub dense: usize,
    /// Hidden widths of the MLP feature layers
    #[arg(long, value_name = "H1,...", value_delimiter = ',', default_value = "256")]
    pub hidden: Vec<usize>,
    /// Hidden width of the baselines' trainable head
    #[arg(long, value_name = "M", default_value_t = 128)]
    pub head_width: usize,
    /// CRONOS-AM: ADMM iterations per head solve
    #[arg(long, value_name = "K", default_value_t = 30)]
    pub head_max_iter: usize,
    /// CRONOS-AM: ADMM iterations of the last head solve (on all training rows)
    #[arg(long, value_name = "K", default_value_t = 50)]
    pub final_head_max_iter: usize,
    /// CRONOS-AM: rows of the intermediate head solves (a fixed random subset)
    #[arg(long, value_name = "N", default_value_t = 20000)]
    pub head_rows: usize,
    /// CRONOS-AM: activation patterns of the head
    #[arg(long, value_name = "P", default_value_t = 32)]
    pub head_patterns: usize,
    /// CRONOS-AM: feature steps between head solves (default: one epoch)
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub steps_per_head: usize,
    /// CRONOS-AM runs: one per optimizer of the feature layers
    #[arg(long, value_enum, value_delimiter = ',', default_value = "dadapt-adamw,adamw")]
    pub am_optimizers: Vec<OptimizerArg>,
    /// Epochs of the CRONOS-AM runs (default: --epochs). One AM run replaces a whole grid of
    /// baseline runs, so "same total time" comparisons give it more epochs
    #[arg(long, value_name = "N")]
    pub am_epochs: Option<usize>,
    /// Learning rate of CRONOS-AM with adamw (a default, not tuned)
    #[arg(long, value_name = "LR", default_value_t = 1e-3)]
    pub am_lr: f32,
    /// Baseline families to run (each over its learning-rate grid)
    #[arg(long, value_name = "NAME,...", value_delimiter = ',', default_value = "sgd,adam,adamw")]
    pub baselines: Vec<String>,
    /// Learning-rate grid of the baselines, overriding the default grid of each family
    #[arg(long, value_name = "LR,...", value_delimiter = ',')]
    pub lrs: Option<Vec<f32>>,
    /// CRONOS (convex two-layer gated ReLU on the raw features): wall-clock limit in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub cronos_time_limit: f64,
    /// CRONOS: activation patterns
    #[arg(long, value_name = "P", default_value_t = 16)]
    pub cronos_patterns: usize,
    /// Skip the convex two-layer CRONOS run
    #[arg(long)]
    pub skip_cronos: bool,
    /// Random seed (weights, batches, patterns, validation split)
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Solver threads (0: all cores)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Plot of validation accuracy vs time: .svg or .png
    #[arg(long, value_name = "FILE.svg|.png", default_value = "compare.png")]
    pub plot: PathBuf,
    /// Overwrite an existing plot
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object (table and every run) on stdout
    #[arg(long)]
    pub json: bool,
    /// No progress output on stderr
    #[arg(long, short)]
    pub quiet: bool,
}

/// One run's outcome.
pub(crate) struct Run {
    pub family: String,
    pub label: String,
    pub report: RunReport,
}

fn scores(pred: faer::MatRef<'_, f32>) -> Tensor {
    Tensor::from_vec((0..pred.nrows()).flat_map(|i| (0..pred.ncols()).map(move |j| pred[(i, j)])).collect(), &[pred.nrows(), pred.ncols()])
}

/// Evaluates the convex model every 5 iterations and at the end, and keeps the clock:
/// training time excludes evaluation, and so does the time limit (enforced here, not by the
/// solver, whose clock would count the evaluations).
struct CompareObserver<'a> {
    sets: [Option<Dataset>; 2],
    say: &'a dyn Fn(&str, &Point),
    setup: Duration,
    started: Instant,
    eval: Duration,
    limit: Duration,
    report: RunReport,
    error: Option<anyhow::Error>,
    /// Last iteration seen, and whether it was evaluated.
    last: (usize, bool),
}

impl CompareObserver<'_> {
    fn training_time(&self) -> Duration {
        self.setup + self.started.elapsed() - self.eval
    }

    fn record(&mut self, solver: &Solver<f32>) -> Result<()> {
        let te = Instant::now();
        let model = solver.model();
        let acc = |d: &Option<Dataset>| d.as_ref().map(|d| model.predict(d.x.mat()).map(|p| accuracy(&scores(p.as_ref()), &d.labels))).transpose();
        let p = Point {
            seconds: self.training_time().as_secs_f64(),
            val_accuracy: acc(&self.sets[0])?,
            test_accuracy: acc(&self.sets[1])?,
            ..Point::default()
        };
        self.eval += te.elapsed();
        (self.say)("cronos", &p);
        self.report.history.push(p);
        Ok(())
    }
}

impl Observer<f32> for CompareObserver<'_> {
    fn observe(&mut self, solver: &mut Solver<f32>, info: &IterInfo) -> Control {
        self.last = (info.iteration, info.iteration % 5 == 0);
        if self.last.1 {
            if let Err(e) = self.record(solver) {
                self.error = Some(e);
                return Control::Stop;
            }
        }
        if self.training_time() - self.setup >= self.limit {
            Control::Finish(Status::TimeLimit)
        } else {
            Control::Continue
        }
    }

    fn finish(&mut self, solver: &mut Solver<f32>, _status: Status) {
        if self.error.is_none() && !self.last.1 {
            if let Err(e) = self.record(solver) {
                self.error = Some(e);
            }
        }
    }
}

/// The convex two-layer gated-ReLU model on the raw features, evaluated every 5 iterations
/// (evaluation time excluded, setup included).
fn run_cronos(a: &CompareArgs, train: &Dataset, sets: EvalSets<'_>, say: &dyn Fn(&str, &Point)) -> Result<RunReport> {
    let k = train.n_classes;
    let flat = |d: &Dataset| Tensor::from_vec(d.x.data.clone(), &[d.len(), d.x.row_len()]);
    let x = flat(train);
    let y = pm1_targets(&train.labels, k);
    let settings = Settings {
        activation: Activation::GatedRelu,
        n_patterns: a.cronos_patterns,
        beta: Beta::Fraction(1e-3),
        max_iter: 10_000,
        seed: a.seed,
        threads: a.threads,
        ..Settings::default()
    };
    let t0 = Instant::now();
    let mut solver = Solver::new(x.mat(), y.mat(), settings).context("CRONOS")?;
    let mut obs = CompareObserver {
        sets: [sets.val, sets.test].map(|s| s.map(|d| Dataset { x: flat(d), labels: d.labels.clone(), n_classes: k })),
        say,
        setup: t0.elapsed(),
        started: Instant::now(),
        eval: Duration::ZERO,
        limit: Duration::from_secs_f64(a.cronos_time_limit),
        report: RunReport { method: "cronos".into(), ..RunReport::default() },
        error: None,
        last: (0, false),
    };
    let sol = solver.run(&mut [&mut obs]);
    if let Some(e) = obs.error.take() {
        return Err(e);
    }
    obs.report.steps = sol.iterations;
    obs.report.seconds = obs.training_time().as_secs_f64();
    Ok(obs.report)
}

fn family_grid(name: &str, lrs: &Option<Vec<f32>>) -> Result<Vec<OptimizerKind>> {
    let grid: Vec<OptimizerKind> = default_grid()
        .into_iter()
        .filter(|o| matches!((name, o), ("sgd", OptimizerKind::Sgd { .. }) | ("adam", OptimizerKind::Adam { .. }) | ("adamw", OptimizerKind::AdamW { .. })))
        .collect();
    if grid.is_empty() {
        bail!("--baselines: unknown optimizer {name:?} (expected sgd, adam or adamw)");
    }
    Ok(match lrs {
        None => grid,
        Some(lrs) => lrs
            .iter()
            .map(|&lr| match grid[0] {
                OptimizerKind::Sgd { momentum, weight_decay, .. } => OptimizerKind::Sgd { lr, momentum, weight_decay },
                OptimizerKind::Adam { weight_decay, .. } => OptimizerKind::Adam { lr, weight_decay },
                OptimizerKind::AdamW { weight_decay, .. } => OptimizerKind::AdamW { lr, weight_decay },
                OptimizerKind::DAdaptAdamW { weight_decay } => OptimizerKind::DAdaptAdamW { weight_decay },
            })
            .collect(),
    })
}

pub fn run(a: CompareArgs) -> Result<i32> {
    let opts = deep_opts(&a);
    let arch = opts.arch()?;
    if a.epochs == 0 || a.batch_size == 0 {
        bail!("--epochs and --batch-size must be >= 1");
    }
    let grids: Vec<(String, Vec<OptimizerKind>)> = a.baselines.iter().map(|b| family_grid(b.trim(), &a.lrs).map(|g| (b.trim().to_string(), g))).collect::<Result<_>>()?;
    let ext = a.plot.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
    if !matches!(ext.as_deref(), Some("svg") | Some("png")) {
        bail!("{}: the plot must be a .svg or .png file", a.plot.display());
    }
    check_output(&a.plot, a.force, "the plot")?;
    let req = DataRequest {
        source: &a.source,
        val_fraction: Some(a.val_fraction),
        cnn: opts.kind == ModelKind::Cnn,
        seed: a.seed,
    };
    let d = load_data(&req)?;
    let quiet = a.quiet;
    let say = move |label: &str, p: &Point| {
        if !quiet {
            eprintln!("{}", point_line(label, p));
        }
    };
    let runs = run_all(&a, &opts, &arch, &grids, &d, &say)?;
    let rows = table::family_rows(&runs);
    let (mut table, json_rows) = table::summary(&a, &d, &arch, &rows, &runs);
    let baseline_total: f64 = runs.iter().filter(|r| grids.iter().any(|(f, _)| *f == r.family)).map(|r| r.report.seconds).sum();
    table.push_str(&format!("\nall baselines together (the whole grid): {baseline_total:.0} s\n"));
    table::write_plot(&a.plot, &d, &arch, &rows, &runs)?;
    if a.json {
        let all: Vec<_> = runs.iter().map(|r| json!({"method": r.family, "run": r.label, "report": r.report})).collect();
        println!("{}", serde_json::to_string(&json!({"rows": json_rows, "baselines_total_seconds": baseline_total, "runs": all, "plot": a.plot.display().to_string()}))?);
    } else {
        print!("{table}");
        if !quiet {
            eprintln!("plot written to {}", a.plot.display());
        }
    }
    Ok(0)
}

/// The deep-method options shared by the CRONOS-AM runs and the baselines.
fn deep_opts(a: &CompareArgs) -> DeepOpts {
    DeepOpts {
        kind: if a.kind == ModelKind::Convex { ModelKind::Cnn } else { a.kind },
        epochs: a.epochs,
        batch_size: a.batch_size,
        optimizer: OptimizerArg::DadaptAdamw,
        lr: 1e-3,
        weight_decay: None,
        channels: a.channels.clone(),
        dense: a.dense,
        hidden: a.hidden.clone(),
        end_to_end: false,
        head_width: a.head_width,
        head_max_iter: a.head_max_iter,
        final_head_max_iter: a.final_head_max_iter,
        head_rows: a.head_rows,
        head_patterns: a.head_patterns,
        steps_per_head: a.steps_per_head,
    }
}

/// Every run, in table order: CRONOS, the CRONOS-AM runs, then each baseline family's grid.
fn run_all(a: &CompareArgs, opts: &DeepOpts, arch: &Arch, grids: &[(String, Vec<OptimizerKind>)], d: &DeepData, say: &dyn Fn(&str, &Point)) -> Result<Vec<Run>> {
    let sets = EvalSets { val: d.val.as_ref(), test: d.test.as_ref() };
    let mut runs: Vec<Run> = Vec::new();
    if !a.skip_cronos {
        let report = run_cronos(a, &d.train, sets, say)?;
        runs.push(Run { family: "CRONOS (convex 2-layer)".into(), label: format!("gated, P={}", a.cronos_patterns), report });
    }
    for &o in &a.am_optimizers {
        let o = DeepOpts { optimizer: o, lr: a.am_lr, ..opts.clone() };
        let am = AmConfig {
            arch: arch.clone(),
            epochs: a.am_epochs.unwrap_or(a.epochs),
            batch_size: a.batch_size,
            steps_per_head: a.steps_per_head,
            optimizer: o.optimizer(),
            cosine: true,
            head: head_config(&o, true, None, a.threads),
            final_max_iter: a.final_head_max_iter,
            seed: a.seed,
        };
        am.validate().context("invalid option")?;
        let (family, label) = match o.optimizer {
            OptimizerArg::DadaptAdamw => ("CRONOS-AM (D-Adapt AdamW)".to_string(), "no learning rate".to_string()),
            _ => (format!("CRONOS-AM ({})", o.optimizer().label()), "default, not tuned".to_string()),
        };
        let (_, report, _) = train_am(&am, &d.train, sets, |p| say(&family, p))?;
        runs.push(Run { family, label, report });
    }
    for (family, grid) in grids {
        for opt in grid {
            let cfg = BaselineConfig { arch: arch.clone(), hidden: a.head_width, epochs: a.epochs, batch_size: a.batch_size, optimizer: *opt, cosine: true, loss: Loss::CrossEntropy, evals_per_epoch: 1, seed: a.seed };
            let label = opt.label();
            let (_, report) = train_baseline(&cfg, &d.train, sets, |p| say(&label, p))?;
            runs.push(Run { family: family.clone(), label, report });
        }
    }
    Ok(runs)
}
