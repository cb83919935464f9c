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
//!   iteration and `KeyboardInterrupt` is raised once the solver has returned.
//! * `cronos::CronosError` becomes `ValueError` with the same message; a Rust panic becomes
//!   `RuntimeError` rather than a crash.
//! * `beta_auto=True` runs the library's regularization path on a stratified validation split
//!   ([`cronos::select_beta`]) and refits on all rows at the chosen fraction of β_max,
//!   warm-started from the path's model (exactly what `cronos train --beta auto` does). Ctrl-C
//!   during the path stops it after the current grid point.

mod onnx;

use cronos::{Activation, Beta, Control, CronosError, Loss, LossData, Metric, PathPoint, PathSettings, PrecondKind, Real, Settings, Solver};
use faer::{Mat, MatRef};
use numpy::ndarray::{Array1, Array2};
use numpy::{Element, IntoPyArray, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

fn value_error(e: CronosError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Wraps a numpy array as a faer view without copying. `None` when the strides are not
/// multiples of the item size (then the caller copies).
fn as_matref<'a, T: Element>(a: &'a PyReadonlyArray2<'_, T>) -> Option<MatRef<'a, T>> {
    let shape = a.shape();
    let strides = a.strides();
    let item = std::mem::size_of::<T>() as isize;
    if strides.iter().any(|&s| s % item != 0) {
        return None;
    }
    let ptr = a.data() as *const T;
    // SAFETY: the pointer, shape and strides describe the live numpy buffer, which stays
    // borrowed (read-only) for 'a; numpy guarantees alignment of float arrays it allocates
    // and the stride check above rules out byte-offset views.
    if !ptr.is_aligned() {
        return None;
    }
    Some(unsafe { MatRef::from_raw_parts(ptr, shape[0], shape[1], strides[0] / item, strides[1] / item) })
}

fn to_numpy2<'py, T: Real + Element>(py: Python<'py>, m: MatRef<'_, T>) -> Bound<'py, PyAny> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)]).into_pyarray(py).into_any()
}

fn to_numpy1<'py, T: Real + Element>(py: Python<'py>, v: &[T]) -> Bound<'py, PyAny> {
    Array1::from_vec(v.to_vec()).into_pyarray(py).into_any()
}

/// The outcome of the automatic choice of β.
struct AutoOut {
    /// The chosen fraction of β_max.
    fraction: f64,
    /// The path on the training part of the split (empty when the data were too small to hold
    /// rows out: then `fraction` is the library default).
    path: Vec<PathPoint>,
    /// Seconds of the path (split and setup included).
    seconds: f64,
}

struct FitOut<T: Real> {
    model: cronos::Model<T>,
    solution: cronos::Solution,
    n_patterns: usize,
    /// Whether x and y were read in place (no copy).
    borrowed: (bool, bool),
    /// The settings of the final fit (β as chosen when automatic).
    settings: Settings,
    auto: Option<AutoOut>,
}

/// Unwinding payload of a Ctrl-C seen between two points of the regularization path
/// (`select_beta` has no way to stop early; `resume_unwind` skips the panic hook).
struct PathInterrupted;

