//! The design: X (n × d, column-major, bias column included) split into row shards, with
//! the activation patterns, and the fused kernels that touch X.
//!
//! Every product over rows is a sum of per-shard products, so a shard is the unit of both
//! thread parallelism (one shard per worker, each with its own buffers and accumulator,
//! reduced in shard order so results are bit-identical for a given thread count) and of
//! distribution over processes: with several ranks (see [`crate::comm`]) each holds its own
//! rows, and every reduction over shards is followed by a sum over ranks in the same tree
//! order, so K one-thread ranks compute the sums of a K-thread process bit for bit. Inside a shard, rows are streamed in blocks: a
//! block's 0/1 masks are unpacked once and every kernel is two GEMMs with an elementwise
//! pass between them, so all P patterns (and all outputs) go through X together.
//!
//! X is dense or sparse behind [`XMat`] (see [`crate::data`]): the kernels here only unpack
//! masks and combine columns, and ask X for the two block products X_b·R and X_bᵀ·S.
//!
//! Column layout: for `k` outputs, a "delta" matrix is d × (P·k) with column `c·P + j` for
//! output c and pattern j; a full weight matrix is d × (nb·k) with `nb = 2P` for ReLU
//! (v blocks then w blocks) and `nb = P` for gated ReLU.

#![allow(non_snake_case)]

use crate::comm::{self, tree_reduce, Comm};
use crate::data::XMat;
use crate::layout::WeightLayout;
use crate::patterns::Patterns;
use crate::real::Real;
use faer::{Mat, MatMut, MatRef};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Arc;

mod block_grams;
mod cone_al;
pub use cone_al::{ConeAlMode, ConeAlStats};

/// Rows per streamed block: large enough for GEMM efficiency, small enough for L2/L3.
const BLOCK: usize = 1024;

/// Per-shard buffers, allocated once.
pub(crate) struct Shard<T: Real> {
    pub rows: Range<usize>,
    mask: Vec<T>,
    a: Vec<T>,
    s: Vec<T>,
    acc: Mat<T>,
    /// Row-major d × 2·width accumulator of sparse X (empty for dense X).
    rm: Vec<T>,
    /// A row of scratch for the sparse kernels.
    tmp: Vec<T>,
    /// Scaled duals ν of the cone constraints for this shard's rows (ReLU only),
    /// column-major `rows × (2P·k)`.
    pub nu: Vec<T>,
    /// The rows Π of the ReLU endgame's cone Hessian, same layout as `nu` (empty until used).
    al_rows: Vec<bool>,
    /// The previous cone multipliers of [`Design::cone_dual_step`] (empty until used).
    al_prev: Vec<T>,
}

/// Sums returned by the slack pass, accumulated in f64.
#[derive(Clone, Copy, Debug, Default)]
pub struct SlackStats {
    /// ‖Gu − s‖².
    pub primal_sq: f64,
    /// ‖Gu‖².
    pub gu_sq: f64,
    /// ‖s‖².
    pub s_sq: f64,
}

/// X, its patterns and the per-shard workspaces.
pub struct Design<T: Real> {
    /// Shared with the wide-data operators ([`crate::gram`]), which read X without a copy.
    x: Arc<XMat<T>>,
    patterns: Patterns,
    shards: Vec<Shard<T>>,
    width: usize,
    comm: Arc<dyn Comm>,
}

/// The row ranges of `threads` shards over `n` rows (clamped to 1..=n shards): the one
/// partition used by the design and by the solver's own sums over rows.
pub fn shard_rows(n: usize, threads: usize) -> Vec<Range<usize>> {
    let threads = threads.clamp(1, n.max(1));
    (0..threads).map(|t| (t * n / threads)..((t + 1) * n / threads)).collect()
}

impl<T: Real> Design<T> {
    /// Splits `x` into `threads` row shards with buffers for up to `width` columns per pass
    /// (`2·width` for backward passes) and `nu_cols` dual columns per row.
    pub fn new(x: Mat<T>, patterns: Patterns, threads: usize, width: usize, nu_cols: usize) -> Self {
        Self::with_comm(XMat::Dense(x), patterns, threads, width, nu_cols, comm::local())
    }

    /// As [`Design::new`] with X in either storage.
    pub fn with_data(x: XMat<T>, patterns: Patterns, threads: usize, width: usize, nu_cols: usize) -> Self {
        Self::with_comm(x, patterns, threads, width, nu_cols, comm::local())
    }

