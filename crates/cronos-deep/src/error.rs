//! Typed errors of the deep-network crate.

use std::path::PathBuf;

/// Errors of layers, training and model files.
#[derive(Debug, thiserror::Error)]
pub enum DeepError {
    /// An input whose shape does not fit the network.
    #[error("shape mismatch in {context}: expected {expected}, got {got}")]
    Shape {
        /// Where the mismatch was found.
        context: String,
        /// The expected shape.
        expected: String,
        /// The shape found.
        got: String,
    },
    /// A configuration value out of range.
    #[error("invalid setting {field} = {value}: {reason}")]
    Setting {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The convex head solver refused its input.
    #[error("head solve: {0}")]
    Head(#[from] cronos::CronosError),
    /// A model file could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Training diverged (NaN/Inf loss).
    #[error("training diverged: non-finite loss at step {step}")]
    Diverged {
        /// Optimizer step at which it was seen.
        step: usize,
    },
}

/// Result with [`DeepError`].
pub type Result<T> = std::result::Result<T, DeepError>;

pub(crate) fn setting(field: &'static str, value: impl ToString, reason: impl Into<String>) -> DeepError {
    DeepError::Setting { field, value: value.to_string(), reason: reason.into() }
}
