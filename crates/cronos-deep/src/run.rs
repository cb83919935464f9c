//! What training runs share: a stopwatch that excludes evaluation time, evaluation points
//! (the accuracy-vs-time curves), and the run report.

use crate::data::Dataset;
use crate::model::DeepModel;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Training time: evaluation is paused out so that curves compare training cost only.
pub struct Stopwatch {
    start: Instant,
    paused: Duration,
    pause_at: Option<Instant>,
}

impl Default for Stopwatch {
    fn default() -> Self {
        Self::new()
    }
}

impl Stopwatch {
    /// Starts now.
    pub fn new() -> Self {
        Stopwatch { start: Instant::now(), paused: Duration::ZERO, pause_at: None }
    }
    /// Training seconds so far.
    pub fn seconds(&self) -> f64 {
        let now = self.pause_at.unwrap_or_else(Instant::now);
        (now - self.start - self.paused).as_secs_f64()
    }
    /// Stops counting (no-op when paused).
    pub fn pause(&mut self) {
        self.pause_at.get_or_insert_with(Instant::now);
    }
    /// Counts again.
    pub fn resume(&mut self) {
        if let Some(t) = self.pause_at.take() {
            self.paused += t.elapsed();
        }
    }
}

/// Held-out sets evaluated at every point.
#[derive(Clone, Copy, Default)]
pub struct EvalSets<'a> {
    /// Validation set (model selection, "best validation accuracy").
    pub val: Option<&'a Dataset>,
    /// Test set (reported, never used for selection).
    pub test: Option<&'a Dataset>,
}

/// One evaluation of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Point {
    /// Training seconds (evaluation excluded).
    pub seconds: f64,
    /// Epochs of first-order training done (samples seen / n, exact).
    pub epochs: f64,
    /// Mean training loss of the mini-batches since the last point (None before any step).
    pub train_loss: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Test accuracy.
    pub test_accuracy: Option<f64>,
    /// Head solve at this point (CRONOS-AM only): objective, certified relative gap, ADMM iterations, seconds.
    pub head: Option<HeadStats>,
}

/// Summary of one head solve.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HeadStats {
    /// Objective of the convex head program.
    pub objective: f64,
    /// Certified lower bound.
    pub lower_bound: f64,
    /// Certified relative gap.
    pub relative_gap: f64,
    /// ADMM iterations.
    pub admm_iterations: usize,
    /// CG iterations.
    pub cg_iterations: usize,
    /// Solver status.
    pub status: String,
    /// Setup + solve seconds.
    pub seconds: f64,
    /// Hidden neurons of the recovered head.
    pub active_neurons: usize,
    /// Whether the solve started from the previous head.
    pub warm_started: bool,
}

/// The record of a training run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunReport {
    /// Method label.
    pub method: String,
    /// Evaluation points in time order.
    pub history: Vec<Point>,
    /// Total training seconds.
    pub seconds: f64,
    /// Epochs of first-order training.
    pub epochs: f64,
    /// Optimizer steps.
    pub steps: usize,
    /// Head solves (CRONOS-AM).
    pub head_solves: usize,
}

impl RunReport {
    /// The point of best validation accuracy (first one on ties).
    pub fn best_val(&self) -> Option<&Point> {
        self.history.iter().filter(|p| p.val_accuracy.is_some()).fold(None, |best: Option<&Point>, p| match best {
            Some(b) if b.val_accuracy >= p.val_accuracy => Some(b),
            _ => Some(p),
        })
    }
    /// The last point.
    pub fn last(&self) -> Option<&Point> {
        self.history.last()
    }
}

/// Evaluates `model` on the sets (clock paused) and records the point.
pub(crate) fn evaluate(model: &mut DeepModel, sets: &EvalSets<'_>, clock: &mut Stopwatch, mut p: Point) -> Point {
    clock.pause();
    p.seconds = clock.seconds();
    p.val_accuracy = sets.val.map(|v| model.accuracy(&v.x, &v.labels));
    p.test_accuracy = sets.test.map(|t| model.accuracy(&t.x, &t.labels));
    clock.resume();
    p
}
