//! Progress reports of a fit, handed to a Python callable.
//!
//! The solver runs with the GIL released. Once per ADMM iteration (and once per point of the
//! β path) [`Progress::poll`] takes the GIL briefly: it runs `PyErr_CheckSignals` (Ctrl-C) and,
//! when there is something to report and a callback was given, calls the callback with one
//! dict. Output therefore goes wherever Python sends it (`sys.stderr` as a notebook captures
//! it, a tqdm bar, `logging`), never straight to file descriptor 2. Formatting lives on the
//! Python side (`cronos._progress`), so Rust sends numbers only.

use cronos::{IterInfo, PathPoint, PricingRound};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// One report. Every dict carries `"event"`: `"setup"`, `"path"`, `"beta_chosen"`, `"iter"` or
/// `"pricing"`.
pub(crate) enum Event<'a> {
    /// The solver is built (patterns sampled, preconditioner factored).
    Setup { seconds: f64, n_patterns: usize, warm_started: bool },
    /// One point of the β path is solved (`index` counts from 0 of `points`).
    Path { index: usize, points: usize, point: &'a PathPoint },
    /// The path chose β/β_max = `fraction` after `seconds`.
    BetaChosen { fraction: f64, seconds: f64 },
    /// An ADMM iteration that recomputed the certificate.
    Iter(&'a IterInfo),
    /// A round of pattern pricing is done (round 0: the solve before pricing).
    Pricing(&'a PricingRound),
}

impl Event<'_> {
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        match self {
            Event::Setup { seconds, n_patterns, warm_started } => {
                d.set_item("event", "setup")?;
                d.set_item("seconds", seconds)?;
                d.set_item("n_patterns", n_patterns)?;
                d.set_item("warm_started", warm_started)?;
            }
            Event::Path { index, points, point: p } => {
                d.set_item("event", "path")?;
                d.set_item("index", index)?;
                d.set_item("points", points)?;
                d.set_item("fraction", p.fraction)?;
                d.set_item("beta", p.beta)?;
                d.set_item("objective", p.objective)?;
                d.set_item("relative_gap", p.relative_gap)?;
                d.set_item("active_neurons", p.active_neurons)?;
                d.set_item("iterations", p.iterations)?;
                d.set_item("seconds", p.seconds)?;
                d.set_item("status", p.status.to_string())?;
                d.set_item("train_metric", p.train_metric)?;
                d.set_item("validation_metric", p.validation_metric)?;
            }
            Event::BetaChosen { fraction, seconds } => {
                d.set_item("event", "beta_chosen")?;
                d.set_item("fraction", fraction)?;
                d.set_item("seconds", seconds)?;
            }
            Event::Iter(i) => {
                d.set_item("event", "iter")?;
                d.set_item("iteration", i.iteration)?;
                d.set_item("seconds", i.seconds)?;
                d.set_item("objective", i.objective)?;
                d.set_item("lower_bound", i.lower_bound)?;
                d.set_item("relative_gap", i.relative_gap)?;
                d.set_item("primal_residual", i.primal_residual)?;
                d.set_item("dual_residual", i.dual_residual)?;
                d.set_item("rho", i.rho)?;
            }
            Event::Pricing(r) => {
                d.set_item("event", "pricing")?;
                crate::result::pricing_round_items(&d, r)?;
            }
        }
        Ok(d)
    }
}

/// The Python side of a running fit: an optional progress callable and the first error seen
/// (Ctrl-C's `KeyboardInterrupt`, or whatever the callable raised), which stops the fit.
pub(crate) struct Progress {
    callback: Option<Py<PyAny>>,
    /// The error that stopped the fit, raised once the solver has returned.
    pub(crate) error: Option<PyErr>,
}

impl Progress {
    /// A reporter calling `callback` (none: signal checks only).
    pub(crate) fn new(callback: Option<Py<PyAny>>) -> Self {
        Progress { callback, error: None }
    }

    /// Whether a callback will receive events (lets callers skip building them).
    pub(crate) fn reporting(&self) -> bool {
        self.callback.is_some()
    }

    /// Takes the GIL once: checks for Ctrl-C, then hands `event` to the callback. Returns
    /// `false` when the fit must stop (the error is kept in [`Progress::error`]). Called from
    /// inside `Python::detach`, so the GIL is held only for this call.
    pub(crate) fn poll(&mut self, event: Option<Event<'_>>) -> bool {
        if self.error.is_some() {
            return false;
        }
        let callback = &self.callback;
        let r = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let (Some(cb), Some(ev)) = (callback, event) {
                cb.bind(py).call1((ev.to_dict(py)?,))?;
            }
            Ok(())
        });
        match r {
            Ok(()) => true,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }
}
