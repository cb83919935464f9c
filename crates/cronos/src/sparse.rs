//! Compressed sparse rows (CSR): the storage of sparse data (text, LIBSVM) and the products
//! the solver needs of it, each a loop over the stored entries only.
//!
//! The storage is our own plain CSR (`indptr`, `u32` column indices, values) rather than a
//! crate's type: the solver needs a handful of fused, row-block products in its own layouts
//! (column-major n-side blocks, a row-major accumulator for Xᵀ S) in f32 and f64, which a
//! general sparse library does not offer and which are a few lines each here. Indices are
//! `u32` (d < 2³²), so an entry costs 4 + size_of::<T>() bytes. Duplicate entries in a row
//! are allowed and act as their sum (as in scipy).
//!
//! Products with a dense right-hand side R (d × w, column-major) first copy R to row-major
//! ([`Csr::rows_of`]), so that each stored entry x_ik adds x_ik·R[k, :] as one contiguous,
//! vectorizable run of w values.

use crate::error::{invalid_data, Result};
use crate::real::Real;
use faer::{Mat, MatMut, MatRef};
use rayon::prelude::*;

/// A sparse n × d matrix in CSR form.
#[derive(Clone, Debug, PartialEq)]
pub struct Csr<T: Real> {
    nrows: usize,
    ncols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<T>,
}

impl<T: Real> Csr<T> {
    /// From its parts: `indptr` (n + 1 non-decreasing offsets from 0 to nnz), the column of
    /// each entry (< `ncols`) and its value.
    ///
    /// # Errors
    /// [`crate::CronosError::InvalidData`] naming the first inconsistency.
    pub fn new(nrows: usize, ncols: usize, indptr: Vec<usize>, indices: Vec<u32>, values: Vec<T>) -> Result<Self> {
        if indptr.len() != nrows + 1 {
            return Err(invalid_data("x.indptr", format!("length {} but the matrix has {nrows} rows (expected {})", indptr.len(), nrows + 1)));
        }
        if indices.len() != values.len() {
            return Err(invalid_data("x.indices", format!("{} indices but {} values", indices.len(), values.len())));
        }
        if indptr[0] != 0 || indptr[nrows] != values.len() {
            return Err(invalid_data("x.indptr", format!("must run from 0 to nnz = {}, runs from {} to {}", values.len(), indptr[0], indptr[nrows])));
        }
        if let Some(i) = (0..nrows).find(|&i| indptr[i] > indptr[i + 1]) {
            return Err(invalid_data("x.indptr", format!("decreases at row {i} ({} > {})", indptr[i], indptr[i + 1])));
        }
        if ncols > u32::MAX as usize {
            return Err(invalid_data("x", format!("{ncols} columns: at most {} are supported for sparse data", u32::MAX)));
        }
        if let Some(p) = indices.iter().position(|&j| j as usize >= ncols) {
            return Err(invalid_data("x.indices", format!("column index {} at entry {p} but the matrix has {ncols} columns", indices[p])));
        }
        Ok(Csr { nrows, ncols, indptr, indices, values })
    }

    /// The non-zero entries of a dense matrix.
    pub fn from_dense(x: MatRef<'_, T>) -> Self {
        let (n, d) = (x.nrows(), x.ncols());
        let zero = T::default();
        let mut indptr = Vec::with_capacity(n + 1);
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        indptr.push(0);
        for i in 0..n {
            for j in 0..d {
                let v = x[(i, j)];
                if v != zero {
                    indices.push(j as u32);
                    values.push(v);
                }
            }
            indptr.push(values.len());
        }
        Csr { nrows: n, ncols: d, indptr, indices, values }
    }

    /// The dense matrix (duplicates summed).
    pub fn to_dense(&self) -> Mat<T> {
        let mut m = Mat::<T>::zeros(self.nrows, self.ncols);
        for i in 0..self.nrows {
            for (j, v) in self.row(i) {
                m[(i, j)] += v;
            }
        }
        m
    }

