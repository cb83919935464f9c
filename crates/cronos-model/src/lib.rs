//! # cronos-model: the cronos model file
//!
//! A trained cronos model is saved as one [safetensors](https://github.com/huggingface/safetensors)
//! file. It holds the convex weights (enough to rebuild a [`cronos::Model`] exactly), the
//! recovered two-layer network, the feature preprocessing, the class labels and JSON metadata
//! (settings, data shape and fingerprint, metrics, certificate, versions).
//!
//! ## Tensors (all `F32`, little-endian, row-major)
//!
//! | name | shape | meaning |
//! |---|---|---|
//! | `gates` | (d + bias) × P | gate vectors h_j of the activation patterns (last row: bias) |
//! | `weights` | (d + bias) × (nb·k) | convex weights; per output, v_1..v_P then w_1..w_P (ReLU, nb = 2P) or u_1..u_P (gated, nb = P) |
//! | `w1` | d × m | first-layer weights of the recovered network (m active neurons) |
//! | `b1` | m | first-layer biases |
//! | `w2` | m × k | output weights |
//! | `gate_w`, `gate_b` | d × m, m | gated ReLU only: each neuron's gate |
//! | `preprocess_offset`, `preprocess_scale` | d | features are fed as (x − offset) / scale |
//! | `classes` | c | classification only: the class labels (exact values also in the metadata) |
//!
//! The metadata is the JSON [`Metadata`] stored as a string under the safetensors
//! `__metadata__` key `"cronos"`.
//!
//! ## Running the network elsewhere (numpy)
//!
//! ```python
//! import numpy as np
//! from safetensors.numpy import load_file
//! t = load_file("cronos-model.safetensors")
//! h = ((x - t["preprocess_offset"]) / t["preprocess_scale"]) @ t["w1"] + t["b1"]
//! out = np.maximum(h, 0) @ t["w2"]          # n × k scores
//! ```
//!
//! For classification with two classes, `classes[int(out[:, 0] > 0)]` is the predicted label
//! (+1 is the second class); with more classes, `classes[out.argmax(1)]`. For a gated-ReLU
//! model (`metadata.settings.activation == "GatedRelu"`) replace the ReLU by the gate:
//! `g = xs @ gate_w + gate_b; out = ((g >= 0) * h) @ w2` with `xs` the preprocessed input.
//! The test `numpy_formula_matches_predict` checks this formula against [`cronos::Model::predict`].
//!
//! Class probabilities are softmax(logits / T): the logits are `out` (several classes),
//! `[-out, out]` (two classes, squared loss) or `[0, out]` (two classes, logistic loss), and T
//! is `metadata.calibration.temperature` (1 when absent; see [`ModelFile::predict_proba`]).

#![warn(missing_docs)]

mod preprocess;
mod proba;
mod relevance;

pub use preprocess::{column_stats, sparse_column_stats, PreprocessKind, Preprocessing};
pub use relevance::{relevance_weights, relevance_weights_over, sparse_relevance_weights, DEFAULT_EXPONENT as RELEVANCE_EXPONENT};

use cronos::{Activation, Certificate, Model, Settings};
use faer::{Mat, MatRef};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The model-file format version written by this crate. Files with a larger version are refused.
pub const FORMAT_VERSION: u32 = 1;
/// The safetensors `__metadata__` key holding the JSON metadata.
pub const METADATA_KEY: &str = "cronos";

/// Errors reading or writing a model file; every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFileError {
    /// Reading or writing failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The output file exists and `force` was not given.
    #[error("{}: already exists (use --force to overwrite)", .path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a valid safetensors file (corrupted or truncated).
    #[error("{}: not a valid cronos model file: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file was written by a newer cronos.
    #[error("{}: model format version {found} is newer than this cronos supports ({supported}); upgrade cronos", .path.display())]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// A required tensor is absent.
    #[error("{}: missing tensor `{name}`", .path.display())]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
    },
    /// A tensor has the wrong shape or dtype.
    #[error("{}: tensor `{name}` {problem}", .path.display())]
    BadTensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The data to save is inconsistent (e.g. preprocessing of the wrong width).
    #[error("{}: {reason}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl ModelFileError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ModelFileError::Io { path, .. }
            | ModelFileError::Exists { path }
            | ModelFileError::Corrupt { path, .. }
            | ModelFileError::NewerVersion { path, .. }
            | ModelFileError::MissingTensor { path, .. }
            | ModelFileError::BadTensor { path, .. }
            | ModelFileError::Invalid { path, .. } => path,
        }
    }
}

