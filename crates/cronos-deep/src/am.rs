//! CRONOS-AM (Feng, Frangella, Pilanci 2024, Algorithm 2): alternating minimization between
//! the feature layers and a convex two-layer head.
//!
//! Each outer step: (1) features of the training rows through the feature layers; (2) CRONOS
//! solves the head program on them (warm-started from the previous head once the solver
//! offers it); (3) the recovered head becomes frozen ordinary layers; (4) the feature layers
//! take `steps_per_head` first-order steps on mini-batches of the head's squared loss through
//! the fixed head. A last head solve follows the last feature step, so the returned model's
//! head is optimal (to the solve's tolerance) for its features. Epochs count mini-batch
//! samples exactly; the head solves' forward passes are reported separately.

use crate::arch::Arch;
use crate::data::{Batches, Dataset};
use crate::error::{setting, DeepError, Result};
use crate::head::{head_layers, solve_head, HeadConfig, HeadSolve};
use crate::loss::{pm1_targets, Loss};
use crate::model::{DeepModel, ModelInfo};
use crate::optim::{cosine, OptimizerKind};
use crate::run::{evaluate, EvalSets, HeadStats, Point, RunReport, Stopwatch};
use crate::sequential::Sequential;
use rand::seq::index::sample;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Settings of a CRONOS-AM run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AmConfig {
    /// Feature network.
    pub arch: Arch,
    /// Epochs of first-order training of the feature layers.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Feature steps per head solve (0: one epoch).
    pub steps_per_head: usize,
    /// Optimizer of the feature layers.
    pub optimizer: OptimizerKind,
    /// Cosine decay of the learning rate (or D-Adaptation's multiplier) over the run.
    pub cosine: bool,
    /// Head solves.
    pub head: HeadConfig,
    /// ADMM iterations of the last head solve, which is made on all training rows: the head
    /// of the returned model deserves a better solve than the intermediate ones.
    pub final_max_iter: usize,
    /// Seed of initial weights, batches, patterns and the head-row subset.
    pub seed: u64,
}

impl Default for AmConfig {
    fn default() -> Self {
        AmConfig {
            arch: Arch::Cnn { c1: 16, c2: 32, dense: 128 },
            epochs: 8,
            batch_size: 128,
            steps_per_head: 0,
            optimizer: OptimizerKind::DAdaptAdamW { weight_decay: 1e-4 },
            cosine: true,
            head: HeadConfig::default(),
            final_max_iter: 50,
            seed: 0,
        }
    }
}

impl AmConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// Zero epochs or batch size, bad optimizer hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(setting("epochs", 0, "must be >= 1"));
        }
        if self.batch_size == 0 {
            return Err(setting("batch_size", 0, "must be >= 1"));
        }
        self.head.settings(self.seed).validate()?;
        self.optimizer.validate()
    }
}

fn head_stats(h: &HeadSolve, seconds: f64) -> HeadStats {
    let c = &h.solution.certificate;
    HeadStats {
        objective: c.objective,
        lower_bound: c.lower_bound,
        relative_gap: c.relative_gap,
        admm_iterations: h.solution.iterations,
        cg_iterations: h.solution.cg_iterations,
        status: h.solution.status.to_string(),
        seconds,
        active_neurons: h.model.active_neurons(),
        warm_started: h.warm_started,
    }
}

/// One first-order step of `features` on a mini-batch through a fixed `head` (squared loss);
/// returns the batch loss.
pub fn feature_step(features: &mut Sequential, head: &mut Sequential, opt: &mut crate::optim::Optimizer, x: &crate::tensor::Tensor, labels: &[usize], lr_factor: f32) -> f64 {
    let f = features.forward(x, true);
    let scores = head.forward(&f, true);
    let (loss, g) = Loss::Squared.eval(&scores, labels);
    let gf = head.backward(&g, true);
    features.backward(&gf, false);
    opt.step(&mut features.params_mut(), lr_factor);
    loss
}