    /// Rows n.
    pub fn nrows(&self) -> usize {
        self.nrows
    }
    /// Columns d.
    pub fn ncols(&self) -> usize {
        self.ncols
    }
    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }
    /// Row offsets (n + 1).
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }
    /// Column of each entry.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }
    /// Value of each entry.
    pub fn values(&self) -> &[T] {
        &self.values
    }
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.indptr.len() * 8 + self.indices.len() * 4 + self.values.len() * std::mem::size_of::<T>()
    }
    /// Stored entries over n·d.
    pub fn density(&self) -> f64 {
        self.nnz() as f64 / ((self.nrows * self.ncols).max(1)) as f64
    }

    /// (column, value) of the entries of row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, T)> + '_ {
        let r = self.indptr[i]..self.indptr[i + 1];
        self.indices[r.clone()].iter().map(|&j| j as usize).zip(self.values[r].iter().copied())
    }

    /// `f(v)` applied to every value, with a column of `tail` appended when given (the bias).
    pub fn map_with_column(&self, f: impl Fn(T) -> T, tail: Option<T>) -> Csr<T> {
        let extra = tail.is_some() as usize;
        let mut indptr = Vec::with_capacity(self.nrows + 1);
        let mut indices = Vec::with_capacity(self.nnz() + extra * self.nrows);
        let mut values = Vec::with_capacity(self.nnz() + extra * self.nrows);
        indptr.push(0);
        for i in 0..self.nrows {
            for (j, v) in self.row(i) {
                indices.push(j as u32);
                values.push(f(v));
            }
            if let Some(t) = tail {
                indices.push(self.ncols as u32);
                values.push(t);
            }
            indptr.push(values.len());
        }
        Csr { nrows: self.nrows, ncols: self.ncols + extra, indptr, indices, values }
    }

    /// The rows `rows` (in that order) as a new matrix.
    pub fn select_rows(&self, rows: &[usize]) -> Csr<T> {
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        indptr.push(0);
        for &i in rows {
            let r = self.indptr[i]..self.indptr[i + 1];
            indices.extend_from_slice(&self.indices[r.clone()]);
            values.extend_from_slice(&self.values[r]);
            indptr.push(values.len());
        }
        Csr { nrows: rows.len(), ncols: self.ncols, indptr, indices, values }
    }

    /// The transpose, in CSR form (= X in compressed sparse columns).
    pub fn transpose(&self) -> Csr<T> {
        let mut count = vec![0usize; self.ncols + 1];
        for &j in &self.indices {
            count[j as usize + 1] += 1;
        }
        for j in 0..self.ncols {
            count[j + 1] += count[j];
        }
        let indptr = count.clone();
        let mut next = count;
        let (mut indices, mut values) = (vec![0u32; self.nnz()], vec![T::default(); self.nnz()]);
        for i in 0..self.nrows {
            for (j, v) in self.row(i) {
                let at = next[j];
                indices[at] = i as u32;
                values[at] = v;
                next[j] += 1;
            }
        }
        Csr { nrows: self.ncols, ncols: self.nrows, indptr, indices, values }
    }

    /// R (d × w, any layout) copied row-major: `out[k·w + c] = R[k, c]`.
    pub fn rows_of(rhs: MatRef<'_, T>) -> Vec<T> {
        let (d, w) = (rhs.nrows(), rhs.ncols());
        let mut out = vec![T::default(); d * w];
        for c in 0..w {
            for k in 0..d {
                out[k * w + c] = rhs[(k, c)];
            }
        }
        out
    }

    /// `out = X[b0 .. b0 + bl, :] · R` with R given row-major (`rhs_rows`, d × w) and `out` a
    /// column-major bl × w slice.
    pub fn mul_block(&self, b0: usize, bl: usize, rhs_rows: &[T], w: usize, out: &mut [T], tmp: &mut Vec<T>) {
        tmp.clear();
        tmp.resize(w, T::default());
        for i in 0..bl {
            tmp.iter_mut().for_each(|t| *t = T::default());
            for (k, v) in self.row(b0 + i) {
                axpy(tmp, v, &rhs_rows[k * w..(k + 1) * w]);
            }
            for (c, &t) in tmp.iter().enumerate() {
                out[c * bl + i] = t;
            }
        }
    }

    /// `acc += X[b0 .. b0 + bl, :]ᵀ · S` with S a column-major bl × w slice and `acc` a
    /// row-major d × w slice.
    pub fn tmul_block_add(&self, b0: usize, bl: usize, s: &[T], w: usize, acc: &mut [T], tmp: &mut Vec<T>) {
        tmp.clear();
        tmp.resize(w, T::default());
        for i in 0..bl {
            for (c, t) in tmp.iter_mut().enumerate() {
                *t = s[c * bl + i];
            }
            for (k, v) in self.row(b0 + i) {
                axpy(&mut acc[k * w..(k + 1) * w], v, tmp);
            }
        }
    }

    /// `out = X · R` for all rows (out n × w, column-major), parallel over row chunks.
    pub fn mul(&self, rhs: MatRef<'_, T>, out: MatMut<'_, T>) {
        self.mul_range(0, self.nrows, rhs, out);
    }

    /// `out = X[r0 .. r0 + rows, :] · R` (out rows × w), parallel over row chunks (fixed
    /// chunks, each written by one task: deterministic).
    pub fn mul_range(&self, r0: usize, rows: usize, rhs: MatRef<'_, T>, mut out: MatMut<'_, T>) {
        let w = rhs.ncols();
        let rr = Self::rows_of(rhs);
        let mut rm = vec![T::default(); rows * w];
        let chunk = rows.div_ceil(4 * rayon::current_num_threads().max(1)).max(64);
        rm.par_chunks_mut(chunk * w.max(1)).enumerate().for_each(|(ci, dst)| {
            let c0 = r0 + ci * chunk;
            for (ii, o) in dst.chunks_mut(w.max(1)).enumerate() {
                for (k, v) in self.row(c0 + ii) {
                    axpy(o, v, &rr[k * w..(k + 1) * w]);
                }
            }
        });
        for c in 0..w {
            for i in 0..rows {
                out[(i, c)] = rm[i * w + c];
            }
        }
    }

    /// XᵀX (d × d) over rows `rows`: per row, the outer product of its entries.
    pub fn gram_rows(&self, rows: std::ops::Range<usize>, mut out: MatMut<'_, T>) {
        for i in rows {
            let r = self.indptr[i]..self.indptr[i + 1];
            let (idx, val) = (&self.indices[r.clone()], &self.values[r]);
            for (a, &va) in idx.iter().zip(val) {
                for (b, &vb) in idx.iter().zip(val) {
                    out[(*b as usize, *a as usize)] += va * vb;
                }
            }
        }
    }

    /// The first non-finite stored value as (row, column, value).
    pub fn first_non_finite(&self) -> Option<(usize, usize, f64)> {
        (0..self.nrows).find_map(|i| self.row(i).find(|(_, v)| !v.to_f64().is_finite()).map(|(j, v)| (i, j, v.to_f64())))
    }
}

