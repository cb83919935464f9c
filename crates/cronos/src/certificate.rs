//! The optimality certificate: a dual-feasible point built from the iterates, giving a lower
//! bound on the optimal value, hence a certified relative gap for every solution.
//!
//! For one output, weak duality of the (ReLU) program gives, for any λ ∈ Rⁿ and multipliers
//! μ_g ≥ 0 with ‖F_gᵀλ + G_gᵀμ_g‖₂ ≤ β for every group g,
//!
//!   p* ≥ −ℓ*(−λ)    (= ⟨λ, y⟩ − ½‖λ‖² for the squared loss; see [`crate::loss`] for the others).
//!
//! We take λ = −∇ℓ(Fz) at the returned weights (the residual y − Fz for the squared loss) and μ_g = t_g·max(0, −ρσν_g) from
//! the cone duals (exact at the optimum by the KKT conditions, with t_g = 1), t_g ≥ 0 chosen per
//! group to minimise ‖q_g‖, then scale λ and μ by the largest
//! t ≤ β / max_g‖q_g‖ (q_g = F_gᵀλ + G_gᵀμ_g) that keeps them feasible, choosing t to
//! maximise the concave bound −ℓ*(−tλ) (in closed form for the squared loss, by golden-section
//! search otherwise). Gated ReLU has no μ. Outputs are independent problems for separable
//! losses, so bounds and objectives add up; a coupled loss (softmax) gets one bound, reported
//! in the first output's entry.

use crate::admm::AdmmState;
use crate::design::Design;
use crate::layout::WeightLayout;
use crate::loss::{Loss, LossData};
use crate::real::Real;
use crate::system::System;
use faer::{Mat, MatRef};

/// Objective, lower bound and gap of the current iterate.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Certificate {
    /// ℓ(Fz) + β Σ‖z_g‖, summed over outputs (in the user's scaling).
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
    loss: &LossData<T>,
    beta: &[f64],
    sigma: f64,
    ws: &mut CertWorkspace<T>,
) -> Certificate {
    let (k, lay) = (loss.k(), sys.layout.for_len(st.z.len()));
    sys.f(design, &st.z, ws.fz.as_mut());
    loss.neg_grad(ws.fz.as_ref(), ws.lam.as_mut());
    // the dual-feasibility scale max_g ‖q_g‖ per output: in f64 for an f32 solve, where an
    // f32 GEMM's rounding can understate it (measured: a bound 3.7e-9 above Clarabel's optimum)
    let qmax = if T::EPS > 1e-10 {
        dual_scale_f64(design, &lay, ws.lam.as_ref(), st.rho * sigma)
    } else {
        dual_scale(design, sys, ws, T::from_f64(st.rho * sigma), k)
    };
    let mut out = Certificate::default();
    for c in 0..k {
        let reg: f64 = lay.output_group_ranges(c).map(|s| crate::real::sum_sq(&st.z[s]).sqrt()).sum();
        out.objectives.push(beta[c] * reg);
    }
    // sums over rows are also summed over ranks (no-ops in one process)
    let comm = design.comm_arc();
    let mut loss_values = loss.value(ws.fz.as_ref());
    comm.sum_f64(&mut loss_values);
    for (o, v) in out.objectives.iter_mut().zip(loss_values) {
        *o += v;
    }
    let units: Vec<std::ops::Range<usize>> = if loss.loss.coupled() { vec![0..k] } else { (0..k).map(|c| c..c + 1).collect() };
    out.lower_bounds = vec![0.0; k];
    for unit in units {
        let tmax = unit.clone().map(|c| if qmax[c] > 0.0 { beta[c] / qmax[c] } else { f64::INFINITY }).fold(f64::INFINITY, f64::min);
        let hi = tmax.min(crate::distributed::min_scalar(&*comm, loss.t_domain(ws.lam.as_ref(), unit.clone())));
        let lam = ws.lam.as_ref();
        let dual = |t: f64| crate::distributed::sum_scalar(&*comm, loss.dual(lam, unit.clone(), t));
        let t = match loss.loss {
            Loss::Squared => {
                // the bound is t·a − t²·b/2: maximised at a/b
                let (d1, d2) = (dual(1.0), dual(2.0));
                // from D(1) = a − b/2 and D(2) = 2a − 2b
                let b = 2.0 * d1 - d2;
                let a = d1 + 0.5 * b;
                if b > 0.0 { (a / b).clamp(0.0, hi) } else { 0.0 }
            }
            _ => golden_max(dual, 0.0, if hi.is_finite() { hi } else { 1.0 }),
        };
        out.lower_bounds[unit.start] = dual(t).max(0.0);
    }
    out.objective = out.objectives.iter().sum();
    out.lower_bound = out.lower_bounds.iter().sum();
    out.relative_gap = if out.objective > 0.0 { (out.objective - out.lower_bound) / out.objective } else { 0.0 };
    out
}

