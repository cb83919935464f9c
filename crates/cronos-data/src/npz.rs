//! NumPy `.npz` archives (zip files of `.npy` arrays, stored or deflated).
//!
//! Features are the first array found among `x`, `X`, `features`, `data`;
//! labels (optional) the first among `y`, `Y`, `labels`, `target`.

use std::io::{Cursor, Read, Seek};
use std::ops::Range;
use std::path::Path;

use crate::npy::parse_npy_labels_bytes;
use crate::stream::read_npy_features;
use crate::{DataError, LoadOptions, Table};

/// Array names accepted for the features, in order of preference.
pub const FEATURE_ARRAYS: [&str; 4] = ["x", "X", "features", "data"];
/// Array names accepted for the labels, in order of preference.
pub const LABEL_ARRAYS: [&str; 4] = ["y", "Y", "labels", "target"];

type Archive<R> = zip::ZipArchive<R>;

fn open<R: Read + Seek>(mut r: R, source: &Path) -> Result<Archive<R>, DataError> {
    let mut magic = [0u8; 2];
    let pk = r.read_exact(&mut magic).is_ok() && &magic == b"PK";
    r.rewind().map_err(|e| DataError::io(source, e))?;
    zip::ZipArchive::new(r).map_err(|e| {
        if pk {
            DataError::invalid(source, format!("corrupt .npz archive: {e}"))
        } else {
            DataError::BadMagic {
                path: source.to_path_buf(),
                msg: "not a .npz file (not a zip archive)".into(),
            }
        }
    })
}

/// The array names (entry names without `.npy`) in an archive, sorted.
fn names<R: Read + Seek>(ar: &Archive<R>) -> Vec<String> {
    let mut v: Vec<String> = ar
        .file_names()
        .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string())
        .collect();
    v.sort();
    v
}

/// The entry name (`x.npy`) of the first of `candidates` present; `None` if none is.
fn entry_name<R: Read + Seek>(ar: &Archive<R>, candidates: &[&str]) -> Option<String> {
    candidates.iter().map(|c| format!("{c}.npy")).find(|n| ar.index_for_name(n).is_some())
}

/// Opens entry `name` for reading.
fn open_entry<'a, R: Read + Seek>(ar: &'a mut Archive<R>, source: &Path, name: &str) -> Result<zip::read::ZipFile<'a, R>, DataError> {
    ar.by_name(name)
        .map_err(|e| DataError::invalid(&source.join(name), format!("cannot open archive entry: {e}")))
}

/// Reads the entry for the first of `candidates` present; `None` if none is.
fn entry<R: Read + Seek>(
    ar: &mut Archive<R>,
    source: &Path,
    candidates: &[&str],
    limit: u64,
) -> Result<Option<(String, Vec<u8>)>, DataError> {
    let Some(name) = entry_name(ar, candidates) else {
        return Ok(None);
    };
    let inner = source.join(&name);
    let file = open_entry(ar, source, &name)?;
    let mut buf = Vec::new();
    file.take(limit)
        .read_to_end(&mut buf)
        .map_err(|e| DataError::invalid(&inner, format!("cannot read archive entry: {e}")))?;
    Ok(Some((name, buf)))
}

/// Lists the array names in `.npz` bytes.
pub fn npz_array_names(bytes: &[u8], source: &Path) -> Result<Vec<String>, DataError> {
    Ok(names(&open(Cursor::new(bytes), source)?))
}

/// Parses `.npz` bytes into a table: features from `x`/`X`/`features`/`data`
/// (required) and labels from `y`/`Y`/`labels`/`target` (optional), rows in
/// `opts.row_range`. Errors inside an entry name it as `archive.npz/x.npy`.
pub fn parse_npz_bytes(
    bytes: &[u8],
    source: &Path,
    opts: &LoadOptions,
) -> Result<Table, DataError> {
    parse_npz(open(Cursor::new(bytes), source)?, source, opts)
}

/// The table of an opened archive (see [`parse_npz_bytes`]); the features entry is
/// converted as it is read, never held whole.
fn parse_npz<R: Read + Seek>(mut ar: Archive<R>, source: &Path, opts: &LoadOptions) -> Result<Table, DataError> {
    let rows: Option<&Range<usize>> = opts.row_range.as_ref();
    let Some(xname) = entry_name(&ar, &FEATURE_ARRAYS) else {
        return Err(DataError::MissingArray {
            path: source.to_path_buf(),
            wanted: FEATURE_ARRAYS.join(" / "),
            available: names(&ar),
        });
    };
    let xpath = source.join(&xname);
    let mut table = {
        let file = open_entry(&mut ar, source, &xname)?;
        let len = file.size();
        read_npy_features(file, len, &xpath, rows, opts.max_elements)?
    };
    // Label entries larger than the value limit allows (at 8 bytes/value plus a
    // header) cannot be valid, so reading stops there.
    let limit = (opts.max_elements as u64).saturating_mul(8).saturating_add(1 << 20);
    if let Some((yname, ybytes)) = entry(&mut ar, source, &LABEL_ARRAYS, limit)? {
        let ypath = source.join(&yname);
        let labels = parse_npy_labels_bytes(&ybytes, &ypath, rows)?;
        if labels.len() != table.n {
            return Err(DataError::Mismatch {
                path: ypath,
                features: xpath,
                labels: labels.len(),
                rows: table.n,
            });
        }
        table.labels = Some(labels);
    }
    Ok(table)
}

/// Parses the labels array (`y`/`Y`/`labels`/`target`) of `.npz` bytes.
pub fn parse_npz_labels_bytes(
    bytes: &[u8],
    source: &Path,
    rows: Option<&Range<usize>>,
) -> Result<Vec<f64>, DataError> {
    let mut ar = open(Cursor::new(bytes), source)?;
    let Some((yname, ybytes)) = entry(&mut ar, source, &LABEL_ARRAYS, u64::MAX)? else {
        return Err(DataError::MissingArray {
            path: source.to_path_buf(),
            wanted: LABEL_ARRAYS.join(" / "),
            available: names(&ar),
        });
    };
    parse_npy_labels_bytes(&ybytes, &source.join(yname), rows)
}

/// Reads a `.npz` file (see [`parse_npz_bytes`]) from disk, entry by entry: the archive
/// is never held in memory whole.
pub fn read_npz(path: &Path, opts: &LoadOptions) -> Result<Table, DataError> {
    parse_npz(open(open_file(path)?, path)?, path, opts)
}

/// `path` opened for buffered reading.
pub(crate) fn open_file(path: &Path) -> Result<std::io::BufReader<std::fs::File>, DataError> {
    Ok(std::io::BufReader::new(std::fs::File::open(path).map_err(|e| DataError::io(path, e))?))
}

/// Whether the `.npz` file at `path` is a scipy.sparse matrix (see
/// [`crate::is_sparse_npz`]), read from its central directory only.
pub(crate) fn is_sparse_npz_file(path: &Path) -> Result<bool, DataError> {
    let Ok(ar) = zip::ZipArchive::new(open_file(path)?) else {
        return Ok(false);
    };
    Ok(crate::sparse::SPARSE_ENTRIES.iter().all(|n| ar.index_for_name(n).is_some()))
}
