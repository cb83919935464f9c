//! IDX files (the MNIST format), raw or gzip-compressed.
//!
//! Layout: magic `00 00 TT NN` (TT the element type, NN the number of
//! dimensions), NN big-endian `u32` dimensions, then the elements in C order,
//! big-endian. Gzip compression is detected by the magic bytes `1f 8b`.

use std::borrow::Cow;
use std::io::Read;
use std::ops::Range;
use std::path::Path;

use crate::array::{Dtype, Kind, RawArray};
use crate::{read_bytes, DataError, Table, DEFAULT_MAX_ELEMENTS};

/// Decompresses `bytes` if they start with the gzip magic `1f 8b`, otherwise
/// returns them unchanged. A truncated stream gives [`DataError::Truncated`].
pub fn gunzip_if_needed<'a>(bytes: &'a [u8], source: &Path) -> Result<Cow<'a, [u8]>, DataError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(2));
    let mut dec = flate2::read::MultiGzDecoder::new(bytes);
    match dec.read_to_end(&mut out) {
        Ok(_) => Ok(Cow::Owned(out)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(DataError::truncated(
            source,
            format!("gzip stream ends early after {} bytes", out.len()),
        )),
        Err(e) => Err(DataError::invalid(
            source,
            format!("corrupt gzip stream: {e}"),
        )),
    }
}

fn dtype_of(code: u8) -> Option<Dtype> {
    let (kind, size) = match code {
        0x08 => (Kind::Uint, 1),
        0x09 => (Kind::Int, 1),
        0x0B => (Kind::Int, 2),
        0x0C => (Kind::Int, 4),
        0x0D => (Kind::Float, 4),
        0x0E => (Kind::Float, 8),
        _ => return None,
    };
    Some(Dtype {
        kind,
        size,
        big_endian: true,
    })
}

