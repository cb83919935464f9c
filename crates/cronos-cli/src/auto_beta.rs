//! `cronos train --loss … --beta auto|VALUE --class-weight …`: the loss checked against the
//! task, class weights, and the automatic choice of β by a regularization path on a
//! validation split (the library's [`cronos::select_beta`]).

use crate::{ClassWeightArg, LossArg, TrainArgs};
use anyhow::{bail, Result};
use cronos::{BetaChoice, Loss, PathPoint, PathSettings, Settings};
use cronos_model::{Classes, Task};
use faer::MatRef;

/// The library loss for `--loss`, checked against the task: logistic needs two classes,
/// softmax three or more, and neither fits regression.
pub fn loss_for(arg: LossArg, task: &Task) -> Result<Loss> {
    let classes = match task {
        Task::Classification(c) => Some(c.len()),
        Task::Regression => None,
    };
    Ok(match (arg, classes) {
        (LossArg::Squared, _) => Loss::Squared,
        (LossArg::Logistic, Some(2)) => Loss::Logistic,
        (LossArg::Logistic, Some(k)) => bail!("--loss logistic is a binary loss but the data has {k} classes (use --loss softmax, or --classes A,B)"),
        (LossArg::Softmax, Some(k)) if k >= 3 => Loss::Softmax,
        (LossArg::Softmax, Some(k)) => bail!("--loss softmax needs at least 3 classes, the data has {k} (use --loss logistic)"),
        (LossArg::Logistic | LossArg::Softmax, None) => bail!("--loss {}: a classification loss, but the task is regression (labels are not class labels; see --task)", if arg == LossArg::Logistic { "logistic" } else { "softmax" }),
    })
}

/// Per-row weights of `--class-weight balanced`: n / (classes · n_class), so every class
/// carries the same total weight; `None` for `none` or regression.
pub fn class_weights(arg: ClassWeightArg, task: &Task, labels: &[f64]) -> Result<Option<Vec<f64>>> {
    let classes: &Classes = match (arg, task) {
        (ClassWeightArg::None, _) => return Ok(None),
        (ClassWeightArg::Balanced, Task::Regression) => bail!("--class-weight balanced: needs a classification task"),
        (ClassWeightArg::Balanced, Task::Classification(c)) => c,
    };
    let mut counts = vec![0usize; classes.len()];
    let idx: Vec<usize> = labels.iter().map(|&l| classes.index_of(l).unwrap_or(0)).collect();
    idx.iter().for_each(|&c| counts[c] += 1);
    let (n, k) = (labels.len() as f64, classes.len() as f64);
    Ok(Some(idx.iter().map(|&c| n / (k * counts[c].max(1) as f64)).collect()))
}

/// Path settings from the command line.
pub fn path_settings(a: &TrainArgs) -> Result<PathSettings> {
    let ps = PathSettings { n_betas: a.path_points, min_fraction: a.path_min_fraction, ..PathSettings::default() };
    ps.validate().map_err(|e| anyhow::anyhow!("invalid option: {e}"))?;
    Ok(ps)
}

/// Runs the path on a validation split of the fitting rows and returns the chosen β.
pub fn choose(x: cronos::DataRef<'_, f32>, y: MatRef<'_, f32>, weights: Option<&[f64]>, settings: &Settings, ps: &PathSettings, quiet: bool) -> Result<BetaChoice<f32>> {
    if !quiet {
        eprintln!(
            "choosing β: regularization path on a grid of {} fractions of β_max (down to {:.0e}), from near 30/n·β_max while validation improves, on {:.0}% of the rows (at most {} of them), validated on the rest",
            ps.n_betas,
            ps.min_fraction,
            100.0 * (1.0 - ps.validation_fraction),
            ps.path_rows
        );
    }
    let choice = cronos::select_beta(x, y, weights, settings, ps, |p: &PathPoint| {
        if !quiet {
            eprintln!(
                "  β/β_max {:.2e}  β {:.4e}  gap {:.1e}  active {:>5}  its {:>4}  train {:.4}  validation {:.4}  {:.1}s",
                p.fraction,
                p.beta,
                p.relative_gap,
                p.active_neurons,
                p.iterations,
                p.train_metric,
                p.validation_metric.unwrap_or(f64::NAN),
                p.seconds
            );
        }
    })?;
    if !quiet {
        eprintln!(
            "chose β/β_max = {:.2e} on {} rows in {:.1}s; refitting on all rows at {:.2e} (the best fraction falls like n^-3/4)",
            choice.path_fraction, choice.path_rows, choice.seconds, choice.fraction
        );
    }
    Ok(choice)
}
