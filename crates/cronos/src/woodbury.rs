//! The exact u-step inverse through n × n matrices only: for wide data (d > n), and for
//! gated programs on few rows (n ≤ [`crate::gram::EXACT_MAX_ROWS`] and n < P·d), where one
//! application replaces the u-step's PCG ([`crate::pcg::pcg`]).
//!
//! The u-step operator is A = B + FᵀF/ρ with B = blkdiag(I + σ²XᵀX) (ReLU) or B = I
//! (gated). F has only n rows, so Woodbury gives
//!
//!   A⁻¹ = B⁻¹ − B⁻¹Fᵀ (ρI + F B⁻¹ Fᵀ)⁻¹ F B⁻¹,
//!
//! and every piece is n × n:
//! * B⁻¹ = I + Xᵀ f(XXᵀ) X with f(λ) = −σ²/(1 + σ²λ) (from g(XᵀX) = g(0)I + Xᵀ·(g(λ) − g(0))/λ
//!   evaluated at XXᵀ, for g(λ) = 1/(1 + σ²λ); f is bounded, so no 1/λ is ever taken).
//! * F B⁻¹ Fᵀ = Σ_j D_j X B₁⁻¹ Xᵀ D_j (twice for ReLU, whose v and w blocks both act) =
//!   c·(H ∘ C), with H = X B₁⁻¹ Xᵀ = U diag(λ/(1 + σ²λ)) Uᵀ (X Xᵀ itself for gated) and
//!   C = M Mᵀ the co-activation counts of the 0/1 pattern matrix M (n × P).
//!
//! So the preconditioner is the exact inverse (PCG converges in one or two steps), costs six
//! GEMM passes over X per application (two for gated, where B = I), and a new ρ is one
//! n × n Cholesky (plus a few n² power steps for the rounding estimate). Nothing of size
//! d × d and no Nyström sketch is formed: memory is O(nd + n²).

use crate::data::XMat;
use crate::gram::GramEigen;
use crate::layout::{WeightLayout, SIDE_V, SIDE_W};
use crate::patterns::Patterns;
use crate::pcg::{Precond, Scratch, ScratchReq};
use crate::real::Real;
use crate::system::{view, view_mut};
use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use std::sync::Arc;

/// Exact (B + FᵀF/ρ)⁻¹ through n × n matrices (see the module docs).
pub struct WoodburyPrecond<T: Real> {
    x: Arc<XMat<T>>,
    /// The 0/1 patterns, n × P.
    masks: Mat<T>,
    relu: bool,
    /// M of B₁⁻¹ = I + Xᵀ M X (ReLU).
    binv: Option<Mat<T>>,
    /// F B⁻¹ Fᵀ = factor·(H ∘ C), n × n, in the form kept between changes of ρ.
    g: Kernel,
    /// Lower Cholesky factor of ρI + F B⁻¹ Fᵀ.
    chol: Mat<f64>,
    /// When the factor is of ρI + F B⁻¹ Fᵀ itself (no extra shift was needed), so that
    /// `apply` is the exact inverse: the relative residual its rounding leaves, estimated as
    /// [`ROUNDING_SAFETY`]·ε·κ with κ = (ρ + λ_max)/ρ the condition number of the n × n matrix.
    rounding: Option<f64>,
}

/// Safety factor of the rounding estimate: `woodbury_on_tall_rows_is_exact_in_f32_too`
/// (`tests/wide.rs`) measured a relative residual of 0.33·ε·κ in f32 (9.1e-5 at κ = 2,290),
/// so the estimate is about 9× the measured residual.
const ROUNDING_SAFETY: f64 = 3.0;

/// Power iterations for λ_max of the n × n matrix (n² flops each, against the n³/3 of the
/// Cholesky; the estimate only decides between the direct solve and PCG).
const POWER_STEPS: usize = 30;

/// The largest eigenvalue of the symmetric PSD `a`, by power iteration from a fixed start
/// (a lower estimate, close after [`POWER_STEPS`] steps).
fn top_eigenvalue(a: MatRef<'_, f64>) -> f64 {
    let n = a.nrows();
    let mut v = Mat::<f64>::from_fn(n, 1, |i, _| 1.0 + (i % 7) as f64 / 7.0);
    let mut w = Mat::<f64>::zeros(n, 1);
    let mut lam = 0.0;
    for _ in 0..POWER_STEPS {
        let norm = v.norm_l2();
        if !(norm > 0.0) {
            return 0.0;
        }
        v /= faer::Scale(norm);
        matmul(w.as_mut(), Accum::Replace, a, v.as_ref(), 1.0, Par::rayon(0));
        lam = (0..n).map(|i| v[(i, 0)] * w[(i, 0)]).sum::<f64>();
        std::mem::swap(&mut v, &mut w);
    }
    lam
}