/// Parses the header of decompressed IDX bytes and validates the data length.
fn parse_header<'a>(bytes: &'a [u8], source: &Path) -> Result<RawArray<'a>, DataError> {
    if bytes.len() < 4 {
        return Err(DataError::truncated(
            source,
            format!("{} bytes is too short for an IDX header", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(DataError::BadMagic {
            path: source.to_path_buf(),
            msg: format!(
                "not an IDX file: expected magic 00 00 <type> <ndim>, found {:02x} {:02x} {:02x} {:02x}",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        });
    }
    let dtype = dtype_of(bytes[2]).ok_or_else(|| DataError::UnsupportedDtype {
        path: source.to_path_buf(),
        dtype: format!("IDX type code 0x{:02x}", bytes[2]),
    })?;
    let ndim = bytes[3] as usize;
    if ndim == 0 {
        return Err(DataError::shape(
            source,
            "IDX header declares zero dimensions",
        ));
    }
    let body = 4 + 4 * ndim;
    if bytes.len() < body {
        return Err(DataError::truncated(
            source,
            format!(
                "IDX header declares {ndim} dimensions but the file has only {} bytes",
                bytes.len()
            ),
        ));
    }
    let shape = bytes[4..body]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    RawArray::new(source, shape, dtype, false, &bytes[body..])
}

/// Parses IDX bytes (raw or gzip) as features: the first dimension is the
/// rows, the others are flattened into features (28×28 images → 784).
/// Only rows in `rows` are converted (the header and length are always
/// checked). Tables with more than `max_elements` values are refused.
pub fn parse_idx_bytes(
    bytes: &[u8],
    source: &Path,
    rows: Option<&Range<usize>>,
    max_elements: usize,
) -> Result<Table, DataError> {
    Ok(parse_idx_with_shape(bytes, source, rows, max_elements)?.0)
}

/// Like [`parse_idx_bytes`], also returning the full declared shape.
pub(crate) fn parse_idx_with_shape(
    bytes: &[u8],
    source: &Path,
    rows: Option<&Range<usize>>,
    max_elements: usize,
) -> Result<(Table, Vec<usize>), DataError> {
    let raw = gunzip_if_needed(bytes, source)?;
    let arr = parse_header(&raw, source)?;
    Ok((arr.to_table(source, rows, max_elements)?, arr.shape))
}

/// Parses IDX bytes (raw or gzip) of a 1-D labels array (rows in `rows`).
pub fn parse_idx_labels_bytes(
    bytes: &[u8],
    source: &Path,
    rows: Option<&Range<usize>>,
) -> Result<Vec<f64>, DataError> {
    let raw = gunzip_if_needed(bytes, source)?;
    parse_header(&raw, source)?.to_labels(source, rows)
}

/// Returns the shape declared by IDX bytes (raw or gzip) after validating them.
pub fn idx_shape(bytes: &[u8], source: &Path) -> Result<Vec<usize>, DataError> {
    let raw = gunzip_if_needed(bytes, source)?;
    Ok(parse_header(&raw, source)?.shape)
}

/// Reads an IDX features file (see [`parse_idx_bytes`]).
pub fn read_idx(path: &Path, rows: Option<&Range<usize>>) -> Result<Table, DataError> {
    parse_idx_bytes(&read_bytes(path)?, path, rows, DEFAULT_MAX_ELEMENTS)
}

/// Reads an IDX labels file (see [`parse_idx_labels_bytes`]).
pub fn read_idx_labels(path: &Path, rows: Option<&Range<usize>>) -> Result<Vec<f64>, DataError> {
    parse_idx_labels_bytes(&read_bytes(path)?, path, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, code, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn decodes_all_types() {
        let p = Path::new("t.idx");
        let t = parse_idx_bytes(&idx(0x08, &[2, 2], &[1, 2, 3, 255]), p, None, 100).unwrap();
        assert_eq!((t.n, t.d, t.x), (2, 2, vec![1., 3., 2., 255.]));
        let t = parse_idx_bytes(&idx(0x09, &[2], &[0xff, 5]), p, None, 100).unwrap();
        assert_eq!(t.x, vec![-1., 5.]);
        let t =
            parse_idx_bytes(&idx(0x0B, &[1, 1], &(-300i16).to_be_bytes()), p, None, 100).unwrap();
        assert_eq!(t.x, vec![-300.]);
        let t =
            parse_idx_bytes(&idx(0x0C, &[1], &(-70000i32).to_be_bytes()), p, None, 100).unwrap();
        assert_eq!(t.x, vec![-70000.]);
        let t = parse_idx_bytes(&idx(0x0D, &[1], &1.5f32.to_be_bytes()), p, None, 100).unwrap();
        assert_eq!(t.x, vec![1.5]);
        let l = parse_idx_labels_bytes(&idx(0x0E, &[1], &0.25f64.to_be_bytes()), p, None).unwrap();
        assert_eq!(l, vec![0.25]);
    }

    #[test]
    fn header_errors() {
        let p = Path::new("bad.idx");
        let e = parse_idx_bytes(&idx(0x07, &[1], &[0]), p, None, 10).unwrap_err();
        assert!(matches!(e, DataError::UnsupportedDtype { .. }), "{e}");
        let e = parse_idx_bytes(&[0, 0, 8], p, None, 10).unwrap_err();
        assert!(matches!(e, DataError::Truncated { .. }), "{e}");
        let e = parse_idx_bytes(&[0, 0, 8, 3, 0, 0], p, None, 10).unwrap_err();
        assert!(matches!(e, DataError::Truncated { .. }), "{e}");
        let e = parse_idx_bytes(&idx(0x08, &[u32::MAX; 8], &[]), p, None, 10).unwrap_err();
        assert!(matches!(e, DataError::Shape { .. }), "{e}");
        let e = parse_idx_bytes(&idx(0x08, &[2], &[1, 2, 3]), p, None, 10).unwrap_err();
        assert!(matches!(e, DataError::Invalid { .. }), "{e}");
        let e = parse_idx_bytes(&idx(0x08, &[3, 4], &[0; 12]), p, None, 10).unwrap_err();
        assert!(matches!(e, DataError::Shape { .. }), "{e}");
        let e = parse_idx_labels_bytes(&idx(0x08, &[2, 2], &[0; 4]), p, None).unwrap_err();
        assert!(matches!(e, DataError::Shape { .. }), "{e}");
        let e =
            parse_idx_bytes(&idx(0x0D, &[1], &f32::NAN.to_be_bytes()), p, None, 10).unwrap_err();
        assert!(
            matches!(e, DataError::NonFinite { row: 0, col: 0, .. }),
            "{e}"
        );
    }
}
