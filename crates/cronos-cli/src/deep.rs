//! `cronos train --model cnn|mlp`: deeper networks, trained by CRONOS-AM (feature layers by a
//! first-order method, the last two layers by CRONOS), or end to end with `--end-to-end`.
//! Data loading shared with `cronos compare` lives here too.

use crate::data::{self, check_output, load, load_options};
use crate::TrainArgs;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use cronos::Activation;
use cronos_data::Split;
use cronos_deep::head::{HeadConfig, HeadSolve};
use cronos_deep::{io, train_am, train_baseline, AmConfig, Arch, BaselineConfig, Dataset, DeepModel, EvalSets, Loss, OptimizerKind, Point, RunReport};
use cronos_model::Classes;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::time::Instant;

/// Which network `cronos train` fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum ModelKind {
    /// The convex two-layer (gated) ReLU network, solved to a certified optimum
    #[default]
    Convex,
    /// A small CNN (two 3×3 convolutions with ReLU and 2×2 max pooling) + two-layer head
    Cnn,
    /// An MLP (dense + ReLU layers) + two-layer head
    Mlp,
}

/// First-order optimizer of the feature layers (CRONOS-AM) or of the whole network (--end-to-end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// D-Adaptation AdamW: no learning rate
    DadaptAdamw,
    /// AdamW (decoupled weight decay)
    Adamw,
    /// Adam
    Adam,
    /// SGD with momentum 0.9
    Sgd,
}

/// Options of the deep models (ignored by the convex model).
#[derive(Args, Debug, Clone)]
pub struct DeepOpts {
    /// Network: the convex two-layer model (default), or a CNN/MLP trained by CRONOS-AM
    #[arg(long = "model", value_enum, default_value = "convex", help_heading = "Deep models (--model cnn|mlp)")]
    pub kind: ModelKind,
    /// Epochs of first-order training
    #[arg(long, value_name = "N", default_value_t = 8, help_heading = "Deep models (--model cnn|mlp)")]
    pub epochs: usize,
    /// Mini-batch size
    #[arg(long, value_name = "B", default_value_t = 128, help_heading = "Deep models (--model cnn|mlp)")]
    pub batch_size: usize,
    /// Optimizer (of the feature layers for CRONOS-AM)
    #[arg(long, value_enum, default_value = "dadapt-adamw", help_heading = "Deep models (--model cnn|mlp)")]
    pub optimizer: OptimizerArg,
    /// Learning rate (not used by dadapt-adamw)
    #[arg(long, value_name = "LR", default_value_t = 1e-3, help_heading = "Deep models (--model cnn|mlp)")]
    pub lr: f32,
    /// Weight decay (default: 1e-4 for dadapt-adamw, 1e-2 for adamw, 0 for adam, 5e-4 for sgd)
    #[arg(long, value_name = "WD", help_heading = "Deep models (--model cnn|mlp)")]
    pub weight_decay: Option<f32>,
    /// Channels of the two CNN convolutions
    #[arg(long, value_name = "C1,C2", value_delimiter = ',', default_value = "16,32", help_heading = "Deep models (--model cnn|mlp)")]
    pub channels: Vec<usize>,
    /// Width of the CNN's dense feature layer after the convolutions (0: none; the head then sees 7·7·C2 features)
    #[arg(long, value_name = "D", default_value_t = 128, help_heading = "Deep models (--model cnn|mlp)")]
    pub dense: usize,
    /// Hidden widths of the MLP feature layers
    #[arg(long, value_name = "H1,...", value_delimiter = ',', default_value = "256", help_heading = "Deep models (--model cnn|mlp)")]
    pub hidden: Vec<usize>,
    /// Train end to end (cross-entropy, trainable dense head of --head-width) instead of CRONOS-AM
    #[arg(long, help_heading = "Deep models (--model cnn|mlp)")]
    pub end_to_end: bool,
    /// Hidden width of the end-to-end head
    #[arg(long, value_name = "M", default_value_t = 128, help_heading = "Deep models (--model cnn|mlp)")]
    pub head_width: usize,
    /// CRONOS-AM: ADMM iterations per head solve
    #[arg(long, value_name = "K", default_value_t = 30, help_heading = "Deep models (--model cnn|mlp)")]
    pub head_max_iter: usize,
    /// CRONOS-AM: ADMM iterations of the last head solve (on all training rows)
    #[arg(long, value_name = "K", default_value_t = 50, help_heading = "Deep models (--model cnn|mlp)")]
    pub final_head_max_iter: usize,
    /// CRONOS-AM: solve the intermediate heads on this many training rows (a fixed random subset)
    #[arg(long, value_name = "N", default_value_t = 20000, help_heading = "Deep models (--model cnn|mlp)")]
    pub head_rows: usize,
    /// CRONOS-AM: activation patterns of the head (up to P neurons per class)
    #[arg(long, value_name = "P", default_value_t = 32, help_heading = "Deep models (--model cnn|mlp)")]
    pub head_patterns: usize,
    /// CRONOS-AM: feature steps between head solves (default: one epoch)
    #[arg(long, value_name = "K", default_value_t = 0, help_heading = "Deep models (--model cnn|mlp)")]
    pub steps_per_head: usize,
}

