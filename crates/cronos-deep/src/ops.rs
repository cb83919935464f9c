//! Small numerical kernels shared by the layers: GEMM on row-major slices (faer), column sums.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// Parallelism for a product with this many multiply-adds: below ~1 M the thread hand-off
/// costs more than it saves on this 2-core target.
pub fn par_for(work: usize) -> Par {
    if work < 1 << 20 {
        Par::Seq
    } else {
        Par::rayon(0)
    }
}

/// dst (m × n, row-major) = [dst +] op(a) · op(b), with a and b row-major slices of shapes
/// (ar × ac) and (br × bc), optionally transposed.
#[allow(clippy::too_many_arguments)]
pub fn gemm(dst: &mut [f32], m: usize, n: usize, a: &[f32], ar: usize, ac: usize, ta: bool, b: &[f32], br: usize, bc: usize, tb: bool, accumulate: bool) {
    let a = MatRef::from_row_major_slice(a, ar, ac);
    let b = MatRef::from_row_major_slice(b, br, bc);
    let a = if ta { a.transpose() } else { a };
    let b = if tb { b.transpose() } else { b };
    debug_assert_eq!((a.nrows(), b.ncols(), a.ncols()), (m, n, b.nrows()));
    let work = m * n * a.ncols();
    let dst = MatMut::from_row_major_slice_mut(dst, m, n);
    matmul(dst, if accumulate { Accum::Add } else { Accum::Replace }, a, b, 1.0f32, par_for(work));
}

/// Sums of the columns of a row-major rows × cols matrix (in row order: deterministic).
pub fn col_sums(g: &[f32], cols: usize, out: &mut [f32]) {
    out.iter_mut().for_each(|o| *o = 0.0);
    for row in g.chunks_exact(cols) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// Adds `bias` to every row of a row-major matrix.
pub fn add_bias(y: &mut [f32], bias: &[f32]) {
    for row in y.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}
