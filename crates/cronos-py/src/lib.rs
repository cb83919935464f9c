//! Python bindings of `cronos` (module `cronos._cronos`).
//!
//! One entry point, [`fit`], runs the Rust solver on numpy arrays and returns a dict of numpy
//! arrays and scalars; the scikit-learn estimators in `python/cronos/__init__.py` wrap it.
//!
//! * Input is read without copying when it is a float32/float64 numpy array whose strides are
//!   multiples of the item size (C order, Fortran order or any strided view): the numpy buffer
//!   is wrapped as a `faer::MatRef` with the array's own strides.
//! * The GIL is released for the whole setup and solve; every ADMM iteration the callback
//!   re-acquires it briefly to run `PyErr_CheckSignals`, so Ctrl-C stops the fit within one
//!   iteration and `KeyboardInterrupt` is raised once the solver has returned. In the same
//!   brief hold it hands progress events to a Python callable (`progress`; [`progress`]), so
//!   verbose output goes through `sys.stderr` as Python sees it (notebooks), not file
//!   descriptor 2.
//! * `warm_start=(gates, weights)` starts the solve from a previous fit's convex weights,
//!   neuron by neuron where the gates match ([`warm`]).
//! * `cronos::CronosError` becomes `ValueError` with the same message; a Rust panic becomes
//!   `RuntimeError` rather than a crash.
//! * `beta_auto=True` calls the library's [`cronos::fit_auto_observed`]: the regularization
//!   path on a stratified validation split, then the refit on all rows at the chosen fraction
//!   of β_max, warm-started from the path's model (what `cronos train --beta auto` does), with
//!   the binding's progress/Ctrl-C observer on the refit. Ctrl-C during the path stops it
//!   after the current grid point.
//! * What the CLI also does is the CLI's code: the model file ([`model_io`], through
//!   `cronos-model`), the preprocessing statistics ([`preprocess`], `cronos_model::column_stats`);
//!   [`holdout`] is the estimators' content-hashed calibration hold-out.
//! * `pricing_rounds > 0` (gated ReLU) runs the library's [`cronos::price`] after the solve
//!   (after the refit with `beta_auto`): rounds of column generation that add gates violating
//!   the certificate's dual feasibility; each round is a progress event, and the result's
//!   `pricing` lists them.

mod holdout;
mod model_io;
mod onnx;
mod preprocess;
mod progress;
mod result;
mod run;
mod warm;

use cronos::{Activation, Beta, CronosError, Loss, PathSettings, PrecondKind, PricingSettings, Settings};
use numpy::PyUntypedArrayMethods;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use result::result_dict;
use run::{run, FitArgs};
use std::time::Duration;

fn value_error(e: CronosError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Fits the convex program on `x` (n × d) and `y` (n × k), both 2-D float32 or float64
/// numpy arrays of the same dtype (or `x` sparse as the tuple `(indptr, indices, data,
/// (n, d))`, int64 offsets and indices, `data` of y's dtype, kept sparse), and returns a dict of the recovered network and the
/// solve report. See `_cronos.pyi` for the keys.
#[pyfunction]
#[pyo3(signature = (x, y, *, activation = "relu", loss = "squared", sample_weight = None, beta = None, beta_fraction = None,
    beta_auto = false, path_points = 12, path_min_fraction = 1e-5, n_patterns = 64,
    max_iter = 500, tol_gap = 1e-3, tol_residual = None, seed = 0, threads = 0, preconditioner = "structured",
    time_limit = None, bias = true, verbose = false, progress = None, warm_start = None, calibrate = false,
    calibration_weights = None, calibration_rows = None, pricing_rounds = 0, pricing_add = 16, pricing_max_iter = 0, pricing_swap = false, relu_endgame = None))]