/// The classes of a classification task, sorted ascending.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classes {
    /// Distinct labels, ascending.
    pub labels: Vec<f64>,
}

/// A label that is not one of the model's classes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("label {label} at row {row} is not one of the classes {classes:?}")]
pub struct UnknownLabel {
    /// The label.
    pub label: f64,
    /// Its row.
    pub row: usize,
    /// The known classes.
    pub classes: Vec<f64>,
}

impl Classes {
    /// The sorted distinct values of `labels` (NaN is ignored).
    pub fn from_labels(labels: &[f64]) -> Self {
        let mut v: Vec<f64> = labels.iter().copied().filter(|l| !l.is_nan()).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v.dedup();
        Classes { labels: v }
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no classes.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of network outputs: 1 for two classes, else one per class.
    pub fn n_outputs(&self) -> usize {
        if self.labels.len() == 2 {
            1
        } else {
            self.labels.len()
        }
    }

    /// Index of `label` among the classes.
    pub fn index_of(&self, label: f64) -> Option<usize> {
        self.labels.iter().position(|&c| c == label)
    }

    /// The ±1 targets: two classes → one column, +1 for the second class, −1 for the first;
    /// more → one-hot columns with +1 for the row's class and −1 elsewhere.
    ///
    /// # Errors
    /// [`UnknownLabel`] for a label that is not one of the classes.
    pub fn encode(&self, labels: &[f64]) -> Result<Mat<f32>, UnknownLabel> {
        let k = self.n_outputs();
        let mut y = Mat::<f32>::from_fn(labels.len(), k, |_, _| -1.0);
        for (i, &l) in labels.iter().enumerate() {
            let c = self.index_of(l).ok_or_else(|| UnknownLabel { label: l, row: i, classes: self.labels.clone() })?;
            if k == 1 {
                y[(i, 0)] = if c == 1 { 1.0 } else { -1.0 };
            } else {
                y[(i, c)] = 1.0;
            }
        }
        Ok(y)
    }

    /// Labels from network outputs: the sign of the single column (two classes) or the
    /// argmax over columns (first maximum wins).
    pub fn decode(&self, pred: MatRef<'_, f32>) -> Vec<f64> {
        (0..pred.nrows()).map(|i| self.labels[self.decode_index(pred, i)]).collect()
    }

    /// Class index of row `i` of `pred`.
    pub fn decode_index(&self, pred: MatRef<'_, f32>, i: usize) -> usize {
        if pred.ncols() == 1 {
            (pred[(i, 0)] > 0.0) as usize
        } else {
            let mut best = 0;
            for j in 1..pred.ncols() {
                if pred[(i, j)] > pred[(i, best)] {
                    best = j;
                }
            }
            best
        }
    }
}

/// What the model predicts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Task {
    /// Real-valued outputs.
    Regression,
    /// Class labels.
    Classification(Classes),
}

/// JSON metadata of a model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Format version ([`FORMAT_VERSION`] when written by this crate).
    pub format_version: u32,
    /// Version of the `cronos` crate that trained the model.
    pub cronos_version: String,
    /// The solver settings.
    pub settings: Settings,
    /// Training rows.
    pub n_train: usize,
    /// Input features.
    pub n_features: usize,
    /// Network outputs k.
    pub n_outputs: usize,
    /// Patterns actually used.
    pub n_patterns: usize,
    /// β per output, in the objective's units.
    pub beta: Vec<f64>,
    /// Fingerprint of the training data (see `cronos_data::fingerprint`).
    pub data_fingerprint: String,
    /// Where the training data came from (free text).
    pub data_source: String,
    /// Final metrics (train/test accuracy, objective, ...). No timings, so the file is
    /// reproducible.
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Certificate of the saved weights.
    pub certificate: Certificate,
    /// How the solve ended (e.g. `solved`, `max_iterations`).
    pub status: String,
    /// The task.
    pub task: Task,
    /// Preprocessing kind (its vectors are tensors).
    pub preprocess: PreprocessKind,
    /// Temperature scaling of the class probabilities (squared-loss classifiers): the
    /// probabilities are softmax(logits / T) (see [`ModelFile::predict_proba`]). Absent in
    /// files written before it existed, which keep T = 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<cronos::Calibration>,
}