impl DeepOpts {
    /// The feature architecture.
    pub fn arch(&self) -> Result<Arch> {
        Ok(match self.kind {
            ModelKind::Cnn => match self.channels[..] {
                [c1, c2] if c1 > 0 && c2 > 0 => Arch::Cnn { c1, c2, dense: self.dense },
                _ => bail!("--channels: expected two positive numbers C1,C2"),
            },
            ModelKind::Mlp => {
                if self.hidden.is_empty() || self.hidden.contains(&0) {
                    bail!("--hidden: expected positive widths");
                }
                Arch::Mlp { hidden: self.hidden.clone() }
            }
            ModelKind::Convex => bail!("--model convex has no feature layers"),
        })
    }

    /// The optimizer with its defaults.
    pub fn optimizer(&self) -> OptimizerKind {
        let wd = self.weight_decay;
        match self.optimizer {
            OptimizerArg::DadaptAdamw => OptimizerKind::DAdaptAdamW { weight_decay: wd.unwrap_or(1e-4) },
            OptimizerArg::Adamw => OptimizerKind::AdamW { lr: self.lr, weight_decay: wd.unwrap_or(1e-2) },
            OptimizerArg::Adam => OptimizerKind::Adam { lr: self.lr, weight_decay: wd.unwrap_or(0.0) },
            OptimizerArg::Sgd => OptimizerKind::Sgd { lr: self.lr, momentum: 0.9, weight_decay: wd.unwrap_or(5e-4) },
        }
    }
}

/// Train/validation/test sets of a deep run.
pub struct DeepData {
    pub train: Dataset,
    pub val: Option<Dataset>,
    pub test: Option<Dataset>,
    pub classes: Classes,
    /// Multiplier applied to raw features (1/255 for IDX images).
    pub input_scale: f32,
    pub source: String,
}

/// Where the data come from and how to split them.
pub struct DataRequest<'a> {
    pub source: &'a crate::source::DataSourceArgs,
    pub val_fraction: Option<f64>,
    pub cnn: bool,
    pub seed: u64,
}

fn keep(t: cronos_data::Table, classes: Option<&[f64]>, n: Option<usize>) -> cronos_data::Table {
    let labels = t.labels.clone().unwrap_or_default();
    let mut idx: Vec<usize> = (0..t.n)
        .filter(|&i| match classes {
            Some(c) => c.contains(&labels[i]),
            None => true,
        })
        .collect();
    if let Some(n) = n {
        idx.truncate(n);
    }
    data::select_rows(&t, &idx)
}

/// Loads and splits the data; images are scaled to [0, 1] (IDX) or by 1/max|x| (other files).
pub fn load_data(r: &DataRequest<'_>) -> Result<DeepData> {
    let lo = load_options(&r.source.data);
    let (train_path, test_path) = r.source.paths();
    let idx = data::is_idx(&train_path, &lo);
    let tr = keep(load(&train_path, &lo, Split::Train).with_context(|| train_path.display().to_string())?, r.source.classes.as_deref(), r.source.n_train);
    let te = match &test_path {
        Some(p) => Some(keep(load(p, &lo, Split::Test).with_context(|| p.display().to_string())?, r.source.classes.as_deref(), r.source.n_test)),
        None => None,
    };
    let labels = data::labels(&tr, &train_path)?;
    let classes = Classes::from_labels(labels);
    if classes.len() < 2 {
        bail!("{}: need at least two classes, found {:?}", train_path.display(), classes.labels);
    }
    let input_scale = if idx {
        1.0 / 255.0
    } else {
        let m = tr.x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if m > 0.0 {
            1.0 / m
        } else {
            1.0
        }
    };
    let shape = if r.cnn {
        let side = (tr.d as f64).sqrt().round() as usize;
        if side * side != tr.d {
            bail!("{}: --model cnn needs square single-channel images, but rows have {} values", train_path.display(), tr.d);
        }
        vec![side, side, 1]
    } else {
        vec![tr.d]
    };
    let all = Dataset::from_table(&tr, &classes.labels, &shape, input_scale).with_context(|| train_path.display().to_string())?;
    let test = match (&te, &test_path) {
        (Some(t), Some(p)) if t.n > 0 => Some(Dataset::from_table(t, &classes.labels, &shape, input_scale).with_context(|| p.display().to_string())?),
        _ => None,
    };
    let (train, val) = match r.val_fraction {
        Some(f) => {
            if !(f > 0.0 && f < 1.0) {
                bail!("--val-fraction {f}: must lie in (0, 1)");
            }
            // a seeded random split, so that validation is representative
            use rand::{seq::SliceRandom, SeedableRng};
            let mut order: Vec<usize> = (0..all.len()).collect();
            order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(r.seed ^ 0x7a11d));
            let nv = ((all.len() as f64) * f).round().max(1.0) as usize;
            let (v, t) = order.split_at(nv);
            (all.subset(t), Some(all.subset(v)))
        }
        None => (all, None),
    };
    Ok(DeepData { train, val, test, classes, input_scale, source: data::source_name(&train_path) })
}

