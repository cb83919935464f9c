//! The preprocessing statistics of the estimators: `cronos_model::column_stats`, the function
//! the CLI's training uses, on float32 or float64 numpy arrays with optional sample weights
//! (and `cronos_model::sparse_column_stats` on CSR parts), and the features' relevance weights
//! (`cronos_model::relevance_weights`).

use cronos_model::{column_stats, relevance_weights, sparse_column_stats, sparse_relevance_weights, PreprocessKind};
use numpy::ndarray::Array1;
use numpy::{Element, IntoPyArray, PyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

fn stats<T: cronos::Real + Element>(x: &Bound<'_, PyAny>, w: Option<&[f64]>, kind: PreprocessKind) -> PyResult<Option<(Vec<f64>, Vec<f64>)>> {
    if crate::run::is_sparse_of::<T>(x) {
        let csr = crate::run::sparse_input::<T>(x)?;
        if w.is_some_and(|w| w.len() != csr.nrows()) {
            return Err(PyValueError::new_err(format!("sample_weight has {} entries for {} rows", w.map_or(0, <[f64]>::len), csr.nrows())));
        }
        return Ok(Some(sparse_column_stats(&csr, w, kind)));
    }
    let Ok(a) = x.extract::<PyReadonlyArray2<'_, T>>() else { return Ok(None) };
    let n = a.shape()[0];
    if w.is_some_and(|w| w.len() != n) {
        return Err(PyValueError::new_err(format!("sample_weight has {} entries for {n} rows", w.map_or(0, <[f64]>::len))));
    }
    let m = match crate::run::as_matref(&a) {
        Some(m) => column_stats(m, w, kind),
        None => {
            let v = a.as_array();
            column_stats(faer::Mat::from_fn(v.nrows(), v.ncols(), |i, j| v[[i, j]]).as_ref(), w, kind)
        }
    };
    Ok(Some(m))
}

/// Per-feature (offset, scale) of `kind` ('standardize' or 'scale01') on the rows of the 2-D
/// float32/float64 array `x`, weighted by `sample_weight` (float64, one per row): see
/// `cronos_model::column_stats` for the rules (a constant feature gets scale 1). Sparse `x`
/// as CSR parts `(indptr, indices, data, (n, d))`: `cronos_model::sparse_column_stats`
/// (offset 0, no centering).
#[pyfunction]
#[pyo3(signature = (x, kind, sample_weight = None))]
pub(crate) fn preprocess_stats<'py>(py: Python<'py>, x: &Bound<'py, PyAny>, kind: &str, sample_weight: Option<&Bound<'py, PyAny>>) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>)> {
    let kind = match kind {
        "standardize" => PreprocessKind::Standardize,
        "scale01" => PreprocessKind::Scale01,
        "none" => PreprocessKind::None,
        other => return Err(PyValueError::new_err(format!("invalid setting `preprocess` = {other:?}: expected 'standardize', 'scale01' or 'none'"))),
    };
    let w = crate::weight_vector(sample_weight, "sample_weight")?;
    let (o, s) = match stats::<f64>(x, w.as_deref(), kind)? {
        Some(r) => r,
        None => stats::<f32>(x, w.as_deref(), kind)?.ok_or_else(|| PyTypeError::new_err("x must be a 2-D float32 or float64 numpy array or CSR parts (indptr, indices, data, (n, d))"))?,
    };
    Ok((Array1::from_vec(o).into_pyarray(py), Array1::from_vec(s).into_pyarray(py)))
}

fn relevance_of<T: cronos::Real + Element>(x: &Bound<'_, PyAny>, off: &[f64], scale: &[f64], y: &Bound<'_, PyAny>, w: Option<&[f64]>, exponent: f64) -> PyResult<Option<Vec<f64>>> {
    let Ok(ya) = y.extract::<PyReadonlyArray2<'_, T>>() else { return Ok(None) };
    let yv = ya.as_array();
    let ym = faer::Mat::from_fn(yv.nrows(), yv.ncols(), |i, j| yv[[i, j]]);
    let n = ym.nrows();
    let check = |rows: usize, cols: usize| {
        if rows != n || w.is_some_and(|w| w.len() != n) || off.len() != cols || scale.len() != cols {
            return Err(PyValueError::new_err(format!("relevance_weights: x is {rows} x {cols}, y has {n} rows, offset/scale have {}/{} entries", off.len(), scale.len())));
        }
        Ok(())
    };
    if crate::run::is_sparse_of::<T>(x) {
        let csr = crate::run::sparse_input::<T>(x)?;
        check(csr.nrows(), csr.ncols())?;
        return Ok(Some(sparse_relevance_weights(&csr, scale, ym.as_ref(), w, exponent)));
    }
    let Ok(a) = x.extract::<PyReadonlyArray2<'_, T>>() else { return Ok(None) };
    check(a.shape()[0], a.shape()[1])?;
    Ok(Some(match crate::run::as_matref(&a) {
        Some(m) => relevance_weights(m, off, scale, ym.as_ref(), w, exponent),
        None => {
            let v = a.as_array();
            relevance_weights(faer::Mat::from_fn(v.nrows(), v.ncols(), |i, j| v[[i, j]]).as_ref(), off, scale, ym.as_ref(), w, exponent)
        }
    }))
}

/// Relevance weights s_j of the features (`cronos_model::relevance_weights`): how much of the
/// targets `y` (n x k, the solver's encoding, same dtype as `x`) a regression on each
/// standardized preprocessed feature z and z² explains, as (F_j / mean F)^(exponent/2) with
/// F_j = R²/(1 − R²), floored at 1e-3 (the estimators divide the preprocessing scale by them). Sparse `x` as CSR parts (offset must be 0).
#[pyfunction(name = "relevance_weights")]
#[pyo3(signature = (x, offset, scale, y, sample_weight = None, exponent = cronos_model::RELEVANCE_EXPONENT))]
pub(crate) fn relevance_weights_py<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    offset: Vec<f64>,
    scale: Vec<f64>,
    y: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    exponent: f64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    if !(exponent.is_finite() && exponent >= 0.0) {
        return Err(PyValueError::new_err(format!("invalid setting `exponent` = {exponent}: must be a finite number >= 0")));
    }
    let w = crate::weight_vector(sample_weight, "sample_weight")?;
    let s = match relevance_of::<f64>(x, &offset, &scale, y, w.as_deref(), exponent)? {
        Some(s) => s,
        None => relevance_of::<f32>(x, &offset, &scale, y, w.as_deref(), exponent)?
            .ok_or_else(|| PyTypeError::new_err("x and y must be float32 or float64 numpy arrays of one dtype (x may be CSR parts)"))?,
    };
    Ok(Array1::from_vec(s).into_pyarray(py))
}
