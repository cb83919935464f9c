//! The data matrix behind one seam: dense (column-major) or sparse (CSR), with the few
//! products the solver needs of X. Every other module (the design's fused kernels, the Gram
//! operators, the Woodbury preconditioner, pattern sampling, feasibility) goes through
//! [`XMat`] and never branches on the storage itself.
//!
//! Storage is chosen by measured density ([`Storage::choose`]): below
//! [`SPARSE_DENSITY`] stored entries per cell the sparse kernels are faster than the dense
//! GEMMs (see the README's benchmark table and `examples/sparse_density.rs`), above it the
//! GEMMs win. Sparse input is never densified unless it is that dense.

use crate::error::{invalid_data, Result};
use crate::real::Real;
use crate::sparse::{tmul_add, xxt_f64, Csr};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use std::cell::Cell;

/// The density (stored entries / (n·d), bias column included) below which the sparse kernels
/// are used: measured with `examples/sparse_density.rs` (n = 4000, d = 2000, P = 32, two
/// threads; README "Sparse data"): the sparse FᵀF pass was faster at every density up to 10%
/// (2–10× below 2%), about even at 20% and 2.4× slower (f64) at 30%. Sparse storage also
/// takes less memory up to ~33% (f64: X and Xᵀ at 12 bytes per entry vs 8 per cell).
pub const SPARSE_DENSITY: f64 = 0.10;

/// A borrowed input matrix, dense or sparse.
#[derive(Clone, Copy, Debug)]
pub enum DataRef<'a, T: Real> {
    /// Dense n × d (any layout).
    Dense(MatRef<'a, T>),
    /// Sparse n × d.
    Sparse(&'a Csr<T>),
}

impl<'a, T: Real> From<MatRef<'a, T>> for DataRef<'a, T> {
    fn from(m: MatRef<'a, T>) -> Self {
        DataRef::Dense(m)
    }
}
impl<'a, T: Real> From<&'a Csr<T>> for DataRef<'a, T> {
    fn from(m: &'a Csr<T>) -> Self {
        DataRef::Sparse(m)
    }
}

impl<T: Real> DataRef<'_, T> {
    /// Rows n.
    pub fn nrows(&self) -> usize {
        match self {
            DataRef::Dense(m) => m.nrows(),
            DataRef::Sparse(s) => s.nrows(),
        }
    }
    /// Columns d.
    pub fn ncols(&self) -> usize {
        match self {
            DataRef::Dense(m) => m.ncols(),
            DataRef::Sparse(s) => s.ncols(),
        }
    }
    /// Fails on the first non-finite value, naming it.
    ///
    /// # Errors
    /// [`crate::CronosError::InvalidData`] for `what`.
    pub fn check_finite(&self, what: &'static str) -> Result<()> {
        let bad = match self {
            DataRef::Dense(m) => (0..m.ncols()).find_map(|j| (0..m.nrows()).find(|&i| !m[(i, j)].to_f64().is_finite()).map(|i| (i, j, m[(i, j)].to_f64()))),
            DataRef::Sparse(s) => s.first_non_finite(),
        };
        match bad {
            Some((i, j, v)) => Err(invalid_data(what, format!("non-finite value {v} at row {i}, column {j}"))),
            None => Ok(()),
        }
    }
    /// Non-zero entries (stored entries for sparse data).
    pub fn nnz(&self) -> usize {
        match self {
            DataRef::Dense(m) => (0..m.ncols()).map(|j| (0..m.nrows()).filter(|&i| m[(i, j)] != T::default()).count()).sum(),
            DataRef::Sparse(s) => s.nnz(),
        }
    }
    /// The rows `rows` as an owned matrix of the same kind.
    pub fn select_rows(&self, rows: &[usize]) -> OwnedData<T> {
        match self {
            DataRef::Dense(m) => OwnedData::Dense(Mat::from_fn(rows.len(), m.ncols(), |i, j| m[(rows[i], j)])),
            DataRef::Sparse(s) => OwnedData::Sparse(s.select_rows(rows)),
        }
    }
}

