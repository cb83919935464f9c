//! The CLI's observer of the library's driver loop ([`Solver::run`]): evaluation at every
//! certified iteration, the best validation iterate and early stopping, progress lines,
//! checkpoints and Ctrl-C. The single-process and the distributed `train` share it.

use super::checkpoint::CheckpointSink;
use anyhow::Result;
use cronos::{Comm, Control, IterInfo, Model, Observer, Solver, Status};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One iteration's record (metrics line, plot, checkpoint). Scores are accuracies for
/// classification and minus the MSE for regression (larger is better for both).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// The solver's report.
    pub info: IterInfo,
    /// Training score.
    pub train: Option<f64>,
    /// Test score.
    pub test: Option<f64>,
    /// Validation score.
    pub val: Option<f64>,
}

/// The best validation iterate so far.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Best {
    /// Validation score.
    pub score: f64,
    /// Tie-breaker: minus the validation MSE of the scores.
    pub secondary: f64,
    /// Its iteration.
    pub iteration: usize,
    /// Certified iterations since, without improvement.
    pub since: usize,
    /// Its weights (the model's matrix, column-major).
    pub weights: Vec<f32>,
    /// Rows and columns of the weight matrix.
    pub shape: (usize, usize),
    /// Its certificate.
    pub certificate: cronos::Certificate,
}

/// Scores of one certified iterate.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scores {
    /// Training score.
    pub train: Option<f64>,
    /// Test score.
    pub test: Option<f64>,
    /// Validation score and its tie-breaker.
    pub val: Option<(f64, f64)>,
}

/// Evaluates the solver's current model (collectively, in a distributed run).
pub type Evaluate<'a> = Box<dyn FnMut(&mut Solver<f32>, &Model<f32>) -> Result<Scores> + 'a>;

/// Ctrl-C: the first press asks the loop to stop after the current iteration (and write a
/// checkpoint), a second one exits at once.
pub fn install_interrupt() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    stop
}

/// The iteration table on stderr, through a progress bar when one is drawn.
pub struct Progress {
    pb: ProgressBar,
    quiet: bool,
    /// Formats a score for the table.
    pub show: fn(Option<f64>, bool) -> String,
    classification: bool,
}

impl Progress {
    /// A bar over `max_iter` iterations (hidden when `quiet` or `bar` is false).
    pub fn new(quiet: bool, bar: bool, max_iter: usize, classification: bool) -> Self {
        let pb = if quiet || !bar {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(Some(max_iter as u64), ProgressDrawTarget::stderr())
        };
        pb.set_style(
            ProgressStyle::with_template("{spinner} ADMM [{bar:30}] {pos}/{len} it  {elapsed} elapsed, ETA {eta}  {msg}")
                .unwrap()
                .progress_chars("=> "),
        );
        Progress { pb, quiet, show: show_score, classification }
    }

    /// Prints a line above the bar.
    pub fn line(&self, s: &str) {
        if self.quiet {
        } else if self.pb.is_hidden() {
            eprintln!("{s}");
        } else {
            self.pb.println(s);
        }
    }

    /// The table's header.
    pub fn header(&self) {
        self.line("    iter   objective  cert. gap   primal     dual       train    test     CG   elapsed");
    }

    fn row(&self, info: &IterInfo, train: Option<f64>, test: Option<f64>) {
        let show = |v| (self.show)(v, self.classification);
        self.line(&format!(
            "{:>8} {:>11.5e} {:>10.3e} {:>10.3e} {:>10.3e}  {} {}  {:>4}  {:>7.2}s",
            info.iteration,
            info.objective,
            info.relative_gap,
            info.primal_residual,
            info.dual_residual,
            show(train),
            show(test),
            info.cg_iterations,
            info.seconds
        ));
        self.pb.set_message(format!("gap {:.2e}", info.relative_gap));
    }
}

/// A score as the table shows it: a percentage, or the MSE (scores are −MSE).
fn show_score(v: Option<f64>, classification: bool) -> String {
    match (v, classification) {
        (Some(v), true) => format!("{:6.2}%", 100.0 * v),
        (Some(v), false) => format!("{:.3e}", -v),
        (None, _) => "     - ".into(),
    }
}