#[allow(clippy::too_many_arguments)]
fn run<T: Real + Element>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    weights: Option<Vec<f64>>,
    settings: Settings,
    auto: Option<PathSettings>,
    verbose: bool,
) -> PyResult<(FitOut<T>, Option<PyErr>)> {
    let xa: PyReadonlyArray2<'_, T> = x.extract()?;
    let ya: PyReadonlyArray2<'_, T> = y.extract()?;
    let xo = if as_matref(&xa).is_none() { Some(Mat::from_fn(xa.shape()[0], xa.shape()[1], |i, j| *xa.get([i, j]).unwrap())) } else { None };
    let yo = if as_matref(&ya).is_none() { Some(Mat::from_fn(ya.shape()[0], ya.shape()[1], |i, j| *ya.get([i, j]).unwrap())) } else { None };
    let borrowed = (xo.is_none(), yo.is_none());
    let xv = xo.as_ref().map(|m| m.as_ref()).or_else(|| as_matref(&xa)).unwrap();
    let yv = yo.as_ref().map(|m| m.as_ref()).or_else(|| as_matref(&ya)).unwrap();
    let mut path_interrupt: Option<PyErr> = None;
    let result = py.detach(|| {
        catch_unwind(AssertUnwindSafe(|| -> Result<(FitOut<T>, Option<PyErr>), CronosError> {
            let mut settings = settings;
            let w = weights.as_deref();
            let mut auto_out = None;
            let mut warm = None;
            if let Some(ps) = &auto {
                // targets and weights checked on all rows (errors name the caller's row numbers)
                LossData::new(settings.loss, yv, w)?;
                let metric = Metric::for_problem(settings.loss, yv);
                let (tr, va) = cronos::path::stratified_split(yv, metric, ps.validation_fraction, settings.seed);
                if tr.is_empty() || va.is_empty() {
                    // too few rows (per class) to hold any out: the library's default β
                    settings.beta = Settings::default().beta;
                    let fraction = match settings.beta {
                        Beta::Fraction(f) => f,
                        Beta::Value(_) => f64::NAN,
                    };
                    auto_out = Some(AutoOut { fraction, path: Vec::new(), seconds: 0.0 });
                } else {
                    let choice = cronos::select_beta(xv, yv, w, &settings, ps, |p: &PathPoint| {
                        if verbose {
                            eprintln!(
                                "cronos: path  beta/beta_max {:.2e}  beta {:.4e}  gap {:.1e}  active {:>5}  its {:>4}  train {:.4}  validation {:.4}  {:.2}s",
                                p.fraction, p.beta, p.relative_gap, p.active_neurons, p.iterations, p.train_metric,
                                p.validation_metric.unwrap_or(f64::NAN), p.seconds
                            );
                        }
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            path_interrupt = Some(e);
                            std::panic::resume_unwind(Box::new(PathInterrupted));
                        }
                    })?;
                    if verbose {
                        eprintln!("cronos: chose beta/beta_max = {:.2e} in {:.2}s; refitting on all rows", choice.fraction, choice.seconds);
                    }
                    settings.beta = Beta::Fraction(choice.fraction);
                    auto_out = Some(AutoOut { fraction: choice.fraction, path: choice.path, seconds: choice.seconds });
                    warm = Some(choice.model);
                }
            }
            let mut solver = Solver::<T>::new_weighted(xv, yv, w, settings)?;
            if let Some(m) = &warm {
                // a path model with another pattern count (other rows) means a cold start
                let _ = solver.warm_start(m);
            }
            let mut interrupt: Option<PyErr> = None;
            let solution = solver.solve_with(|info| {
                if verbose && info.certified {
                    eprintln!(
                        "cronos: iter {:>5}  obj {:.6e}  lower {:.6e}  gap {:.3e}  res_p {:.2e}  res_d {:.2e}  rho {:.2e}  {:.2}s",
                        info.iteration, info.objective, info.lower_bound, info.relative_gap,
                        info.primal_residual, info.dual_residual, info.rho, info.seconds
                    );
                }
                match Python::attach(|py| py.check_signals()) {
                    Ok(()) => Control::Continue,
                    Err(e) => {
                        interrupt = Some(e);
                        Control::Stop
                    }
                }
            });
            let n_patterns = solver.n_patterns();
            let settings = solver.settings().clone();
            Ok((FitOut { model: solver.model(), solution, n_patterns, borrowed, settings, auto: auto_out }, interrupt))
        }))
    });
    match result {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(value_error(e)),
        Err(panic) if panic.is::<PathInterrupted>() => {
            Err(path_interrupt.unwrap_or_else(|| pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted")))
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!("internal error in cronos (please report): {msg}")))
        }
    }
}

fn result_dict<'py, T: Real + Element>(py: Python<'py>, out: FitOut<T>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let FitOut { model, solution, n_patterns, borrowed, settings, auto } = out;
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

