//! The model file from Python: `cronos.save` / `cronos.load` read and write it through
//! `cronos-model` (the crate the CLI uses), so both front ends write the same file, atomically
//! (temporary file + rename), with the same metadata and the same recovered network.
//!
//! Python supplies the metadata as the JSON of `cronos_model::Metadata` (the estimator's
//! parameters mapped to the library's settings, `python/cronos/_io.py`), the convex weights,
//! the preprocessing vectors and its own extra `__metadata__` keys; the network tensors, the
//! class tensor and the derived metadata fields are computed here from the convex weights.

use cronos::Activation;
use cronos_model::{Metadata, ModelFile, ModelFileError, Preprocessing};
use faer::Mat;
use numpy::ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A model-file error as the Python exception of its kind (the message names the file).
fn file_error(e: ModelFileError) -> PyErr {
    match &e {
        ModelFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(e.to_string()),
        ModelFileError::Io { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

fn mat(a: &PyReadonlyArray2<'_, f32>) -> Mat<f32> {
    let v = a.as_array();
    Mat::from_fn(v.nrows(), v.ncols(), |i, j| v[[i, j]])
}

/// Writes a model file to `path` (overwriting it). `metadata_json` is a `Metadata` (its
/// fields `format_version`, `n_patterns`, `task` and `preprocess` are recomputed from the
/// arguments; `metrics.active_neurons` is added when absent); `gates` is (d + 1) × P and
/// `weights` (d + 1) × (nb·k) float32 (models with a bias); `extra` holds further
/// `__metadata__` entries.
#[pyfunction]
#[pyo3(signature = (path, metadata_json, gates, weights, preprocess_offset, preprocess_scale, extra))]
pub(crate) fn save_model(
    path: PathBuf,
    metadata_json: &str,
    gates: PyReadonlyArray2<'_, f32>,
    weights: PyReadonlyArray2<'_, f32>,
    preprocess_offset: PyReadonlyArray1<'_, f32>,
    preprocess_scale: PyReadonlyArray1<'_, f32>,
    extra: BTreeMap<String, String>,
) -> PyResult<()> {
    let invalid = |reason: String| PyValueError::new_err(format!("{}: {reason}", path.display()));
    let mut meta: Metadata = serde_json::from_str(metadata_json).map_err(|e| invalid(format!("bad model metadata: {e}")))?;
    let s = &meta.settings;
    let (d, k) = (meta.n_features, meta.n_outputs);
    let (g, w) = (mat(&gates), mat(&weights));
    let p = g.ncols();
    let nb = if s.activation == Activation::Relu { 2 * p } else { p };
    let rows = d + s.bias as usize;
    if d == 0 || k == 0 || p == 0 || g.nrows() != rows || w.nrows() != rows || w.ncols() != nb * k || meta.beta.len() != k {
        return Err(invalid(format!(
            "gates {}×{}, weights {}×{} and {} beta values do not fit {d} features, {k} outputs and {p} patterns",
            g.nrows(),
            g.ncols(),
            w.nrows(),
            w.ncols(),
            meta.beta.len()
        )));
    }
    let model = cronos::Model::from_parts(s.activation, s.bias, d, k, g, w, meta.beta.clone()).with_loss(s.loss);
    meta.metrics.entry("active_neurons".into()).or_insert_with(|| model.active_neurons().into());
    let preprocessing = Preprocessing { kind: meta.preprocess, offset: preprocess_offset.as_array().to_vec(), scale: preprocess_scale.as_array().to_vec() };
    let task = meta.task.clone();
    let mut file = ModelFile::new(model, preprocessing, task, meta);
    file.extra_metadata = extra;
    file.save(&path, true).map_err(file_error)
}

/// Reads and validates a model file (written by the CLI or by `save_model`): a dict with
/// `metadata` (the JSON of its `Metadata`, settings added since it was written at their
/// defaults), `extra` (the other `__metadata__` entries) and float32 arrays `gates`,
/// `weights`, `preprocess_offset`, `preprocess_scale` and the recovered network `w1`, `b1`,
/// `w2` (and `gate_w`, `gate_b` for gated ReLU).
#[pyfunction]
pub(crate) fn load_model(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let file = py.detach(|| ModelFile::load(&path)).map_err(file_error)?;
    let d = PyDict::new(py);
    let json = serde_json::to_string(&file.metadata).map_err(|e| PyValueError::new_err(e.to_string()))?;
    d.set_item("metadata", json)?;
    d.set_item("extra", file.extra_metadata.clone())?;
    let m2 = |m: &Mat<f32>| Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)]).into_pyarray(py);
    let m1 = |v: &[f32]| Array1::from_vec(v.to_vec()).into_pyarray(py);
    d.set_item("gates", m2(&file.model.gates))?;
    d.set_item("weights", m2(&file.model.weights))?;
    d.set_item("preprocess_offset", m1(&file.preprocessing.offset))?;
    d.set_item("preprocess_scale", m1(&file.preprocessing.scale))?;
    let net = file.model.network();
    d.set_item("w1", m2(&net.w1))?;
    d.set_item("b1", m1(&net.b1))?;
    d.set_item("w2", m2(&net.w2))?;
    if let Some((gw, gb)) = &net.gates {
        d.set_item("gate_w", m2(gw))?;
        d.set_item("gate_b", m1(gb))?;
    }
    Ok(d)
}
