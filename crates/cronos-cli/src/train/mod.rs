//! `cronos train`: data preparation ([`prepare`]), the choice of β, the solve through the
//! library's driver loop with the CLI's observer ([`observe`]), checkpoints
//! ([`checkpoint`]) and the reports ([`report`]).

pub mod calibrate;
pub mod checkpoint;
pub mod observe;
pub mod prepare;
pub mod pricing;
pub mod report;
pub mod sparse;
pub mod summary;

use crate::data::{accuracy, mse};
use crate::{PrecondArg, TrainArgs};
use anyhow::{bail, Context, Result};
use cronos::{Activation, Beta, BetaChoice, PrecondKind, Settings, Solution, Solver, Status};
use cronos_model::ModelFile;
use observe::{install_interrupt, spinner, Progress, Scores, TrainObserver};
use prepare::{Prepared, Rows};
use summary::{save_model, AutoBeta, DataInfo, Outcome, RunInfo, TrainSummary};
use std::time::{Duration, Instant};

/// Runs `cronos train` (single process); returns the exit code.
pub fn run(a: TrainArgs) -> Result<i32> {
    if a.deep.kind != crate::deep::ModelKind::Convex {
        return crate::deep::run(a);
    }
    let t_start = Instant::now();
    let (mut settings, beta_auto) = solver_settings(&a)?;
    let path_settings = crate::auto_beta::path_settings(&a)?;
    let pricing_settings = pricing::settings(&a)?;
    prepare::check_outputs(&a)?;
    let sp = spinner(a.quiet, "loading data");
    let mut p = prepare::prepare(&a)?;
    sp.finish_and_clear();
    settings.loss = crate::auto_beta::loss_for(a.loss, &p.task)?;
    let weights = crate::auto_beta::class_weights(a.class_weight, &p.task, &p.fit.labels)?;
    let choice = if beta_auto {
        let c = crate::auto_beta::choose(p.fit.x.as_data(), p.fit.y.as_ref(), weights.as_deref(), &settings, &path_settings, a.quiet)
            .with_context(|| format!("{}", p.train_path.display()))?;
        settings.beta = Beta::Fraction(c.fraction);
        Some(c)
    } else {
        None
    };
    let path_calibration = calibrate::from_path(&p, &settings, weights.as_deref(), choice.as_ref(), &path_settings)?;
    let sp = spinner(a.quiet, "setup: sampling patterns, Gram matrix, preconditioner");
    let mut solver = Solver::new_owned_weighted(p.take_fit_x(), p.fit.y.as_ref(), weights.as_deref(), settings.clone())
        .with_context(|| format!("{}", p.train_path.display()))?;
    if let Some(c) = &choice {
        // warm start from the chosen path model (a different pattern count means a cold start)
        let _ = solver.warm_start(&c.model);
    }
    sp.finish_and_clear();
    let mut obs = observer(&a, &p, &settings);
    if a.resume {
        let path = a.checkpoint.as_ref().expect("--resume needs --checkpoint (checked by clap)");
        let cf = checkpoint::read(path, &p.fingerprint, &settings)?;
        solver.restore(cf.solver).with_context(|| format!("{}", path.display()))?;
        (obs.records, obs.best) = (cf.records, cf.best);
    }
    announce(&a, &p, &solver, &obs);
    let mut sol = solver.run(&mut [&mut obs]);
    if let Some(e) = obs.error.take() {
        return Err(e);
    }
    let mut pricing_json = None;
    if let Some(ps) = pricing_settings.as_ref().filter(|_| !matches!(sol.status, Status::Interrupted | Status::NumericalError)) {
        let (report, value) = pricing::run(&a, &p, &mut solver, ps)?;
        // the model is the last round's (a best iterate of the first solve has other patterns)
        obs.best = None;
        sol.certificate = solver.certificate().clone();
        sol.feasibility = solver.feasibility();
        if let Some(s) = report.rounds.iter().rev().find_map(|r| r.status) {
            sol.status = s;
        }
        pricing_json = Some(value);
    }
    let fit = Fit { settings: &settings, choice: choice.as_ref(), path_calibration, pricing: pricing_json };
    finish(&a, &p, &fit, &solver, &obs, sol, t_start)
}

/// What the solve was run with (for the report and the calibration).
struct Fit<'a> {
    settings: &'a Settings,
    choice: Option<&'a BetaChoice<f32>>,
    /// The temperature fitted on the path's validation rows (see [`calibrate::from_path`]).
    path_calibration: Option<cronos::Calibration>,
    /// The summary's `pricing` object, when `--pricing-rounds` ran.
    pricing: Option<serde_json::Value>,
}

