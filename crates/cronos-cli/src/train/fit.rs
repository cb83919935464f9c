//! The β and fit stages of the train pipeline: the automatic choice of β, the solver's setup
//! (one process or the ranks of a `Comm`), the observer of the library's driver loop and the
//! run's first lines.

use super::agree::{fatal, sum, Agreed};
use super::observe::{install_interrupt, spinner, Progress, Scores, TrainObserver};
use super::prepare::{Prepared, Rows};
use super::{checkpoint, report};
use crate::data::mse;
use crate::TrainArgs;
use anyhow::{Context, Result};
use cronos::comm::Comm;
use cronos::{Beta, BetaChoice, PathSettings, Settings, Solver};
use std::sync::Arc;

/// The choose-β stage (`--beta auto`): the regularization path on a validation split of the
/// fitting rows; sets `settings.beta` to the chosen fraction of β_max.
pub fn choose_beta(a: &TrainArgs, p: &Prepared, settings: &mut Settings, weights: Option<&[f64]>, ps: &PathSettings) -> Result<BetaChoice<f32>> {
    let c = crate::auto_beta::choose(p.fit.x.as_data(), p.fit.y.as_ref(), weights, settings, ps, a.quiet)
        .with_context(|| format!("{}", p.train_path.display()))?;
    settings.beta = Beta::Fraction(c.fraction);
    Ok(c)
}

/// The solver on the fitting rows: in one process it takes them over (a copy would hold 2× X
/// at peak, see [`Prepared::take_fit_x`]); over ranks each holds its own rows. Warm-started
/// from the chosen path model (a different pattern count means a cold start).
pub fn setup(a: &TrainArgs, p: &mut Prepared, weights: Option<&[f64]>, settings: &Settings, choice: Option<&BetaChoice<f32>>, comm: &Arc<dyn Comm>) -> Result<Solver<f32>> {
    let sp = spinner(a.quiet || comm.rank() != 0, "setup: sampling patterns, Gram matrix, preconditioner");
    let path = p.train_path.display().to_string();
    let solver = if a.distributed {
        // collective: agrees on settings, widths and validation itself
        let make = |s: Settings| Solver::new_data_distributed(p.fit.x.as_data(), p.fit.y.as_ref(), weights, s, comm.clone());
        cronos::refit_solver(choice, settings.clone(), make)
            .map_err(|e| Agreed(format!("{path}: {e}")))?
    } else {
        let x = p.take_fit_x();
        let make = |s: Settings| Solver::new_owned_weighted(x, p.fit.y.as_ref(), weights, s);
        cronos::refit_solver(choice, settings.clone(), make)
            .with_context(|| path.clone())?
    };
    sp.finish_and_clear();
    Ok(solver)
}

/// A score summed over ranks: the row-weighted mean of the ranks' `local` scores on `rows`
/// rows each (in one process, `local` itself).
pub fn over_ranks(comm: &dyn Comm, local: f64, rows: usize) -> f64 {
    if comm.size() == 1 {
        return local;
    }
    let s = sum(comm, &[local * rows as f64, rows as f64]);
    s[0] / s[1]
}

/// The observer: scores at certified iterations (the training score over all ranks; test
/// and validation rows live on rank 0), early stopping on the validation rows, progress,
/// checkpoints and Ctrl-C. Every rank observes alike (replicated state, rank 0's clock and
/// Ctrl-C flag), so all ranks take the same branches.
pub fn observer<'a>(a: &TrainArgs, p: &'a Prepared, settings: &Settings, comm: &'a dyn Comm) -> TrainObserver<'a> {
    let score = |pred: faer::MatRef<'_, f32>, r: &Rows| p.score(pred, r);
    let evaluate = move |solver: &mut Solver<f32>, model: &cronos::Model<f32>| -> Result<Scores> {
        let train = Some(over_ranks(comm, score(solver.train_predictions(), &p.fit), p.fit.labels.len()));
        let predict = |r: &Rows| model.predict_data(r.x.as_data()).map_err(|e| fatal(comm, e.into()));
        let test = p.test.as_ref().map(|t| predict(t).map(|pr| score(pr.as_ref(), t))).transpose()?;
        let val = match &p.val {
            Some(v) => {
                let pr = predict(v)?;
                Some((score(pr.as_ref(), v), -mse(pr.as_ref(), v.y.as_ref())))
            }
            None => None,
        };
        Ok(Scores { train, test, val })
    };
    let checkpoint = a.checkpoint.as_ref().map(|path| checkpoint::CheckpointSink {
        path: path.clone(),
        every: a.checkpoint_every,
        fingerprint: p.fingerprint.clone(),
        settings: settings.clone(),
    });
    TrainObserver {
        evaluate: Box::new(evaluate),
        records: Vec::new(),
        best: None,
        patience: a.patience,
        progress: Progress::new(a.quiet || comm.rank() != 0, !a.distributed, settings.max_iter, p.classes().is_some()),
        checkpoint,
        stop: install_interrupt(),
        comm: a.distributed.then_some(comm),
        error: None,
    }
}

/// The run's first lines: data, task, ranks, patterns, β, setup time, then the table's header.
pub fn announce(a: &TrainArgs, p: &Prepared, solver: &Solver<f32>, obs: &TrainObserver<'_>, comm: &dyn Comm) {
    let what = match p.classes() {
        Some(c) => format!("classification, {} classes", c.len()),
        None => "regression".into(),
    };
    let ranks = if a.distributed { format!(" on {} ranks ({} rows here)", comm.size(), p.fit.labels.len()) } else { String::new() };
    let resumed = obs.records.last().map(|r| format!(", resumed at iteration {}", r.info.iteration));
    obs.progress.line(&format!(
        "cronos: {} rows × {} features ({what}){ranks} from {}; {} patterns, β = {}, setup {:.2}s{}",
        p.fit_shape.0,
        p.fit_shape.1,
        p.train_path.display(),
        solver.n_patterns(),
        report::fmt_list(&solver.beta()),
        solver.setup_seconds(),
        if a.resume { resumed.unwrap_or_default() } else { String::new() }
    ));
    obs.progress.header();
}
