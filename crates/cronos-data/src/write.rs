//! Atomic writers: `.npy` (f64, f32, i64) and CSV.
//!
//! Every file is written to a temporary file in the destination directory,
//! flushed, fsync'ed and then moved into place, so readers never see a
//! partial file; on any error the temporary file is removed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::DataError;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let k = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{k}", std::process::id()))
}

fn io_err(path: &Path, source: io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `path` atomically with the bytes that `f` produces.
///
/// Refuses an existing `path` with [`DataError::Exists`] unless `force`.
/// The data goes to a temporary file in the same directory, which is
/// fsync'ed and renamed over `path` only if `f` succeeds; otherwise it is
/// removed and `path` is left untouched.
pub fn atomic_write(
    path: &Path,
    force: bool,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), DataError> {
    if path.file_name().is_none() {
        return Err(DataError::invalid(path, "not a file path"));
    }
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(DataError::Exists {
            path: path.to_path_buf(),
        });
    }
    let tmp = temp_path(path);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| io_err(path, e))?;
    let result = (|| -> io::Result<File> {
        let mut w = BufWriter::new(file);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(file)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    let placed = if force {
        fs::rename(&tmp, path)
    } else {
        // Never clobber a file created meanwhile: link fails if `path` exists.
        match fs::hard_link(&tmp, path) {
            Ok(()) => fs::remove_file(&tmp),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let _ = fs::remove_file(&tmp);
                return Err(DataError::Exists {
                    path: path.to_path_buf(),
                });
            }
            // File systems without hard links: fall back to rename.
            Err(_) => fs::rename(&tmp, path),
        }
    };
    if let Err(e) = placed {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    // Make the rename durable (best effort: not every platform allows it).
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Checks that `shape` describes `len` elements.
fn check_shape(path: &Path, len: usize, shape: &[usize]) -> Result<(), DataError> {
    let total = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    if total != Some(len) {
        return Err(DataError::shape(
            path,
            format!("shape {shape:?} does not hold {len} values"),
        ));
    }
    Ok(())
}

/// The `.npy` (version 1.0) header for a C-order array, padded to 64 bytes.
pub fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [one] => format!("{one},"),
        _ => shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

fn write_npy<T: Copy, const N: usize>(
    path: &Path,
    descr: &str,
    data: &[T],
    shape: &[usize],
    force: bool,
    le: impl Fn(T) -> [u8; N],
) -> Result<(), DataError> {
    check_shape(path, data.len(), shape)?;
    atomic_write(path, force, |w| {
        w.write_all(&npy_header(descr, shape))?;
        for &v in data {
            w.write_all(&le(v))?;
        }
        Ok(())
    })
}

/// Writes a C-order `<f8` `.npy` file atomically (see [`atomic_write`]).
/// `shape` must multiply to `data.len()` (use `&[n]` for a vector).
pub fn write_npy_f64(
    path: &Path,
    data: &[f64],
    shape: &[usize],
    force: bool,
) -> Result<(), DataError> {
    write_npy(path, "<f8", data, shape, force, f64::to_le_bytes)
}

/// Writes a C-order `<f4` `.npy` file atomically (see [`atomic_write`]).
pub fn write_npy_f32(
    path: &Path,
    data: &[f32],
    shape: &[usize],
    force: bool,
) -> Result<(), DataError> {
    write_npy(path, "<f4", data, shape, force, f32::to_le_bytes)
}

/// Writes a C-order `<i8` `.npy` file atomically (see [`atomic_write`]).
pub fn write_npy_i64(
    path: &Path,
    data: &[i64],
    shape: &[usize],
    force: bool,
) -> Result<(), DataError> {
    write_npy(path, "<i8", data, shape, force, i64::to_le_bytes)
}

/// Quotes a CSV field if it contains a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s != s.trim() {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes a comma-separated file atomically (see [`atomic_write`]): an
/// optional header line, then `rows` lines of `data.len() / rows` values
/// taken row-major from `data`. Values are written in Rust's shortest
/// round-trip form, so reading them back gives the same `f64`s.
pub fn write_csv(
    path: &Path,
    header: Option<&[&str]>,
    data: &[f64],
    rows: usize,
    force: bool,
) -> Result<(), DataError> {
    let cols = data
        .len()
        .checked_div(rows)
        .unwrap_or(header.map_or(0, |h| h.len()));
    if rows.checked_mul(cols) != Some(data.len()) {
        return Err(DataError::shape(
            path,
            format!("{} values do not form {rows} rows", data.len()),
        ));
    }
    if let Some(h) = header {
        if h.len() != cols {
            return Err(DataError::shape(
                path,
                format!("header has {} names for {cols} columns", h.len()),
            ));
        }
    }
    atomic_write(path, force, |w| {
        if let Some(h) = header {
            let line: Vec<String> = h.iter().map(|s| csv_field(s)).collect();
            writeln!(w, "{}", line.join(","))?;
        }
        for row in data.chunks(cols.max(1)).take(rows) {
            let line: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            writeln!(w, "{}", line.join(","))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned() {
        for shape in [&[3usize][..], &[2, 5], &[], &[1, 2, 3, 4]] {
            let h = npy_header("<f8", shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(*h.last().unwrap(), b'\n');
        }
        let h = String::from_utf8_lossy(&npy_header("<i8", &[7])).into_owned();
        assert!(h.contains("'shape': (7,)"), "{h}");
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("a"), "a");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
