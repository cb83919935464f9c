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

use cronos::{Activation, Beta, Control, CronosError, PrecondKind, Real, Settings, Solver};
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

struct FitOut<T: Real> {
    model: cronos::Model<T>,
    solution: cronos::Solution,
    n_patterns: usize,
    /// Whether x and y were read in place (no copy).
    borrowed: (bool, bool),
}

fn run<T: Real + Element>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    settings: Settings,
    verbose: bool,
) -> PyResult<(FitOut<T>, Option<PyErr>)> {
    let xa: PyReadonlyArray2<'_, T> = x.extract()?;
    let ya: PyReadonlyArray2<'_, T> = y.extract()?;
    let xo = if as_matref(&xa).is_none() { Some(Mat::from_fn(xa.shape()[0], xa.shape()[1], |i, j| *xa.get([i, j]).unwrap())) } else { None };
    let yo = if as_matref(&ya).is_none() { Some(Mat::from_fn(ya.shape()[0], ya.shape()[1], |i, j| *ya.get([i, j]).unwrap())) } else { None };
    let borrowed = (xo.is_none(), yo.is_none());
    let xv = xo.as_ref().map(|m| m.as_ref()).or_else(|| as_matref(&xa)).unwrap();
    let yv = yo.as_ref().map(|m| m.as_ref()).or_else(|| as_matref(&ya)).unwrap();
    let result = py.detach(|| {
        catch_unwind(AssertUnwindSafe(|| -> Result<(FitOut<T>, Option<PyErr>), CronosError> {
            let mut solver = Solver::<T>::new(xv, yv, settings)?;
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
            Ok((FitOut { model: solver.model(), solution, n_patterns, borrowed }, interrupt))
        }))
    });
    match result {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(value_error(e)),
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
    let FitOut { model, solution, n_patterns, borrowed } = out;
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
    d.set_item("objectives", solution.certificate.objectives.clone())?;
    d.set_item("lower_bounds", solution.certificate.lower_bounds.clone())?;
    d.set_item("setup_seconds", solution.setup_seconds)?;
    d.set_item("solve_seconds", solution.solve_seconds)?;
    d.set_item("dtype", T::NAME)?;
    Ok(d)
}

/// Fits the convex program on `x` (n × d) and `y` (n × k), both 2-D float32 or float64
/// numpy arrays of the same dtype, and returns a dict of the recovered network and the
/// solve report. See `_cronos.pyi` for the keys.
#[pyfunction]
#[pyo3(signature = (x, y, *, activation = "relu", beta = None, beta_fraction = None, n_patterns = 64,
    max_iter = 500, tol_gap = 1e-3, tol_residual = None, seed = 0, threads = 0, preconditioner = "structured",
    time_limit = None, bias = true, verbose = false))]
#[allow(clippy::too_many_arguments, clippy::field_reassign_with_default)]
fn fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    activation: &str,
    beta: Option<f64>,
    beta_fraction: Option<f64>,
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
    match (beta, beta_fraction) {
        (Some(_), Some(_)) => return Err(PyValueError::new_err("give at most one of `beta` and `beta_fraction`")),
        (Some(b), None) => s.beta = Beta::Value(b),
        (None, Some(f)) => s.beta = Beta::Fraction(f),
        (None, None) => {}
    }
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
    let describe = |o: &Bound<'py, PyAny>| -> String {
        match o.cast::<numpy::PyUntypedArray>() {
            Ok(a) => format!("{}-D {}", a.ndim(), a.dtype()),
            Err(_) => o.get_type().name().map(|n| n.to_string()).unwrap_or_default(),
        }
    };
    let is = |o: &Bound<'py, PyAny>, f64_: bool| -> bool {
        if f64_ { o.cast::<numpy::PyArray2<f64>>().is_ok() } else { o.cast::<numpy::PyArray2<f32>>().is_ok() }
    };
    let settings_json = serde_json::to_string(&s).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let (interrupt, d) = if is(x, true) && is(y, true) {
        let (o, i) = run::<f64>(py, x, y, s, verbose)?;
        (i, result_dict(py, o)?)
    } else if is(x, false) && is(y, false) {
        let (o, i) = run::<f32>(py, x, y, s, verbose)?;
        (i, result_dict(py, o)?)
    } else {
        return Err(PyTypeError::new_err(format!(
            "x and y must both be 2-D native-endian float32 or both float64 numpy arrays (got {} and {})",
            describe(x),
            describe(y)
        )));
    };
    if let Some(e) = interrupt {
        return Err(e);
    }
    d.set_item("settings_json", settings_json)?;
    Ok(d)
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
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