/// F B⁻¹ Fᵀ as kept: formed (ReLU, whose H depends on σ), or for gated ReLU as the shared
/// X Xᵀ whose product with the co-activation counts C is re-formed into the Cholesky buffer
/// at each new ρ (C costs n²P flops, far less than the n³/3 of the factorization), so the
/// only n × n matrices held are X Xᵀ and the factor: 2 n² f64 (6.4 GB at n = 20,000).
enum Kernel {
    Formed(Mat<f64>),
    Gated(Arc<Mat<f64>>),
    /// Gated on sparse X: c·X Xᵀ re-formed from X into the factor's buffer at each new ρ,
    /// so the factor is the only n × n matrix held (n² f64: 3.2 GB at n = 20,000).
    GatedSparse(f64),
}

/// Columns per block when C = M Mᵀ is formed block by block.
const CBLOCK: usize = 256;

/// `out = factor · (h ∘ M Mᵀ) + shift·I` (h symmetric n × n, M the n × P 0/1 masks), by
/// column blocks of M Mᵀ so that C itself is never held.
fn hadamard_coactivation(h: &Mat<f64>, m: &Mat<f64>, factor: f64, shift: f64, out: &mut Mat<f64>) {
    out.copy_from(h);
    hadamard_in_place(out, m, factor, shift);
}

impl<T: Real> WoodburyPrecond<T> {
    /// From the dual Gram data (`None` when `eig` is the primal form), the patterns, σ² of the
    /// cone block and the penalty ρ.
    pub fn new(eig: &GramEigen<T>, patterns: &Patterns, relu: bool, sigma2: f64, rho: f64) -> Option<Self> {
        let GramEigen::Dual { x, xxt, scale, eig } = eig else { return None };
        let (n, p) = (x.nrows(), patterns.p());
        let mut masks = Mat::<T>::zeros(n, p);
        {
            let mut buf = vec![T::default(); n * p];
            patterns.unpack_rows(0, n, &mut buf);
            masks.copy_from(MatRef::from_column_major_slice(&buf, n, p));
        }
        let (g, binv) = if relu {
            let (u, lam) = eig.as_ref()?;
            let b = spectral(u, lam, |l| -sigma2 / (1.0 + sigma2 * l));
            let binv = Mat::<T>::from_fn(n, n, |i, j| T::from_f64(b[(i, j)]));
            drop(b);
            let h = spectral(u, lam, |l| l / (1.0 + sigma2 * l));
            let mut g = Mat::<f64>::zeros(n, n);
            hadamard_coactivation(&h, &mask_f64(&masks), 2.0, 0.0, &mut g);
            (Kernel::Formed(g), Some(binv))
        } else {
            match xxt {
                Some(h) => (Kernel::Gated(h.clone()), None),
                None => (Kernel::GatedSparse(*scale), None),
            }
        };
        let mut w = WoodburyPrecond { x: x.clone(), masks, relu, binv, g, chol: Mat::zeros(0, 0), rounding: None };
        w.set_rho(rho);
        Some(w)
    }

    /// Re-targets to a new ρ: one n × n Cholesky of ρI + F B⁻¹ Fᵀ (with a growing shift in the
    /// unlikely case that rounding makes it indefinite: still a good SPD preconditioner).
    pub fn set_rho(&mut self, rho: f64) {
        let n = self.masks.nrows();
        if self.chol.nrows() != n {
            self.chol = Mat::zeros(n, n);
        }
        let m64 = match &self.g {
            Kernel::Gated(_) | Kernel::GatedSparse(_) => Some(mask_f64(&self.masks)),
            Kernel::Formed(_) => None,
        };
        let counts: Vec<f64> = (0..n).map(|i| (0..self.masks.ncols()).map(|j| self.masks[(i, j)].to_f64()).sum()).collect();
        let gmax = match &self.g {
            Kernel::Formed(g) => (0..n).map(|i| g[(i, i)]).fold(0.0, f64::max),
            Kernel::Gated(h) => (0..n).map(|i| h[(i, i)] * counts[i]).fold(0.0, f64::max),
            Kernel::GatedSparse(c) => {
                let sq = self.x.row_sq_norms();
                (0..n).map(|i| c * sq[i] * counts[i]).fold(0.0, f64::max)
            }
        };
        let mut shift = rho;
        for _ in 0..30 {
            match (&self.g, &m64) {
                (Kernel::Formed(g), _) => {
                    self.chol.copy_from(g);
                    for i in 0..n {
                        self.chol[(i, i)] += shift;
                    }
                }
                (Kernel::Gated(h), Some(m)) => hadamard_coactivation(h, m, 1.0, shift, &mut self.chol),
                (Kernel::GatedSparse(c), Some(m)) => {
                    // X Xᵀ into the factor's buffer, then its product with C in place
                    self.x.xxt_into(&mut self.chol);
                    hadamard_in_place(&mut self.chol, m, *c, shift);
                }
                (Kernel::Gated(_) | Kernel::GatedSparse(_), None) => unreachable!(),
            }
            let top = if shift == rho { top_eigenvalue(self.chol.as_ref()) - rho } else { 0.0 };
            if cholesky_lower_in_place(self.chol.as_mut()) {
                self.rounding = (shift == rho).then(|| ROUNDING_SAFETY * T::EPS * (rho + top.max(0.0)) / rho);
                return;
            }
            shift = shift.max(f64::EPSILON * gmax) * 10.0;
        }
        // not reached for finite data: ρI + PSD with a shift of up to 1e30·‖G‖
        self.chol = Mat::from_fn(n, n, |i, j| if i == j { shift.sqrt() } else { 0.0 });
        self.rounding = None;
    }