/// Trains by CRONOS-AM; `on_point` sees every evaluation as it happens. Returns the model
/// (last features and last head) and the run's report; the last head solve is `last_head`.
///
/// # Errors
/// Bad settings, a head solve that refuses its input, or a diverging loss.
pub fn train_am(cfg: &AmConfig, train: &Dataset, sets: EvalSets<'_>, mut on_point: impl FnMut(&Point)) -> Result<(DeepModel, RunReport, HeadSolve)> {
    cfg.validate()?;
    let mut clock = Stopwatch::new();
    let n = train.len();
    let k = train.n_classes;
    let features = cfg.arch.build(&train.sample_shape(), cfg.seed);
    // the head is solved on a fixed subset of rows when asked (cheaper solves)
    let head_idx: Option<Vec<usize>> = cfg.head.rows.filter(|&r| r < n).map(|r| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed ^ 0x5eed);
        let mut v = sample(&mut rng, n, r).into_vec();
        v.sort_unstable();
        v
    });
    let head_set = head_idx.as_ref().map(|i| train.subset(i));
    let head_data = head_set.as_ref().unwrap_or(train);
    let y = pm1_targets(&head_data.labels, k);
    let info = ModelInfo { arch: cfg.arch.name(), method: format!("cronos-am+{}", cfg.optimizer.label()), ..ModelInfo::default() };
    let mut model = DeepModel { features, head: Sequential::new(&[0]), info };
    let mut opt = cfg.optimizer.build();
    let mut batches = Batches::new(n, cfg.batch_size, cfg.seed.wrapping_add(7));
    let total = cfg.epochs * batches.per_epoch();
    let per_head = if cfg.steps_per_head == 0 { batches.per_epoch() } else { cfg.steps_per_head };
    let mut report = RunReport { method: model.info.method.clone(), ..RunReport::default() };
    let mut done = 0usize;
    let mut prev: Option<cronos::Model<f32>> = None;
    let mut loss_acc = (0.0f64, 0usize);
    let mut head_cfg = cfg.head.clone();
    let y_all = if head_idx.is_some() { pm1_targets(&train.labels, k) } else { y.clone() };
    loop {
        // (1)–(3): features, convex head, head as layers
        let t0 = clock.seconds();
        let last = done >= total;
        let hs = if last {
            let f = model.features.predict(&train.x);
            // same β per row: the data term sums over n rows instead of the subset's
            let beta = head_cfg.beta.map(|b| b * n as f64 / head_data.len() as f64);
            let final_cfg = HeadConfig { max_iter: cfg.final_max_iter.max(1), rows: None, beta, ..head_cfg.clone() };
            solve_head(&f, &y_all, &final_cfg, cfg.seed, prev.as_ref())?
        } else {
            let f = model.features.predict(&head_data.x);
            solve_head(&f, &y, &head_cfg, cfg.seed, prev.as_ref())?
        };
        if head_cfg.beta.is_none() {
            // freeze β (the mean over outputs of the first solve's): one objective for the run
            head_cfg.beta = Some(hs.model.beta.iter().sum::<f64>() / hs.model.beta.len().max(1) as f64);
        }
        model.head = head_layers(&hs.model.network());
        report.head_solves += 1;
        let stats = head_stats(&hs, clock.seconds() - t0);
        let p = Point {
            epochs: batches.epochs(),
            train_loss: (loss_acc.1 > 0).then(|| loss_acc.0 / loss_acc.1 as f64),
            head: Some(stats),
            ..Point::default()
        };
        loss_acc = (0.0, 0);
        let p = evaluate(&mut model, &sets, &mut clock, p);
        on_point(&p);
        report.history.push(p);
        if last {
            report.seconds = clock.seconds();
            report.epochs = batches.epochs();
            report.steps = done;
            return Ok((model, report, hs));
        }
        prev = Some(hs.model);
        // (4): first-order steps on the feature layers through the fixed head
        for _ in 0..per_head.min(total - done) {
            let idx = batches.next_batch().to_vec();
            let xb = train.x.gather(&idx);
            let lb: Vec<usize> = idx.iter().map(|&i| train.labels[i]).collect();
            let factor = if cfg.cosine { cosine(done, total) } else { 1.0 };
            let loss = feature_step(&mut model.features, &mut model.head, &mut opt, &xb, &lb, factor);
            if !loss.is_finite() {
                return Err(DeepError::Diverged { step: done });
            }
            loss_acc = (loss_acc.0 + loss, loss_acc.1 + 1);
            done += 1;
        }
    }
}
