//! Preconditioned conjugate gradients for k independent systems that share one operator.
//!
//! Vectors are `k` contiguous blocks of length N (one per right-hand side). The operator and
//! the preconditioner act on all k blocks at once, so their products are GEMMs; the scalars
//! α, β are per block, and a block that has converged is frozen while the others go on.
//!
//! This is our own PCG rather than faer's `conjugate_gradient`: faer solves one system (its
//! k columns share one α and β and one stopping test), while the u-step needs k independent
//! systems that share the operator's GEMMs, each with its own step sizes, frozen once it has
//! converged. The preconditioner interface follows faer's shape: [`Precond::scratch_req`]
//! sizes the scratch and [`Precond::apply`] borrows it from the caller ([`PcgWorkspace`] owns
//! it, the way faer's `apply_scratch` and `MemStack` work), so applying a preconditioner
//! takes no lock and allocates nothing.

use crate::real::Real;

/// How much scratch an operation needs: numbers of the solver's type T and of f64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScratchReq {
    /// Numbers of type T.
    pub t: usize,
    /// Numbers of type f64 (mixed-precision steps of an f32 solve).
    pub f64: usize,
}

impl ScratchReq {
    /// `t` numbers of type T and `f64` of type f64.
    pub fn new(t: usize, f64: usize) -> Self {
        ScratchReq { t, f64 }
    }
    /// Both requirements at once (buffers alive together).
    pub fn and(self, o: ScratchReq) -> Self {
        ScratchReq { t: self.t + o.t, f64: self.f64 + o.f64 }
    }
    /// Either requirement (buffers used one after the other).
    pub fn or(self, o: ScratchReq) -> Self {
        ScratchReq { t: self.t.max(o.t), f64: self.f64.max(o.f64) }
    }
}

/// Caller-owned scratch, split off from the front like a stack. Its contents are whatever
/// the last user left: callers must write a buffer before reading it.
pub struct Scratch<'a, T> {
    t: &'a mut [T],
    f: &'a mut [f64],
}

impl<'a, T> Scratch<'a, T> {
    /// Splits `n` numbers of type T off the front.
    ///
    /// # Panics
    /// When fewer than `n` are left: the owner did not size it by the operation's
    /// [`ScratchReq`] (a bug, not bad input).
    pub fn take(self, n: usize) -> (&'a mut [T], Scratch<'a, T>) {
        assert!(n <= self.t.len(), "scratch of {} numbers, {n} needed", self.t.len());
        let (head, t) = self.t.split_at_mut(n);
        (head, Scratch { t, f: self.f })
    }
    /// Splits `n` numbers of type f64 off the front (panics as [`Scratch::take`]).
    pub fn take_f64(self, n: usize) -> (&'a mut [f64], Scratch<'a, T>) {
        assert!(n <= self.f.len(), "f64 scratch of {} numbers, {n} needed", self.f.len());
        let (head, f) = self.f.split_at_mut(n);
        (head, Scratch { t: self.t, f })
    }
    /// The same scratch for a shorter borrow (to lend it and keep it).
    pub fn reborrow(&mut self) -> Scratch<'_, T> {
        Scratch { t: &mut *self.t, f: &mut *self.f }
    }
}

/// Owned scratch buffers that grow to the largest requirement seen.
#[derive(Clone, Debug, Default)]
pub struct ScratchBuf<T> {
    t: Vec<T>,
    f: Vec<f64>,
}

impl<T: Real> ScratchBuf<T> {
    /// Buffers that meet `req`.
    pub fn new(req: ScratchReq) -> Self {
        let mut b = ScratchBuf { t: Vec::new(), f: Vec::new() };
        b.reserve(req);
        b
    }
    /// Grows the buffers to meet `req` (nothing is allocated when they already do).
    pub fn reserve(&mut self, req: ScratchReq) {
        if self.t.len() < req.t {
            self.t.resize(req.t, T::default());
        }
        if self.f.len() < req.f64 {
            self.f.resize(req.f64, 0.0);
        }
    }
    /// The whole buffer as scratch.
    pub fn scratch(&mut self) -> Scratch<'_, T> {
        Scratch { t: &mut self.t, f: &mut self.f }
    }
}

