//! The optimality certificate: a dual-feasible point built from the iterates, giving a lower
//! bound on the optimal value, hence a certified relative gap for every solution.
//!
//! For one output, weak duality of the (ReLU) program gives, for any λ ∈ Rⁿ and multipliers
//! μ_g ≥ 0 with ‖F_gᵀλ + G_gᵀμ_g‖₂ ≤ β for every group g,
//!
//!   p* ≥ ⟨λ, y⟩ − ½‖λ‖².
//!
//! We take the residual λ = y − Fz of the returned weights and μ_g = t_g·max(0, −ρσν_g) from
//! the cone duals (exact at the optimum by the KKT conditions, with t_g = 1), t_g ≥ 0 chosen per
//! group to minimise ‖q_g‖, then scale λ and μ by the largest
//! t ≤ β / max_g‖q_g‖ (q_g = F_gᵀλ + G_gᵀμ_g) that keeps them feasible, choosing t to
//! maximise the concave bound t⟨λ,y⟩ − ½t²‖λ‖². Gated ReLU has no μ. Outputs are
//! independent problems, so bounds and objectives add up.

use crate::admm::AdmmState;
use crate::design::Design;
use crate::real::Real;
use crate::system::System;
use faer::{Mat, MatRef};

/// Objective, lower bound and gap of the current iterate.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Certificate {
    /// ½‖Fz − y‖² + β Σ‖z_g‖, summed over outputs (in the user's scaling).
    pub objective: f64,
    /// Certified lower bound on the optimal value.
    pub lower_bound: f64,
    /// (objective − lower_bound) / objective.
    pub relative_gap: f64,
    /// Per-output objectives.
    pub objectives: Vec<f64>,
    /// Per-output lower bounds.
    pub lower_bounds: Vec<f64>,
}

/// Buffers of the certificate pass.
pub struct CertWorkspace<T: Real> {
    fz: Mat<T>,
    lam: Mat<T>,
    q: Vec<T>,
    qb: Vec<T>,
}

impl<T: Real> CertWorkspace<T> {
    /// Buffers for n rows, k outputs and weights of length `len`.
    pub fn new(n: usize, k: usize, len: usize) -> Self {
        CertWorkspace { fz: Mat::zeros(n, k), lam: Mat::zeros(n, k), q: vec![T::default(); len], qb: vec![T::default(); len] }
    }
    /// F z of the last certificate (n × k), i.e. the training predictions of the convex model.
    pub fn predictions(&self) -> MatRef<'_, T> {
        self.fz.as_ref()
    }
}

/// Computes the certificate at `st.z`. Also leaves Fz in the workspace.
pub fn certify<T: Real>(
    st: &AdmmState<T>,
    design: &mut Design<T>,
    sys: &mut System<T>,
    y: MatRef<'_, T>,
    beta: &[f64],
    sigma: f64,
    ws: &mut CertWorkspace<T>,
) -> Certificate {
    let (n, k, d, nbd) = (y.nrows(), y.ncols(), sys.d, sys.block_len());
    sys.f(design, &st.z, ws.fz.as_mut());
    // λ = y − Fz, stored in place of Fz temporarily
    let lam = &mut ws.lam;
    for c in 0..k {
        for i in 0..n {
            lam[(i, c)] = y[(i, c)] - ws.fz[(i, c)];
        }
    }
    if sys.relu {
        design.certificate_pass(ws.lam.as_ref(), T::from_f64(st.rho * sigma), crate::system::view_mut(&mut ws.q, d), crate::system::view_mut(&mut ws.qb, d));
        // per group, the best multiple t ≥ 0 of the ADMM multipliers: q = a + t·b with
        // t = argmin ‖a + t b‖ (any μ ≥ 0 keeps the bound valid, so this only tightens it)
        for g in 0..ws.q.len() / d {
            let s = g * d..(g + 1) * d;
            let (ab, bb) = (crate::real::dot(&ws.q[s.clone()], &ws.qb[s.clone()]), crate::real::sum_sq(&ws.qb[s.clone()]));
            let t = if bb > 0.0 { (-ab / bb).max(0.0) } else { 0.0 };
            let t = T::from_f64(t);
            for i in s {
                ws.q[i] += t * ws.qb[i];
            }
        }
    } else {
        sys.ft(design, ws.lam.as_ref(), &mut ws.q);
    }
    let mut out = Certificate::default();
    for c in 0..k {
        let (mut ly, mut ll) = (0.0, 0.0);
        for i in 0..n {
            let l = ws.lam[(i, c)].to_f64();
            ly += l * y[(i, c)].to_f64();
            ll += l * l;
        }
        let (mut qmax, mut reg): (f64, f64) = (0.0, 0.0);
        for g in 0..sys.nb {
            let s = c * nbd + g * d..c * nbd + (g + 1) * d;
            qmax = qmax.max(crate::real::sum_sq(&ws.q[s.clone()]).sqrt());
            reg += crate::real::sum_sq(&st.z[s]).sqrt();
        }
        let obj = 0.5 * ll + beta[c] * reg;
        let tmax = if qmax > 0.0 { beta[c] / qmax } else { f64::INFINITY };
        let t = if ll > 0.0 { (ly / ll).clamp(0.0, tmax) } else { 0.0 };
        let lb = (t * ly - 0.5 * t * t * ll).max(0.0);
        out.objectives.push(obj);
        out.lower_bounds.push(lb);
    }
    out.objective = out.objectives.iter().sum();
    out.lower_bound = out.lower_bounds.iter().sum();
    out.relative_gap = if out.objective > 0.0 { (out.objective - out.lower_bound) / out.objective } else { 0.0 };
    out
}
