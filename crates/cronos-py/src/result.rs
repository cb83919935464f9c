//! The dict `cronos._cronos.fit` returns: the recovered network, the convex solution and the
//! solve report, as numpy arrays (in the input's dtype) and Python scalars.

use cronos::{Beta, Loss, PathPoint, PricingReport, PricingRound, Real, Settings};
use faer::MatRef;
use numpy::ndarray::{Array1, Array2};
use numpy::{Element, IntoPyArray};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn to_numpy2<'py, T: Real + Element>(py: Python<'py>, m: MatRef<'_, T>) -> Bound<'py, PyAny> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)]).into_pyarray(py).into_any()
}

fn to_numpy1<'py, T: Real + Element>(py: Python<'py>, v: &[T]) -> Bound<'py, PyAny> {
    Array1::from_vec(v.to_vec()).into_pyarray(py).into_any()
}

/// The outcome of the automatic choice of β.
pub(crate) struct AutoOut {
    /// The chosen fraction of β_max.
    pub(crate) fraction: f64,
    /// The path on the training part of the split (empty when the data were too small to hold
    /// rows out: then `fraction` is the library default).
    pub(crate) path: Vec<PathPoint>,
    /// Seconds of the path (split and setup included).
    pub(crate) seconds: f64,
}

/// What one fit produced, before conversion to Python objects.
pub(crate) struct FitOut<T: Real> {
    pub(crate) model: cronos::Model<T>,
    pub(crate) solution: cronos::Solution,
    pub(crate) n_patterns: usize,
    /// Whether x and y were read in place (no copy).
    pub(crate) borrowed: (bool, bool),
    /// The settings of the final fit (β as chosen when automatic).
    pub(crate) settings: Settings,
    pub(crate) auto: Option<AutoOut>,
    /// Whether the solve started from the previous fit's weights (`warm_start`).
    pub(crate) warm_started: bool,
    /// The probability temperature, when fitted (squared loss, `calibrate`).
    pub(crate) calibration: Option<cronos::Calibration>,
    /// The rounds of pattern pricing, when asked.
    pub(crate) pricing: Option<PricingReport>,
}

/// The fields of one pricing round (the result's `pricing` list and the progress event).
pub(crate) fn pricing_round_items(d: &Bound<'_, PyDict>, r: &PricingRound) -> PyResult<()> {
    d.set_item("round", r.round)?;
    d.set_item("candidates", r.candidates)?;
    d.set_item("violators", r.violators)?;
    d.set_item("added", r.added)?;
    d.set_item("dropped", r.dropped)?;
    d.set_item("patterns", r.patterns)?;
    d.set_item("max_violation", r.max_violation)?;
    d.set_item("objective", r.objective)?;
    d.set_item("lower_bound", r.lower_bound)?;
    d.set_item("relative_gap", r.relative_gap)?;
    d.set_item("warm_objective", r.warm_objective)?;
    d.set_item("reverted", r.reverted)?;
    d.set_item("undone", r.undone)?;
    d.set_item("active_neurons", r.active_neurons)?;
    d.set_item("train_metric", r.train_metric)?;
    d.set_item("iterations", r.iterations)?;
    d.set_item("seconds", r.seconds)?;
    d.set_item("search_seconds", r.search_seconds)?;
    d.set_item("status", r.status.map(|s| s.to_string()))?;
    Ok(())
}

