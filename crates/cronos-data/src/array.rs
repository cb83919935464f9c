//! A validated view of a dense binary array (from IDX or `.npy`) and its
//! conversion into a [`Table`] or a label vector.

use std::ops::Range;
use std::path::Path;

use crate::table::{dense_len, resolve_rows, zeroed_values};
use crate::{DataError, Table};

/// Calls `$f($job, $out, decoder)` with a decoder monomorphized for the dtype.
macro_rules! dispatch {
    ($dt:expr, $path:expr, $job:expr, $f:ident, $out:expr) => {{
        let dt: Dtype = $dt;
        macro_rules! num {
            ($t:ty, $n:literal) => {
                if dt.big_endian {
                    $f($job, $out, |b: &[u8]| {
                        let mut a = [0u8; $n];
                        a.copy_from_slice(&b[..$n]);
                        <$t>::from_be_bytes(a) as f64
                    })
                } else {
                    $f($job, $out, |b: &[u8]| {
                        let mut a = [0u8; $n];
                        a.copy_from_slice(&b[..$n]);
                        <$t>::from_le_bytes(a) as f64
                    })
                }
            };
        }
        match (dt.kind, dt.size) {
            (Kind::Uint, 1) => $f($job, $out, |b: &[u8]| b[0] as f64),
            (Kind::Int, 1) => $f($job, $out, |b: &[u8]| b[0] as i8 as f64),
            (Kind::Bool, 1) => $f($job, $out, |b: &[u8]| if b[0] != 0 { 1.0 } else { 0.0 }),
            (Kind::Int, 2) => num!(i16, 2),
            (Kind::Int, 4) => num!(i32, 4),
            (Kind::Int, 8) => num!(i64, 8),
            (Kind::Uint, 2) => num!(u16, 2),
            (Kind::Uint, 4) => num!(u32, 4),
            (Kind::Uint, 8) => num!(u64, 8),
            (Kind::Float, 4) => num!(f32, 4),
            (Kind::Float, 8) => num!(f64, 8),
            _ => Err(DataError::UnsupportedDtype {
                path: $path.to_path_buf(),
                dtype: format!("{dt:?}"),
            }),
        }
    }};
}

/// Element kind of a binary array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Float,
    Int,
    Uint,
    Bool,
}

/// Element type: kind, size in bytes, byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dtype {
    pub kind: Kind,
    pub size: usize,
    pub big_endian: bool,
}

impl Dtype {
    /// Whether this crate can decode the element type.
    pub fn supported(self) -> bool {
        matches!(
            (self.kind, self.size),
            (Kind::Float, 4 | 8) | (Kind::Int | Kind::Uint, 1 | 2 | 4 | 8) | (Kind::Bool, 1)
        )
    }
}

/// A dense array whose byte length has been checked against its shape.
#[derive(Debug)]
pub(crate) struct RawArray<'a> {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    /// Column-major (Fortran) element order.
    pub fortran: bool,
    pub data: &'a [u8],
}

impl<'a> RawArray<'a> {
    /// Validates that `data` holds exactly the elements `shape` declares.
    pub fn new(
        path: &Path,
        shape: Vec<usize>,
        dtype: Dtype,
        fortran: bool,
        data: &'a [u8],
    ) -> Result<Self, DataError> {
        check_data_len(path, &shape, dtype, data.len() as u64)?;
        Ok(RawArray {
            shape,
            dtype,
            fortran,
            data,
        })
    }

    /// Number of rows: the first dimension (1 for a 0-d array).
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Number of features: the product of all dimensions after the first.
    fn cols(&self) -> usize {
        // Cannot overflow: the total element count was checked in `new`,
        // unless rows == 0, in which case saturate.
        self.shape
            .iter()
            .skip(1)
            .fold(1usize, |a, &b| a.saturating_mul(b))
    }

    /// Converts rows `rows` (default all) into a `Table`: rows × (product of
    /// the remaining dimensions), flattened in C order like `reshape(n, -1)`.
    pub fn to_table(
        &self,
        path: &Path,
        rows: Option<&Range<usize>>,
        max_elements: usize,
    ) -> Result<Table, DataError> {
        let n = self.rows();
        let d = self.cols();
        let range = resolve_rows(path, rows, n)?;
        let m = range.len();
        let len = dense_len(path, m, d, max_elements)?;
        let mut x = zeroed_values(path, m, d, len)?;
        if len > 0 {
            let offsets = if self.fortran {
                fortran_offsets(&self.shape[1..])
            } else {
                Vec::new()
            };
            let job = Fill {
                arr: self,
                path,
                range,
                d,
                n,
                offsets: &offsets,
                out: Place { rows: m, start: 0, row_base: 0 },
            };
            dispatch!(self.dtype, path, job, fill_features, &mut x)?;
        }
        Ok(Table {
            x,
            n: m,
            d,
            labels: None,
            feature_names: None,
        })
    }

    /// Converts every row of this C-ordered array (a chunk of a larger one) into the
    /// column-major `x` at `out`: row `i` goes to output row `out.start + i`.
    pub(crate) fn fill_chunk(&self, path: &Path, x: &mut [f32], out: Place) -> Result<(), DataError> {
        debug_assert!(!self.fortran);
        let job = Fill {
            arr: self,
            path,
            range: 0..self.rows(),
            d: self.cols(),
            n: self.rows(),
            offsets: &[],
            out,
        };
        dispatch!(self.dtype, path, job, fill_features, x)
    }

