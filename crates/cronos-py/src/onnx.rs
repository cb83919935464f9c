//! `cronos._cronos.export_onnx`: the ONNX export of `crates/cronos-onnx`, for
//! `cronos.to_onnx` (python/cronos/_onnx.py). The Python side saves the estimator as a model
//! file and calls this, so the graph layout is known in one place only (the Rust crate).

use pyo3::exceptions::{PyFileExistsError, PyOSError, PyValueError};
use pyo3::prelude::*;
use std::path::PathBuf;

/// Writes the ONNX model of the cronos model file `model_path` to `out_path` (temporary file
/// + rename). `labels`: class names for the `label` output (a string tensor), in the model's
/// sorted class order; `None` keeps the numeric class values (float64). Returns the names of
/// the graph outputs.
///
/// Raises `FileExistsError` when `out_path` exists and not `force`, `OSError` when reading or
/// writing fails, `ValueError` for an invalid model file or wrong number of labels.
#[pyfunction]
#[pyo3(signature = (model_path, out_path, *, force = false, labels = None))]
pub fn export_onnx(py: Python<'_>, model_path: PathBuf, out_path: PathBuf, force: bool, labels: Option<Vec<String>>) -> PyResult<Vec<String>> {
    let opts = cronos_onnx::ExportOptions { labels };
    let res = py.detach(|| cronos_onnx::export_file(&model_path, &out_path, force, &opts));
    match res {
        Ok(m) => Ok(m.graph.map(|g| g.output.into_iter().map(|o| o.name).collect()).unwrap_or_default()),
        Err(e @ cronos_onnx::OnnxError::Exists { .. }) => Err(PyFileExistsError::new_err(e.to_string())),
        Err(e @ cronos_onnx::OnnxError::Io { .. }) => Err(PyOSError::new_err(e.to_string())),
        Err(cronos_onnx::OnnxError::Model(cronos_model::ModelFileError::Io { path, source })) => {
            Err(PyOSError::new_err(format!("{}: {source}", path.display())))
        }
        Err(e) => Err(PyValueError::new_err(e.to_string())),
    }
}
