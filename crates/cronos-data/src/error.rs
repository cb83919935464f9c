//! Typed errors for every reader and writer in this crate.
//!
//! Every variant that concerns a file carries its path, and every `Display`
//! text is a single line of the form `<file>: <problem>`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading or writing a data file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file (or a file expected inside a directory) does not exist.
    #[error("{}: no such file", .path.display())]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },

    /// An operating-system level I/O error.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The file does not start with the magic bytes of the expected format.
    #[error("{}: {msg}", .path.display())]
    BadMagic {
        /// The offending file.
        path: PathBuf,
        /// What was expected and what was found.
        msg: String,
    },

    /// The file (or its gzip stream) ends before all declared data was read.
    #[error("{}: truncated: {msg}", .path.display())]
    Truncated {
        /// The offending file.
        path: PathBuf,
        /// How much was expected and how much was present.
        msg: String,
    },

    /// Declared dimensions are invalid (overflow, too large, bad row range, ...).
    #[error("{}: {msg}", .path.display())]
    Shape {
        /// The offending file.
        path: PathBuf,
        /// Description of the problem.
        msg: String,
    },

    /// The number of labels differs from the number of feature rows.
    #[error("{}: has {labels} labels but {} has {rows} rows", .path.display(), .features.display())]
    Mismatch {
        /// The labels file.
        path: PathBuf,
        /// The features file.
        features: PathBuf,
        /// Number of labels found.
        labels: usize,
        /// Number of feature rows found.
        rows: usize,
    },

    /// A text file could not be parsed. `line` and `col` are 1-based
    /// (`col` is the field number in CSV, the token number in LIBSVM).
    #[error("{}: line {line}, column {col}: {msg}", .path.display())]
    Parse {
        /// The offending file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column (field / token) number.
        col: usize,
        /// Description of the problem.
        msg: String,
    },

    /// A feature or label value is NaN or infinite (or overflows `f32`).
    /// `row` is the 0-based data row, `col` the 0-based column of the source
    /// (file column for CSV, flattened feature index for binary formats),
    /// `line` the 1-based line for text formats.
    #[error("{}: {}: non-finite value {value} (features and labels must be finite)",
        .path.display(), Loc(*.row, *.col, *.line))]
    NonFinite {
        /// The offending file.
        path: PathBuf,
        /// 0-based data row.
        row: usize,
        /// 0-based source column.
        col: usize,
        /// 1-based line number for text formats.
        line: Option<usize>,
        /// The value as text.
        value: String,
    },

    /// The output path exists and overwriting was not requested.
    #[error("{}: already exists (use force to overwrite)", .path.display())]
    Exists {
        /// The existing path.
        path: PathBuf,
    },

    /// The element type is not supported.
    #[error("{}: unsupported dtype {dtype}", .path.display())]
    UnsupportedDtype {
        /// The offending file.
        path: PathBuf,
        /// The dtype as written in the file.
        dtype: String,
    },

    /// A required array is not present in an `.npz` archive.
    #[error("{}: no array named {wanted} (available: {})", .path.display(), .available.join(", "))]
    MissingArray {
        /// The archive.
        path: PathBuf,
        /// The names that were looked for.
        wanted: String,
        /// The array names that the archive contains.
        available: Vec<String>,
    },

    /// The file content is malformed in a way not covered above.
    #[error("{}: {msg}", .path.display())]
    Invalid {
        /// The offending file.
        path: PathBuf,
        /// Description of the problem.
        msg: String,
    },

    /// The table does not fit in the memory this process can allocate.
    #[error("{}: not enough memory to hold {rows} × {cols} values ({} MB); train on fewer rows (--n-train), or spread them over processes (--distributed)", .path.display(), .bytes / 1_000_000)]
    OutOfMemory {
        /// The file being read.
        path: PathBuf,
        /// Rows of the table.
        rows: usize,
        /// Columns of the table.
        cols: usize,
        /// Bytes the table needs.
        bytes: u64,
    },

    /// A format name given by the user is not known.
    #[error("unknown data format {name:?} (expected one of: idx, npy, npz, csv, libsvm)")]
    UnknownFormat {
        /// The name as given.
        name: String,
    },

    /// The format could not be inferred from the file name.
    #[error("{}: cannot tell the data format from the file name; specify the format", .path.display())]
    UndetectedFormat {
        /// The file.
        path: PathBuf,
    },
}

/// Displays the location part of a [`DataError::NonFinite`].
struct Loc(usize, usize, Option<usize>);

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.2 {
            Some(line) => write!(f, "line {line}, column {}", self.1 + 1),
            None => write!(f, "row {}, column {} (0-based)", self.0, self.1),
        }
    }
}

impl DataError {
    /// The file this error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        use DataError::*;
        match self {
            NotFound { path }
            | Io { path, .. }
            | BadMagic { path, .. }
            | Truncated { path, .. }
            | Shape { path, .. }
            | Mismatch { path, .. }
            | Parse { path, .. }
            | NonFinite { path, .. }
            | Exists { path }
            | UnsupportedDtype { path, .. }
            | MissingArray { path, .. }
            | Invalid { path, .. }
            | OutOfMemory { path, .. }
            | UndetectedFormat { path } => Some(path),
            UnknownFormat { .. } => None,
        }
    }

    /// Wraps an I/O error, mapping `NotFound` to [`DataError::NotFound`].
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::NotFound {
            DataError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }

    pub(crate) fn shape(path: &Path, msg: impl Into<String>) -> Self {
        DataError::Shape {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    pub(crate) fn invalid(path: &Path, msg: impl Into<String>) -> Self {
        DataError::Invalid {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    pub(crate) fn truncated(path: &Path, msg: impl Into<String>) -> Self {
        DataError::Truncated {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    pub(crate) fn parse(path: &Path, line: usize, col: usize, msg: impl Into<String>) -> Self {
        DataError::Parse {
            path: path.to_path_buf(),
            line,
            col,
            msg: msg.into(),
        }
    }
}