/// One progress line for an evaluation point.
pub fn point_line(label: &str, p: &Point) -> String {
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v));
    let head = p.head.as_ref().map_or(String::new(), |h| format!("  head: obj {:.4e} gap {:.1e} {} its {:.1}s {} neurons", h.objective, h.relative_gap, h.admm_iterations, h.seconds, h.active_neurons));
    format!(
        "{label:<22} {:>7.1}s  epoch {:>5.2}  loss {}  val {}  test {}{head}",
        p.seconds,
        p.epochs,
        p.train_loss.map_or("-".into(), |l| format!("{l:.4}")),
        pct(p.val_accuracy),
        pct(p.test_accuracy)
    )
}

/// Head settings from the options.
pub fn head_config(o: &DeepOpts, gated_flag_ignored: bool, beta_fraction: Option<f64>, threads: usize) -> HeadConfig {
    let _ = gated_flag_ignored;
    HeadConfig {
        activation: Activation::GatedRelu,
        n_patterns: o.head_patterns,
        beta_fraction: beta_fraction.unwrap_or(1e-3),
        max_iter: o.head_max_iter,
        rows: Some(o.head_rows),
        threads,
        ..HeadConfig::default()
    }
}

/// `cronos train --model cnn|mlp`.
pub fn run(a: TrainArgs) -> Result<i32> {
    let t_start = Instant::now();
    let o = &a.deep;
    let arch = o.arch()?;
    let optimizer = o.optimizer();
    optimizer.validate().context("invalid option")?;
    if o.epochs == 0 || o.batch_size == 0 {
        bail!("--epochs and --batch-size must be >= 1");
    }
    if a.beta.is_some() {
        bail!("--beta: deep models take --beta-fraction (the head's β is frozen after its first solve)");
    }
    check_output(&a.out, a.force, "the model")?;
    if let Some(p) = &a.metrics {
        check_output(p, a.force, "the metrics")?;
    }
    let req = DataRequest {
        source: &a.source,
        val_fraction: a.val_fraction,
        cnn: o.kind == ModelKind::Cnn,
        seed: a.seed,
    };
    let d = load_data(&req)?;
    let sets = EvalSets { val: d.val.as_ref(), test: d.test.as_ref() };
    let quiet = a.quiet;
    let mut points: Vec<Point> = Vec::new();
    let label = if o.end_to_end { optimizer.label() } else { "cronos-am".to_string() };
    let mut on_point = |p: &Point| {
        if !quiet {
            eprintln!("{}", point_line(&label, p));
        }
        points.push(p.clone());
    };
    let (mut model, report, head): (_, RunReport, Option<HeadSolve>) = if o.end_to_end {
        let cfg = BaselineConfig { arch, hidden: o.head_width, epochs: o.epochs, batch_size: o.batch_size, optimizer, cosine: true, loss: Loss::CrossEntropy, evals_per_epoch: 1, seed: a.seed };
        let (m, r) = train_baseline(&cfg, &d.train, sets, &mut on_point)?;
        (m, r, None)
    } else {
        let cfg = AmConfig {
            arch,
            epochs: o.epochs,
            batch_size: o.batch_size,
            steps_per_head: o.steps_per_head,
            optimizer,
            cosine: true,
            head: head_config(o, a.gated, a.beta_fraction, a.threads),
            final_max_iter: o.final_head_max_iter,
            seed: a.seed,
        };
        cfg.validate().context("invalid option")?;
        let (m, r, h) = train_am(&cfg, &d.train, sets, &mut on_point)?;
        (m, r, Some(h))
    };
    model.info.classes = d.classes.labels.clone();
    model.info.input_scale = d.input_scale;
    let acc = |m: &mut DeepModel, s: Option<&Dataset>| s.map(|s| m.accuracy(&s.x, &s.labels));
    let train_acc = acc(&mut model, Some(&d.train));
    let test_acc = acc(&mut model, d.test.as_ref());
    let val_acc = acc(&mut model, d.val.as_ref());
    let summary = summary(&a, &d, &model, &report, head.as_ref(), (train_acc, test_acc, val_acc), t_start.elapsed().as_secs_f64());
    io::save(&model, &a.out, a.force, &summary).with_context(|| a.out.display().to_string())?;
    write_metrics_and_plot(&a, &d, &model, &points)?;
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else if !quiet {
        let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v));
        eprintln!(
            "{}: train {}  test {}  in {:.1} s ({} epochs, {} head solves); model written to {}",
            model.info.method,
            pct(train_acc),
            pct(test_acc),
            report.seconds,
            report.epochs,
            report.head_solves,
            a.out.display()
        );
    }
    Ok(0)
}