/// A symmetric positive definite preconditioner: `z = M⁻¹ r` on k blocks.
pub trait Precond<T: Real>: Sync {
    /// The scratch [`Precond::apply`] needs for k blocks of total length `len`.
    fn scratch_req(&self, len: usize, k: usize) -> ScratchReq;
    /// Applies M⁻¹ to `r` (k blocks) into `z`, with `scratch` of at least
    /// [`Precond::scratch_req`]`(r.len(), k)`.
    fn apply(&self, r: &[T], z: &mut [T], k: usize, scratch: Scratch<'_, T>);
    /// When [`Precond::apply`] is the exact inverse of the operator it was built for: the
    /// relative residual ‖b − A M⁻¹b‖/‖b‖ its rounding leaves (an estimate). Where that meets
    /// the tolerance, [`pcg`] applies it once instead of iterating.
    fn exact_rounding(&self) -> Option<f64> {
        None
    }
}

/// No preconditioning.
pub struct IdentityPrecond;
impl<T: Real> Precond<T> for IdentityPrecond {
    fn scratch_req(&self, _len: usize, _k: usize) -> ScratchReq {
        ScratchReq::default()
    }
    fn apply(&self, r: &[T], z: &mut [T], _k: usize, _scratch: Scratch<'_, T>) {
        z.copy_from_slice(r);
    }
}

/// What a PCG call did.
#[derive(Clone, Debug, Default)]
pub struct PcgInfo {
    /// Iterations (operator applications after the initial residual).
    pub iterations: usize,
    /// Final ‖b − Ax‖/‖b‖ per block.
    pub rel_residual: Vec<f64>,
    /// Whether every block met the tolerance.
    pub converged: bool,
}

/// Buffers of one PCG call, allocated once and reused, with the preconditioner's scratch.
#[derive(Clone, Debug, Default)]
pub struct PcgWorkspace<T> {
    r: Vec<T>,
    z: Vec<T>,
    p: Vec<T>,
    ap: Vec<T>,
    scratch: ScratchBuf<T>,
}

impl<T: Real> PcgWorkspace<T> {
    /// Buffers for vectors of total length `len` (all blocks). The preconditioner's scratch
    /// is sized by the first [`pcg`] call with it (and grows only for a preconditioner that
    /// needs more, i.e. after a rebuild: never inside the iteration).
    pub fn new(len: usize) -> Self {
        let z = vec![T::default(); len];
        PcgWorkspace { r: z.clone(), z: z.clone(), p: z.clone(), ap: z, scratch: ScratchBuf::default() }
    }
}

fn blk_dot<T: Real>(a: &[T], b: &[T], k: usize, out: &mut [f64]) {
    let n = a.len() / k;
    for c in 0..k {
        out[c] = crate::real::dot(&a[c * n..(c + 1) * n], &b[c * n..(c + 1) * n]);
    }
}

/// Solves A x = b for each of the k blocks, warm-started from `x`, until
/// ‖b − Ax‖ ≤ tol·‖b‖ per block or `max_iter` iterations.
///
/// With an exact preconditioner whose rounding estimate meets `tol`
/// ([`Precond::exact_rounding`]) x = M⁻¹b instead: one application of the inverse (two
/// passes over the data for [`crate::woodbury::WoodburyPrecond`]) in place of the initial
/// residual, preconditioning and step (six), reported as zero iterations with the estimate
/// as the residual (none is computed: that would cost the passes again). Where the estimate
/// does not meet `tol` (f32, small ρ, late iterations) PCG runs from the warm start, whose
/// correction's rounding is relative to the residual, not to x: a direct solve there stalled
/// ADMM (CRONOS-AM's head test at ρ = 1e-4: gap 0.70 for 3,000 iterations).
pub fn pcg<T: Real>(
    mut apply: impl FnMut(&[T], &mut [T]),
    precond: &dyn Precond<T>,
    b: &[T],
    x: &mut [T],
    k: usize,
    tol: f64,
    max_iter: usize,
    ws: &mut PcgWorkspace<T>,
) -> PcgInfo {
    let n = b.len() / k;
    ws.scratch.reserve(precond.scratch_req(b.len(), k));
    if let Some(rounding) = precond.exact_rounding().filter(|&r| r <= tol) {
        precond.apply(b, x, k, ws.scratch.scratch());
        return PcgInfo { iterations: 0, rel_residual: vec![rounding; k], converged: true };
    }
    let mut bnorm = vec![0.0; k];
    blk_dot(b, b, k, &mut bnorm);
    bnorm.iter_mut().for_each(|v| *v = v.sqrt());
    // r = b − A x
    apply(x, &mut ws.ap);
    for i in 0..b.len() {
        ws.r[i] = b[i] - ws.ap[i];
    }
    let mut rr = vec![0.0; k];
    let mut active = vec![true; k];
    let check = |r: &[T], rr: &mut [f64], active: &mut [bool], bnorm: &[f64]| {
        blk_dot(r, r, k, rr);
        for c in 0..k {
            active[c] &= rr[c].sqrt() > tol * bnorm[c] && bnorm[c] > 0.0;
        }
    };
    check(&ws.r, &mut rr, &mut active, &bnorm);
    let mut iterations = 0;
    if active.iter().any(|&a| a) {
        precond.apply(&ws.r, &mut ws.z, k, ws.scratch.scratch());
        ws.p.copy_from_slice(&ws.z);
        let mut rz = vec![0.0; k];
        blk_dot(&ws.r, &ws.z, k, &mut rz);
        let mut pap = vec![0.0; k];
        while iterations < max_iter && active.iter().any(|&a| a) {
            apply(&ws.p, &mut ws.ap);
            iterations += 1;
            blk_dot(&ws.p, &ws.ap, k, &mut pap);
            for c in 0..k {
                if !active[c] {
                    continue;
                }
                if !(pap[c] > 0.0) {
                    active[c] = false; // breakdown: direction of no curvature, keep x
                    continue;
                }
                let alpha = T::from_f64(rz[c] / pap[c]);
                let s = c * n..(c + 1) * n;
                for i in s {
                    x[i] += alpha * ws.p[i];
                    ws.r[i] -= alpha * ws.ap[i];
                }
            }
            check(&ws.r, &mut rr, &mut active, &bnorm);
            if !active.iter().any(|&a| a) {
                break;
            }
            precond.apply(&ws.r, &mut ws.z, k, ws.scratch.scratch());
            for c in 0..k {
                if !active[c] {
                    continue;
                }
                let s = c * n..(c + 1) * n;
                let rz_new = crate::real::dot(&ws.r[s.clone()], &ws.z[s.clone()]);
                let beta = T::from_f64(rz_new / rz[c]);
                rz[c] = rz_new;
                for i in s {
                    ws.p[i] = ws.z[i] + beta * ws.p[i];
                }
            }
        }
    }
    let rel_residual: Vec<f64> =
        (0..k).map(|c| if bnorm[c] > 0.0 { rr[c].sqrt() / bnorm[c] } else { 0.0 }).collect();
    let converged = rel_residual.iter().all(|&r| r <= tol);
    PcgInfo { iterations, rel_residual, converged }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Jacobi(Vec<f64>);
    impl Precond<f64> for Jacobi {
        fn scratch_req(&self, _len: usize, _k: usize) -> ScratchReq {
            ScratchReq::default()
        }
        fn apply(&self, r: &[f64], z: &mut [f64], k: usize, _scratch: Scratch<'_, f64>) {
            let n = self.0.len();
            for c in 0..k {
                for i in 0..n {
                    z[c * n + i] = r[c * n + i] / self.0[i];
                }
            }
        }
    }

    #[test]
    fn scratch_splits_from_the_front_and_grows_only() {
        let mut buf = ScratchBuf::<f64>::new(ScratchReq::new(3, 1).and(ScratchReq::new(2, 0)));
        let (a, rest) = buf.scratch().take(2);
        a.fill(1.0);
        let (b, rest) = rest.take(3);
        b.fill(2.0);
        let (f, _) = rest.take_f64(1);
        f[0] = 3.0;
        buf.reserve(ScratchReq::new(1, 0).or(ScratchReq::new(4, 1)));
        let (all, _) = buf.scratch().take(5);
        assert_eq!(all, &[1.0, 1.0, 2.0, 2.0, 2.0]);
    }

    #[test]
    #[should_panic(expected = "scratch of 2 numbers")]
    fn too_little_scratch_is_caught() {
        let mut buf = ScratchBuf::<f64>::new(ScratchReq::new(2, 0));
        let _ = buf.scratch().take(3);
    }

    #[test]
    fn solves_spd_systems_with_two_rhs() {
        // A = tridiag(-1, 4, -1) scaled by i, n = 30; two right-hand sides
        let n = 30;
        let diag: Vec<f64> = (0..n).map(|i| 4.0 + i as f64).collect();
        let apply = |x: &[f64], y: &mut [f64]| {
            for c in 0..2 {
                let (x, y) = (&x[c * n..(c + 1) * n], &mut y[c * n..(c + 1) * n]);
                for i in 0..n {
                    y[i] = diag[i] * x[i] - if i > 0 { x[i - 1] } else { 0.0 } - if i + 1 < n { x[i + 1] } else { 0.0 };
                }
            }
        };
        let xs: Vec<f64> = (0..2 * n).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut b = vec![0.0; 2 * n];
        apply(&xs, &mut b);
        for pre in [&IdentityPrecond as &dyn Precond<f64>, &Jacobi(diag.clone())] {
            let mut x = vec![0.0; 2 * n];
            let mut ws = PcgWorkspace::new(2 * n);
            let info = pcg(apply, pre, &b, &mut x, 2, 1e-12, 100, &mut ws);
            assert!(info.converged, "{info:?}");
            let err = x.iter().zip(&xs).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(err < 1e-9, "err {err}");
            // warm start at the solution: no iteration needed
            let info2 = pcg(apply, pre, &b, &mut x, 2, 1e-8, 100, &mut ws);
            assert_eq!(info2.iterations, 0);
        }
    }
}