/// The observer of `cronos train`.
pub struct TrainObserver<'a> {
    /// Scores of a certified iterate.
    pub evaluate: Evaluate<'a>,
    /// Every iteration's record.
    pub records: Vec<Record>,
    /// The best validation iterate.
    pub best: Option<Best>,
    /// Certified iterations without a better validation score before stopping early.
    pub patience: usize,
    /// Progress output.
    pub progress: Progress,
    /// Checkpoints, if asked for.
    pub checkpoint: Option<CheckpointSink>,
    /// Set by Ctrl-C.
    pub stop: Arc<AtomicBool>,
    /// For a distributed run: rank 0's flag decides, so every rank stops together.
    pub comm: Option<&'a dyn Comm>,
    /// The first error met while observing (the loop then stops).
    pub error: Option<anyhow::Error>,
}

impl TrainObserver<'_> {
    fn interrupted(&self) -> bool {
        let mut flag = [u64::from(self.stop.load(Ordering::SeqCst))];
        if let Some(c) = self.comm {
            c.broadcast_u64(&mut flag);
        }
        flag[0] == 1
    }

    fn evaluate(&mut self, solver: &mut Solver<f32>, info: &IterInfo) -> Result<Record> {
        let mut rec = Record { info: info.clone(), train: None, test: None, val: None };
        if !info.certified {
            return Ok(rec);
        }
        let model = solver.model();
        let s = (self.evaluate)(solver, &model)?;
        (rec.train, rec.test, rec.val) = (s.train, s.test, s.val.map(|v| v.0));
        if let Some((score, secondary)) = s.val {
            let improved = self.best.as_ref().is_none_or(|b| score > b.score || (score == b.score && secondary > b.secondary));
            if improved {
                let w = &model.weights;
                self.best = Some(Best {
                    score,
                    secondary,
                    iteration: info.iteration,
                    since: 0,
                    weights: (0..w.ncols()).flat_map(|j| (0..w.nrows()).map(move |i| w[(i, j)])).collect(),
                    shape: (w.nrows(), w.ncols()),
                    certificate: solver.certificate().clone(),
                });
            } else if let Some(b) = &mut self.best {
                b.since += 1;
            }
        }
        self.progress.row(info, rec.train, rec.test.or(rec.val));
        Ok(rec)
    }

    fn observe_checked(&mut self, solver: &mut Solver<f32>, info: &IterInfo) -> Result<Control> {
        let rec = self.evaluate(solver, info)?;
        self.records.push(rec);
        self.progress.pb.set_position(info.iteration as u64);
        let interrupted = self.interrupted();
        if let Some(sink) = &self.checkpoint {
            if info.iteration % sink.every == 0 || interrupted {
                sink.write(solver, &self.records, &self.best)?;
            }
        }
        Ok(if interrupted {
            Control::Stop
        } else if self.best.as_ref().is_some_and(|b| b.since >= self.patience) {
            Control::Finish(Status::EarlyStopped)
        } else {
            Control::Continue
        })
    }

    /// The model to save: the best validation iterate when there is one, else the last.
    pub fn chosen_model(&self, solver: &Solver<f32>) -> (Model<f32>, Option<&Best>) {
        let mut m = solver.model();
        if let Some(b) = &self.best {
            let (r, c) = b.shape;
            m.weights = faer::Mat::from_fn(r, c, |i, j| b.weights[j * r + i]);
        }
        (m, self.best.as_ref())
    }
}

impl Observer<f32> for TrainObserver<'_> {
    fn observe(&mut self, solver: &mut Solver<f32>, info: &IterInfo) -> Control {
        match self.observe_checked(solver, info) {
            Ok(c) => c,
            Err(e) => {
                self.error.get_or_insert(e);
                Control::Stop
            }
        }
    }

    fn finish(&mut self, _solver: &mut Solver<f32>, _status: Status) {
        self.progress.pb.finish_and_clear();
    }
}

/// A spinner for a setup phase.
pub fn spinner(quiet: bool, msg: &str) -> ProgressBar {
    let pb = if quiet { ProgressBar::hidden() } else { ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()) };
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").unwrap());
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}