    /// As [`Design::new`] for this rank's rows of a distributed design: every reduction over
    /// rows is also summed over the ranks of `comm`.
    /// (`x` may be shared: a pricing round rebuilds the design on the same X with new patterns.)
    pub fn with_comm(x: impl Into<Arc<XMat<T>>>, patterns: Patterns, threads: usize, width: usize, nu_cols: usize, comm: Arc<dyn Comm>) -> Self {
        let x: Arc<XMat<T>> = x.into();
        let (n, d, p) = (x.nrows(), x.ncols(), patterns.p());
        let width = width.max(p);
        let shards = shard_rows(n, threads)
            .into_iter()
            .map(|rows| {
                let bl = BLOCK.min(rows.len()).max(1);
                Shard {
                    mask: vec![T::default(); bl * p],
                    a: vec![T::default(); bl * width],
                    s: vec![T::default(); bl * 2 * width],
                    acc: Mat::zeros(d, 2 * width),
                    rm: x.scratch(2 * width),
                    tmp: Vec::new(),
                    nu: vec![T::default(); rows.len() * nu_cols],
                    al_rows: Vec::new(),
                    al_prev: Vec::new(),
                    rows,
                }
            })
            .collect();
        Design { x, patterns, shards, width, comm }
    }

    /// The communicator the reductions over rows go through.
    pub fn comm(&self) -> &dyn Comm {
        &*self.comm
    }
    /// A shared handle to the communicator.
    pub fn comm_arc(&self) -> Arc<dyn Comm> {
        self.comm.clone()
    }

    /// Number of rows n.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }
    /// Number of columns d (bias included).
    pub fn d(&self) -> usize {
        self.x.ncols()
    }
    /// Number of patterns P.
    pub fn p(&self) -> usize {
        self.patterns.p()
    }
    /// The design matrix.
    pub fn x(&self) -> &XMat<T> {
        &self.x
    }
    /// A shared handle to the design matrix.
    pub fn x_arc(&self) -> Arc<XMat<T>> {
        self.x.clone()
    }
    /// The patterns.
    pub fn patterns(&self) -> &Patterns {
        &self.patterns
    }
    pub(crate) fn shards(&self) -> &[Shard<T>] {
        &self.shards
    }
    pub(crate) fn shards_mut(&mut self) -> &mut [Shard<T>] {
        &mut self.shards
    }
    /// Bytes held by X, the patterns and all shard buffers.
    pub fn bytes(&self) -> usize {
        let t = std::mem::size_of::<T>();
        let mut b = self.x.bytes() + self.patterns.bytes();
        for s in &self.shards {
            b += (s.mask.len() + s.a.len() + s.s.len() + s.nu.len() + s.rm.len() + s.acc.nrows() * s.acc.ncols()) * t;
        }
        b
    }

    /// Outputs per pass for kernels whose forward width is `P` per output.
    fn outputs_per_pass(&self) -> usize {
        (self.width / self.p().max(1)).max(1)
    }

    /// F: `out[:, c] = Σ_j D_j X delta[:, c·P + j]` for every output c (out is n × k).
    pub fn forward(&mut self, delta: MatRef<'_, T>, mut out: MatMut<'_, T>) {
        let (p, k) = (self.p(), out.ncols());
        let step = self.outputs_per_pass();
        for c0 in (0..k).step_by(step) {
            let kb = step.min(k - c0);
            let dl = delta.subcols(c0 * p, kb * p);
            let views = split_rows(out.as_mut().subcols_mut(c0, kb), &self.shards);
            let (x, pat) = (&*self.x, &self.patterns);
            let prep = x.prepare(dl);
            self.shards.par_iter_mut().zip(views).for_each(|(sh, mut o)| {
                for (b0, bl) in blocks(&sh.rows) {
                    pat.unpack_rows(b0, bl, &mut sh.mask[..bl * p]);
                    let a = x.mul_block(b0, bl, dl, &prep, &mut sh.a, &mut sh.tmp);
                    for c in 0..kb {
                        let dst = o.as_mut().col_mut(c).try_as_col_major_mut().unwrap().as_slice_mut();
                        let dst = &mut dst[b0 - sh.rows.start..b0 - sh.rows.start + bl];
                        dst.fill(T::default());
                        for j in 0..p {
                            let m = &sh.mask[j * bl..(j + 1) * bl];
                            let col = &a[(c * p + j) * bl..(c * p + j + 1) * bl];
                            for i in 0..bl {
                                dst[i] += m[i] * col[i];
                            }
                        }
                    }
                }
            });
        }
    }

