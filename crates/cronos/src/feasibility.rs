//! What the returned weights are worth as a network. The convex model predicts
//! Σ_j D_j X̃(v_j − w_j) with the sampled patterns D_j; the recovered ReLU network predicts
//! Σ_j (X̃v_j)₊ − (X̃w_j)₊. The two agree exactly when the cone constraints
//! (2D_j − I)X̃v_j ≥ 0, (2D_j − I)X̃w_j ≥ 0 hold. An iterate that is not yet feasible (an
//! iteration or time limit) can have a convex objective *below* the certified lower bound, which
//! only bounds feasible points: these two numbers say how far off it is. Gated ReLU has no
//! constraints and its network is the convex model (violation 0, same objective).

use crate::design::Design;
use crate::layout::{WeightLayout, SIDE_V, SIDE_W};
use crate::loss::LossData;
use crate::real::Real;
use faer::{Mat, Par};

/// Rows per block of the pass (bounds the memory of X̃Z to a block).
const BLOCK: usize = 2048;

/// Cone-constraint violation and recovered-network objective of weights z.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Feasibility {
    /// The largest wrong-sign pre-activation max(0, −(2D_j − I)X̃z_j) over rows and blocks,
    /// relative to the largest |X̃z_j|: 0 when every constraint holds (always 0 for gated ReLU).
    pub constraint_violation: f64,
    /// ℓ(network predictions) + β Σ‖z_g‖: the objective of the recovered two-layer network
    /// (its weight decay ½Σ(‖u‖² + α²) equals β Σ‖z_g‖), in the user's units.
    pub network_objective: f64,
}

/// [`Feasibility`] of `z` (in `layout`, see [`crate::layout`]). `convex_objective` is
/// returned for gated ReLU. Sums and maxima over rows are also taken over ranks.
pub fn feasibility<T: Real>(
    z: &[T],
    design: &Design<T>,
    loss: &LossData<T>,
    beta: &[f64],
    layout: &WeightLayout,
    convex_objective: f64,
) -> Feasibility {
    if !layout.relu() {
        return Feasibility { constraint_violation: 0.0, network_objective: convex_objective };
    }
    let (x, pat) = (design.x(), design.patterns());
    let (n, d, k, p) = (x.nrows(), x.ncols(), loss.k(), layout.p());
    let zm = crate::system::view(z, d);
    let mut pred = Mat::<T>::zeros(n, k);
    let (mut wrong, mut largest) = (0.0f64, 0.0f64);
    let mut a = Mat::<T>::zeros(BLOCK.min(n), zm.ncols());
    for r0 in (0..n).step_by(BLOCK) {
        let bl = BLOCK.min(n - r0);
        let mut ab = a.as_mut().subrows_mut(0, bl);
        x.mul_rows(r0, bl, zm, ab.as_mut(), Par::rayon(0));
        for i in 0..bl {
            for j in 0..p {
                let on = pat.get(r0 + i, j);
                for c in 0..k {
                    let mut s = 0.0f64;
                    for side in [SIDE_V, SIDE_W] {
                        let (col, sign) = (layout.block(c, side, j), WeightLayout::side_sign(side));
                        let v = ab[(i, col)].to_f64();
                        s += sign * v.max(0.0);
                        largest = largest.max(v.abs());
                        wrong = wrong.max(if on { -v } else { v });
                    }
                    pred[(r0 + i, c)] += T::from_f64(s);
                }
            }
        }
    }
    let comm = design.comm_arc();
    let wrong = -crate::distributed::min_scalar(&*comm, -wrong.max(0.0));
    let largest = -crate::distributed::min_scalar(&*comm, -largest);
    Feasibility {
        constraint_violation: if largest > 0.0 { wrong / largest } else { 0.0 },
        network_objective: loss.total(pred.as_ref(), &*comm) + crate::certificate::penalty(z, layout, beta),
    }
}
