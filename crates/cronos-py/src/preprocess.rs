//! The preprocessing statistics of the estimators: `cronos_model::column_stats`, the function
//! the CLI's training uses, on float32 or float64 numpy arrays with optional sample weights
//! (and `cronos_model::sparse_column_stats` on CSR parts).

use cronos_model::{column_stats, sparse_column_stats, PreprocessKind};
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
