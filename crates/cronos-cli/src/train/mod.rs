//! `cronos train`, in one process and over MPI ranks alike: one staged pipeline through the
//! `Comm` seam (one process runs it on [`cronos::LocalComm`]):
//!
//! options → load → select and encode → split → preprocess ([`prepare`]) → choose β →
//! fit, the library's driver loop with the CLI's observer ([`fit`], [`observe`],
//! [`checkpoint`]) → evaluate → save and report ([`finish`], [`summary`], [`report`]).
//!
//! Each stage that can fail on one rank ends with an agreement step ([`agree`]), so every
//! rank continues or every rank stops with one message.

pub mod agree;
pub mod calibrate;
pub mod checkpoint;
pub mod finish;
pub mod fit;
pub mod load;
pub mod observe;
pub mod prepare;
pub mod pricing;
pub mod relevance;
pub mod report;
pub mod sparse;
pub mod summary;
#[cfg(test)]
mod tests;

use crate::{PrecondArg, TrainArgs};
use agree::{agree, fatal};
use anyhow::{bail, Context, Result};
use cronos::comm::Comm;
use cronos::{Activation, Beta, BetaChoice, PathSettings, PrecondKind, PricingSettings, Settings, Status};
use observe::spinner;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs `cronos train` in one process; returns the exit code.
pub fn run(a: TrainArgs) -> Result<i32> {
    if a.deep.kind != crate::deep::ModelKind::Convex {
        return crate::deep::run(a);
    }
    run_on(&a, &cronos::comm::local())
}

/// The validated options of a run.
struct Options {
    settings: Settings,
    /// β chosen on a validation split (`--beta auto`, the default in one process).
    beta_auto: bool,
    path: PathSettings,
    pricing: Option<PricingSettings>,
}

/// What the solve was run with (for the report and the calibration).
pub struct Fit<'a> {
    pub settings: &'a Settings,
    pub choice: Option<&'a BetaChoice<f32>>,
    /// The temperature fitted on the path's validation rows (see [`calibrate::from_path`]).
    pub path_calibration: Option<cronos::Calibration>,
    /// The summary's `pricing` object, when `--pricing-rounds` ran.
    pub pricing: Option<serde_json::Value>,
    /// Bytes summed over ranks per iteration (a distributed run).
    pub reduced_per_iteration: Option<f64>,
}

/// The train pipeline on the ranks of `comm`; returns the exit code (rank 0's; the other
/// ranks return 0).
pub fn run_on(a: &TrainArgs, comm: &Arc<dyn Comm>) -> Result<i32> {
    let (t_start, c) = (Instant::now(), &**comm);
    let lead = c.rank() == 0;
    let o = agree(c, options(a, lead))?;
    let mut settings = o.settings.clone();
    let sp = spinner(a.quiet || !lead, "loading data");
    let mut p = prepare::prepare(a, c)?;
    sp.finish_and_clear();
    settings.loss = agree(c, crate::auto_beta::loss_for(a.loss, &p.task))?;
    let weights = crate::auto_beta::class_weights(a.class_weight, &p.task, &p.fit.labels)?;
    let choice = if o.beta_auto { Some(fit::choose_beta(a, &p, &mut settings, weights.as_deref(), &o.path)?) } else { None };
    let path_calibration = calibrate::from_path(&p, &settings, weights.as_deref(), choice.as_ref(), &o.path)?;
    let mut solver = fit::setup(a, &mut p, weights.as_deref(), &settings, choice.as_ref(), comm)?;
    let mut obs = fit::observer(a, &p, &settings, c);
    if a.resume {
        let path = a.checkpoint.as_ref().expect("--resume needs --checkpoint (checked by clap)");
        let cf = checkpoint::read(path, &p.fingerprint, &settings)?;
        solver.restore(cf.solver).with_context(|| format!("{}", path.display()))?;
        (obs.records, obs.best) = (cf.records, cf.best);
    }
    fit::announce(a, &p, &solver, &obs, c);
    let bytes0 = c.bytes_reduced();
    let mut sol = solver.run(&mut [&mut obs]);
    if let Some(e) = obs.error.take() {
        return Err(fatal(c, e));
    }
    let reduced_per_iteration = a.distributed.then(|| (c.bytes_reduced() - bytes0) as f64 / sol.iterations.max(1) as f64);
    let mut pricing_json = None;
    if let Some(ps) = o.pricing.as_ref().filter(|_| !matches!(sol.status, Status::Interrupted | Status::NumericalError)) {
        let (report, value) = pricing::run(a, &p, &mut solver, ps)?;
        // the model is the last round's (a best iterate of the first solve has other patterns)
        obs.best = None;
        report.update_solution(&solver, &mut sol);
        pricing_json = Some(value);
    }
    let fit = Fit { settings: &settings, choice: choice.as_ref(), path_calibration, pricing: pricing_json, reduced_per_iteration };
    finish::finish(a, &p, &fit, &solver, &obs, sol, t_start, c)
}

/// The options stage: the solver, path and pricing settings, the options a distributed run
/// refuses, and (rank 0, which writes them) the output files.
fn options(a: &TrainArgs, lead: bool) -> Result<Options> {
    if a.distributed {
        refuse_for_distributed(a)?;
    }
    let (settings, beta_auto) = solver_settings(a)?;
    let path = crate::auto_beta::path_settings(a)?;
    let pricing = pricing::settings(a)?;
    if lead {
        prepare::check_outputs(a)?;
    }
    // distributed without --beta / --beta-fraction: the library default, a fraction 1e-3 of β_max
    Ok(Options { settings, beta_auto: beta_auto && !a.distributed, path, pricing })
}

/// The options that need all rows in one process (a validation split, checkpoints, row
/// limits, plots, class weights, pricing, deep models).
fn refuse_for_distributed(a: &TrainArgs) -> Result<()> {
    if a.beta == Some(crate::BetaArg::Auto) {
        bail!("--beta auto is not supported with --distributed (it needs a validation split): give --beta B or --beta-fraction F");
    }
    let unsupported = [
        (a.val_fraction.is_some(), "--val-fraction"),
        (a.checkpoint.is_some(), "--checkpoint"),
        (a.source.n_train.is_some(), "--n-train"),
        (a.source.n_test.is_some(), "--n-test"),
        (a.plot.is_some(), "--plot"),
        (a.class_weight != crate::ClassWeightArg::None, "--class-weight"),
        (a.pricing_rounds > 0, "--pricing-rounds"),
        (a.deep.kind != crate::deep::ModelKind::Convex, "--model cnn|mlp"),
    ];
    match unsupported.iter().find(|(on, _)| *on) {
        Some((_, flag)) => bail!("{flag} is not supported with --distributed"),
        None => Ok(()),
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
    settings.relu_endgame = match a.relu_endgame.as_str() {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    };
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