    /// Bytes held (X is shared with the design and not counted).
    pub fn bytes(&self) -> usize {
        let n = self.masks.nrows();
        let t = std::mem::size_of::<T>();
        let formed = matches!(self.g, Kernel::Formed(_)) as usize;
        self.masks.nrows() * self.masks.ncols() * t + (1 + formed) * n * n * 8 + self.binv.as_ref().map_or(0, |_| n * n * t)
    }

    /// `q ← B₁⁻¹ q = q + Xᵀ M X q` for a d × w block (no-op for gated, where B = I), with
    /// scratch of 2·n·w numbers.
    fn binv_in_place(&self, mut q: MatMut<'_, T>, scratch: Scratch<'_, T>) {
        let Some(m) = &self.binv else { return };
        let x = &*self.x;
        let (n, w) = (x.nrows(), q.ncols());
        let (t, scratch) = scratch.take(n * w);
        let (mt, _) = scratch.take(n * w);
        let mut t = MatMut::from_column_major_slice_mut(t, n, w);
        x.mul(q.as_ref(), t.as_mut());
        let mut mt = MatMut::from_column_major_slice_mut(mt, n, w);
        matmul(mt.as_mut(), Accum::Replace, m.as_ref(), t.as_ref(), T::from_f64(1.0), Par::rayon(0));
        x.tmul_add(mt.as_ref(), q.as_mut(), T::from_f64(1.0));
    }

    /// K⁻¹ t in place for the n × k right-hand sides t, in f64 (`t64`: n·k numbers).
    fn solve_k(&self, mut t: MatMut<'_, T>, t64: &mut [f64]) {
        let mut t64 = MatMut::from_column_major_slice_mut(t64, t.nrows(), t.ncols());
        for j in 0..t.ncols() {
            for i in 0..t.nrows() {
                t64[(i, j)] = t[(i, j)].to_f64();
            }
        }
        solve_lower_triangular_in_place(self.chol.as_ref(), t64.as_mut(), Par::rayon(0));
        solve_upper_triangular_in_place(self.chol.transpose(), t64.as_mut(), Par::rayon(0));
        for j in 0..t.ncols() {
            for i in 0..t.nrows() {
                t[(i, j)] = T::from_f64(t64[(i, j)]);
            }
        }
    }
}

impl<T: Real> Precond<T> for WoodburyPrecond<T> {
    fn scratch_req(&self, _len: usize, k: usize) -> ScratchReq {
        let (n, d, p) = (self.x.nrows(), self.x.ncols(), self.masks.ncols());
        let lay = WeightLayout::new(d, p, self.relu, k);
        // the delta matrix (later Q), then either B₁⁻¹'s two n × nb·k products or the
        // n × P·k products with the n × k right-hand sides; K⁻¹ in f64
        let binv = if self.relu { 2 * n * lay.groups() } else { 0 };
        ScratchReq::new(d * p * k + binv.max(n * p * k + n * k), n * k)
    }

