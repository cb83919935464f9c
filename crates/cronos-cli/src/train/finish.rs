//! The evaluate and save stages of the train pipeline: the outcome of the solve, the model
//! file, the metrics file, the plot, the JSON summary and the human-readable summary.

use super::agree::fatal;
use super::observe::TrainObserver;
use super::prepare::Prepared;
use super::summary::{save_model, AutoBeta, DataInfo, DistributedStats, Outcome, RunInfo, TrainSummary};
use super::{calibrate, report, Fit};
use crate::TrainArgs;
use anyhow::Result;
use cronos::comm::Comm;
use cronos::{Solution, Solver, Status};
use cronos_model::ModelFile;
use std::time::Instant;

/// The evaluate and save stages: scores the saved model (the best validation iterate, or
/// the last; the training score over all ranks), then on rank 0 saves it and writes the
/// metrics file, the plot and the summary. Returns the exit code (130 when interrupted, 1 on
/// a numerical error; 0 on the other ranks).
#[allow(clippy::too_many_arguments)]
pub fn finish(a: &TrainArgs, p: &Prepared, fit: &Fit<'_>, solver: &Solver<f32>, obs: &TrainObserver<'_>, sol: Solution, t_start: Instant, comm: &dyn Comm) -> Result<i32> {
    let (model, best) = obs.chosen_model(solver);
    let calibration = calibrate::for_saved_model(p, fit.settings, &model, fit.path_calibration.clone())?;
    let outcome = Outcome {
        status: sol.status,
        certificate: best.map_or_else(|| sol.certificate.clone(), |b| b.certificate.clone()),
        // the saved weights as a network (a restored best iterate is not the solver's state)
        feasibility: best.is_none().then_some(sol.feasibility),
        iterations: obs.records.last().map_or(0, |r| r.info.iteration),
        cg_iterations: obs.records.iter().map(|r| r.info.cg_iterations).sum(),
        solve_seconds: obs.records.last().map_or(0.0, |r| r.info.seconds),
        setup_seconds: solver.setup_seconds(),
        // or the solver's best certified point, when it shows one instead of the last iterate
        best_iteration: best.map(|b| b.iteration).or(sol.shown_iteration),
        active_neurons: model.active_neurons(),
        scores: report::data_scores(&model, p, solver.predict_training_rows(&model).map_err(|e| fatal(comm, e.into()))?, comm)?,
        n_test: p.test.as_ref().map(|t| t.x.nrows()),
        n_validation: p.val.as_ref().map(|v| v.x.nrows()),
    };
    if comm.rank() != 0 {
        return Ok(0);
    }
    let distributed = fit.reduced_per_iteration.map(|bytes| DistributedStats {
        ranks: comm.size(),
        allreduce_bytes_per_iteration: bytes,
        seconds_per_iteration: outcome.solve_seconds / outcome.iterations.max(1) as f64,
    });
    let mut metrics = outcome.metrics()?;
    if let Some(d) = &distributed {
        metrics.insert("ranks".into(), d.ranks.into());
        metrics.insert("allreduce_bytes_per_iteration".into(), d.allreduce_bytes_per_iteration.into());
    }
    let data = DataInfo { n_train: p.fit_shape.0, fingerprint: &p.fingerprint, source: a.source.source_name(&p.train_path) };
    let mf = save_model(&a.out, a.force, model, p.pre.clone(), p.task.clone(), fit.settings, data, metrics, &outcome, calibration)?;
    let classification = p.classes().is_some();
    if let Some(path) = &a.metrics {
        report::write_metrics_file(path, a.force, &obs.records, classification)?;
    }
    if let Some(path) = &a.plot {
        let title = report::plot_title(fit.settings.activation, &mf.metadata.data_source, p.fit_shape.0, mf.model.n_patterns(), &mf.model.beta);
        report::write_plot(path, &obs.records, classification, title)?;
    }
    let run = RunInfo {
        settings: fit.settings,
        mf: &mf,
        total_seconds: t_start.elapsed().as_secs_f64(),
        auto: fit.choice.map(AutoBeta::of).transpose()?,
        pricing: fit.pricing.clone(),
        n_features: p.fit_shape.1,
        feature_weighting: p.feature_weighting,
        model_path: &a.out,
        distributed: distributed.clone(),
    };
    if a.json {
        println!("{}", TrainSummary::new(&outcome, run).to_json()?);
    }
    if !a.quiet {
        tell(&outcome, fit.pricing.as_ref(), &mf, p.classes(), &a.out, a.plot.as_deref());
        if let Some(d) = &distributed {
            eprintln!(
                "{} ranks: {:.3}s per iteration, {:.0} bytes summed per iteration",
                d.ranks, d.seconds_per_iteration, d.allreduce_bytes_per_iteration
            );
        }
    }
    Ok(exit_code(outcome.status, &a.out, &p.train_path, a.quiet))
}

