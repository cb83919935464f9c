//! The `cronos` command: train two-layer ReLU networks to a certified global optimum by
//! convex optimization, then predict, evaluate and inspect the saved models.

mod auto_beta;
mod commands;
mod compare;
mod data;
mod deep;
mod distributed;
mod export;
mod source;
mod train;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The bundled Fashion-MNIST directory (IDX files), resolved at compile time.
pub const BUNDLED_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/fashion-mnist");

#[derive(Parser, Debug)]
#[command(
    name = "cronos",
    version,
    about = "Train two-layer ReLU networks to a certified global optimum by convex optimization",
    long_about = "cronos trains a two-layer ReLU network by solving its exact convex reformulation \
(sampled activation patterns, group-lasso weight decay) with a preconditioned ADMM solver. Every \
result comes with a certified lower bound, hence a certified optimality gap.",
    after_help = "Examples:\n  \
cronos train                                  # bundled Fashion-MNIST, all 10 classes\n  \
cronos train --classes 0,6 --patterns 32      # binary task: T-shirt vs shirt\n  \
cronos train --train data.csv --test test.csv --out model.safetensors --plot report.svg\n  \
cronos evaluate --model cronos-model.safetensors --data data/fashion-mnist\n  \
cronos predict --model cronos-model.safetensors --input new.npy --out pred.csv\n  \
cronos inspect cronos-model.safetensors\n  \
cronos export --onnx cronos-model.safetensors model.onnx\n\n\
Run `cronos <command> --help` for the options of each command."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model on a data set and save it (with optional report plot and metrics)
    #[command(after_help = TRAIN_EXAMPLES)]
    Train(Box<TrainArgs>),
    /// Predict with a saved model; writes labels (classification) or values (regression)
    #[command(
        after_help = "Examples:\n  cronos predict --model m.safetensors --input x.npy --out pred.npy\n  cronos predict --model m.safetensors --input new.csv --out pred.csv --scores\n  cronos predict --model m.safetensors --input new.csv --out proba.csv --proba\n\n\
A CSV input may hold one extra column (the label column of the training file): it is ignored."
    )]
    Predict(PredictArgs),
    /// Evaluate a saved model on labelled data: accuracy, loss and confusion matrix (MSE/R² for regression)
    #[command(
        after_help = "Examples:\n  cronos evaluate --model m.safetensors --data data/fashion-mnist   # the t10k test split\n  cronos evaluate --model m.safetensors --data test.npz --json"
    )]
    Evaluate(EvaluateArgs),
    /// Compare CRONOS, CRONOS-AM and tuned SGD/Adam/AdamW baselines on one data set (table + plot)
    #[command(
        after_help = "Examples:\n  cronos compare --epochs 8 --plot compare.png       # CNN on the bundled Fashion-MNIST\n  cronos compare --model mlp --baselines adam --lrs 1e-3,3e-3 --n-train 6000"
    )]
    Compare(Box<compare::CompareArgs>),
    /// Show what a model file holds: settings, shapes, active neurons, certificate, data fingerprint
    #[command(
        after_help = "Examples:\n  cronos inspect cronos-model.safetensors\n  cronos inspect cronos-model.safetensors --json"
    )]
    Inspect(InspectArgs),
    /// Export a model for serving stacks: ONNX with preprocessing, network, probabilities and labels
    #[command(after_help = "Examples:\n  cronos export --onnx cronos-model.safetensors model.onnx")]
    Export(export::ExportArgs),
}