#[allow(clippy::too_many_arguments, clippy::field_reassign_with_default)]
fn fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    activation: &str,
    loss: &str,
    sample_weight: Option<&Bound<'py, PyAny>>,
    beta: Option<f64>,
    beta_fraction: Option<f64>,
    beta_auto: bool,
    path_points: i64,
    path_min_fraction: f64,
    n_patterns: i64,
    max_iter: i64,
    tol_gap: f64,
    tol_residual: Option<f64>,
    seed: u64,
    threads: i64,
    preconditioner: &str,
    time_limit: Option<f64>,
    bias: bool,
    verbose: bool,
    progress: Option<Bound<'py, PyAny>>,
    warm_start: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    calibrate: bool,
    calibration_weights: Option<Bound<'py, PyAny>>,
    calibration_rows: Option<Vec<usize>>,
    pricing_rounds: i64,
    pricing_add: i64,
    pricing_max_iter: i64,
    pricing_swap: bool,
    relu_endgame: Option<bool>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut s = Settings::default();
    s.activation = parse_activation(activation)?;
    s.preconditioner = parse_preconditioner(preconditioner)?;
    s.loss = parse_loss(loss)?;
    if let Some(b) = beta_setting(beta, beta_fraction, beta_auto)? {
        s.beta = b;
    }
    let path = if beta_auto { Some(path_settings(path_points, path_min_fraction)?) } else { None };
    let weights = weight_vector(sample_weight, "sample_weight")?;
    let calibration_weights = weight_vector(calibration_weights.as_ref(), "calibration_weights")?;
    let nonneg = |name: &str, v: i64| -> PyResult<usize> {
        usize::try_from(v).map_err(|_| PyValueError::new_err(format!("invalid setting `{name}` = {v}: must be >= 0")))
    };
    s.n_patterns = nonneg("n_patterns", n_patterns)?;
    s.max_iter = nonneg("max_iter", max_iter)?;
    s.threads = nonneg("threads", threads)?;
    s.tol_gap = tol_gap;
    if let Some(t) = tol_residual {
        s.tol_residual = t;
    }
    s.seed = seed;
    s.bias = bias;
    s.relu_endgame = relu_endgame;
    if let Some(t) = time_limit {
        s.time_limit = Some(Duration::try_from_secs_f64(t).ok().filter(|d| !d.is_zero()).ok_or_else(|| {
            PyValueError::new_err(format!("invalid setting `time_limit` = {t}: must be finite and > 0 seconds"))
        })?);
    }
    s.validate().map_err(value_error)?;
    let pricing = match nonneg("pricing_rounds", pricing_rounds)? {
        0 => None,
        rounds => {
            let ps = PricingSettings { rounds, add: nonneg("pricing_add", pricing_add)?, max_iter: nonneg("pricing_max_iter", pricing_max_iter)?, swap: pricing_swap, ..PricingSettings::default() };
            ps.validate().map_err(value_error)?;
            if s.activation != Activation::GatedRelu {
                return Err(PyValueError::new_err(format!("invalid setting `pricing_rounds` = {rounds}: pattern pricing needs the gated-ReLU estimators")));
            }
            Some(ps)
        }
    };
    let is = |o: &Bound<'py, PyAny>, f64_: bool| -> bool {
        if f64_ { o.cast::<numpy::PyArray2<f64>>().is_ok() } else { o.cast::<numpy::PyArray2<f32>>().is_ok() }
    };
    // x may also be scipy.sparse input as (indptr, indices, data, (n, d)) (see _estimators.py)
    let is_x = |o: &Bound<'py, PyAny>, f64_: bool| -> bool {
        is(o, f64_) || if f64_ { run::is_sparse_of::<f64>(o) } else { run::is_sparse_of::<f32>(o) }
    };
    let progress = reporter(py, progress, verbose, &s, time_limit)?;
    let args = FitArgs {
        weights,
        settings: s,
        auto: path,
        progress: progress.as_ref().map(|(p, _)| p.clone().unbind()),
        warm_start,
        calibrate,
        calibration_weights,
        calibration_rows,
        pricing,
    };
    let fitted = if is_x(x, true) && is(y, true) {
        run::<f64>(py, x, y, args).and_then(|(o, i)| Ok((i, result_dict(py, o)?)))
    } else if is_x(x, false) && is(y, false) {
        run::<f32>(py, x, y, args).and_then(|(o, i)| Ok((i, result_dict(py, o)?)))
    } else {
        return Err(PyTypeError::new_err(format!(
            "x and y must both be 2-D native-endian float32 or both float64 numpy arrays (got {} and {})",
            describe_obj(x),
            describe_obj(y)
        )));
    };
    // the reporter made here is closed here (its final line; a tqdm bar closed), also on errors
    if let Some((reporter, true)) = &progress {
        let summary = match &fitted {
            Ok((None, d)) => d.clone().into_any(),
            _ => py.None().into_bound(py),
        };
        reporter.call_method1("close", (summary,))?;
    }
    let (interrupt, d) = fitted?;
    if let Some(e) = interrupt {
        return Err(e);
    }
    Ok(d)
}