    /// Fᵀ-like pass: `out[:, c·P + j] = Xᵀ (D_j r[:, c])` (out is d × P·k).
    pub fn backward(&mut self, r: MatRef<'_, T>, out: MatMut<'_, T>) {
        let p = self.p();
        self.masked_pass(out, r.ncols(), |_, b0, bl, mask, _, s, c0, kb, _| {
            for c in 0..kb {
                let rc = &r.col(c0 + c).try_as_col_major().unwrap().as_slice()[b0..b0 + bl];
                for j in 0..p {
                    let m = &mask[j * bl..(j + 1) * bl];
                    let dst = &mut s[(c * p + j) * bl..(c * p + j + 1) * bl];
                    for i in 0..bl {
                        dst[i] = m[i] * rc[i];
                    }
                }
            }
        });
    }

    /// FᵀF on delta matrices, fused in one pass over X: `out = backward(forward(delta))`.
    pub fn ftf(&mut self, delta: MatRef<'_, T>, out: MatMut<'_, T>) {
        let p = self.p();
        let step = self.outputs_per_pass();
        let x = self.x.clone();
        let preps: Vec<_> = (0..delta.ncols() / p.max(1)).step_by(step).map(|c0| {
            let kb = step.min(delta.ncols() / p.max(1) - c0);
            x.prepare(delta.subcols(c0 * p, kb * p))
        }).collect();
        self.masked_pass(out, delta.ncols() / p.max(1), |x, b0, bl, mask, a, s, c0, kb, tmp| {
            let dl = delta.subcols(c0 * p, kb * p);
            let av = x.mul_block(b0, bl, dl, &preps[c0 / step], a, tmp);
            for c in 0..kb {
                // r = Σ_j m_j ∘ (X δ_j) is built in the slot of pattern 0, then s_j = m_j ∘ r,
                // pattern 0 last so r is overwritten only when no longer needed.
                let (r, rest) = s[c * p * bl..(c + 1) * p * bl].split_at_mut(bl);
                r.fill(T::default());
                for j in 0..p {
                    let m = &mask[j * bl..(j + 1) * bl];
                    let col = &av[(c * p + j) * bl..(c * p + j + 1) * bl];
                    for i in 0..bl {
                        r[i] += m[i] * col[i];
                    }
                }
                for j in 1..p {
                    let m = &mask[j * bl..(j + 1) * bl];
                    let dst = &mut rest[(j - 1) * bl..j * bl];
                    for i in 0..bl {
                        dst[i] = m[i] * r[i];
                    }
                }
                for i in 0..bl {
                    r[i] *= mask[i];
                }
            }
        });
    }

