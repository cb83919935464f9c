//! One fit of numpy arrays: zero-copy views of the input, the β path when automatic, the
//! solve with the GIL released, and Python's progress callback and Ctrl-C between iterations.

use crate::progress::{Event, Progress};
use crate::result::{AutoOut, FitOut};
use crate::warm;
use cronos::{calibration, Beta, Control, Csr, CronosError, DataRef, IterInfo, Loss, LossData, Metric, PathPoint, PathSettings, PricingReport, PricingSettings, Real, Settings, Solution, Solver};
use faer::{Mat, MatRef};
use numpy::{Element, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::types::PyTuple;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// Wraps a numpy array as a faer view without copying. `None` when the strides are not
/// multiples of the item size (then the caller copies).
pub(crate) fn as_matref<'a, T: Element>(a: &'a PyReadonlyArray2<'_, T>) -> Option<MatRef<'a, T>> {
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

/// Whether `x` is the sparse form `(indptr, indices, data, (n, d))` the package passes for
/// scipy.sparse input, with `data` of element type T.
pub(crate) fn is_sparse_of<T: Element>(x: &Bound<'_, PyAny>) -> bool {
    x.cast::<PyTuple>().ok().filter(|t| t.len() == 4).and_then(|t| t.get_item(2).ok()).is_some_and(|d| d.extract::<PyReadonlyArray1<'_, T>>().is_ok())
}

/// Copies the CSR parts `(indptr, indices, data, (n, d))` (int64 offsets and indices) into
/// the library's CSR: O(nnz), never n·d.
pub(crate) fn sparse_input<T: Real + Element>(x: &Bound<'_, PyAny>) -> PyResult<Csr<T>> {
    let t = x.cast::<PyTuple>().map_err(|_| PyTypeError::new_err("sparse x must be (indptr, indices, data, (n, d))"))?;
    let indptr: PyReadonlyArray1<'_, i64> = t.get_item(0)?.extract().map_err(|_| PyTypeError::new_err("x.indptr must be a 1-D int64 array"))?;
    let indices: PyReadonlyArray1<'_, i64> = t.get_item(1)?.extract().map_err(|_| PyTypeError::new_err("x.indices must be a 1-D int64 array"))?;
    let data: PyReadonlyArray1<'_, T> = t.get_item(2)?.extract()?;
    let (n, d): (usize, usize) = t.get_item(3)?.extract()?;
    let bad = |what: &str, v: i64| PyValueError::new_err(format!("invalid data `{what}`: negative value {v}"));
    let ip = indptr.as_array().iter().map(|&v| usize::try_from(v).map_err(|_| bad("x.indptr", v))).collect::<PyResult<Vec<usize>>>()?;
    let ix = indices
        .as_array()
        .iter()
        .map(|&v| u32::try_from(v).map_err(|_| PyValueError::new_err(format!("invalid data `x.indices`: column index {v} out of range"))))
        .collect::<PyResult<Vec<u32>>>()?;
    Csr::new(n, d, ip, ix, data.as_array().to_vec()).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// An owned copy of a 2-D array of the fit's dtype (the previous fit's gates and weights).
fn owned<T: Real + Element>(a: &Bound<'_, PyAny>, name: &str) -> PyResult<Mat<T>> {
    let r: PyReadonlyArray2<'_, T> = a
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("warm_start: `{name}` must be a 2-D {} numpy array like x", T::NAME)))?;
    let v = r.as_array();
    Ok(Mat::from_fn(v.nrows(), v.ncols(), |i, j| v[[i, j]]))
}

/// Unwinding payload of a stop requested between two points of the regularization path
/// (`select_beta` has no way to stop early; `resume_unwind` skips the panic hook).
struct PathInterrupted;

/// What a fit needs besides the data.
pub(crate) struct FitArgs<'py> {
    /// Row weights (validated by the library).
    pub(crate) weights: Option<Vec<f64>>,
    /// The solver settings (β replaced by the path's choice when `auto` is set).
    pub(crate) settings: Settings,
    /// The path settings of `beta_auto`.
    pub(crate) auto: Option<PathSettings>,
    /// Called with one dict per progress event (see `progress.rs`).
    pub(crate) progress: Option<Py<PyAny>>,
    /// The previous fit's (gates, convex weights) to start from.
    pub(crate) warm_start: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    /// Fit the probability temperature (squared loss): on the path's validation rows with
    /// `auto`, else on a held-out split (`cronos::calibration::fit_holdout`).
    pub(crate) calibrate: bool,
    /// The rows of x and y are multiplied by √`calibration_weights` (a weighted squared loss
    /// solved as an unweighted one): weights of the temperature fit, scores divided by √w.
    pub(crate) calibration_weights: Option<Vec<f64>>,
    /// The held-out rows of the temperature fit at a fixed β (default: the path's split).
    pub(crate) calibration_rows: Option<Vec<usize>>,
    /// Pattern pricing after the solve (gated ReLU).
    pub(crate) pricing: Option<PricingSettings>,
}

/// Runs one fit. Returns the result and the error that stopped it early, if any (Ctrl-C's
/// `KeyboardInterrupt` or an exception of the progress callback), raised by the caller.
pub(crate) fn run<T: Real + Element>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    args: FitArgs<'_>,
) -> PyResult<(FitOut<T>, Option<PyErr>)> {
    let sparse = if is_sparse_of::<T>(x) { Some(sparse_input::<T>(x)?) } else { None };
    let xa: Option<PyReadonlyArray2<'_, T>> = if sparse.is_none() { Some(x.extract()?) } else { None };
    let ya: PyReadonlyArray2<'_, T> = y.extract()?;
    let xo = match &xa {
        Some(xa) if as_matref(xa).is_none() => Some(Mat::from_fn(xa.shape()[0], xa.shape()[1], |i, j| *xa.get([i, j]).unwrap())),
        _ => None,
    };
    let yo = if as_matref(&ya).is_none() { Some(Mat::from_fn(ya.shape()[0], ya.shape()[1], |i, j| *ya.get([i, j]).unwrap())) } else { None };
    let borrowed = (xo.is_none() && sparse.is_none(), yo.is_none());
    let xv: DataRef<'_, T> = match (&sparse, &xo, &xa) {
        (Some(s), _, _) => DataRef::Sparse(s),
        (None, Some(m), _) => DataRef::Dense(m.as_ref()),
        (None, None, Some(xa)) => DataRef::Dense(as_matref(xa).unwrap()),
        (None, None, None) => unreachable!("x is dense when not sparse"),
    };
    let yv = yo.as_ref().map(|m| m.as_ref()).or_else(|| as_matref(&ya)).unwrap();
    let previous = match &args.warm_start {
        Some((g, w)) => Some((owned::<T>(g, "gates")?, owned::<T>(w, "weights")?)),
        None => None,
    };
    let FitArgs { weights, settings, auto, progress, calibrate, calibration_weights, calibration_rows, pricing, .. } = args;
    let mut progress = Progress::new(progress);
    let result = py.detach(|| {
        catch_unwind(AssertUnwindSafe(|| -> Result<FitOut<T>, CronosError> {
            let w = weights.as_deref();
            let mut out = match &auto {
                Some(ps) => fit_chosen(xv, yv, w, settings, ps, calibrate, pricing.as_ref(), &mut progress)?,
                None => {
                    let calibration = (calibrate && settings.loss == Loss::Squared).then(|| Holdout {
                        weights: calibration_weights.as_deref(),
                        rows: calibration_rows.clone().unwrap_or_else(|| calibration::holdout_rows(yv, &settings, PathSettings::default().validation_fraction)),
                    });
                    fit_fixed(xv, yv, w, settings, previous.as_ref(), calibration, pricing.as_ref(), &mut progress)?
                }
            };
            out.borrowed = borrowed;
            Ok(out)
        }))
    });
    match result {
        Ok(Ok(r)) => Ok((r, progress.error)),
        Ok(Err(e)) => Err(PyValueError::new_err(e.to_string())),
        Err(panic) if panic.is::<PathInterrupted>() => {
            Err(progress.error.unwrap_or_else(|| PyKeyboardInterrupt::new_err("interrupted")))
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

/// The held-out rows of the probability temperature at a fixed β.
struct Holdout<'a> {
    /// The weights of the temperature fit when the rows are √w-scaled (`calibration_weights`).
    weights: Option<&'a [f64]>,
    /// Rows held out of the extra solve and scored.
    rows: Vec<usize>,
}

/// A fit at the β of `settings`: the temperature on a held-out split when asked, then the
/// solve, warm-started from `previous` (gates, weights) where its gates match.
fn fit_fixed<T: Real>(
    xv: DataRef<'_, T>,
    yv: MatRef<'_, T>,
    w: Option<&[f64]>,
    settings: Settings,
    previous: Option<&(Mat<T>, Mat<T>)>,
    holdout: Option<Holdout<'_>>,
    pricing: Option<&PricingSettings>,
    progress: &mut Progress,
) -> Result<FitOut<T>, CronosError> {
    let calibration = match holdout {
        Some(Holdout { weights: Some(cw), rows }) => calibration::fit_holdout(xv, yv, Some(cw), &settings, &rows, true)?,
        Some(Holdout { weights: None, rows }) => calibration::fit_holdout(xv, yv, w, &settings, &rows, false)?,
        None => None,
    };
    let mut solver = Solver::<T>::new_data(xv, yv, w, settings)?;
    let warm_started = previous.is_some_and(|(g, wt)| warm::carry(&mut solver, g, wt));
    let setup = Event::Setup { seconds: solver.setup_seconds(), n_patterns: solver.n_patterns(), warm_started };
    progress.poll(progress.reporting().then_some(setup));
    let mut solution = solver.solve_with(|info| iteration(progress, info));
    let pricing = price_after(&mut solver, pricing, &mut solution, progress)?;
    let (n_patterns, settings) = (solver.n_patterns(), solver.settings().clone());
    Ok(FitOut { model: solver.model(), solution, n_patterns, borrowed: (false, false), settings, auto: None, warm_started, calibration, pricing })
}

/// Pattern pricing on the solved `solver` when asked (and the solve was not stopped), each
/// round reported; `solution` then describes the solver after the last round. Ctrl-C or an
/// exception of the callback stops it after the current round.
fn price_after<T: Real>(solver: &mut Solver<T>, pricing: Option<&PricingSettings>, solution: &mut Solution, progress: &mut Progress) -> Result<Option<PricingReport>, CronosError> {
    let Some(ps) = pricing.filter(|_| !matches!(solution.status, cronos::Status::Interrupted | cronos::Status::NumericalError)) else {
        return Ok(None);
    };
    if progress.error.is_some() {
        return Ok(None);
    }
    let report = cronos::price(solver, ps, |_, round| {
        let event = progress.reporting().then_some(Event::Pricing(round));
        if progress.poll(event) {
            Control::Continue
        } else {
            Control::Stop
        }
    })?;
    report.update_solution(solver, solution);
    Ok(Some(report))
}

/// Reports a certified iteration; whether to go on (Ctrl-C or an exception of the callback
/// stops the solve).
fn iteration(progress: &mut Progress, info: &IterInfo) -> Control {
    let event = (info.certified && progress.reporting()).then_some(Event::Iter(info));
    if progress.poll(event) {
        Control::Continue
    } else {
        Control::Stop
    }
}

/// The automatic β: the library's [`cronos::fit_auto_observed`] (the path on a stratified
/// split, the refit on all rows), reporting each path point and the refit's iterations; with
/// `calibrate` (squared loss) the temperature of the path's model on the path's validation
/// rows. The library's default β when the data are too small (per class) to hold rows out. A
/// stop requested during the path unwinds with [`PathInterrupted`].
fn fit_chosen<T: Real>(
    xv: DataRef<'_, T>,
    yv: MatRef<'_, T>,
    w: Option<&[f64]>,
    settings: Settings,
    ps: &PathSettings,
    calibrate: bool,
    pricing: Option<&PricingSettings>,
    progress: &mut Progress,
) -> Result<FitOut<T>, CronosError> {
    // targets and weights checked on all rows (errors name the caller's row numbers)
    LossData::new(settings.loss, yv, w)?;
    let metric = Metric::for_problem(settings.loss, yv);
    let (tr, va) = cronos::path::stratified_split(yv, metric, ps.validation_fraction, settings.seed);
    if tr.is_empty() || va.is_empty() {
        // too few rows (per class) to hold any out: the library's default β
        let settings = Settings { beta: Settings::default().beta, ..settings };
        let fraction = match settings.beta {
            Beta::Fraction(f) => f,
            Beta::Value(_) => f64::NAN,
        };
        let mut out = fit_fixed(xv, yv, w, settings, None, None, pricing, progress)?;
        out.auto = Some(AutoOut { fraction, path: Vec::new(), seconds: 0.0 });
        return Ok(out);
    }
    let t0 = Instant::now();
    let progress = RefCell::new(progress);
    let mut index = 0;
    let on_point = |p: &PathPoint| {
        let mut guard = progress.borrow_mut();
        let progress: &mut Progress = &mut **guard;
        let event = progress.reporting().then_some(Event::Path { index, points: ps.n_betas, point: p });
        index += 1;
        if !progress.poll(event) {
            std::panic::resume_unwind(Box::new(PathInterrupted));
        }
    };
    let mut refit_started = false;
    let mut observe = |solver: &mut Solver<T>, info: &IterInfo| -> Control {
        let mut guard = progress.borrow_mut();
        let progress: &mut Progress = &mut **guard;
        if !refit_started {
            // the choice and the refit's setup, reported before the refit's first iteration
            refit_started = true;
            let fraction = match solver.settings().beta {
                Beta::Fraction(f) => f,
                Beta::Value(_) => f64::NAN,
            };
            let path_seconds = (t0.elapsed().as_secs_f64() - solver.setup_seconds() - info.seconds).max(0.0);
            let chosen = Event::BetaChosen { fraction, seconds: path_seconds };
            let setup = Event::Setup { seconds: solver.setup_seconds(), n_patterns: solver.n_patterns(), warm_started: false };
            if !progress.poll(progress.reporting().then_some(chosen)) || !progress.poll(progress.reporting().then_some(setup)) {
                return Control::Stop;
            }
        }
        iteration(progress, info)
    };
    let mut fit = cronos::fit_auto_observed(xv, yv, w, settings, ps, on_point, &mut [&mut observe])?;
    let pricing = price_after(&mut fit.solver, pricing, &mut fit.solution, &mut progress.borrow_mut())?;
    let calibration = if calibrate && fit.solver.settings().loss == Loss::Squared {
        let rows = calibration::path_validation_rows(yv, fit.solver.settings(), ps);
        calibration::fit_on_rows(&fit.path_model, xv, yv, w, &rows)?
    } else {
        None
    };
    let (n_patterns, settings) = (fit.solver.n_patterns(), fit.solver.settings().clone());
    Ok(FitOut {
        model: fit.solver.model(),
        solution: fit.solution,
        n_patterns,
        borrowed: (false, false),
        settings,
        auto: Some(AutoOut { fraction: fit.fraction, path: fit.path, seconds: fit.path_seconds }),
        warm_started: false,
        calibration,
        pricing,
    })
}