/// `activation`: 'relu' or 'gated_relu' (also 'gated', any case, '-' for '_').
fn parse_activation(activation: &str) -> PyResult<Activation> {
    match activation.to_ascii_lowercase().replace('-', "_").as_str() {
        "relu" => Ok(Activation::Relu),
        "gated_relu" | "gated" => Ok(Activation::GatedRelu),
        other => Err(PyValueError::new_err(format!("invalid setting `activation` = {other}: expected 'relu' or 'gated_relu'"))),
    }
}

/// `preconditioner`: 'none', 'nystrom' or 'structured' (any case).
fn parse_preconditioner(preconditioner: &str) -> PyResult<PrecondKind> {
    match preconditioner.to_ascii_lowercase().as_str() {
        "none" => Ok(PrecondKind::None),
        "nystrom" => Ok(PrecondKind::Nystrom),
        "structured" => Ok(PrecondKind::Structured),
        other => Err(PyValueError::new_err(format!("invalid setting `preconditioner` = {other}: expected 'none', 'nystrom' or 'structured'"))),
    }
}

/// `loss`: 'squared', 'logistic' or 'softmax' (any case).
fn parse_loss(loss: &str) -> PyResult<Loss> {
    match loss.to_ascii_lowercase().as_str() {
        "squared" => Ok(Loss::Squared),
        "logistic" => Ok(Loss::Logistic),
        "softmax" => Ok(Loss::Softmax),
        other => Err(PyValueError::new_err(format!("invalid setting `loss` = {other}: expected 'squared', 'logistic' or 'softmax'"))),
    }
}

/// β from `beta` / `beta_fraction` (at most one, neither with `beta_auto`); `None`: the default.
fn beta_setting(beta: Option<f64>, beta_fraction: Option<f64>, beta_auto: bool) -> PyResult<Option<Beta>> {
    match (beta, beta_fraction) {
        (Some(_), Some(_)) => Err(PyValueError::new_err("give at most one of `beta` and `beta_fraction`")),
        (Some(_), None) | (None, Some(_)) if beta_auto => Err(PyValueError::new_err("`beta_auto` chooses beta: give neither `beta` nor `beta_fraction` with it")),
        (Some(b), None) => Ok(Some(Beta::Value(b))),
        (None, Some(f)) => Ok(Some(Beta::Fraction(f))),
        (None, None) => Ok(None),
    }
}

/// The regularization path of `beta_auto`.
fn path_settings(path_points: i64, path_min_fraction: f64) -> PyResult<PathSettings> {
    let n_betas = usize::try_from(path_points)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| PyValueError::new_err(format!("invalid setting `path_points` = {path_points}: need at least one grid point")))?;
    if !(path_min_fraction > 0.0 && path_min_fraction <= 1.0) {
        return Err(PyValueError::new_err(format!("invalid setting `path_min_fraction` = {path_min_fraction}: must lie in (0, 1]")));
    }
    let ps = PathSettings { n_betas, min_fraction: path_min_fraction, ..PathSettings::default() };
    ps.validate().map_err(value_error)?;
    Ok(ps)
}