/// Per output, max_g ‖q_g‖ with q_g = F_gᵀλ (+ t_g G_gᵀμ_g for ReLU), in the solver's type.
fn dual_scale<T: Real>(design: &mut Design<T>, sys: &mut System<T>, ws: &mut CertWorkspace<T>, rho_sigma: T, k: usize) -> Vec<f64> {
    let lay = sys.layout.for_len(ws.q.len());
    let d = lay.d();
    if sys.relu() {
        design.certificate_pass(ws.lam.as_ref(), rho_sigma, crate::system::view_mut(&mut ws.q, d), crate::system::view_mut(&mut ws.qb, d));
        for s in lay.group_ranges() {
            let t = T::from_f64(best_multiple(&ws.q[s.clone()], &ws.qb[s.clone()]));
            for i in s {
                ws.q[i] += t * ws.qb[i];
            }
        }
    } else {
        sys.ft(design, ws.lam.as_ref(), &mut ws.q);
    }
    (0..k)
        .map(|c| lay.output_group_ranges(c).map(|s| crate::real::sum_sq(&ws.q[s]).sqrt()).fold(0.0, f64::max))
        .collect()
}

/// [`dual_scale`] with every product and sum in f64 (for solves in f32).
fn dual_scale_f64<T: Real>(design: &Design<T>, lay: &WeightLayout, lam: MatRef<'_, T>, rho_sigma: f64) -> Vec<f64> {
    let relu = lay.relu();
    let (a, b) = design.certificate_pass_f64(lam, rho_sigma, relu);
    let col = |m: &Mat<f64>, j: usize| -> Vec<f64> { (0..m.nrows()).map(|i| m[(i, j)]).collect() };
    (0..lay.outputs())
        .map(|c| {
            lay.output_groups(c)
                .map(|j| {
                    let q = col(&a, j);
                    if !relu {
                        return crate::real::sum_sq(&q).sqrt();
                    }
                    let qb = col(&b, j);
                    let t = best_multiple(&q, &qb);
                    q.iter().zip(&qb).map(|(x, y)| (x + t * y) * (x + t * y)).sum::<f64>().sqrt()
                })
                .fold(0.0, f64::max)
        })
        .collect()
}

/// t = argmin_{t ≥ 0} ‖a + t b‖: the best multiple of the ADMM cone multipliers (any μ ≥ 0
/// keeps the bound valid, so this only tightens it).
fn best_multiple<T: Real>(a: &[T], b: &[T]) -> f64 {
    let (ab, bb) = (crate::real::dot(a, b), crate::real::sum_sq(b));
    if bb > 0.0 {
        (-ab / bb).max(0.0)
    } else {
        0.0
    }
}

/// β-weighted group norms Σ_g β_c‖z_g‖ (z in `layout`, block g of output c): the
/// objective's regularizer.
pub(crate) fn penalty<T: Real>(z: &[T], layout: &WeightLayout, beta: &[f64]) -> f64 {
    let lay = layout.for_len(z.len());
    (0..lay.groups())
        .map(|g| beta[lay.group_output(g)] * crate::real::sum_sq(&z[lay.group_range(g)]).sqrt())
        .sum()
}

/// Maximiser of a concave function on [a, b] by golden-section search.
fn golden_max(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    const R: f64 = 0.618_033_988_749_895;
    let (mut x1, mut x2) = (b - R * (b - a), a + R * (b - a));
    let (mut f1, mut f2) = (f(x1), f(x2));
    for _ in 0..48 {
        if f1 < f2 {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + R * (b - a);
            f2 = f(x2);
        } else {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - R * (b - a);
            f1 = f(x1);
        }
    }
    // the end points too: the maximiser may sit on the boundary (e.g. the feasibility limit)
    [a, b, 0.5 * (a + b)].into_iter().max_by(|p, q| f(*p).total_cmp(&f(*q))).unwrap_or(a)
}