/// The observer: scores at certified iterations, early stopping on the validation rows,
/// progress, checkpoints and Ctrl-C.
fn observer<'a>(a: &TrainArgs, p: &'a Prepared, settings: &Settings) -> TrainObserver<'a> {
    let classes = p.classes().cloned();
    let score = move |pred: faer::MatRef<'_, f32>, r: &Rows| match &classes {
        Some(c) => accuracy(&c.decode(pred), &r.labels),
        None => -mse(pred, r.y.as_ref()),
    };
    let evaluate = move |solver: &mut Solver<f32>, model: &cronos::Model<f32>| -> Result<Scores> {
        let train = Some(score(solver.train_predictions(), &p.fit));
        let test = p.test.as_ref().map(|t| model.predict_data(t.x.as_data()).map(|pr| score(pr.as_ref(), t))).transpose()?;
        let val = match &p.val {
            Some(v) => {
                let pr = model.predict_data(v.x.as_data())?;
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
        progress: Progress::new(a.quiet, true, settings.max_iter, p.classes().is_some()),
        checkpoint,
        stop: install_interrupt(),
        comm: None,
        error: None,
    }
}

/// The run's first lines: data, task, patterns, β, setup time, then the table's header.
fn announce(a: &TrainArgs, p: &Prepared, solver: &Solver<f32>, obs: &TrainObserver<'_>) {
    let what = match p.classes() {
        Some(c) => format!("classification, {} classes", c.len()),
        None => "regression".into(),
    };
    let resumed = obs.records.last().map(|r| format!(", resumed at iteration {}", r.info.iteration));
    obs.progress.line(&format!(
        "cronos: {} rows × {} features ({what}) from {}; {} patterns, β = {}, setup {:.2}s{}",
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

/// Saves the model (the best validation iterate, or the last), writes the metrics file, the
/// plot and the summary; returns the exit code (130 when interrupted, 1 on a numerical error).
fn finish(a: &TrainArgs, p: &Prepared, fit: &Fit<'_>, solver: &Solver<f32>, obs: &TrainObserver<'_>, sol: Solution, t_start: Instant) -> Result<i32> {
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
        best_iteration: best.map(|b| b.iteration),
        active_neurons: model.active_neurons(),
        scores: report::data_scores(&model, p, solver.predict_training_rows(&model)?)?,
        n_test: p.test.as_ref().map(|t| t.x.nrows()),
        n_validation: p.val.as_ref().map(|v| v.x.nrows()),
    };
    let data = DataInfo { n_train: p.fit_shape.0, fingerprint: &p.fingerprint, source: a.source.source_name(&p.train_path) };
    let mf = save_model(&a.out, a.force, model, p.pre.clone(), p.task.clone(), fit.settings, data, outcome.metrics()?, &outcome, calibration)?;
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
        model_path: &a.out,
        distributed: None,
    };
    if a.json {
        println!("{}", TrainSummary::new(&outcome, run).to_json()?);
    }
    if !a.quiet {
        tell(&outcome, &mf, p.classes(), &a.out, a.plot.as_deref());
    }
    Ok(exit_code(outcome.status, &a.out, &p.train_path, a.quiet))
}

/// The human-readable summary on stderr.
fn tell(o: &Outcome, mf: &ModelFile, classes: Option<&cronos_model::Classes>, out: &std::path::Path, plot: Option<&std::path::Path>) {
    let (c, status) = (&o.certificate, o.status);
    eprintln!(
        "status: {status} after {} ADMM iterations ({} CG), {:.2}s (+{:.2}s setup)",
        o.iterations, o.cg_iterations, o.solve_seconds, o.setup_seconds
    );
    eprintln!("objective {:.6e}, certified lower bound {:.6e}, relative gap {:.3e}", c.objective, c.lower_bound, c.relative_gap);
    if let Some(f) = o.feasibility.filter(|f| f.constraint_violation > 1e-6) {
        eprintln!(
            "ReLU cone constraints violated by {:.2e} (relative): the network's objective is {:.6e}; the gap certifies feasible weights only",
            f.constraint_violation, f.network_objective
        );
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

/// The solver settings from the command line (validated), and whether β is to be chosen
/// automatically (no `--beta VALUE` / `--beta-fraction`; `settings.beta` then keeps the
/// library default). Shared by the single-process and the distributed `train`.
pub fn solver_settings(a: &TrainArgs) -> Result<(Settings, bool)> {
    let mut settings = Settings {
        n_patterns: a.patterns,
        max_iter: a.max_iter,
        seed: a.seed,
        threads: a.threads,
        ..Settings::default()
    };
    let beta_auto = a.beta_fraction.is_none() && !matches!(a.beta, Some(crate::BetaArg::Value(_)));
    if let Some(crate::BetaArg::Value(b)) = a.beta {
        settings.beta = Beta::Value(b);
    } else if let Some(f) = a.beta_fraction {
        settings.beta = Beta::Fraction(f);
    }
    // gated ReLU by default: certified to 1e-3 within minutes on 10 classes (Newton polishing),
    // where the ReLU program's ADMM stays at gaps of 0.1–0.9
    settings.activation = if a.relu { Activation::Relu } else { Activation::GatedRelu };
    settings.centered_gates = !a.raw_gates;
    if let Some(g) = a.polish_below {
        settings.polish_below = g;
    }
    if let Some(k) = a.polish_every {
        settings.polish_every = k;
    }
    if let Some(t) = a.time_limit {
        if !(t.is_finite() && t > 0.0) {
            bail!("--time-limit {t}: must be a positive number of seconds");
        }
        settings.time_limit = Some(Duration::from_secs_f64(t));
    }
    if let Some(t) = a.tol_gap {
        settings.tol_gap = t;
    }
    if let Some(c) = a.certificate_every {
        settings.certificate_every = c;
    }
    settings.preconditioner = match a.preconditioner {
        PrecondArg::None => PrecondKind::None,
        PrecondArg::Nystrom => PrecondKind::Nystrom,
        PrecondArg::Structured => PrecondKind::Structured,
    };
    settings.validate().context("invalid option")?;
    Ok((settings, beta_auto))
}