    fn exact_rounding(&self) -> Option<f64> {
        self.rounding
    }
    fn apply(&self, r: &[T], z: &mut [T], k: usize, scratch: Scratch<'_, T>) {
        let (x, n, d, p) = (&*self.x, self.x.nrows(), self.x.ncols(), self.masks.ncols());
        let lay = WeightLayout::new(d, p, self.relu, k);
        let (t64, scratch) = scratch.take_f64(n * k);
        let (delta, mut rest) = scratch.take(d * p * k);
        // z = B⁻¹ r
        z.copy_from_slice(r);
        self.binv_in_place(view_mut(z, d), rest.reborrow());
        // t = F z: Δ_j = z_vj − z_wj, t_c = Σ_j m_j ∘ (X Δ_cj)
        let (y, tail) = rest.reborrow().take(n * p * k);
        let (t, _) = tail.take(n * k);
        let mut y = MatMut::from_column_major_slice_mut(y, n, p * k);
        {
            let mut delta = MatMut::from_column_major_slice_mut(&mut *delta, d, p * k);
            let zv = view(z, d);
            for c in 0..k {
                for j in 0..p {
                    let mut dst = delta.as_mut().col_mut(lay.delta_block(c, j));
                    dst.copy_from(zv.col(lay.block(c, SIDE_V, j)));
                    if self.relu {
                        dst -= zv.col(lay.block(c, SIDE_W, j));
                    }
                }
            }
            x.mul(delta.as_ref(), y.as_mut());
        }
        t.fill(T::default());
        let mut t = MatMut::from_column_major_slice_mut(t, n, k);
        for c in 0..k {
            for j in 0..p {
                for i in 0..n {
                    t[(i, c)] += self.masks[(i, j)] * y[(i, lay.delta_block(c, j))];
                }
            }
        }
        // s = K⁻¹ t, then Q = Xᵀ (m_j ∘ s_c) and z −= B⁻¹ Fᵀ s (v blocks: −B₁⁻¹Q, w: +B₁⁻¹Q);
        // m_j ∘ s_c goes into y's buffer, Q into the delta's
        self.solve_k(t.as_mut(), t64);
        for col in 0..p * k {
            for i in 0..n {
                y[(i, col)] = self.masks[(i, col % p)] * t[(i, col / p)];
            }
        }
        delta.fill(T::default());
        let mut q = MatMut::from_column_major_slice_mut(delta, d, p * k);
        x.tmul_add(y.as_ref(), q.as_mut(), T::from_f64(1.0));
        self.binv_in_place(q.as_mut(), rest.reborrow());
        let mut zm = view_mut(z, d);
        for c in 0..k {
            for j in 0..p {
                let qc = q.as_ref().col(lay.delta_block(c, j));
                let mut v = zm.as_mut().col_mut(lay.block(c, SIDE_V, j));
                v -= qc;
                if self.relu {
                    let mut w = zm.as_mut().col_mut(lay.block(c, SIDE_W, j));
                    w += qc;
                }
            }
        }
    }
}

/// `a ← factor·(a ∘ M Mᵀ) + shift·I` in place, by column blocks of M Mᵀ.
fn hadamard_in_place(a: &mut Mat<f64>, m: &Mat<f64>, factor: f64, shift: f64) {
    let n = a.nrows();
    let mut c = Mat::<f64>::zeros(n, CBLOCK.min(n));
    for j0 in (0..n).step_by(CBLOCK) {
        let bl = CBLOCK.min(n - j0);
        let mut cb = c.as_mut().subcols_mut(0, bl);
        matmul(cb.as_mut(), Accum::Replace, m.as_ref(), m.as_ref().subrows(j0, bl).transpose(), 1.0, Par::rayon(0));
        for jj in 0..bl {
            let j = j0 + jj;
            for i in 0..n {
                a[(i, j)] = factor * a[(i, j)] * cb[(i, jj)] + if i == j { shift } else { 0.0 };
            }
        }
    }
}

/// The 0/1 masks in f64.
fn mask_f64<T: Real>(m: &Mat<T>) -> Mat<f64> {
    Mat::<f64>::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)].to_f64())
}

/// Lower Cholesky factor of the SPD `a` in place (strict upper triangle zeroed); false when
/// a pivot is not positive. In place, so no second n × n matrix is allocated.
fn cholesky_lower_in_place(mut a: MatMut<'_, f64>) -> bool {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
    let n = a.nrows();
    let par = Par::rayon(0);
    let mut buf = MemBuffer::new(cholesky_in_place_scratch::<f64>(n, par, Default::default()));
    let ok = cholesky_in_place(a.as_mut(), Default::default(), par, MemStack::new(&mut buf), Default::default()).is_ok();
    for j in 1..n {
        for i in 0..j {
            a[(i, j)] = 0.0;
        }
    }
    ok
}

/// U diag(f(λ)) Uᵀ.
fn spectral(u: &Mat<f64>, lam: &[f64], f: impl Fn(f64) -> f64) -> Mat<f64> {
    let us = Mat::<f64>::from_fn(u.nrows(), u.ncols(), |i, j| u[(i, j)] * f(lam[j]));
    let mut out = Mat::<f64>::zeros(u.nrows(), u.nrows());
    matmul(out.as_mut(), Accum::Replace, us.as_ref(), u.transpose(), 1.0, Par::rayon(0));
    out
}