/// Fits the convex program on `x` (n × d) and `y` (n × k), both 2-D float32 or float64
/// numpy arrays of the same dtype, and returns a dict of the recovered network and the
/// solve report. See `_cronos.pyi` for the keys.
#[pyfunction]
#[pyo3(signature = (x, y, *, activation = "relu", loss = "squared", sample_weight = None, beta = None, beta_fraction = None,
    beta_auto = false, path_points = 12, path_min_fraction = 1e-5, n_patterns = 64,
    max_iter = 500, tol_gap = 1e-3, tol_residual = None, seed = 0, threads = 0, preconditioner = "structured",
    time_limit = None, bias = true, verbose = false))]
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
) -> PyResult<Bound<'py, PyDict>> {
    let mut s = Settings::default();
    s.activation = match activation.to_ascii_lowercase().replace('-', "_").as_str() {
        "relu" => Activation::Relu,
        "gated_relu" | "gated" => Activation::GatedRelu,
        other => return Err(PyValueError::new_err(format!("invalid setting `activation` = {other}: expected 'relu' or 'gated_relu'"))),
    };
    s.preconditioner = match preconditioner.to_ascii_lowercase().as_str() {
        "none" => PrecondKind::None,
        "nystrom" => PrecondKind::Nystrom,
        "structured" => PrecondKind::Structured,
        other => {
            return Err(PyValueError::new_err(format!(
                "invalid setting `preconditioner` = {other}: expected 'none', 'nystrom' or 'structured'"
            )))
        }
    };
    s.loss = match loss.to_ascii_lowercase().as_str() {
        "squared" => Loss::Squared,
        "logistic" => Loss::Logistic,
        "softmax" => Loss::Softmax,
        other => {
            return Err(PyValueError::new_err(format!("invalid setting `loss` = {other}: expected 'squared', 'logistic' or 'softmax'")))
        }
    };
    match (beta, beta_fraction) {
        (Some(_), Some(_)) => return Err(PyValueError::new_err("give at most one of `beta` and `beta_fraction`")),
        (Some(_), None) | (None, Some(_)) if beta_auto => {
            return Err(PyValueError::new_err("`beta_auto` chooses beta: give neither `beta` nor `beta_fraction` with it"))
        }
        (Some(b), None) => s.beta = Beta::Value(b),
        (None, Some(f)) => s.beta = Beta::Fraction(f),
        (None, None) => {}
    }
    let path = if beta_auto {
        let n_betas = usize::try_from(path_points)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| PyValueError::new_err(format!("invalid setting `path_points` = {path_points}: need at least one grid point")))?;
        if !(path_min_fraction > 0.0 && path_min_fraction <= 1.0) {
            return Err(PyValueError::new_err(format!("invalid setting `path_min_fraction` = {path_min_fraction}: must lie in (0, 1]")));
        }
        let ps = PathSettings { n_betas, min_fraction: path_min_fraction, ..PathSettings::default() };
        ps.validate().map_err(value_error)?;
        Some(ps)
    } else {
        None
    };
    let weights: Option<Vec<f64>> = match sample_weight {
        None => None,
        Some(w) if w.is_none() => None,
        Some(w) => {
            let a: numpy::PyReadonlyArray1<'py, f64> = w.extract().map_err(|_| {
                PyTypeError::new_err(format!("sample_weight must be a 1-D float64 numpy array (got {})", describe_obj(w)))
            })?;
            Some(a.as_array().iter().copied().collect())
        }
    };
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
    if let Some(t) = time_limit {
        s.time_limit = Some(Duration::try_from_secs_f64(t).ok().filter(|d| !d.is_zero()).ok_or_else(|| {
            PyValueError::new_err(format!("invalid setting `time_limit` = {t}: must be finite and > 0 seconds"))
        })?);
    }
    s.validate().map_err(value_error)?;
    let is = |o: &Bound<'py, PyAny>, f64_: bool| -> bool {
        if f64_ { o.cast::<numpy::PyArray2<f64>>().is_ok() } else { o.cast::<numpy::PyArray2<f32>>().is_ok() }
    };
    let (interrupt, d) = if is(x, true) && is(y, true) {
        let (o, i) = run::<f64>(py, x, y, weights, s, path, verbose)?;
        (i, result_dict(py, o)?)
    } else if is(x, false) && is(y, false) {
        let (o, i) = run::<f32>(py, x, y, weights, s, path, verbose)?;
        (i, result_dict(py, o)?)
    } else {
        return Err(PyTypeError::new_err(format!(
            "x and y must both be 2-D native-endian float32 or both float64 numpy arrays (got {} and {})",
            describe_obj(x),
            describe_obj(y)
        )));
    };
    if let Some(e) = interrupt {
        return Err(e);
    }
    Ok(d)
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
    m.add_function(wrap_pyfunction!(onnx::export_onnx, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