    /// Converts rows `rows` (default all) of a 1-D array (or one with a single
    /// column) into labels.
    pub fn to_labels(
        &self,
        path: &Path,
        rows: Option<&Range<usize>>,
    ) -> Result<Vec<f64>, DataError> {
        let n = self.rows();
        if self.cols() != 1 {
            return Err(DataError::shape(
                path,
                format!("labels must be a 1-D array, found shape {:?}", self.shape),
            ));
        }
        let range = resolve_rows(path, rows, n)?;
        let job = Fill {
            arr: self,
            path,
            range,
            d: 1,
            n,
            offsets: &[0],
            out: Place { rows: 0, start: 0, row_base: 0 },
        };
        let mut out = Vec::new();
        dispatch!(self.dtype, path, job, fill_labels, &mut out)?;
        Ok(out)
    }
}

/// Checks that `found` bytes of data are exactly what `shape` of `dtype` needs, and returns
/// that number of bytes.
pub(crate) fn check_data_len(path: &Path, shape: &[usize], dtype: Dtype, found: u64) -> Result<usize, DataError> {
    let total = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    let Some(bytes) = total.and_then(|t| t.checked_mul(dtype.size)) else {
        return Err(DataError::shape(path, format!("dimensions {shape:?} overflow")));
    };
    if found < bytes as u64 {
        return Err(DataError::truncated(path, format!("shape {shape:?} needs {bytes} bytes of data, found {found}")));
    }
    if found > bytes as u64 {
        return Err(DataError::invalid(
            path,
            format!("{} unexpected bytes after the data of shape {shape:?}", found - bytes as u64),
        ));
    }
    Ok(bytes)
}

/// For a Fortran-ordered block with dimensions `rest`, the element offset
/// (in units of rows) of each feature in C-order flattening.
fn fortran_offsets(rest: &[usize]) -> Vec<usize> {
    let d: usize = rest.iter().product();
    let mut out = Vec::with_capacity(d);
    let mut idx = vec![0usize; rest.len()];
    for _ in 0..d {
        let mut off = 0;
        let mut stride = 1;
        for (t, &dim) in rest.iter().enumerate() {
            off += idx[t] * stride;
            stride *= dim;
        }
        out.push(off);
        // Increment the C-order multi-index (last dimension fastest).
        for t in (0..rest.len()).rev() {
            idx[t] += 1;
            if idx[t] < rest[t] {
                break;
            }
            idx[t] = 0;
        }
    }
    out
}

/// Where converted rows go in a column-major output, and which rows of the whole array
/// they are (for error messages).
#[derive(Clone, Copy)]
pub(crate) struct Place {
    /// Column length of the output (its number of rows).
    pub rows: usize,
    /// Output row of the first converted row.
    pub start: usize,
    /// Row of the whole array that this array's row 0 is.
    pub row_base: usize,
}

/// Everything the element loops need besides the decoder.
struct Fill<'a, 'b> {
    arr: &'b RawArray<'a>,
    path: &'b Path,
    range: Range<usize>,
    d: usize,
    n: usize,
    offsets: &'b [usize],
    out: Place,
}

impl Fill<'_, '_> {
    /// Element index of (row `i`, feature `k`).
    #[inline(always)]
    fn elem(&self, i: usize, k: usize) -> usize {
        if self.arr.fortran {
            i + self.n * self.offsets[k]
        } else {
            i * self.d + k
        }
    }

    fn non_finite(&self, i: usize, k: usize, v: f64) -> DataError {
        DataError::NonFinite {
            path: self.path.to_path_buf(),
            row: i + self.out.row_base,
            col: k,
            line: None,
            value: format!("{v}"),
        }
    }
}

const BLOCK: usize = 256;

fn fill_features(job: Fill, x: &mut [f32], get: impl Fn(&[u8]) -> f64) -> Result<(), DataError> {
    let sz = job.arr.dtype.size;
    let data = job.arr.data;
    let m = job.out.rows;
    let start = job.range.start;
    let mut b0 = start;
    while b0 < job.range.end {
        let b1 = (b0 + BLOCK).min(job.range.end);
        for k in 0..job.d {
            let col = &mut x[k * m + job.out.start..(k + 1) * m];
            for i in b0..b1 {
                let e = job.elem(i, k) * sz;
                let v = get(&data[e..e + sz]);
                let f = v as f32;
                if !f.is_finite() {
                    return Err(job.non_finite(i, k, v));
                }
                col[i - start] = f;
            }
        }
        b0 = b1;
    }
    Ok(())
}

fn fill_labels(job: Fill, out: &mut Vec<f64>, get: impl Fn(&[u8]) -> f64) -> Result<(), DataError> {
    let sz = job.arr.dtype.size;
    out.reserve(job.range.len());
    for i in job.range.clone() {
        let e = job.elem(i, 0) * sz;
        let v = get(&job.arr.data[e..e + sz]);
        if !v.is_finite() {
            return Err(job.non_finite(i, 0, v));
        }
        out.push(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_offsets_match_c_flattening() {
        // rest dims (2, 3): C-order feature k = (a, b) with k = a*3 + b;
        // Fortran offset = a + 2*b.
        assert_eq!(fortran_offsets(&[2, 3]), vec![0, 2, 4, 1, 3, 5]);
        assert_eq!(fortran_offsets(&[4]), vec![0, 1, 2, 3]);
        assert_eq!(fortran_offsets(&[]), vec![0]);
    }
}
