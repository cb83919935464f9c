//! End-to-end baselines: the same feature network with a trainable two-layer head, trained
//! by SGD (momentum), Adam or AdamW on mini-batches, and the small learning-rate grid over
//! which they are tuned.

use crate::arch::{dense_head, Arch};
use crate::data::{Batches, Dataset};
use crate::error::{setting, DeepError, Result};
use crate::loss::Loss;
use crate::model::{DeepModel, ModelInfo};
use crate::optim::{cosine, OptimizerKind};
use crate::run::{evaluate, EvalSets, Point, RunReport, Stopwatch};
use serde::{Deserialize, Serialize};

/// Settings of one baseline run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineConfig {
    /// Feature network.
    pub arch: Arch,
    /// Hidden width of the head.
    pub hidden: usize,
    /// Epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Optimizer (with its learning rate).
    pub optimizer: OptimizerKind,
    /// Cosine learning-rate decay over the run.
    pub cosine: bool,
    /// Training loss.
    pub loss: Loss,
    /// Evaluations per epoch.
    pub evals_per_epoch: usize,
    /// Seed of weights and batches.
    pub seed: u64,
}

/// The learning-rate grid of the comparison: SGD (momentum 0.9) at {0.03, 0.1}, Adam and AdamW
/// at {1e-3, 3e-3}: the usual good values for a small CNN with batch 128 and a cosine schedule
/// over a few epochs, a factor 3 apart (two points per family keep the grid affordable on two
/// shared cores; `cronos compare --lrs` runs any other grid).
pub fn default_grid() -> Vec<OptimizerKind> {
    let mut g = Vec::new();
    for lr in [0.03, 0.1] {
        g.push(OptimizerKind::Sgd { lr, momentum: 0.9, weight_decay: 5e-4 });
    }
    for lr in [1e-3, 3e-3] {
        g.push(OptimizerKind::Adam { lr, weight_decay: 0.0 });
    }
    for lr in [1e-3, 3e-3] {
        g.push(OptimizerKind::AdamW { lr, weight_decay: 1e-2 });
    }
    g
}

/// Trains one baseline; `on_point` sees every evaluation.
///
/// # Errors
/// Bad settings or a diverging loss.
pub fn train_baseline(cfg: &BaselineConfig, train: &Dataset, sets: EvalSets<'_>, mut on_point: impl FnMut(&Point)) -> Result<(DeepModel, RunReport)> {
    cfg.optimizer.validate()?;
    if cfg.epochs == 0 || cfg.batch_size == 0 || cfg.hidden == 0 {
        return Err(setting("epochs/batch_size/hidden", format!("{}/{}/{}", cfg.epochs, cfg.batch_size, cfg.hidden), "must all be >= 1"));
    }
    let mut clock = Stopwatch::new();
    let n = train.len();
    let features = cfg.arch.build(&train.sample_shape(), cfg.seed);
    let head = dense_head(features.output_len(), cfg.hidden, train.n_classes, cfg.seed);
    let info = ModelInfo { arch: cfg.arch.name(), method: cfg.optimizer.label(), ..ModelInfo::default() };
    let mut model = DeepModel { features, head, info };
    let mut opt = cfg.optimizer.build();
    let mut batches = Batches::new(n, cfg.batch_size, cfg.seed.wrapping_add(7));
    let per_epoch = batches.per_epoch();
    let total = cfg.epochs * per_epoch;
    let every = per_epoch.div_ceil(cfg.evals_per_epoch.max(1));
    let mut report = RunReport { method: model.info.method.clone(), ..RunReport::default() };
    let mut loss_acc = (0.0f64, 0usize);
    for step in 0..total {
        let idx = batches.next_batch().to_vec();
        let xb = train.x.gather(&idx);
        let lb: Vec<usize> = idx.iter().map(|&i| train.labels[i]).collect();
        let f = model.features.forward(&xb, true);
        let scores = model.head.forward(&f, true);
        let (loss, g) = cfg.loss.eval(&scores, &lb);
        if !loss.is_finite() {
            return Err(DeepError::Diverged { step });
        }
        let gf = model.head.backward(&g, true);
        model.features.backward(&gf, false);
        let factor = if cfg.cosine { cosine(step, total) } else { 1.0 };
        let mut params = model.features.params_mut();
        params.extend(model.head.params_mut());
        opt.step(&mut params, factor);
        loss_acc = (loss_acc.0 + loss, loss_acc.1 + 1);
        let pos = (step + 1) % per_epoch;
        if pos % every == 0 || step + 1 == total {
            let p = Point { epochs: batches.epochs(), train_loss: Some(loss_acc.0 / loss_acc.1 as f64), ..Point::default() };
            loss_acc = (0.0, 0);
            let p = evaluate(&mut model, &sets, &mut clock, p);
            on_point(&p);
            report.history.push(p);
        }
    }
    report.seconds = clock.seconds();
    report.epochs = batches.epochs();
    report.steps = total;
    Ok((model, report))
}