/// An owned input matrix, dense or sparse.
#[derive(Clone, Debug)]
pub enum OwnedData<T: Real> {
    /// Dense.
    Dense(Mat<T>),
    /// Sparse.
    Sparse(Csr<T>),
}

impl<T: Real> OwnedData<T> {
    /// Rows n.
    pub fn nrows(&self) -> usize {
        self.as_data().nrows()
    }
    /// Columns d.
    pub fn ncols(&self) -> usize {
        self.as_data().ncols()
    }
    /// A borrowed view.
    pub fn as_data(&self) -> DataRef<'_, T> {
        match self {
            OwnedData::Dense(m) => DataRef::Dense(m.as_ref()),
            OwnedData::Sparse(s) => DataRef::Sparse(s),
        }
    }
}

/// How the solver stores X.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Column-major dense, products are GEMMs.
    Dense,
    /// CSR, products loop over stored entries.
    Sparse,
}

thread_local! {
    static FORCED: Cell<Option<Storage>> = const { Cell::new(None) };
}

/// Runs `f` with the storage forced to `s` for solvers set up on this thread (tests of the
/// sparse kernels against the dense ones, benchmarks).
#[doc(hidden)]
pub fn with_storage<R>(s: Storage, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<Storage>);
    impl Drop for Reset {
        fn drop(&mut self) {
            FORCED.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(FORCED.with(|c| c.replace(Some(s))));
    f()
}

impl Storage {
    /// Sparse when `nnz / (n·d)` is below [`SPARSE_DENSITY`] on one rank (a distributed solve
    /// stays dense: every rank must use the same kernels for bitwise agreement).
    pub fn choose(nnz: usize, n: usize, d: usize, ranks: usize) -> Self {
        match FORCED.with(|c| c.get()) {
            _ if ranks > 1 => Storage::Dense,
            Some(s) => s,
            None if (nnz as f64) < SPARSE_DENSITY * (n as f64) * (d as f64) => Storage::Sparse,
            None => Storage::Dense,
        }
    }
}

/// The solver's (scaled, bias-extended) X in the chosen storage.
#[derive(Debug)]
pub enum XMat<T: Real> {
    /// Dense n × d.
    Dense(Mat<T>),
    /// Sparse n × d and its transpose (for Xᵀ products and X Xᵀ over columns).
    Sparse {
        /// X in CSR.
        x: Csr<T>,
        /// Xᵀ in CSR.
        xt: Csr<T>,
    },
}

/// A right-hand side prepared for repeated row-block products: nothing for dense X, the
/// row-major copy for sparse X.
pub struct Prepared<T: Real>(Option<Vec<T>>);

impl<T: Real> XMat<T> {
    /// `x·inv` with a column of `inv` appended when `bias`, stored as `storage`.
    pub fn scaled(x: DataRef<'_, T>, inv: T, bias: bool, storage: Storage) -> Self {
        let tail = bias.then_some(inv);
        match (x, storage) {
            (DataRef::Dense(m), Storage::Dense) => {
                let d = m.ncols();
                XMat::Dense(Mat::from_fn(m.nrows(), d + bias as usize, |i, j| if j < d { m[(i, j)] * inv } else { inv }))
            }
            (DataRef::Dense(m), Storage::Sparse) => Self::sparse(Csr::from_dense(m).map_with_column(|v| v * inv, tail)),
            (DataRef::Sparse(s), Storage::Sparse) => Self::sparse(s.map_with_column(|v| v * inv, tail)),
            (DataRef::Sparse(s), Storage::Dense) => XMat::Dense(s.map_with_column(|v| v * inv, tail).to_dense()),
        }
    }

    /// From a CSR matrix (the transpose is formed here).
    pub fn sparse(x: Csr<T>) -> Self {
        let xt = x.transpose();
        XMat::Sparse { x, xt }
    }

    /// Rows n.
    pub fn nrows(&self) -> usize {
        match self {
            XMat::Dense(m) => m.nrows(),
            XMat::Sparse { x, .. } => x.nrows(),
        }
    }
    /// Columns d.
    pub fn ncols(&self) -> usize {
        match self {
            XMat::Dense(m) => m.ncols(),
            XMat::Sparse { x, .. } => x.ncols(),
        }
    }
    /// The storage.
    pub fn storage(&self) -> Storage {
        match self {
            XMat::Dense(_) => Storage::Dense,
            XMat::Sparse { .. } => Storage::Sparse,
        }
    }
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        match self {
            XMat::Dense(m) => m.nrows() * m.ncols() * std::mem::size_of::<T>(),
            XMat::Sparse { x, xt } => x.bytes() + xt.bytes(),
        }
    }
    /// The dense matrix (dense storage only).
    pub fn dense(&self) -> Option<MatRef<'_, T>> {
        match self {
            XMat::Dense(m) => Some(m.as_ref()),
            XMat::Sparse { .. } => None,
        }
    }
    /// Entry (i, j) (slow for sparse storage: tests and small reports only).
    pub fn get(&self, i: usize, j: usize) -> T {
        match self {
            XMat::Dense(m) => m[(i, j)],
            XMat::Sparse { x, .. } => x.row(i).filter(|&(k, _)| k == j).fold(T::default(), |a, (_, v)| a + v),
        }
    }

    /// Row `i` into `out` (length d), widened to f64.
    pub fn row_into(&self, i: usize, out: &mut [f64]) {
        match self {
            XMat::Dense(m) => out.iter_mut().enumerate().for_each(|(j, o)| *o = m[(i, j)].to_f64()),
            XMat::Sparse { x, .. } => {
                out.fill(0.0);
                x.row(i).for_each(|(j, v)| out[j] += v.to_f64());
            }
        }
    }

    /// Prepares `rhs` (d × w) for [`XMat::mul_block`].
    pub fn prepare(&self, rhs: MatRef<'_, T>) -> Prepared<T> {
        Prepared(matches!(self, XMat::Sparse { .. }).then(|| Csr::rows_of(rhs)))
    }

    /// `out = X[b0 .. b0 + bl, :] · rhs` into the front of `buf` (column-major bl × w),
    /// sequential (the caller parallelizes over row shards); returns the filled slice.
    pub fn mul_block<'b>(&self, b0: usize, bl: usize, rhs: MatRef<'_, T>, prep: &Prepared<T>, buf: &'b mut [T], tmp: &mut Vec<T>) -> &'b [T] {
        let w = rhs.ncols();
        match (self, &prep.0) {
            (XMat::Sparse { x, .. }, Some(rr)) => x.mul_block(b0, bl, rr, w, &mut buf[..bl * w], tmp),
            (XMat::Dense(m), _) => {
                let av = MatMut::from_column_major_slice_mut(&mut buf[..bl * w], bl, w);
                matmul(av, Accum::Replace, m.as_ref().subrows(b0, bl), rhs, T::from_f64(1.0), Par::Seq);
            }
            (XMat::Sparse { .. }, None) => unreachable!("rhs not prepared for sparse X"),
        }
        &buf[..bl * w]
    }

    /// Scratch for [`XMat::tmul_block_add`] over `w` columns (row-major d × w for sparse X).
    pub fn scratch(&self, w: usize) -> Vec<T> {
        match self {
            XMat::Dense(_) => Vec::new(),
            XMat::Sparse { x, .. } => vec![T::default(); x.ncols() * w],
        }
    }

    /// Starts an accumulation of Xᵀ S blocks into `acc` (d × w): zeroes it (or the scratch).
    pub fn tacc_begin(&self, acc: MatMut<'_, T>, scratch: &mut [T]) {
        match self {
            XMat::Dense(_) => {
                let mut acc = acc;
                acc.fill(T::default());
            }
            XMat::Sparse { .. } => scratch.fill(T::default()),
        }
    }

    /// Adds `X[b0 .. b0 + bl, :]ᵀ · S` (S column-major bl × w) to the accumulation.
    pub fn tacc_add(&self, b0: usize, bl: usize, s: &[T], w: usize, acc: MatMut<'_, T>, scratch: &mut [T], tmp: &mut Vec<T>) {
        match self {
            XMat::Dense(m) => {
                let sv = MatRef::from_column_major_slice(&s[..bl * w], bl, w);
                matmul(acc, Accum::Add, m.as_ref().subrows(b0, bl).transpose(), sv, T::from_f64(1.0), Par::Seq);
            }
            XMat::Sparse { x, .. } => x.tmul_block_add(b0, bl, s, w, &mut scratch[..x.ncols() * w], tmp),
        }
    }

    /// Ends the accumulation: writes the scratch into `acc` (sparse X).
    pub fn tacc_finish(&self, mut acc: MatMut<'_, T>, scratch: &[T]) {
        if let XMat::Sparse { x, .. } = self {
            let w = acc.ncols();
            for c in 0..w {
                for k in 0..x.ncols() {
                    acc[(k, c)] = scratch[k * w + c];
                }
            }
        }
    }

    /// The f64 buffer [`XMat::tmul_block_add_f64`] widens dense X into, for row blocks of up
    /// to `rows` rows: at most `WIDEN_BYTES` (a full-width block of a wide X would be far
    /// larger than X itself: 1,024 × 87,723 f64 is 719 MB per shard). Empty for sparse X.
    pub fn widen_buffer(&self, rows: usize) -> Mat<f64> {
        match self {
            XMat::Dense(m) => Mat::zeros(rows, (WIDEN_BYTES / (8 * rows.max(1))).clamp(1, m.ncols().max(1))),
            XMat::Sparse { .. } => Mat::zeros(0, 0),
        }
    }

    /// `acc += X[b0 .. b0 + bl, :]ᵀ · s` in f64 for each `(s, acc)` of `pairs` (s bl × w): the
    /// certificate's products. Dense X is widened a column block at a time into `xb` (from
    /// [`XMat::widen_buffer`]), and each widened block serves every pair.
    pub fn tmul_block_add_f64(&self, b0: usize, bl: usize, pairs: &mut [(MatRef<'_, f64>, MatMut<'_, f64>)], xb: &mut Mat<f64>) {
        match self {
            XMat::Dense(m) => {
                let (d, cb) = (m.ncols(), xb.ncols().max(1));
                for c0 in (0..d).step_by(cb) {
                    let w = cb.min(d - c0);
                    for j in 0..w {
                        for i in 0..bl {
                            xb[(i, j)] = m[(b0 + i, c0 + j)].to_f64();
                        }
                    }
                    let xw = xb.as_ref().submatrix(0, 0, bl, w);
                    for (s, acc) in pairs.iter_mut() {
                        matmul(faer::reborrow::ReborrowMut::rb_mut(acc).subrows_mut(c0, w), Accum::Add, xw.transpose(), *s, 1.0, Par::Seq);
                    }
                }
            }
            XMat::Sparse { x, .. } => {
                for (s, acc) in pairs.iter_mut() {
                    for i in 0..bl {
                        for (k, v) in x.row(b0 + i) {
                            let v = v.to_f64();
                            for c in 0..s.ncols() {
                                acc[(k, c)] += v * s[(i, c)];
                            }
                        }
                    }
                }
            }
        }
    }

    /// `out = X[r0 .. r0 + rows, :] · rhs` (out rows × w), parallel per `par`.
    pub fn mul_rows(&self, r0: usize, rows: usize, rhs: MatRef<'_, T>, out: MatMut<'_, T>, par: Par) {
        match self {
            XMat::Dense(m) => matmul(out, Accum::Replace, m.as_ref().subrows(r0, rows), rhs, T::from_f64(1.0), par),
            XMat::Sparse { x, .. } => x.mul_range(r0, rows, rhs, out),
        }
    }

    /// `out += alpha · Xᵀ t` (t n × w, out d × w), parallel.
    pub fn tmul_add(&self, t: MatRef<'_, T>, mut out: MatMut<'_, T>, alpha: T) {
        match self {
            XMat::Dense(x) => {
                let n = x.nrows();
                for b0 in (0..n).step_by(ROWS) {
                    let bl = ROWS.min(n - b0);
                    let xb = x.as_ref().subrows(b0, bl).transpose();
                    matmul(out.as_mut(), Accum::Add, xb, t.subrows(b0, bl), alpha, Par::rayon(0));
                }
            }
            XMat::Sparse { xt, .. } => tmul_add(xt, t, out, alpha),
        }
    }

    /// `out = X · rhs` (out n × w), parallel; dense X by row blocks (a whole-X GEMM would pack
    /// large copies of X).
    pub fn mul(&self, rhs: MatRef<'_, T>, mut out: MatMut<'_, T>) {
        match self {
            XMat::Dense(x) => {
                let n = x.nrows();
                for b0 in (0..n).step_by(ROWS) {
                    let bl = ROWS.min(n - b0);
                    matmul(out.as_mut().subrows_mut(b0, bl), Accum::Replace, x.as_ref().subrows(b0, bl), rhs, T::from_f64(1.0), Par::rayon(0));
                }
            }
            XMat::Sparse { x, .. } => x.mul(rhs, out),
        }
    }

    /// XᵀX over rows `rows` added to `out` (d × d), sequential.
    pub fn gram_rows_add(&self, rows: std::ops::Range<usize>, out: MatMut<'_, T>) {
        match self {
            XMat::Dense(m) => {
                let mut out = out;
                for b0 in rows.clone().step_by(1024) {
                    let bl = 1024.min(rows.end - b0);
                    let xb = m.as_ref().subrows(b0, bl);
                    matmul(out.as_mut(), Accum::Add, xb.transpose(), xb, T::from_f64(1.0), Par::Seq);
                }
            }
            XMat::Sparse { x, .. } => x.gram_rows(rows, out),
        }
    }

    /// Whether X Xᵀ is cheap to recompute (sparse: Σ_k nnz(column k)² flops, far below the
    /// n³/3 of a factorization), so that it need not be kept.
    pub fn xxt_is_cheap(&self) -> bool {
        matches!(self, XMat::Sparse { .. })
    }

    /// ‖x_i‖² of every row, in f64.
    pub fn row_sq_norms(&self) -> Vec<f64> {
        match self {
            XMat::Dense(m) => (0..m.nrows()).map(|i| (0..m.ncols()).map(|j| m[(i, j)].to_f64().powi(2)).sum()).collect(),
            XMat::Sparse { x, .. } => (0..x.nrows()).map(|i| x.row(i).map(|(_, v)| v.to_f64().powi(2)).sum()).collect(),
        }
    }

    /// X Xᵀ into an n × n matrix.
    pub fn xxt_into(&self, out: &mut Mat<f64>) {
        match self {
            XMat::Dense(x) => out.copy_from(xxt_dense(x.as_ref())),
            XMat::Sparse { x, xt } => crate::sparse::xxt_into(x, xt, out),
        }
    }

    /// X Xᵀ (n × n) in f64.
    pub fn xxt(&self) -> Mat<f64> {
        match self {
            XMat::Dense(x) => xxt_dense(x.as_ref()),
            XMat::Sparse { x, xt } => xxt_f64(x, xt),
        }
    }
}

/// Bytes of dense X widened to f64 at a time by the certificate's products (per shard).
const WIDEN_BYTES: usize = 32 << 20;

/// Rows of X per GEMM in the whole-X products.
const ROWS: usize = 2048;
/// Columns of X per block of the dense n × n product X Xᵀ.
const COLS: usize = 2048;

/// X Xᵀ (n × n) in f64: per column block a GEMM in T, summed in f64 so that an f32 X
/// loses no more than one block's rounding.
pub fn xxt_dense<T: Real>(x: MatRef<'_, T>) -> Mat<f64> {
    let (n, d) = (x.nrows(), x.ncols());
    let mut acc = Mat::<f64>::zeros(n, n);
    let mut blk = Mat::<T>::zeros(n, n);
    for c0 in (0..d).step_by(COLS) {
        let xb = x.subcols(c0, COLS.min(d - c0));
        matmul(blk.as_mut(), Accum::Replace, xb, xb.transpose(), T::from_f64(1.0), Par::rayon(0));
        for j in 0..n {
            for i in 0..n {
                acc[(i, j)] += blk[(i, j)].to_f64();
            }
        }
    }
    acc
}