    /// Shared driver of the backward kernels: for each output batch and row block, `fill`
    /// writes the block's n-side matrix S (block × P·kb) and this adds Xᵀ S to out.
    #[allow(clippy::type_complexity)]
    fn masked_pass<F>(&mut self, mut out: MatMut<'_, T>, k: usize, fill: F)
    where
        F: Fn(&XMat<T>, usize, usize, &[T], &mut [T], &mut [T], usize, usize, &mut Vec<T>) + Sync,
    {
        let p = self.p();
        let step = self.outputs_per_pass();
        for c0 in (0..k).step_by(step) {
            let kb = step.min(k - c0);
            let w = kb * p;
            let (x, pat) = (&*self.x, &self.patterns);
            self.shards.par_iter_mut().for_each(|sh| {
                let mut acc = sh.acc.as_mut().subcols_mut(0, w);
                x.tacc_begin(acc.as_mut(), &mut sh.rm);
                let rows = sh.rows.clone();
                for (b0, bl) in blocks(&rows) {
                    pat.unpack_rows(b0, bl, &mut sh.mask[..bl * p]);
                    fill(x, b0, bl, &sh.mask[..bl * p], &mut sh.a, &mut sh.s[..bl * w], c0, kb, &mut sh.tmp);
                    x.tacc_add(b0, bl, &sh.s[..bl * w], w, acc.as_mut(), &mut sh.rm, &mut sh.tmp);
                }
                x.tacc_finish(acc, &sh.rm);
            });
            reduce_into(out.as_mut().subcols_mut(c0 * p, w), &self.shards, 0, &*self.comm);
        }
    }

    /// The ReLU slack pass of one ADMM iteration, for weights `u` (d × 2P·k): with g = σGu,
    /// s = max(0, g + ν), ν ← ν + γ(g − s); returns σGᵀs and σGᵀν in `gts`, `gtnu` (d × 2P·k).
    /// σ > 0 scales the constraint block (an equivalent constraint, better balanced).
    pub fn slack_pass(&mut self, u: MatRef<'_, T>, sigma: T, gamma: T, mut gts: MatMut<'_, T>, mut gtnu: MatMut<'_, T>) -> SlackStats {
        let (p, w) = (self.p(), u.ncols());
        assert!(2 * w <= 2 * self.width, "slack pass wider than the buffers");
        let lay = WeightLayout::new(self.d(), p, true, w / (2 * p).max(1));
        let (x, pat) = (&*self.x, &self.patterns);
        let prep = x.prepare(u);
        let stats: Vec<SlackStats> = self
            .shards
            .par_iter_mut()
            .map(|sh| {
                let mut st = SlackStats::default();
                let mut acc = sh.acc.as_mut().subcols_mut(0, 2 * w);
                x.tacc_begin(acc.as_mut(), &mut sh.rm);
                let (r0, nr) = (sh.rows.start, sh.rows.len());
                for (b0, bl) in blocks(&sh.rows.clone()) {
                    pat.unpack_rows(b0, bl, &mut sh.mask[..bl * p]);
                    let a = x.mul_block(b0, bl, u, &prep, &mut sh.a, &mut sh.tmp);
                    for col in 0..w {
                        let j = lay.group_pattern(col);
                        let m = &sh.mask[j * bl..(j + 1) * bl];
                        let g_col = &a[col * bl..(col + 1) * bl];
                        let nu = &mut sh.nu[col * nr + (b0 - r0)..col * nr + (b0 - r0) + bl];
                        let (s_lo, s_hi) = sh.s[..2 * w * bl].split_at_mut(w * bl);
                        let s_out = &mut s_lo[col * bl..(col + 1) * bl];
                        let nu_out = &mut s_hi[col * bl..(col + 1) * bl];
                        for i in 0..bl {
                            let e = sigma * (m[i] + m[i] - T::from_f64(1.0));
                            let g = e * g_col[i];
                            let t = g + nu[i];
                            let s = if t > T::default() { t } else { T::default() };
                            let res = g - s;
                            nu[i] += gamma * res;
                            st.primal_sq += res.to_f64() * res.to_f64();
                            st.gu_sq += g.to_f64() * g.to_f64();
                            st.s_sq += s.to_f64() * s.to_f64();
                            s_out[i] = e * s;
                            nu_out[i] = e * nu[i];
                        }
                    }
                    x.tacc_add(b0, bl, &sh.s[..bl * 2 * w], 2 * w, acc.as_mut(), &mut sh.rm, &mut sh.tmp);
                }
                x.tacc_finish(acc, &sh.rm);
                st
            })
            .collect();
        reduce_into(gts.as_mut(), &self.shards, 0, &*self.comm);
        reduce_into(gtnu.as_mut(), &self.shards, w, &*self.comm);
        let st = tree_reduce(stats, |a, b| SlackStats {
            primal_sq: a.primal_sq + b.primal_sq,
            gu_sq: a.gu_sq + b.gu_sq,
            s_sq: a.s_sq + b.s_sq,
        });
        let mut v = [st.primal_sq, st.gu_sq, st.s_sq];
        self.comm.sum_f64(&mut v);
        SlackStats { primal_sq: v[0], gu_sq: v[1], s_sq: v[2] }
    }

    /// Dual certificate pass (ReLU): for output c, pattern j and sign ± (v / w blocks),
    /// `a = Xᵀ(±D_j λ_c)` and `b = Xᵀ((2D_j − I) μ)` with μ = max(0, −ρσ ν), both d × 2P·k, in
    /// one pass over X (pass ρσ as `rho`); the caller combines them as a + t·b per group.
    pub fn certificate_pass(&mut self, lam: MatRef<'_, T>, rho: T, mut a: MatMut<'_, T>, mut b: MatMut<'_, T>) {
        let (p, k) = (self.p(), lam.ncols());
        let lay = WeightLayout::new(self.d(), p, true, k);
        let w = lay.groups();
        let (x, pat) = (&*self.x, &self.patterns);
        self.shards.par_iter_mut().for_each(|sh| {
            let mut acc = sh.acc.as_mut().subcols_mut(0, 2 * w);
            x.tacc_begin(acc.as_mut(), &mut sh.rm);
            let (r0, nr) = (sh.rows.start, sh.rows.len());
            for (b0, bl) in blocks(&sh.rows.clone()) {
                pat.unpack_rows(b0, bl, &mut sh.mask[..bl * p]);
                let (s_a, s_b) = sh.s[..2 * w * bl].split_at_mut(w * bl);
                for col in 0..w {
                    let (c, j) = (lay.group_output(col), lay.group_pattern(col));
                    let sign = T::from_f64(WeightLayout::side_sign(lay.group_side(col)));
                    let m = &sh.mask[j * bl..(j + 1) * bl];
                    let lc = &lam.col(c).try_as_col_major().unwrap().as_slice()[b0..b0 + bl];
                    let nu = &sh.nu[col * nr + (b0 - r0)..col * nr + (b0 - r0) + bl];
                    let (da, db) = (&mut s_a[col * bl..(col + 1) * bl], &mut s_b[col * bl..(col + 1) * bl]);
                    for i in 0..bl {
                        let e = m[i] + m[i] - T::from_f64(1.0);
                        let mu = -rho * nu[i];
                        let mu = if mu > T::default() { mu } else { T::default() };
                        da[i] = sign * m[i] * lc[i];
                        db[i] = e * mu;
                    }
                }
                x.tacc_add(b0, bl, &sh.s[..bl * 2 * w], 2 * w, acc.as_mut(), &mut sh.rm, &mut sh.tmp);
            }
            x.tacc_finish(acc, &sh.rm);
        });
        reduce_into(a.as_mut(), &self.shards, 0, &*self.comm);
        reduce_into(b.as_mut(), &self.shards, w, &*self.comm);
    }

    /// The products of [`Design::certificate_pass`] computed in f64 whatever `T` is (an f32
    /// GEMM can understate ‖F_gᵀλ‖ and so overstate the certified bound): `a[:, col] =
    /// Xᵀ(±D_j λ_c)` and, for ReLU, `b[:, col] = Xᵀ((2D_j − I) μ)` with μ = max(0, −ρσ ν).
    /// Columns: P per output (gated, no sign) or 2P per output (ReLU, v then w). Each row
    /// block of X is widened to f64 once, a bounded column block at a time; `b` is d × 0 for
    /// gated ReLU.
    pub fn certificate_pass_f64(&self, lam: MatRef<'_, T>, rho_sigma: f64, relu: bool) -> (Mat<f64>, Mat<f64>) {
        let (p, k, d) = (self.p(), lam.ncols(), self.d());
        let lay = WeightLayout::new(d, p, relu, k);
        let (w, wb) = (lay.groups(), if relu { lay.groups() } else { 0 });
        let parts: Vec<(Mat<f64>, Mat<f64>)> = self
            .shards
            .par_iter()
            .map(|sh| {
                let (mut a, mut b) = (Mat::<f64>::zeros(d, w), Mat::<f64>::zeros(d, wb));
                // block buffers allocated once per shard and call, refilled per row block
                let mut xb = self.x.widen_buffer(BLOCK);
                let (mut sa, mut sb) = (Mat::<f64>::zeros(BLOCK, w), Mat::<f64>::zeros(BLOCK, wb));
                let mut mask = vec![T::default(); BLOCK * p];
                let (r0, nr) = (sh.rows.start, sh.rows.len());
                for (b0, bl) in blocks(&sh.rows) {
                    self.patterns.unpack_rows(b0, bl, &mut mask[..bl * p]);
                    let m = |j: usize, i: usize| mask[j * bl + i].to_f64();
                    for col in 0..w {
                        let (c, j) = (lay.group_output(col), lay.group_pattern(col));
                        let sign = WeightLayout::side_sign(lay.group_side(col));
                        for i in 0..bl {
                            sa[(i, col)] = sign * m(j, i) * lam[(b0 + i, c)].to_f64();
                        }
                    }
                    if relu {
                        for col in 0..wb {
                            for i in 0..bl {
                                let mu = (-rho_sigma * sh.nu[col * nr + (b0 - r0) + i].to_f64()).max(0.0);
                                sb[(i, col)] = (2.0 * m(lay.group_pattern(col), i) - 1.0) * mu;
                            }
                        }
                    }
                    // each widened block of X serves both products
                    let mut pairs = [(sa.as_ref().subrows(0, bl), a.as_mut()), (sb.as_ref().subrows(0, bl), b.as_mut())];
                    self.x.tmul_block_add_f64(b0, bl, &mut pairs[..if relu { 2 } else { 1 }], &mut xb);
                }
                (a, b)
            })
            .collect();
        let (mut a, mut b) = tree_reduce(parts, |(a1, b1), (a2, b2)| (a1 + a2, b1 + b2));
        sum_mat(a.as_mut(), &*self.comm);
        if relu {
            sum_mat(b.as_mut(), &*self.comm);
        }
        (a, b)
    }

    /// The d × d Gram XᵀX, summed over shards and row blocks (a whole-matrix product would
    /// let the GEMM pack copies of X, doubling the peak memory).
    pub fn gram(&self) -> Mat<T> {
        let d = self.d();
        let parts: Vec<Mat<T>> = self
            .shards
            .par_iter()
            .map(|sh| {
                let mut k = Mat::<T>::zeros(d, d);
                self.x.gram_rows_add(sh.rows.clone(), k.as_mut());
                k
            })
            .collect();
        let mut k = tree_reduce(parts, |a, b| a + b);
        sum_mat(k.as_mut(), &*self.comm);
        k
    }
}

/// Row blocks `(start, len)` covering `rows`.
fn blocks(rows: &Range<usize>) -> impl Iterator<Item = (usize, usize)> {
    let (s, e) = (rows.start, rows.end);
    (s..e).step_by(BLOCK).map(move |b| (b, BLOCK.min(e - b)))
}

/// Disjoint row views of `m`, one per shard.
fn split_rows<'a, T: Real>(mut m: MatMut<'a, T>, shards: &[Shard<T>]) -> Vec<MatMut<'a, T>> {
    let mut out = Vec::with_capacity(shards.len());
    for sh in shards {
        let (head, tail) = m.split_at_row_mut(sh.rows.len());
        out.push(head);
        m = tail;
    }
    out
}

