//! Readers for the training data files used by cronos, and atomic writers.
//!
//! Every reader produces a [`Table`]: `n` rows × `d` features stored
//! column-major as `f32`, with optional `f64` labels. Supported formats
//! ([`Format`]): IDX (raw or gzip), NumPy `.npy` and `.npz`, delimited text
//! (CSV/TSV) and LIBSVM. Each format has an in-memory `parse_*_bytes` entry
//! point (used by the file readers and the fuzz targets) and every error is a
//! typed [`DataError`] naming the file; malformed input never panics.
//!
//! ```no_run
//! use cronos_data::{load, LoadOptions};
//! let t = load("data/train.csv".as_ref(), &LoadOptions::default())?;
//! println!("{} rows, {} features, fingerprint {}", t.n, t.d, t.fingerprint());
//! # Ok::<(), cronos_data::DataError>(())
//! ```

mod array;
mod csv;
mod error;
mod format;
mod idx;
mod libsvm;
mod load;
mod npy;
mod npz;
mod release;
mod stream;
mod sparse;
mod table;
mod write;

pub use csv::{parse_csv_bytes, parse_csv_labels_bytes, read_csv};
pub use error::DataError;
pub use format::Format;
pub use idx::{
    gunzip_if_needed, idx_shape, parse_idx_bytes, parse_idx_labels_bytes, read_idx, read_idx_labels,
};
pub use libsvm::{parse_libsvm_bytes, parse_libsvm_sparse_bytes, read_libsvm, read_libsvm_sparse};
pub use sparse::{is_sparse_npz, load_sparse, parse_sparse_npz_bytes, SparseTable};
pub use load::{
    load, load_idx_dir, load_idx_dir_rows, read_labels, LabelColumn, LoadOptions, Split,
};
pub use npy::{
    npy_shape, parse_npy_bytes, parse_npy_labels_bytes, read_npy, read_npy_labels, NPY_MAGIC,
};
pub use npz::{
    npz_array_names, parse_npz_bytes, parse_npz_labels_bytes, read_npz, FEATURE_ARRAYS,
    LABEL_ARRAYS,
};
pub use table::{fingerprint, Table};
pub use write::{atomic_write, npy_header, write_csv, write_npy_f32, write_npy_f64, write_npy_i64};

/// Default cap on the number of values in one table (`n * d`): 2^32 values
/// (16 GiB of `f32`) on 64-bit targets. Larger declared sizes are refused
/// with [`DataError::Shape`] before anything is allocated.
pub const DEFAULT_MAX_ELEMENTS: usize = if usize::BITS >= 64 {
    1 << 32
} else {
    usize::MAX / 8
};

/// Reads a whole file, mapping errors to [`DataError`] naming the path.
pub fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}
