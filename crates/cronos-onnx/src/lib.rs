//! # cronos-onnx: ONNX export of trained cronos models
//!
//! Turns a cronos model file (crate `cronos-model`) into an ONNX model that serving stacks
//! (onnxruntime, Triton, ONNX.js, ...) load directly. The graph holds the whole prediction:
//! the feature preprocessing, the recovered ReLU or gated-ReLU network, and for classifiers
//! the probabilities and class labels (see [`graph`] for the ops).
//!
//! | name | type | shape | meaning |
//! |---|---|---|---|
//! | `X` (input) | float32 | [N, d] | raw features, as given to `cronos predict` |
//! | `scores` | float32 | [N, k] | network outputs (`cronos predict --scores`) |
//! | `label` | float64 or string | [N] | classifiers: predicted class (`cronos predict`) |
//! | `label_index` | int64 | [N] | classifiers: index of the predicted class |
//! | `probabilities` | float32 | [N, c] | classifiers: class probabilities |
//!
//! Standard ONNX ops only (default domain, opset [`OPSET`], IR version [`IR_VERSION`]). The
//! protobuf messages are declared by hand with `prost` ([`proto`]), so building needs no
//! `protoc`.

#![warn(missing_docs)]

pub mod builder;
pub mod graph;
pub mod proto;

use prost::Message;
use proto::{ModelProto, OperatorSetIdProto, StringStringEntryProto};
use std::path::{Path, PathBuf};

/// The ONNX operator set the graph is written against.
pub const OPSET: i64 = 17;
/// The ONNX IR version matching [`OPSET`] (onnx 1.13+).
pub const IR_VERSION: i64 = 8;
/// Name of the graph input.
pub const INPUT: &str = "X";
/// Name of the network-output (scores) graph output.
pub const SCORES: &str = "scores";
/// Name of the class-probabilities output (classifiers).
pub const PROBABILITIES: &str = "probabilities";
/// Name of the class-index output (classifiers).
pub const LABEL_INDEX: &str = "label_index";
/// Name of the class-label output (classifiers).
pub const LABEL: &str = "label";

/// Errors of the export; every variant names the file or field concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// The model cannot be exported as it is.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The offending field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading the model file failed.
    #[error(transparent)]
    Model(#[from] cronos_model::ModelFileError),
    /// The output exists and overwriting was not asked for.
    #[error("{}: already exists (use --force to overwrite)", .path.display())]
    Exists {
        /// The output file.
        path: PathBuf,
    },
    /// Writing or reading an ONNX file failed.
    #[error("{}: {reason}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Bytes that are not an ONNX model.
    #[error("not an ONNX model: {0}")]
    Decode(#[from] prost::DecodeError),
}

impl OnnxError {
    fn invalid(field: &str, reason: impl Into<String>) -> Self {
        OnnxError::Invalid { field: field.into(), reason: reason.into() }
    }
}

/// Export choices.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Class names for the `label` output (a string tensor), in the sorted class order of the
    /// model file. `None`: `label` holds the numeric class values (float64). Python
    /// estimators with string classes pass them here (the model file stores their indices).
    pub labels: Option<Vec<String>>,
}

/// The ONNX model of a cronos model file.
///
/// # Errors
/// [`OnnxError::Invalid`] when the model file is inconsistent (preprocessing width, classes
/// versus outputs) or `opts.labels` has the wrong length.
pub fn export(mf: &cronos_model::ModelFile, opts: &ExportOptions) -> Result<ModelProto, OnnxError> {
    let graph = graph::build(mf, opts)?;
    let meta = &mf.metadata;
    let mut props = vec![
        ("cronos_version", meta.cronos_version.clone()),
        ("activation", format!("{:?}", mf.model.activation)),
        ("loss", format!("{:?}", mf.model.loss)),
        ("preprocess", format!("{:?}", mf.preprocessing.kind)),
        ("data_fingerprint", meta.data_fingerprint.clone()),
    ];
    match &mf.task {
        cronos_model::Task::Regression => props.push(("task", "regression".into())),
        cronos_model::Task::Classification(c) => {
            props.push(("task", "classification".into()));
            props.push(("classes", serde_json::to_string(&c.labels).unwrap_or_default()));
        }
    }
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "cronos".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: "cronos".into(),
        model_version: 1,
        doc_string: "Two-layer network trained by convex optimization (cronos); inputs are raw features".into(),
        graph: Some(graph),
        metadata_props: props.into_iter().map(|(k, v)| StringStringEntryProto { key: k.into(), value: v }).collect(),
    })
}

/// The protobuf bytes of an ONNX model (the content of an `.onnx` file).
pub fn to_bytes(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Parses `.onnx` bytes.
///
/// # Errors
/// [`OnnxError::Decode`] for bytes that are not a protobuf `ModelProto`.
pub fn decode(bytes: &[u8]) -> Result<ModelProto, OnnxError> {
    Ok(ModelProto::decode(bytes)?)
}

/// Writes `model` to `path` atomically (temporary file + rename); an existing `path` is
/// refused unless `force`. On error nothing is left behind.
///
/// # Errors
/// [`OnnxError::Exists`] or [`OnnxError::Io`].
pub fn save(model: &ModelProto, path: &Path, force: bool) -> Result<(), OnnxError> {
    let bytes = to_bytes(model);
    cronos_data::atomic_write(path, force, |w| w.write_all(&bytes)).map_err(|e| match e {
        cronos_data::DataError::Exists { .. } => OnnxError::Exists { path: path.to_path_buf() },
        other => OnnxError::Io { path: path.to_path_buf(), reason: other.to_string() },
    })
}

/// Loads the cronos model file `model_path`, exports it and writes `out` (see [`save`]).
/// The one entry point of the CLI and the Python binding.
///
/// # Errors
/// As [`cronos_model::ModelFile::load`], [`export`] and [`save`].
pub fn export_file(model_path: &Path, out: &Path, force: bool, opts: &ExportOptions) -> Result<ModelProto, OnnxError> {
    if !force && out.exists() {
        // checked before the (possibly slow) load so the user learns it at once
        return Err(OnnxError::Exists { path: out.to_path_buf() });
    }
    let mf = cronos_model::ModelFile::load(model_path)?;
    let model = export(&mf, opts)?;
    save(&model, out, force)?;
    Ok(model)
}
