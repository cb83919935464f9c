//! `.npy` features read from a stream (a file, or an entry of an `.npz` archive) in row
//! chunks, so that the file's bytes are never held whole beside the converted table.
//!
//! Reading a 1,000,000 × 128 f32 `.npz` through bytes held in memory peaked at about three
//! times the table (file bytes, entry bytes, table); streamed, the peak is the table plus
//! one chunk. Fortran-ordered arrays (rare; their rows are not contiguous) and small ones
//! go through the in-memory path, which gives the same table and the same errors.

use std::io::Read;
use std::ops::Range;
use std::path::Path;

use crate::array::{check_data_len, Place, RawArray};
use crate::npy::{parse_header, parse_npy_bytes, Header};
use crate::table::{dense_len, resolve_rows, zeroed_values};
use crate::{DataError, Table};

/// Bytes of data read per chunk.
const CHUNK_BYTES: usize = 8 << 20;

/// Below this many data bytes, the array is read whole (no saving worth a second path).
const STREAM_ABOVE: u64 = 32 << 20;

/// Reads `.npy` features of `len` bytes in all from `r`, converting rows `rows` (default
/// all); refuses more than `max_elements` values. Same table and errors as
/// [`parse_npy_bytes`] on the same bytes.
pub(crate) fn read_npy_features<R: Read>(
    mut r: R,
    len: u64,
    source: &Path,
    rows: Option<&Range<usize>>,
    max_elements: usize,
) -> Result<Table, DataError> {
    let head = read_head(&mut r, len, source)?;
    let h = parse_header(&head, source)?;
    let data_len = len - h.data_start as u64;
    if h.fortran || data_len <= STREAM_ABOVE {
        let mut bytes = head;
        read_exact_len(&mut r, &mut bytes, len, source)?;
        return parse_npy_bytes(&bytes, source, rows, max_elements);
    }
    check_data_len(source, &h.shape, h.dtype, data_len)?;
    stream_rows(r, &h, source, rows, max_elements)
}

/// The magic, preamble and header: as many bytes as the preamble says the header takes
/// (fewer when the stream is shorter, which `parse_header` reports as truncated).
fn read_head<R: Read>(r: &mut R, len: u64, source: &Path) -> Result<Vec<u8>, DataError> {
    let mut head = Vec::new();
    read_exact_len(r, &mut head, len.min(12), source)?;
    let hlen = match head.get(6) {
        Some(1) if head.len() >= 10 => 10 + u16::from_le_bytes([head[8], head[9]]) as u64,
        Some(2 | 3) if head.len() >= 12 => 12 + u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as u64,
        _ => return Ok(head),
    };
    read_exact_len(r, &mut head, hlen.min(len), source)?;
    Ok(head)
}

/// Reads from `r` until `buf` holds `want` bytes (or the stream ends).
fn read_exact_len<R: Read>(r: &mut R, buf: &mut Vec<u8>, want: u64, source: &Path) -> Result<(), DataError> {
    let more = want.saturating_sub(buf.len() as u64);
    r.by_ref().take(more).read_to_end(buf).map_err(|e| DataError::io(source, e))?;
    Ok(())
}

/// Converts the C-ordered data that follows the header, `CHUNK_BYTES` of rows at a time.
fn stream_rows<R: Read>(
    mut r: R,
    h: &Header,
    source: &Path,
    rows: Option<&Range<usize>>,
    max_elements: usize,
) -> Result<Table, DataError> {
    let n = h.shape.first().copied().unwrap_or(1);
    let d: usize = h.shape.iter().skip(1).product();
    let range = resolve_rows(source, rows, n)?;
    let m = range.len();
    let mut x = zeroed_values(source, m, d, dense_len(source, m, d, max_elements)?)?;
    let row_bytes = d * h.dtype.size;
    if row_bytes == 0 || m == 0 {
        return Ok(Table { x, n: m, d, labels: None, feature_names: None });
    }
    skip(&mut r, (range.start * row_bytes) as u64, source)?;
    let chunk_rows = (CHUNK_BYTES / row_bytes).max(1);
    let mut buf = vec![0u8; chunk_rows * row_bytes];
    let mut done = 0;
    while done < m {
        let c = chunk_rows.min(m - done);
        let bytes = &mut buf[..c * row_bytes];
        r.read_exact(bytes).map_err(|e| DataError::io(source, e))?;
        let mut shape = h.shape.clone();
        shape[0] = c;
        let chunk = RawArray::new(source, shape, h.dtype, false, bytes)?;
        chunk.fill_chunk(source, &mut x, Place { rows: m, start: done, row_base: range.start + done })?;
        done += c;
    }
    Ok(Table { x, n: m, d, labels: None, feature_names: None })
}

/// Reads and discards `bytes` bytes of `r`.
fn skip<R: Read>(r: &mut R, bytes: u64, source: &Path) -> Result<(), DataError> {
    let skipped = std::io::copy(&mut r.by_ref().take(bytes), &mut std::io::sink()).map_err(|e| DataError::io(source, e))?;
    if skipped < bytes {
        return Err(DataError::truncated(source, "the data ends before the requested rows"));
    }
    Ok(())
}

/// Reads a `.npy` features file by streaming (see [`read_npy_features`]).
pub(crate) fn read_npy_file(path: &Path, rows: Option<&Range<usize>>, max_elements: usize) -> Result<Table, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    read_npy_features(std::io::BufReader::new(file), len, path, rows, max_elements)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::npy_header;

    /// A C-ordered f32 `.npy` of `n × d` with value `i * d + k` at (i, k).
    fn npy(n: usize, d: usize) -> Vec<u8> {
        let mut b = npy_header("<f4", &[n, d]);
        for v in 0..n * d {
            b.extend_from_slice(&(v as f32).to_le_bytes());
        }
        b
    }

    #[test]
    fn streamed_rows_equal_the_in_memory_path() {
        // wide enough rows that one chunk holds few of them, enough data to stream
        let (n, d) = (40, 300_000);
        let b = npy(n, d);
        for rows in [None, Some(3..37), Some(0..0)] {
            let want = parse_npy_bytes(&b, Path::new("a.npy"), rows.as_ref(), usize::MAX).unwrap();
            let got = read_npy_features(&b[..], b.len() as u64, Path::new("a.npy"), rows.as_ref(), usize::MAX).unwrap();
            assert_eq!((got.n, got.d), (want.n, want.d));
            assert!(got.x == want.x, "rows {rows:?}");
        }
    }

    #[test]
    fn streamed_errors_name_the_row_and_the_cut() {
        let (n, d) = (40, 300_000);
        let mut b = npy(n, d);
        let at = b.len() - 4 * (d * 2 + 5); // row 37, feature d - 5
        b[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        let e = read_npy_features(&b[..], b.len() as u64, Path::new("a.npy"), None, usize::MAX).unwrap_err();
        assert!(matches!(e, DataError::NonFinite { row: 37, col, .. } if col == d - 5), "{e}");
        let cut = &b[..b.len() - 7];
        let e = read_npy_features(cut, cut.len() as u64, Path::new("a.npy"), None, usize::MAX).unwrap_err();
        assert!(e.to_string().contains("bytes of data"), "{e}");
    }
}