/// The human-readable summary on stderr (with pricing, the status and certificate are those
/// of the final pattern set, the iteration counts those of the solve before it).
fn tell(o: &Outcome, pricing: Option<&serde_json::Value>, mf: &ModelFile, classes: Option<&cronos_model::Classes>, out: &std::path::Path, plot: Option<&std::path::Path>) {
    let (c, status) = (&o.certificate, o.status);
    match pricing {
        Some(p) => eprintln!(
            "status: {status} after {} round(s) of pattern pricing ({:.2}s); the solve before it: {} ADMM iterations ({} CG), {:.2}s (+{:.2}s setup)",
            p["rounds_run"], p["seconds"].as_f64().unwrap_or(0.0), o.iterations, o.cg_iterations, o.solve_seconds, o.setup_seconds
        ),
        None => eprintln!(
            "status: {status} after {} ADMM iterations ({} CG), {:.2}s (+{:.2}s setup)",
            o.iterations, o.cg_iterations, o.solve_seconds, o.setup_seconds
        ),
    }
    eprintln!("objective {:.6e}, certified lower bound {:.6e}, relative gap {:.3e}", c.objective, c.lower_bound, c.relative_gap);
    if let Some(f) = o.feasibility.filter(|f| f.constraint_violation > 1e-6) {
        eprintln!(
            "ReLU cone constraints violated by {:.2e} (relative): the network's objective is {:.6e}; the gap certifies feasible weights only",
            f.constraint_violation, f.network_objective
        );
    }
    if let (Some(it), None) = (o.best_iteration, o.n_validation) {
        eprintln!("weights of iteration {it}: this solve's best certified point (the last iterate's was worse)");
    }
    eprintln!("{}", report::score_line(&o.scores, classes, o.best_iteration));
    if let Some(c) = &mf.metadata.calibration {
        eprintln!(
            "probabilities calibrated: temperature {:.4} fitted on {} held-out rows (their log-loss {:.4} at T = 1, {:.4} after)",
            c.temperature, c.rows, c.log_loss_before, c.log_loss_after
        );
    }
    eprintln!("{} active neurons of {} convex blocks; model saved to {}", o.active_neurons, mf.model.weights.ncols(), out.display());
    if let Some(path) = plot {
        eprintln!("report plot: {}", path.display());
    }
}

/// The exit code of a finished run: 130 when interrupted (the best model so far is saved), 1
/// on a numerical error (the last model is saved), else 0.
pub fn exit_code(status: Status, out: &std::path::Path, train_path: &std::path::Path, quiet: bool) -> i32 {
    match status {
        Status::Interrupted => {
            if !quiet {
                eprintln!("interrupted: saved the best model so far to {}", out.display());
            }
            130
        }
        Status::NumericalError => {
            eprintln!("error: {}: the solver hit a numerical error (NaN/Inf); saved the last model", train_path.display());
            1
        }
        _ => 0,
    }
}