impl Metadata {
    /// Metadata with the given settings and everything else empty.
    pub fn new(settings: Settings) -> Self {
        Metadata {
            format_version: FORMAT_VERSION,
            cronos_version: String::new(),
            settings,
            n_train: 0,
            n_features: 0,
            n_outputs: 0,
            n_patterns: 0,
            beta: Vec::new(),
            data_fingerprint: String::new(),
            data_source: String::new(),
            metrics: BTreeMap::new(),
            certificate: Certificate::default(),
            status: String::new(),
            task: Task::Regression,
            preprocess: PreprocessKind::None,
            calibration: None,
        }
    }
}

/// Everything in a model file.
#[derive(Clone, Debug)]
pub struct ModelFile {
    /// The convex model (gates + weights).
    pub model: Model<f32>,
    /// Feature preprocessing applied before the model.
    pub preprocessing: Preprocessing,
    /// The task (classes for classification).
    pub task: Task,
    /// The metadata. On save, `format_version`, `n_features`, `n_outputs`, `n_patterns`,
    /// `beta`, `task` and `preprocess` are filled from the model.
    pub metadata: Metadata,
    /// Other `__metadata__` entries: a front end's own keys (the Python package stores its
    /// estimator parameters and non-numeric class labels there), written as they are and read
    /// back; the CLI ignores them. Never holds [`METADATA_KEY`].
    pub extra_metadata: BTreeMap<String, String>,
}

fn row_major_bytes(m: MatRef<'_, f32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.nrows() * m.ncols() * 4);
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            out.extend_from_slice(&m[(i, j)].to_le_bytes());
        }
    }
    out
}

fn vec_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, synced, then
/// renamed; see [`cronos_data::atomic_write`]). Refuses an existing `path` unless `force`.
/// On error nothing is left.
pub fn atomic_write_bytes(path: &Path, bytes: &[u8], force: bool) -> Result<(), ModelFileError> {
    cronos_data::atomic_write(path, force, |w| w.write_all(bytes)).map_err(|e| match e {
        cronos_data::DataError::Exists { .. } => ModelFileError::Exists { path: path.to_path_buf() },
        other => ModelFileError::Io { path: path.to_path_buf(), source: std::io::Error::other(other.to_string()) },
    })
}