/// The progress callable and whether it was made here: the caller's `progress`, or with
/// `verbose` and no callable the package's own reporter (lines or a tqdm bar on sys.stderr).
fn reporter<'py>(py: Python<'py>, progress: Option<Bound<'py, PyAny>>, verbose: bool, s: &Settings, time_limit: Option<f64>) -> PyResult<Option<(Bound<'py, PyAny>, bool)>> {
    Ok(match progress {
        Some(p) if !p.is_none() => Some((p, false)),
        _ if verbose => {
            let kw = PyDict::new(py);
            kw.set_item("max_iter", s.max_iter)?;
            kw.set_item("tol_gap", s.tol_gap)?;
            kw.set_item("time_limit", time_limit)?;
            Some((py.import("cronos._progress")?.getattr("ProgressReporter")?.call((), Some(&kw))?, true))
        }
        _ => None,
    })
}

/// A 1-D float64 numpy array as a vector (`None` for None).
pub(crate) fn weight_vector(w: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<Vec<f64>>> {
    match w {
        None => Ok(None),
        Some(w) if w.is_none() => Ok(None),
        Some(w) => {
            let a: numpy::PyReadonlyArray1<'_, f64> =
                w.extract().map_err(|_| PyTypeError::new_err(format!("{name} must be a 1-D float64 numpy array (got {})", describe_obj(w))))?;
            Ok(Some(a.as_array().iter().copied().collect()))
        }
    }
}

/// The probability temperature minimising the (weighted) log-loss of softmax(logits / T) on
/// class indices `classes` (see `cronos::calibration::fit_temperature`).
#[pyfunction]
#[pyo3(signature = (logits, classes, sample_weight = None))]
fn fit_temperature(logits: numpy::PyReadonlyArray2<'_, f64>, classes: numpy::PyReadonlyArray1<'_, i64>, sample_weight: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
    let z = logits.as_array();
    let (n, k) = (z.nrows(), z.ncols());
    let c: Vec<usize> = classes.as_array().iter().map(|&c| usize::try_from(c).ok().filter(|&c| c < k)).collect::<Option<_>>()
        .ok_or_else(|| PyValueError::new_err(format!("classes must lie in 0..{k}")))?;
    let w = weight_vector(sample_weight, "sample_weight")?;
    if c.len() != n || w.as_ref().is_some_and(|w| w.len() != n) {
        return Err(PyValueError::new_err(format!("logits have {n} rows but classes/sample_weight do not")));
    }
    let m = faer::Mat::from_fn(n, k, |i, j| z[[i, j]]);
    Ok(cronos::fit_temperature(m.as_ref(), &c, w.as_deref()).temperature)
}

fn describe_obj(o: &Bound<'_, PyAny>) -> String {
    match o.cast::<numpy::PyUntypedArray>() {
        Ok(a) => format!("{}-D {}", a.ndim(), a.dtype()),
        Err(_) => o.get_type().name().map(|n| n.to_string()).unwrap_or_default(),
    }
}

/// `cronos::Settings::default()` as JSON (the serde form stored in model files).
#[pyfunction]
fn default_settings_json() -> PyResult<String> {
    serde_json::to_string(&Settings::default()).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// The Rust extension of the `cronos` package.
#[pymodule]
fn _cronos(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(default_settings_json, m)?)?;
    m.add_function(wrap_pyfunction!(fit_temperature, m)?)?;
    m.add_function(wrap_pyfunction!(onnx::export_onnx, m)?)?;
    m.add_function(wrap_pyfunction!(model_io::save_model, m)?)?;
    m.add_function(wrap_pyfunction!(model_io::load_model, m)?)?;
    m.add_function(wrap_pyfunction!(preprocess::preprocess_stats, m)?)?;
    m.add_function(wrap_pyfunction!(preprocess::relevance_weights_py, m)?)?;
    m.add_function(wrap_pyfunction!(holdout::holdout_rows, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