/// The run's JSON summary (stored in the model file and printed with `--json`); accuracies
/// are (train, test, validation).
fn summary(a: &TrainArgs, d: &DeepData, model: &DeepModel, report: &RunReport, head: Option<&HeadSolve>, accs: (Option<f64>, Option<f64>, Option<f64>), total_seconds: f64) -> Value {
    let (train_acc, test_acc, val_acc) = accs;
    let mut s = Map::new();
    s.insert("model".into(), json!(format!("{:?}", a.deep.kind).to_lowercase()));
    s.insert("architecture".into(), json!(model.info.arch));
    s.insert("method".into(), json!(model.info.method));
    s.insert("status".into(), json!("completed"));
    s.insert("train_accuracy".into(), json!(train_acc));
    s.insert("test_accuracy".into(), json!(test_acc));
    s.insert("validation_accuracy".into(), json!(val_acc));
    s.insert("best_validation_accuracy".into(), json!(report.best_val().and_then(|p| p.val_accuracy)));
    s.insert("seconds".into(), json!(report.seconds));
    s.insert("total_seconds".into(), json!(total_seconds));
    s.insert("epochs".into(), json!(report.epochs));
    s.insert("optimizer_steps".into(), json!(report.steps));
    s.insert("head_solves".into(), json!(report.head_solves));
    // certificate fields: the last head solve (null when trained end to end)
    let c = head.map(|h| &h.solution);
    s.insert("objective".into(), json!(c.map(|c| c.certificate.objective)));
    s.insert("lower_bound".into(), json!(c.map(|c| c.certificate.lower_bound)));
    s.insert("relative_gap".into(), json!(c.map(|c| c.certificate.relative_gap)));
    s.insert("admm_iterations".into(), json!(c.map(|c| c.iterations)));
    s.insert("cg_iterations".into(), json!(c.map(|c| c.cg_iterations)));
    s.insert("head_status".into(), json!(c.map(|c| c.status.to_string())));
    s.insert("active_neurons".into(), json!(head.map(|h| h.model.active_neurons())));
    s.insert("n_patterns".into(), json!(head.map(|h| h.model.n_patterns())));
    s.insert("beta".into(), json!(head.map(|h| h.model.beta.clone())));
    s.insert("n_train".into(), json!(d.train.len()));
    s.insert("n_validation".into(), json!(d.val.as_ref().map(Dataset::len)));
    s.insert("n_test".into(), json!(d.test.as_ref().map(Dataset::len)));
    s.insert("n_features".into(), json!(d.train.x.row_len()));
    s.insert("n_parameters".into(), json!(model.n_params()));
    s.insert("task".into(), json!("classification"));
    s.insert("classes".into(), json!(d.classes.labels));
    s.insert("model_path".into(), json!(a.out.display().to_string()));
    s.insert("data".into(), json!(d.source));
    Value::Object(s)
}

/// `--metrics` (one JSON line per evaluation point) and `--plot` (accuracy vs time).
fn write_metrics_and_plot(a: &TrainArgs, d: &DeepData, model: &DeepModel, points: &[Point]) -> Result<()> {
    if let Some(p) = &a.metrics {
        let mut buf = Vec::new();
        for pt in points {
            writeln!(buf, "{}", serde_json::to_string(pt)?)?;
        }
        cronos_data::atomic_write(p, a.force, |w| w.write_all(&buf)).with_context(|| p.display().to_string())?;
    }
    if let Some(p) = &a.plot {
        let curve = cronos_plot::CompareCurve {
            label: model.info.method.clone(),
            seconds: points.iter().map(|p| p.seconds).collect(),
            accuracy: points.iter().map(|p| p.val_accuracy.or(p.test_accuracy).unwrap_or(f64::NAN)).collect(),
        };
        cronos_plot::write_comparison(p, &format!("{} on {}", model.info.arch, d.source), &[curve]).with_context(|| p.display().to_string())?;
    }
    Ok(())
}