/// The safetensors header with its `__metadata__` entries in key order: the crate writes
/// them from a `HashMap`, whose order varies from run to run once there are several, and
/// equal models must give equal bytes.
fn sorted_metadata(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    #[derive(Serialize, Deserialize)]
    struct Header {
        #[serde(rename = "__metadata__")]
        metadata: BTreeMap<String, String>,
        #[serde(flatten)]
        tensors: BTreeMap<String, serde_json::Value>,
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().map_err(|_| "short header")?) as usize;
    let header: Header = serde_json::from_slice(&bytes[8..8 + n]).map_err(|e| e.to_string())?;
    let mut json = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    // the data start stays 8-byte aligned, as safetensors pads it
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let mut out = Vec::with_capacity(8 + json.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

impl ModelFile {
    /// Assembles a model file, filling the derived metadata fields.
    pub fn new(model: Model<f32>, preprocessing: Preprocessing, task: Task, mut metadata: Metadata) -> Self {
        metadata.format_version = FORMAT_VERSION;
        metadata.n_features = model.n_features;
        metadata.n_outputs = model.n_outputs;
        metadata.n_patterns = model.n_patterns();
        metadata.beta = model.beta.clone();
        metadata.task = task.clone();
        metadata.preprocess = preprocessing.kind;
        if metadata.cronos_version.is_empty() {
            metadata.cronos_version = env!("CARGO_PKG_VERSION").to_string();
        }
        ModelFile { model, preprocessing, task, metadata, extra_metadata: BTreeMap::new() }
    }

    /// Serializes to safetensors bytes (deterministic: equal models give equal bytes).
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let m = &self.model;
        let d = m.n_features;
        if self.preprocessing.offset.len() != d || self.preprocessing.scale.len() != d {
            return Err(format!("preprocessing has {} features but the model has {d}", self.preprocessing.offset.len()));
        }
        let net = m.network();
        let mut meta = self.metadata.clone();
        meta.format_version = FORMAT_VERSION;
        meta.n_features = d;
        meta.n_outputs = m.n_outputs;
        meta.n_patterns = m.n_patterns();
        meta.beta = m.beta.clone();
        meta.task = self.task.clone();
        meta.preprocess = self.preprocessing.kind;
        meta.settings.activation = m.activation;
        meta.settings.bias = m.bias;
        meta.settings.loss = m.loss;
        let json = serde_json::to_string(&meta).map_err(|e| e.to_string())?;
        let mut tensors: Vec<(&str, Vec<usize>, Vec<u8>)> = vec![
            ("gates", vec![m.gates.nrows(), m.gates.ncols()], row_major_bytes(m.gates.as_ref())),
            ("weights", vec![m.weights.nrows(), m.weights.ncols()], row_major_bytes(m.weights.as_ref())),
            ("w1", vec![net.w1.nrows(), net.w1.ncols()], row_major_bytes(net.w1.as_ref())),
            ("b1", vec![net.b1.len()], vec_bytes(&net.b1)),
            ("w2", vec![net.w2.nrows(), net.w2.ncols()], row_major_bytes(net.w2.as_ref())),
            ("preprocess_offset", vec![d], vec_bytes(&self.preprocessing.offset)),
            ("preprocess_scale", vec![d], vec_bytes(&self.preprocessing.scale)),
        ];
        if let Some((gw, gb)) = &net.gates {
            tensors.push(("gate_w", vec![gw.nrows(), gw.ncols()], row_major_bytes(gw.as_ref())));
            tensors.push(("gate_b", vec![gb.len()], vec_bytes(gb)));
        }
        if let Task::Classification(c) = &self.task {
            let v: Vec<f32> = c.labels.iter().map(|&l| l as f32).collect();
            tensors.push(("classes", vec![v.len()], vec_bytes(&v)));
        }
        let views: Vec<(&str, TensorView<'_>)> = tensors
            .iter()
            .map(|(n, s, b)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (*n, v)).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let mut info: HashMap<String, String> = self.extra_metadata.iter().filter(|(k, _)| *k != METADATA_KEY).map(|(k, v)| (k.clone(), v.clone())).collect();
        info.insert(METADATA_KEY.to_string(), json);
        let bytes = safetensors::serialize(views, Some(info)).map_err(|e| e.to_string())?;
        if self.extra_metadata.is_empty() { Ok(bytes) } else { sorted_metadata(bytes) }
    }

    /// Saves atomically to `path` (temporary file + rename); an existing `path` is refused
    /// unless `force`.
    pub fn save(&self, path: &Path, force: bool) -> Result<(), ModelFileError> {
        let bytes = self.to_bytes().map_err(|reason| ModelFileError::Invalid { path: path.to_path_buf(), reason })?;
        atomic_write_bytes(path, &bytes, force)
    }

    /// Loads and validates a model file.
    pub fn load(path: &Path) -> Result<Self, ModelFileError> {
        let bytes = std::fs::read(path).map_err(|source| ModelFileError::Io { path: path.to_path_buf(), source })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses and validates model-file bytes; `path` is only used in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, ModelFileError> {
        let corrupt = |reason: String| ModelFileError::Corrupt { path: path.to_path_buf(), reason };
        let st = SafeTensors::deserialize(bytes).map_err(|e| corrupt(format!("{e}")))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(format!("{e}")))?;
        let extra_metadata: BTreeMap<String, String> =
            header.metadata().iter().flatten().filter(|(k, _)| *k != METADATA_KEY).map(|(k, v)| (k.clone(), v.clone())).collect();
        let json = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .ok_or_else(|| corrupt(format!("no `{METADATA_KEY}` metadata (not written by cronos?)")))?;
        // read the version first, so a newer file gets the right message even if its schema changed
        let version: serde_json::Value = serde_json::from_str(json).map_err(|e| corrupt(format!("metadata is not JSON: {e}")))?;
        let found = version.get("format_version").and_then(|v| v.as_u64()).ok_or_else(|| corrupt("metadata has no format_version".into()))?;
        if found > FORMAT_VERSION as u64 {
            return Err(ModelFileError::NewerVersion { path: path.to_path_buf(), found: found.min(u32::MAX as u64) as u32, supported: FORMAT_VERSION });
        }
        // settings fields added to cronos after the file was written take their defaults
        let mut version = version;
        if let (Some(saved), Ok(serde_json::Value::Object(mut defaults))) =
            (version.get("settings").and_then(|s| s.as_object()).cloned(), serde_json::to_value(Settings::default()))
        {
            defaults.extend(saved);
            version["settings"] = serde_json::Value::Object(defaults);
        }
        let meta: Metadata = serde_json::from_value(version).map_err(|e| corrupt(format!("bad metadata: {e}")))?;
        if let Some(t) = meta.calibration.as_ref().map(|c| c.temperature).filter(|t| !(t.is_finite() && *t > 0.0)) {
            return Err(corrupt(format!("calibration temperature {t} is not a finite number > 0")));
        }
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>, ModelFileError> {
            let t = st.tensor(name).map_err(|_| ModelFileError::MissingTensor { path: path.to_path_buf(), name: name.into() })?;
            let bad = |problem: String| ModelFileError::BadTensor { path: path.to_path_buf(), name: name.into(), problem };
            if t.dtype() != Dtype::F32 {
                return Err(bad(format!("has dtype {:?}, expected F32", t.dtype())));
            }
            if t.shape() != shape {
                return Err(bad(format!("has shape {:?}, expected {shape:?}", t.shape())));
            }
            let v: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            if v.iter().any(|x| !x.is_finite()) {
                return Err(bad("holds non-finite values".into()));
            }
            Ok(v)
        };
        let shape_of = |name: &str| -> Result<Vec<usize>, ModelFileError> {
            st.tensor(name).map(|t| t.shape().to_vec()).map_err(|_| ModelFileError::MissingTensor { path: path.to_path_buf(), name: name.into() })
        };
        let s = &meta.settings;
        let (d, k) = (meta.n_features, meta.n_outputs);
        let rows = d + s.bias as usize;
        if d == 0 || k == 0 {
            return Err(corrupt(format!("metadata gives {d} features and {k} outputs")));
        }
        let gshape = shape_of("gates")?;
        let p = if gshape.len() == 2 { gshape[1] } else { 0 };
        if p == 0 {
            return Err(ModelFileError::BadTensor { path: path.to_path_buf(), name: "gates".into(), problem: format!("has shape {gshape:?}, expected [{rows}, P] with P ≥ 1") });
        }
        let nb = match s.activation {
            Activation::Relu => 2 * p,
            Activation::GatedRelu => p,
        };
        let cols = nb.checked_mul(k).ok_or_else(|| corrupt("sizes overflow".into()))?;
        let gates = get("gates", &[rows, p])?;
        let weights = get("weights", &[rows, cols])?;
        let gates = Mat::from_fn(rows, p, |i, j| gates[i * p + j]);
        let weights = Mat::from_fn(rows, cols, |i, j| weights[i * cols + j]);
        let offset = get("preprocess_offset", &[d])?;
        let scale = get("preprocess_scale", &[d])?;
        if scale.contains(&0.0) {
            return Err(ModelFileError::BadTensor { path: path.to_path_buf(), name: "preprocess_scale".into(), problem: "holds zeros".into() });
        }
        if meta.beta.len() != k {
            return Err(corrupt(format!("metadata has {} beta values for {k} outputs", meta.beta.len())));
        }
        let task = meta.task.clone();
        if let Task::Classification(c) = &task {
            if c.len() < 2 || c.n_outputs() != k {
                return Err(corrupt(format!("{} classes do not match {k} outputs", c.len())));
            }
            get("classes", &[c.len()])?;
        }
        let model = Model::from_parts(s.activation, s.bias, d, k, gates, weights, meta.beta.clone()).with_loss(s.loss);
        // the recovered network must be present with consistent shapes (other tools read it)
        let m = model.network().width();
        get("w1", &[d, m])?;
        get("b1", &[m])?;
        get("w2", &[m, k])?;
        if s.activation == Activation::GatedRelu {
            get("gate_w", &[d, m])?;
            get("gate_b", &[m])?;
        }
        let preprocessing = Preprocessing { kind: meta.preprocess, offset, scale };
        Ok(ModelFile { model, preprocessing, task, metadata: meta, extra_metadata })
    }

    /// Applies the preprocessing and the network to raw features (n × d).
    ///
    /// # Errors
    /// When `x` has the wrong width or non-finite values.
    pub fn predict(&self, x: MatRef<'_, f32>) -> Result<Mat<f32>, cronos::CronosError> {
        if x.ncols() != self.model.n_features {
            return self.model.predict(x);
        }
        let mut xs = x.to_owned();
        self.preprocessing.apply(xs.as_mut());
        self.model.predict(xs.as_ref())
    }

    /// Active neurons (non-zero convex weight blocks).
    pub fn active_neurons(&self) -> usize {
        self.model.active_neurons()
    }
}
