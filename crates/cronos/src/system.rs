//! The operators on the weights and the u-step system (I + FᵀF/ρ + GᵀG) u = rhs.
//!
//! Weights for k outputs are a d × (nb·k) column-major matrix stored in a plain slice
//! (output c owns columns c·nb .. (c+1)·nb: for ReLU the P blocks v_j then the P blocks
//! w_j, for gated ReLU the P blocks u_j). Block j of F acts through Δ_j = v_j − w_j, so F
//! and Fᵀ reduce to the design's masked kernels on d × P·k "delta" matrices, and
//! GᵀG = blkdiag(XᵀX) exactly, because (2D_j − I)² = I: one d × d Gram replaces two passes
//! over X in every CG step (for d ≤ n; wide data applies it through X, see [`crate::gram`]).

#![allow(non_snake_case)]

use crate::design::Design;
use crate::gram::GramOp;
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
    /// Rows of a weight block (features incl. bias).
    pub d: usize,
    /// Patterns.
    pub p: usize,
    /// Weight blocks per output: 2P (ReLU) or P (gated).
    pub nb: usize,
    /// Whether the cone constraints are present (ReLU).
    pub relu: bool,
    /// σ²XᵀX, formed (d ≤ n) or applied through X (only used for ReLU).
    pub gram: GramOp<T>,
    delta: Vec<T>,
    q: Vec<T>,
}

impl<T: Real> System<T> {
    /// Builds the operator set for `design`; `gram` is the formed XᵀX.
    pub fn new(design: &Design<T>, relu: bool, gram: Mat<T>) -> Self {
        Self::with_gram(design, relu, GramOp::Primal(gram))
    }

    /// As [`System::new`] with the Gram in either form.
    pub fn with_gram(design: &Design<T>, relu: bool, gram: GramOp<T>) -> Self {
        let p = design.p();
        System { d: design.d(), p, nb: if relu { 2 * p } else { p }, relu, gram, delta: Vec::new(), q: Vec::new() }
    }

    /// Length of one output's weight vector, N = d·nb.
    pub fn block_len(&self) -> usize {
        self.d * self.nb
    }

    fn ensure(&mut self, k: usize) {
        let len = self.d * self.p * k;
        if self.delta.len() != len {
            self.delta.resize(len, T::default());
            self.q.resize(len, T::default());
        }
    }

    fn to_delta(&mut self, u: &[T], k: usize) {
        let (d, p, nb) = (self.d, self.p, self.nb);
        for c in 0..k {
            for j in 0..p {
                let dst = &mut self.delta[(c * p + j) * d..(c * p + j + 1) * d];
                let v = &u[(c * nb + j) * d..(c * nb + j + 1) * d];
                if self.relu {
                    let w = &u[(c * nb + p + j) * d..(c * nb + p + j + 1) * d];
                    for i in 0..d {
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
        let (d, p, nb) = (self.d, self.p, self.nb);
        for c in 0..k {
            for j in 0..p {
                let q = &self.q[(c * p + j) * d..(c * p + j + 1) * d];
                let sides: &[(usize, f64)] = if self.relu { &[(0, 1.0), (p, -1.0)] } else { &[(0, 1.0)] };
                for &(off, sg) in sides {
                    let s = scale * T::from_f64(sg);
                    let dst = &mut out[(c * nb + off + j) * d..(c * nb + off + j + 1) * d];
                    for i in 0..d {
                        dst[i] = if add { dst[i] + s * q[i] } else { s * q[i] };
                    }
                }
            }
        }
    }

    /// F u for k outputs into `out` (n × k).
    pub fn f(&mut self, design: &mut Design<T>, u: &[T], out: MatMut<'_, T>) {
        let k = u.len() / self.block_len();
        self.ensure(k);
        self.to_delta(u, k);
        design.forward(view(&self.delta, self.d), out);
    }

    /// Fᵀ r for k outputs (r is n × k) into `out` (weights layout).
    pub fn ft(&mut self, design: &mut Design<T>, r: MatRef<'_, T>, out: &mut [T]) {
        let k = r.ncols();
        self.ensure(k);
        design.backward(r, view_mut(&mut self.q, self.d));
        self.from_q(out, k, T::from_f64(1.0), false);
    }

    /// `out = FᵀF u`.
    pub fn ftf(&mut self, design: &mut Design<T>, u: &[T], out: &mut [T]) {
        let k = u.len() / self.block_len();
        self.ensure(k);
        self.to_delta(u, k);
        design.ftf(view(&self.delta, self.d), view_mut(&mut self.q, self.d));
        self.from_q(out, k, T::from_f64(1.0), false);
    }

    /// `out = GᵀG u = blkdiag(XᵀX) u` (ReLU), or zero (gated).
    pub fn gtg(&self, u: &[T], out: &mut [T]) {
        if self.relu {
            self.gram.apply(view(u, self.d), view_mut(out, self.d), Accum::Replace);
        } else {
            out.fill(T::default());
        }
    }

    /// The u-step operator: `out = u + FᵀF u / ρ + GᵀG u`.
    pub fn apply(&mut self, design: &mut Design<T>, rho: T, u: &[T], out: &mut [T]) {
        let k = u.len() / self.block_len();
        self.ensure(k);
        self.to_delta(u, k);
        design.ftf(view(&self.delta, self.d), view_mut(&mut self.q, self.d));
        if self.relu {
            out.copy_from_slice(u);
            self.gram.apply(view(u, self.d), view_mut(out, self.d), Accum::Add);
        } else {
            out.copy_from_slice(u);
        }
        self.from_q(out, k, T::from_f64(1.0) / rho, true);
    }
}
