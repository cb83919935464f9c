//! Typed errors for bad input and broken environments. Non-convergence is not an error:
//! it is a [`crate::Status`].

/// Everything that can go wrong before or around a solve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CronosError {
    /// A setting is out of its valid range; names the field and the value.
    #[error("invalid setting `{field}` = {value}: {reason}")]
    InvalidSetting {
        /// The settings field.
        field: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// The data is unusable (empty, mismatched shapes, NaN/Inf ...).
    #[error("invalid data `{what}`: {reason}")]
    InvalidData {
        /// Which input (`x`, `y`, `labels`, ...).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A numerical step failed (e.g. a factorization), with context.
    #[error("numerical failure in {context}: {reason}")]
    Numerical {
        /// Where it happened.
        context: &'static str,
        /// What happened.
        reason: String,
    },
    /// A saved model or checkpoint could not be read or written.
    #[error("model file {path}: {reason}")]
    ModelFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A distributed solve's ranks failed their start-up validation or disagree (settings,
    /// widths, scalar type); names each rank and its problem.
    #[error("distributed start-up check failed: {reason}")]
    Distributed {
        /// Every failing rank with its problem.
        reason: String,
    },
    /// The solve would need more memory than is available (estimated before allocating).
    #[error("not enough memory: the solve needs about {} but {} available ({detail})", crate::memory::gb(*needed), crate::memory::gb(*available))]
    OutOfMemory {
        /// Estimated bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
        /// The largest items and what to do instead.
        detail: String,
    },
    /// I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of the library.
pub type Result<T, E = CronosError> = std::result::Result<T, E>;

pub(crate) fn invalid_setting(
    field: &'static str,
    value: impl std::fmt::Display,
    reason: impl Into<String>,
) -> CronosError {
    CronosError::InvalidSetting { field, value: value.to_string(), reason: reason.into() }
}

pub(crate) fn invalid_data(what: &'static str, reason: impl Into<String>) -> CronosError {
    CronosError::InvalidData { what, reason: reason.into() }
}
