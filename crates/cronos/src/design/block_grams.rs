//! The diagonal blocks of the ReLU endgame's Newton matrix, for its block preconditioner
//! ([`crate::block_precond`]). Block b (pattern j, output c) of Fᵀ∇²ℓF is Xᵀ diag(h_c ⊙ D_j) X
//! (the signs of the v and w sides square away, so both sides share it), and block b of the
//! cone term's Hessian is σ Xᵀ Π_b X. Both are formed here in f64, d × d each, summed over
//! shards and ranks: fine for the small d the preconditioner is used at (the caller caps the
//! memory), never for images.

use super::*;
use faer::linalg::matmul::matmul;
use faer::{Accum, Par};

impl<T: Real> Design<T> {
    /// `Xᵀ diag(h_c ⊙ D_j) X` for each block `cols[t]` of `lay` (pattern j, output c), with
    /// `hdiag` (n × k, this rank's rows) the diagonal of the loss Hessian. Blocks with the same
    /// pattern share the product when every output has the same weights (squared loss).
    pub fn loss_block_grams(&mut self, lay: &WeightLayout, cols: &[usize], hdiag: MatRef<'_, T>) -> Vec<Mat<f64>> {
        let d = self.d();
        let k = hdiag.ncols();
        let same = (1..k).all(|c| (0..hdiag.nrows()).all(|i| hdiag[(i, c)] == hdiag[(i, 0)]));
        let key = |g: usize| (lay.group_pattern(g), if same { 0 } else { lay.group_output(g) });
        let mut keys: Vec<(usize, usize)> = cols.iter().map(|&g| key(g)).collect();
        keys.sort_unstable();
        keys.dedup();
        let (x, pat) = (&*self.x, &self.patterns);
        let parts: Vec<Vec<Mat<f64>>> = self
            .shards
            .par_iter()
            .map(|sh| {
                let mut acc: Vec<Mat<f64>> = keys.iter().map(|_| Mat::zeros(d, d)).collect();
                let mut rows = RowBlock::new(d);
                for (b0, bl) in blocks(&sh.rows) {
                    rows.load(x, b0, bl);
                    for (t, &(j, c)) in keys.iter().enumerate() {
                        rows.add_gram(&mut acc[t], |i| if pat.get(b0 + i, j) { hdiag[(b0 + i, c)].to_f64() } else { 0.0 });
                    }
                }
                acc
            })
            .collect();
        let summed = tree_reduce(parts, |mut l, r| {
            l.iter_mut().zip(&r).for_each(|(a, b)| *a += b);
            l
        });
        let summed = sum_over_ranks(summed, &*self.comm);
        cols.iter().map(|&g| summed[keys.binary_search(&key(g)).expect("key of a listed block")].clone()).collect()
    }

    /// Adds `σ Xᵀ Π_b X` to `out[t]` for each block `cols[t]`, Π_b the rows of the last
    /// [`Design::cone_al_pass`] in gradient or update mode (the multiplier rows of the cones).
    pub fn add_cone_block_grams(&mut self, cols: &[usize], sigma_al: f64, out: &mut [Mat<f64>]) {
        let d = self.d();
        let x = &*self.x;
        let parts: Vec<Vec<Mat<f64>>> = self
            .shards
            .par_iter()
            .map(|sh| {
                let (r0, nr) = (sh.rows.start, sh.rows.len());
                let mut acc: Vec<Mat<f64>> = cols.iter().map(|_| Mat::zeros(d, d)).collect();
                let mut rows = RowBlock::new(d);
                for (b0, bl) in blocks(&sh.rows) {
                    rows.load(x, b0, bl);
                    for (m, &g) in acc.iter_mut().zip(cols) {
                        let on = sh.al_rows.get(g * nr + (b0 - r0)..g * nr + (b0 - r0) + bl).unwrap_or(&[]);
                        rows.add_gram(m, |i| if on.get(i).copied().unwrap_or(false) { sigma_al } else { 0.0 });
                    }
                }
                acc
            })
            .collect();
        let summed = tree_reduce(parts, |mut l, r| {
            l.iter_mut().zip(&r).for_each(|(a, b)| *a += b);
            l
        });
        for (o, m) in out.iter_mut().zip(sum_over_ranks(summed, &*self.comm)) {
            *o += m;
        }
    }
}

/// A block of rows of X widened to f64, and the buffer of its weighted rows.
struct RowBlock {
    x: Mat<f64>,
    a: Mat<f64>,
    row: Vec<f64>,
    len: usize,
}

impl RowBlock {
    fn new(d: usize) -> Self {
        RowBlock { x: Mat::zeros(BLOCK, d), a: Mat::zeros(BLOCK, d), row: vec![0.0; d], len: 0 }
    }

    /// Rows `b0 .. b0 + bl` of `x`.
    fn load<T: Real>(&mut self, x: &XMat<T>, b0: usize, bl: usize) {
        for i in 0..bl {
            x.row_into(b0 + i, &mut self.row);
            self.row.iter().enumerate().for_each(|(j, v)| self.x[(i, j)] = *v);
        }
        self.len = bl;
    }

    /// `out += Σ_i ω(i) x_i x_iᵀ` over the loaded rows with ω(i) > 0, as one GEMM.
    fn add_gram(&mut self, out: &mut Mat<f64>, weight: impl Fn(usize) -> f64) {
        let d = self.x.ncols();
        let mut m = 0;
        for i in 0..self.len {
            let w = weight(i);
            if w > 0.0 {
                let s = w.sqrt();
                (0..d).for_each(|q| self.a[(m, q)] = s * self.x[(i, q)]);
                m += 1;
            }
        }
        if m > 0 {
            let am = self.a.as_ref().subrows(0, m);
            matmul(out.as_mut(), Accum::Add, am.transpose(), am, 1.0, Par::Seq);
        }
    }
}

/// Sums d × d matrices over the ranks of `comm` (one flat reduction).
fn sum_over_ranks(mut mats: Vec<Mat<f64>>, comm: &dyn Comm) -> Vec<Mat<f64>> {
    if comm.size() <= 1 || mats.is_empty() {
        return mats;
    }
    let (r, c) = (mats[0].nrows(), mats[0].ncols());
    let mut flat: Vec<f64> = mats.iter().flat_map(|m| (0..c).flat_map(move |q| (0..r).map(move |p| m[(p, q)]))).collect();
    comm.sum_f64(&mut flat);
    for (t, m) in mats.iter_mut().enumerate() {
        *m = Mat::from_fn(r, c, |p, q| flat[t * r * c + q * r + p]);
    }
    mats
}