/// The result dict of a fit (keys listed in `_cronos.pyi`).
pub(crate) fn result_dict<'py, T: Real + Element>(py: Python<'py>, out: FitOut<T>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let FitOut { model, solution, n_patterns, borrowed, settings, auto, warm_started, calibration, pricing } = out;
    d.set_item("warm_started", warm_started)?;
    match &pricing {
        Some(report) => {
            let rounds = pyo3::types::PyList::empty(py);
            for r in &report.rounds {
                let e = PyDict::new(py);
                pricing_round_items(&e, r)?;
                rounds.append(e)?;
            }
            d.set_item("pricing", rounds)?;
            d.set_item("pricing_stop", format!("{:?}", report.stop))?;
        }
        None => {
            d.set_item("pricing", py.None())?;
            d.set_item("pricing_stop", py.None())?;
        }
    }
    match &calibration {
        Some(c) => {
            let cd = PyDict::new(py);
            cd.set_item("temperature", c.temperature)?;
            cd.set_item("rows", c.rows)?;
            cd.set_item("log_loss_before", c.log_loss_before)?;
            cd.set_item("log_loss_after", c.log_loss_after)?;
            d.set_item("calibration", cd)?;
        }
        None => d.set_item("calibration", py.None())?,
    }
    d.set_item("x_borrowed", borrowed.0)?;
    d.set_item("y_borrowed", borrowed.1)?;
    let net = model.network();
    d.set_item("w1", to_numpy2(py, net.w1.as_ref()))?;
    d.set_item("b1", to_numpy1(py, &net.b1))?;
    d.set_item("w2", to_numpy2(py, net.w2.as_ref()))?;
    match &net.gates {
        Some((gw, gb)) => {
            d.set_item("gate_w", to_numpy2(py, gw.as_ref()))?;
            d.set_item("gate_b", to_numpy1(py, gb))?;
        }
        None => {
            d.set_item("gate_w", py.None())?;
            d.set_item("gate_b", py.None())?;
        }
    }
    d.set_item("gates", to_numpy2(py, model.gates.as_ref()))?;
    d.set_item("weights", to_numpy2(py, model.weights.as_ref()))?;
    d.set_item("beta", model.beta.clone())?;
    d.set_item("n_active_neurons", model.active_neurons())?;
    d.set_item("n_patterns", n_patterns)?;
    d.set_item("status", solution.status.to_string())?;
    d.set_item("n_iter", solution.iterations)?;
    d.set_item("best_iteration", solution.shown_iteration)?;
    d.set_item("cg_iterations", solution.cg_iterations)?;
    d.set_item("objective", solution.certificate.objective)?;
    d.set_item("lower_bound", solution.certificate.lower_bound)?;
    d.set_item("relative_gap", solution.certificate.relative_gap)?;
    d.set_item("constraint_violation", solution.feasibility.constraint_violation)?;
    d.set_item("network_objective", solution.feasibility.network_objective)?;
    d.set_item("objectives", solution.certificate.objectives.clone())?;
    d.set_item("lower_bounds", solution.certificate.lower_bounds.clone())?;
    d.set_item("setup_seconds", solution.setup_seconds)?;
    d.set_item("solve_seconds", solution.solve_seconds)?;
    d.set_item("dtype", T::NAME)?;
    d.set_item("loss", loss_name(model.loss))?;
    d.set_item("beta_auto", auto.is_some())?;
    let fraction = match (&auto, settings.beta) {
        (Some(a), _) => Some(a.fraction),
        (None, Beta::Fraction(f)) => Some(f),
        (None, Beta::Value(_)) => None,
    };
    d.set_item("beta_fraction", fraction)?;
    match auto {
        Some(a) => {
            let path = pyo3::types::PyList::empty(py);
            for p in &a.path {
                let e = PyDict::new(py);
                e.set_item("fraction", p.fraction)?;
                e.set_item("beta", p.beta)?;
                e.set_item("objective", p.objective)?;
                e.set_item("relative_gap", p.relative_gap)?;
                e.set_item("active_neurons", p.active_neurons)?;
                e.set_item("iterations", p.iterations)?;
                e.set_item("seconds", p.seconds)?;
                e.set_item("status", p.status.to_string())?;
                e.set_item("train_metric", p.train_metric)?;
                e.set_item("validation_metric", p.validation_metric)?;
                path.append(e)?;
            }
            d.set_item("beta_path", path)?;
            d.set_item("path_seconds", a.seconds)?;
        }
        None => {
            d.set_item("beta_path", py.None())?;
            d.set_item("path_seconds", py.None())?;
        }
    }
    let settings_json = serde_json::to_string(&settings).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    d.set_item("settings_json", settings_json)?;
    Ok(d)
}

fn loss_name(l: Loss) -> &'static str {
    match l {
        Loss::Squared => "squared",
        Loss::Logistic => "logistic",
        Loss::Softmax => "softmax",
    }
}
