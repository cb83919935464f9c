//! NumPy `.npz` archives (zip files of `.npy` arrays, stored or deflated).
//!
//! Features are the first array found among `x`, `X`, `features`, `data`;
//! labels (optional) the first among `y`, `Y`, `labels`, `target`.

use std::io::{Cursor, Read};
use std::ops::Range;
use std::path::Path;

use crate::npy::{parse_npy_bytes, parse_npy_labels_bytes};
use crate::{read_bytes, DataError, LoadOptions, Table};

/// Array names accepted for the features, in order of preference.
pub const FEATURE_ARRAYS: [&str; 4] = ["x", "X", "features", "data"];
/// Array names accepted for the labels, in order of preference.
pub const LABEL_ARRAYS: [&str; 4] = ["y", "Y", "labels", "target"];

type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

fn open<'a>(bytes: &'a [u8], source: &Path) -> Result<Archive<'a>, DataError> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        if bytes.starts_with(b"PK") {
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
fn names(ar: &Archive) -> Vec<String> {
    let mut v: Vec<String> = ar
        .file_names()
        .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string())
        .collect();
    v.sort();
    v
}

/// Reads the entry for the first of `candidates` present; `None` if none is.
fn entry(
    ar: &mut Archive,
    source: &Path,
    candidates: &[&str],
    limit: u64,
) -> Result<Option<(String, Vec<u8>)>, DataError> {
    let Some(name) = candidates
        .iter()
        .map(|c| format!("{c}.npy"))
        .find(|n| ar.index_for_name(n).is_some())
    else {
        return Ok(None);
    };
    let inner = source.join(&name);
    let file = ar
        .by_name(&name)
        .map_err(|e| DataError::invalid(&inner, format!("cannot open archive entry: {e}")))?;
    let mut buf = Vec::new();
    file.take(limit)
        .read_to_end(&mut buf)
        .map_err(|e| DataError::invalid(&inner, format!("cannot read archive entry: {e}")))?;
    Ok(Some((name, buf)))
}

/// Lists the array names in `.npz` bytes.
pub fn npz_array_names(bytes: &[u8], source: &Path) -> Result<Vec<String>, DataError> {
    Ok(names(&open(bytes, source)?))
}

/// Parses `.npz` bytes into a table: features from `x`/`X`/`features`/`data`
/// (required) and labels from `y`/`Y`/`labels`/`target` (optional), rows in
/// `opts.row_range`. Errors inside an entry name it as `archive.npz/x.npy`.
pub fn parse_npz_bytes(
    bytes: &[u8],
    source: &Path,
    opts: &LoadOptions,
) -> Result<Table, DataError> {
    let mut ar = open(bytes, source)?;
    // Entries larger than the value limit allows (at 8 bytes/value plus a
    // header) cannot be valid, so reading stops there.
    let limit = (opts.max_elements as u64)
        .saturating_mul(8)
        .saturating_add(1 << 20);
    let rows: Option<&Range<usize>> = opts.row_range.as_ref();
    let Some((xname, xbytes)) = entry(&mut ar, source, &FEATURE_ARRAYS, limit)? else {
        return Err(DataError::MissingArray {
            path: source.to_path_buf(),
            wanted: FEATURE_ARRAYS.join(" / "),
            available: names(&ar),
        });
    };
    let xpath = source.join(&xname);
    let mut table = parse_npy_bytes(&xbytes, &xpath, rows, opts.max_elements)?;
    drop(xbytes);
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
    let mut ar = open(bytes, source)?;
    let Some((yname, ybytes)) = entry(&mut ar, source, &LABEL_ARRAYS, u64::MAX)? else {
        return Err(DataError::MissingArray {
            path: source.to_path_buf(),
            wanted: LABEL_ARRAYS.join(" / "),
            available: names(&ar),
        });
    };
    parse_npy_labels_bytes(&ybytes, &source.join(yname), rows)
}

/// Reads a `.npz` file (see [`parse_npz_bytes`]).
pub fn read_npz(path: &Path, opts: &LoadOptions) -> Result<Table, DataError> {
    parse_npz_bytes(&read_bytes(path)?, path, opts)
}
