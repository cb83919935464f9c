//! The operators on the weights and the u-step system (I + FᵀF/ρ + GᵀG) u = rhs.
//!
//! Weights for k outputs are a d × (nb·k) column-major matrix stored in a plain slice
//! (output c owns columns c·nb .. (c+1)·nb: for ReLU the P blocks v_j then the P blocks
//! w_j, for gated ReLU the P blocks u_j; see [`crate::layout`]). Block j of F acts through Δ_j = v_j − w_j, so F
//! and Fᵀ reduce to the design's masked kernels on d × P·k "delta" matrices, and
//! GᵀG = blkdiag(XᵀX) exactly, because (2D_j − I)² = I: one d × d Gram replaces two passes
//! over X in every CG step (for d ≤ n; wide data applies it through X, see [`crate::gram`]).

#![allow(non_snake_case)]

use crate::design::Design;
use crate::gram::GramOp;
use crate::layout::{WeightLayout, SIDE_V, SIDE_W};
use crate::real::Real;
use faer::{Accum, Mat, MatMut, MatRef};

/// A d × w column-major view of a slice.
pub fn view<T: Real>(s: &[T], d: usize) -> MatRef<'_, T> {
    MatRef::from_column_major_slice(s, d, s.len() / d)
}
/// A mutable d × w column-major view of a slice.
pub fn view_mut<T: Real>(s: &mut [T], d: usize) -> MatMut<'_, T> {
    let w = s.len() / d;
    MatMut::from_column_major_slice_mut(s, d, w)
}

/// Shapes, the Gram and the delta buffers shared by every operator on the weights.
pub struct System<T: Real> {
    /// The weight layout (d, P, ReLU or gated, k outputs of the solve). The operators also
    /// accept any other number of outputs of the same shape (e.g. sketch columns).
    pub layout: WeightLayout,
    /// σ²XᵀX, formed (d ≤ n) or applied through X (only used for ReLU).
    pub gram: GramOp<T>,
    delta: Vec<T>,
    q: Vec<T>,
}

impl<T: Real> System<T> {
    /// Builds the operator set for `design` and `k` outputs; `gram` is the formed XᵀX.
    pub fn new(design: &Design<T>, relu: bool, k: usize, gram: Mat<T>) -> Self {
        Self::with_gram(design, relu, k, GramOp::Primal(gram))
    }

    /// As [`System::new`] with the Gram in either form.
    pub fn with_gram(design: &Design<T>, relu: bool, k: usize, gram: GramOp<T>) -> Self {
        let layout = WeightLayout::new(design.d(), design.p(), relu, k);
        System { layout, gram, delta: Vec::new(), q: Vec::new() }
    }

    /// Rows of a weight block (features incl. bias).
    pub fn d(&self) -> usize {
        self.layout.d()
    }

    /// Whether the cone constraints are present (ReLU).
    pub fn relu(&self) -> bool {
        self.layout.relu()
    }

    fn ensure(&mut self, k: usize) {
        let len = self.layout.d() * self.layout.p() * k;
        if self.delta.len() != len {
            self.delta.resize(len, T::default());
            self.q.resize(len, T::default());
        }
    }

    fn to_delta(&mut self, u: &[T], k: usize) {
        let lay = self.layout.with_outputs(k);
        for c in 0..k {
            for j in 0..lay.p() {
                let dst = &mut self.delta[lay.delta_range(c, j)];
                let v = &u[lay.range(c, SIDE_V, j)];
                if lay.relu() {
                    let w = &u[lay.range(c, SIDE_W, j)];
                    for i in 0..dst.len() {
                        dst[i] = v[i] - w[i];
                    }
                } else {
                    dst.copy_from_slice(v);
                }
            }
        }
    }

    /// `out = scale · Fᵀ-expansion of q` (+ for v blocks, − for w blocks), added when `add`.
    fn from_q(&self, out: &mut [T], k: usize, scale: T, add: bool) {
        let lay = self.layout.with_outputs(k);
        for c in 0..k {
            for j in 0..lay.p() {
                let q = &self.q[lay.delta_range(c, j)];
                for side in 0..lay.sides() {
                    let s = scale * T::from_f64(WeightLayout::side_sign(side));
                    let dst = &mut out[lay.range(c, side, j)];
                    for i in 0..dst.len() {
                        dst[i] = if add { dst[i] + s * q[i] } else { s * q[i] };
                    }
                }
            }
        }
    }

    /// F u for k outputs into `out` (n × k).
    pub fn f(&mut self, design: &mut Design<T>, u: &[T], out: MatMut<'_, T>) {
        let k = self.layout.for_len(u.len()).outputs();
        self.ensure(k);
        self.to_delta(u, k);
        design.forward(view(&self.delta, self.layout.d()), out);
    }

    /// Fᵀ r for k outputs (r is n × k) into `out` (weights layout).
    pub fn ft(&mut self, design: &mut Design<T>, r: MatRef<'_, T>, out: &mut [T]) {
        let k = r.ncols();
        self.ensure(k);
        design.backward(r, view_mut(&mut self.q, self.layout.d()));
        self.from_q(out, k, T::from_f64(1.0), false);
    }

    /// `out = FᵀF u`.
    pub fn ftf(&mut self, design: &mut Design<T>, u: &[T], out: &mut [T]) {
        let k = self.layout.for_len(u.len()).outputs();
        self.ensure(k);
        self.to_delta(u, k);
        design.ftf(view(&self.delta, self.layout.d()), view_mut(&mut self.q, self.layout.d()));
        self.from_q(out, k, T::from_f64(1.0), false);
    }

    /// `out = GᵀG u = blkdiag(XᵀX) u` (ReLU), or zero (gated).
    pub fn gtg(&self, u: &[T], out: &mut [T]) {
        if self.relu() {
            self.gram.apply(view(u, self.layout.d()), view_mut(out, self.layout.d()), Accum::Replace);
        } else {
            out.fill(T::default());
        }
    }

    /// The u-step operator: `out = u + FᵀF u / ρ + GᵀG u`.
    pub fn apply(&mut self, design: &mut Design<T>, rho: T, u: &[T], out: &mut [T]) {
        let k = self.layout.for_len(u.len()).outputs();
        self.ensure(k);
        self.to_delta(u, k);
        design.ftf(view(&self.delta, self.layout.d()), view_mut(&mut self.q, self.layout.d()));
        if self.relu() {
            out.copy_from_slice(u);
            self.gram.apply(view(u, self.layout.d()), view_mut(out, self.layout.d()), Accum::Add);
        } else {
            out.copy_from_slice(u);
        }
        self.from_q(out, k, T::from_f64(1.0) / rho, true);
    }
}