/// `y += a·x`.
#[inline(always)]
fn axpy<T: Real>(y: &mut [T], a: T, x: &[T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// X Xᵀ (n × n, f64) from X (`x`) and its transpose (`xt`): column j is Σ_{k ∈ row j} x_jk ·
/// X[:, k], parallel over columns, summed in f64.
pub fn xxt_f64<T: Real>(x: &Csr<T>, xt: &Csr<T>) -> Mat<f64> {
    let n = x.nrows();
    let mut out = Mat::<f64>::zeros(n, n);
    xxt_into(x, xt, &mut out);
    out
}

/// [`xxt_f64`] into an existing n × n matrix (no n × n allocation).
pub fn xxt_into<T: Real>(x: &Csr<T>, xt: &Csr<T>, out: &mut Mat<f64>) {
    let n = x.nrows();
    // column blocks through a small buffer: the n × n result is the only large allocation
    let bs = 256.min(n.max(1));
    let mut buf = vec![0.0f64; n * bs];
    for j0 in (0..n).step_by(bs) {
        let bl = bs.min(n - j0);
        buf[..n * bl].par_chunks_mut(n.max(1)).enumerate().for_each(|(jj, col)| {
            col.fill(0.0);
            for (k, v) in x.row(j0 + jj) {
                let v = v.to_f64();
                for (i, u) in xt.row(k) {
                    col[i] += v * u.to_f64();
                }
            }
        });
        for jj in 0..bl {
            for i in 0..n {
                out[(i, j0 + jj)] = buf[jj * n + i];
            }
        }
    }
}

/// `out += alpha · Xᵀ t` (t n × w, out d × w) through the transpose `xt` (d × n in CSR),
/// parallel over chunks of output rows (no reduction, so deterministic).
pub fn tmul_add<T: Real>(xt: &Csr<T>, t: MatRef<'_, T>, mut out: MatMut<'_, T>, alpha: T) {
    let (d, w) = (xt.nrows(), t.ncols());
    let tr = Csr::rows_of(t);
    let mut rm = vec![T::default(); d * w];
    let chunk = d.div_ceil(4 * rayon::current_num_threads().max(1)).max(64);
    rm.par_chunks_mut(chunk * w.max(1)).enumerate().for_each(|(ci, dst)| {
        let k0 = ci * chunk;
        for (kk, o) in dst.chunks_mut(w.max(1)).enumerate() {
            for (i, v) in xt.row(k0 + kk) {
                axpy(o, v, &tr[i * w..(i + 1) * w]);
            }
        }
    });
    for c in 0..w {
        for k in 0..d {
            out[(k, c)] += alpha * rm[k * w + c];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, d: usize) -> Mat<f64> {
        Mat::from_fn(n, d, |i, j| if (i * 7 + j * 5) % 4 == 0 { ((i * 3 + j) % 7) as f64 - 3.0 } else { 0.0 })
    }

    #[test]
    fn products_match_dense() {
        let x = sample(37, 11);
        let s = Csr::from_dense(x.as_ref());
        assert_eq!(s.to_dense(), x);
        let r = Mat::<f64>::from_fn(11, 3, |i, j| (i as f64 - 2.0 * j as f64) / 3.0);
        let mut got = Mat::<f64>::zeros(37, 3);
        s.mul(r.as_ref(), got.as_mut());
        assert!((&got - &x * &r).norm_l2() < 1e-12);
        let (mut blk, mut tmp) = (vec![0.0; 10 * 3], Vec::new());
        s.mul_block(5, 10, &Csr::rows_of(r.as_ref()), 3, &mut blk, &mut tmp);
        let want = x.as_ref().subrows(5, 10) * &r;
        assert!((MatRef::from_column_major_slice(&blk, 10, 3) - &want).norm_l2() < 1e-12);
        let t = Mat::<f64>::from_fn(37, 3, |i, j| ((i + j) % 5) as f64);
        let mut acc = vec![0.0; 11 * 3];
        let tb: Vec<f64> = (0..3).flat_map(|c| (5..15).map(move |i| (i, c))).map(|(i, c)| t[(i, c)]).collect();
        s.tmul_block_add(5, 10, &tb, 3, &mut acc, &mut tmp);
        let want = x.as_ref().subrows(5, 10).transpose() * t.as_ref().subrows(5, 10);
        assert!((Mat::from_fn(11, 3, |k, c| acc[k * 3 + c]) - &want).norm_l2() < 1e-12);
        let mut out = Mat::<f64>::zeros(11, 3);
        tmul_add(&s.transpose(), t.as_ref(), out.as_mut(), 2.0);
        assert!((&out - x.transpose() * &t * faer::Scale(2.0)).norm_l2() < 1e-12);
        assert!((xxt_f64(&s, &s.transpose()) - &x * x.transpose()).norm_l2() < 1e-12);
        let mut g = Mat::<f64>::zeros(11, 11);
        s.gram_rows(0..37, g.as_mut());
        assert!((&g - x.transpose() * &x).norm_l2() < 1e-12);
    }

    #[test]
    fn bad_parts_are_named() {
        let e = Csr::<f64>::new(2, 3, vec![0, 1], vec![0], vec![1.0]).unwrap_err().to_string();
        assert!(e.contains("x.indptr"), "{e}");
        let e = Csr::<f64>::new(1, 3, vec![0, 1], vec![3], vec![1.0]).unwrap_err().to_string();
        assert!(e.contains("column index 3"), "{e}");
        let e = Csr::<f64>::new(2, 3, vec![0, 2, 1], vec![0, 1], vec![1.0, 2.0]).unwrap_err().to_string();
        assert!(e.contains("x.indptr"), "{e}");
    }
}