const TRAIN_EXAMPLES: &str = "Examples:\n  \
cronos train                                   # bundled Fashion-MNIST (10 classes)\n  \
cronos train --classes 0,6 --n-train 2000      # small binary task, fast\n  \
cronos train path/to/mnist                     # any directory of MNIST-style IDX files\n  \
cronos train --train train.npz --test test.npz # arrays `x` and `y`\n  \
cronos train --train data.csv --label-column price --task regression\n  \
cronos train --val-fraction 0.1 --patience 5   # early stopping on a validation split\n  \
cronos train --checkpoint run.ckpt --checkpoint-every 20   # then add --resume to continue\n\n\
Data: the format is taken from the file name (.npy .npz .csv .tsv .txt .libsvm .svm, IDX *-ubyte[.gz]) \
or from --format. Progress goes to stderr; --json prints only the final JSON object on stdout. \
Ctrl-C stops at the end of the current iteration, saves the best model so far and exits with code 130.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Idx,
    Npy,
    Npz,
    Csv,
    Libsvm,
}

impl FormatArg {
    pub fn to_format(self) -> cronos_data::Format {
        match self {
            FormatArg::Idx => cronos_data::Format::Idx,
            FormatArg::Npy => cronos_data::Format::Npy,
            FormatArg::Npz => cronos_data::Format::Npz,
            FormatArg::Csv => cronos_data::Format::Csv,
            FormatArg::Libsvm => cronos_data::Format::Libsvm,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PrecondArg {
    None,
    Nystrom,
    Structured,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PreprocessArg {
    None,
    Scale,
    Standardize,
}

/// `--feature-weighting`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FeatureWeightingArg {
    /// Features scaled by their relevance weights (stored in the model's preprocessing).
    Relevance,
    /// No rescaling.
    None,
}

/// `--beta`: `auto` or a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BetaArg {
    /// Chosen on a validation split.
    Auto,
    /// An absolute β.
    Value(f64),
}

fn parse_beta(s: &str) -> Result<BetaArg, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(BetaArg::Auto);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(BetaArg::Value(v)),
        _ => Err(format!("`{s}`: expected `auto` or a finite number >= 0")),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LossArg {
    Squared,
    Logistic,
    Softmax,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClassWeightArg {
    None,
    Balanced,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TaskArg {
    Auto,
    Classification,
    Regression,
}

/// Options shared by the commands that read data files.
#[derive(Args, Debug, Clone)]
pub struct DataOpts {
    /// Data format (default: from the file name)
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Label column of CSV files: a 0-based index, a header name, `last` (default) or `none`
    #[arg(long, value_name = "COL")]
    pub label_column: Option<String>,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    // where the data come from (one declaration, shared with `cronos compare`)
    #[command(flatten)]
    pub source: source::DataSourceArgs,
    /// Classification or regression (auto: classification when all labels are integers)
    #[arg(long, value_enum, default_value = "auto")]
    pub task: TaskArg,
    /// Number of sampled activation patterns P (hidden neurons: up to 2P per output)
    #[arg(long, value_name = "P", default_value_t = 64)]
    pub patterns: usize,
    /// Weight decay β: `auto` (default: chosen on a validation split from a regularization
    /// path, then refit on all rows) or an absolute value
    #[arg(long, value_name = "auto|B", conflicts_with = "beta_fraction", value_parser = parse_beta)]
    pub beta: Option<BetaArg>,
    /// Loss: squared (one-vs-all ±1 targets for classes), logistic (2 classes) or softmax (3+ classes)
    #[arg(long, value_enum, default_value = "squared")]
    pub loss: LossArg,
    /// Class weights in the loss: `balanced` (n / (classes · n_class)) or none
    #[arg(long, value_enum, default_value = "none")]
    pub class_weight: ClassWeightArg,
    /// With --beta auto: points of the β grid (from β_max down to --path-min-fraction·β_max)
    #[arg(long, value_name = "N", default_value_t = 12)]
    pub path_points: usize,
    /// With --beta auto: smallest fraction of β_max on the grid
    #[arg(long, value_name = "F", default_value_t = 1e-5)]
    pub path_min_fraction: f64,
    /// Weight decay as a fraction of β_max, in (0, 1]
    #[arg(long, value_name = "F")]
    pub beta_fraction: Option<f64>,
    /// Gated-ReLU network (unconstrained program): the default, kept for scripts that name it
    #[arg(long, conflicts_with = "relu")]
    pub gated: bool,
    /// Train the cone-constrained ReLU network instead of the gated-ReLU default (its
    /// certificate converges much more slowly)
    #[arg(long)]
    pub relu: bool,
    /// Gated ReLU: draw gate hyperplanes near the origin (the paper's h ~ N(0, I)) instead of through the
    /// mean of the data
    #[arg(long)]
    pub raw_gates: bool,
    /// Gated ReLU: start Newton polishing once the certified gap is below this (0: never)
    #[arg(long, value_name = "GAP")]
    pub polish_below: Option<f64>,
    /// Gated ReLU: try polishing on certified iterations that are multiples of this (and where
    /// the gap first falls below --polish-below)
    #[arg(long, value_name = "N")]
    pub polish_every: Option<usize>,
    /// With --relu: the augmented-Lagrangian endgame (Newton steps on the cone-penalized
    /// program, multipliers for the certificate: weights that satisfy the cones exactly and a
    /// tight gap). `auto` (default): where it is cheap (tabular data of hundreds of rows and
    /// few features); `on`: always (slow beyond a few thousand rows); `off`: never
    #[arg(long, value_name = "auto|on|off", default_value = "auto", default_missing_value = "on", num_args = 0..=1, value_parser = ["auto", "on", "off"])]
    pub relu_endgame: String,
    /// Gated ReLU: rounds of pattern pricing after the solve (column generation: gates that
    /// violate the certificate's dual feasibility are added, zero patterns dropped, and the
    /// solve warm-started; 0: off)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub pricing_rounds: usize,
    /// Pattern pricing: candidate gates scored per round
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub pricing_candidates: usize,
    /// Pattern pricing: most gates added per round
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub pricing_add: usize,
    /// Pattern pricing: ADMM iterations per round (0: --max-iter); the last round is then
    /// finished with --max-iter
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub pricing_max_iter: usize,
    /// Pattern pricing: swap instead of grow (each added gate replaces the kept pattern with
    /// the smallest weights, so the pattern count stays; a round that does not lower the
    /// objective is undone)
    #[arg(long)]
    pub pricing_swap: bool,
    /// Maximum ADMM iterations
    #[arg(long, value_name = "K", default_value_t = 500)]
    pub max_iter: usize,
    /// Wall-clock limit of the solve in seconds
    #[arg(long, value_name = "SECONDS")]
    pub time_limit: Option<f64>,
    /// Stop when the certified relative gap is below this
    #[arg(long, value_name = "TOL")]
    pub tol_gap: Option<f64>,
    /// ADMM iterations between certificates
    #[arg(long, value_name = "N")]
    pub certificate_every: Option<usize>,
    /// Random seed (gates, sketches, validation split)
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (0: all cores); results are bit-identical for a given seed and thread count
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Preconditioner of the linear systems
    #[arg(long, value_enum, default_value = "structured")]
    pub preconditioner: PrecondArg,
    /// Feature preprocessing fitted on the training data (default: scale for IDX images, standardize otherwise)
    #[arg(long, value_enum)]
    pub preprocess: Option<PreprocessArg>,
    /// Rescale the preprocessed features by their relevance to the targets, (F_j / mean F)^(1/4) with F_j = R²/(1 − R²) and R² the share of the targets that a regression on the standardized feature and its square explains, so that gates and penalty favour informative features (default: relevance for tabular files, none for IDX images, where it did not change accuracy)
    #[arg(long, value_enum)]
    pub feature_weighting: Option<FeatureWeightingArg>,
    /// Hold out this fraction of the training rows for validation and early stopping
    #[arg(long, value_name = "F")]
    pub val_fraction: Option<f64>,
    /// With --val-fraction: stop after N certificates without validation improvement
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub patience: usize,
    /// Model file to write
    #[arg(
        long,
        short,
        value_name = "FILE",
        default_value = "cronos-model.safetensors"
    )]
    pub out: PathBuf,
    /// Overwrite existing output files
    #[arg(long)]
    pub force: bool,
    /// Print only one final JSON object on stdout
    #[arg(long)]
    pub json: bool,
    /// Write one JSON line per iteration to FILE
    #[arg(long, value_name = "FILE.jsonl")]
    pub metrics: Option<PathBuf>,
    /// Write a report plot (objective/gap, accuracy, CG iterations vs time): .svg or .png
    #[arg(long, value_name = "FILE.svg|.png")]
    pub plot: Option<PathBuf>,
    /// Solver checkpoint file (written atomically every --checkpoint-every iterations and on Ctrl-C)
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Iterations between checkpoints
    #[arg(long, value_name = "N", default_value_t = 50, requires = "checkpoint")]
    pub checkpoint_every: usize,
    /// Continue from --checkpoint (same data and settings; --max-iter and --time-limit may change)
    #[arg(long, requires = "checkpoint")]
    pub resume: bool,
    /// No progress output on stderr
    #[arg(long, short)]
    pub quiet: bool,
    /// Rows spread over MPI ranks: run as `mpirun -np K cronos train --distributed ...` (needs a build with `--features mpi`); each rank reads its own rows, rank 0 prints and writes
    #[arg(long)]
    pub distributed: bool,
    #[command(flatten)]
    pub deep: deep::DeepOpts,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Model file written by `cronos train`
    #[arg(long, short, value_name = "FILE")]
    pub model: PathBuf,
    /// Input features (any supported format)
    #[arg(long, short, value_name = "FILE")]
    pub input: PathBuf,
    #[command(flatten)]
    pub data: DataOpts,
    /// Output file: .npy or .csv
    #[arg(long, short, value_name = "FILE.npy|.csv")]
    pub out: PathBuf,
    /// Write the raw network outputs (n × k scores) instead of labels
    #[arg(long)]
    pub scores: bool,
    /// Write class probabilities (n × classes, columns in class order) instead of labels:
    /// softmax of the class logits divided by the model's calibration temperature
    #[arg(long, conflicts_with = "scores")]
    pub proba: bool,
    /// Overwrite an existing output file
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Model file written by `cronos train`
    #[arg(long, short, value_name = "FILE")]
    pub model: PathBuf,
    /// Labelled data: a file, or an IDX directory (its t10k test split)
    #[arg(long, short, value_name = "FILE|DIR")]
    pub data: PathBuf,
    #[command(flatten)]
    pub data_opts: DataOpts,
    /// Print one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Model file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

/// An error on one line: the outermost message (which names the file) and its causes.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for c in e.chain().skip(1) {
        let s = c.to_string();
        if !msg.contains(&s) {
            msg.push_str(": ");
            msg.push_str(&s);
        }
    }
    msg.replace('\n', " ")
}

/// An error with an exit code.
pub struct Exit(pub i32);

/// Fixes glibc's mmap threshold at 1 MiB: every buffer of 1 MiB or more is mapped on its own
/// and unmapped when freed. By default the threshold grows after each large free (up to
/// 32 MiB), and the per-thread arenas then keep the freed blocks: on 2,000 × 87,723 the
/// resident memory crept from 1.29 to 1.83 GB over 20 iterations; fixed, it peaks at
/// 1.55 GB in the same time.
fn return_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it runs before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() {
    return_large_buffers();
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Train(a) if a.distributed => distributed::run(*a),
        Command::Train(a) => train::run(*a),
        Command::Predict(a) => commands::predict(a),
        Command::Evaluate(a) => commands::evaluate(a),
        Command::Inspect(a) => commands::inspect(a),
        Command::Compare(a) => compare::run(*a),
        Command::Export(a) => export::run(a),
    };
    match res {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {}", error_line(&e));
            std::process::exit(2);
        }
    }
}