/// `out = Σ_shards acc[:, c0 .. c0 + out.ncols()]` in the tree order of
/// [`comm::tree_reduce`], then summed over ranks.
fn reduce_into<T: Real>(mut out: MatMut<'_, T>, shards: &[Shard<T>], c0: usize, comm: &dyn Comm) {
    let w = out.ncols();
    let leaf = |i: usize| shards[i].acc.as_ref().subcols(c0, w);
    tree_into(out.as_mut(), 0, shards.len().next_power_of_two(), shards.len(), &leaf);
    sum_mat(out, comm);
}

/// `out = Σ leaves lo .. min(lo + span, n)` (span a power of two), left half + right half:
/// the same association as [`comm::tree_reduce`], without its per-node allocations for the
/// common one- and two-shard cases.
fn tree_into<'a, T: Real>(mut out: MatMut<'_, T>, lo: usize, span: usize, n: usize, leaf: &dyn Fn(usize) -> MatRef<'a, T>) {
    if span == 1 {
        out.copy_from(leaf(lo));
        return;
    }
    let h = span / 2;
    tree_into(out.as_mut(), lo, h, n, leaf);
    if lo + h < n {
        if h == 1 {
            out += leaf(lo + 1);
        } else {
            let mut right = Mat::<T>::zeros(out.nrows(), out.ncols());
            tree_into(right.as_mut(), lo + h, h, n, leaf);
            out += right;
        }
    }
}

/// Sums a matrix over ranks in place (no-op on one rank).
fn sum_mat<T: Real>(mut m: MatMut<'_, T>, comm: &dyn Comm) {
    if comm.size() == 1 {
        return;
    }
    let (r, c) = (m.nrows(), m.ncols());
    match m.as_mut().try_as_col_major_mut() {
        Some(v) if c <= 1 || v.col_stride() == r as isize => {
            // contiguous: sum in place
            // SAFETY: column-major with column stride = rows, so the r·c entries are one block.
            let s = unsafe { std::slice::from_raw_parts_mut(v.as_ptr_mut(), r * c) };
            comm::sum_real(comm, s);
        }
        _ => {
            let mut buf: Vec<T> = (0..c).flat_map(|j| (0..r).map(move |i| (i, j))).map(|(i, j)| m[(i, j)]).collect();
            comm::sum_real(comm, &mut buf);
            for j in 0..c {
                for i in 0..r {
                    m[(i, j)] = buf[j * r + i];
                }
            }
        }
    }
}

