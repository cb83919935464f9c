//! Preconditioned conjugate gradients for k independent systems that share one operator.
//!
//! Vectors are `k` contiguous blocks of length N (one per right-hand side). The operator and
//! the preconditioner act on all k blocks at once, so their products are GEMMs; the scalars
//! α, β are per block, and a block that has converged is frozen while the others go on.

use crate::real::Real;

/// A symmetric positive definite preconditioner: `z = M⁻¹ r` on k blocks.
pub trait Precond<T: Real>: Sync {
    /// Applies M⁻¹ to `r` (k blocks) into `z`.
    fn apply(&self, r: &[T], z: &mut [T], k: usize);
}

/// No preconditioning.
pub struct IdentityPrecond;
impl<T: Real> Precond<T> for IdentityPrecond {
    fn apply(&self, r: &[T], z: &mut [T], _k: usize) {
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

/// Buffers of one PCG call, allocated once and reused.
#[derive(Clone, Debug, Default)]
pub struct PcgWorkspace<T> {
    r: Vec<T>,
    z: Vec<T>,
    p: Vec<T>,
    ap: Vec<T>,
}

impl<T: Real> PcgWorkspace<T> {
    /// Buffers for vectors of total length `len` (all blocks).
    pub fn new(len: usize) -> Self {
        let z = vec![T::default(); len];
        PcgWorkspace { r: z.clone(), z: z.clone(), p: z.clone(), ap: z }
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
        precond.apply(&ws.r, &mut ws.z, k);
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
            precond.apply(&ws.r, &mut ws.z, k);
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
        fn apply(&self, r: &[f64], z: &mut [f64], k: usize) {
            let n = self.0.len();
            for c in 0..k {
                for i in 0..n {
                    z[c * n + i] = r[c * n + i] / self.0[i];
                }
            }
        }
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
