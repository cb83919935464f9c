//! Evaluation of a candidate solution: predictions, objective and constraint
//! violation, recomputed from the weights (never taken from clarabel).

use crate::validate::{validate, validate_loss, Inputs};
use crate::{Kind, Loss};

/// One-hot `n × k` row-major targets for [`Loss::Softmax`] from class labels.
///
/// # Panics
/// If a label is `≥ k`.
pub fn one_hot(labels: &[usize], k: usize) -> Vec<f64> {
    let mut y = vec![0.0; labels.len() * k];
    for (j, &l) in labels.iter().enumerate() {
        assert!(l < k, "one_hot: label {l} >= k = {k}");
        y[j * k + l] = 1.0;
    }
    y
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `log(1 + e^a)`, stable.
fn softplus(a: f64) -> f64 {
    a.max(0.0) + (-a.abs()).exp().ln_1p()
}

/// `log Σ e^{r_c}`, stable.
fn logsumexp(r: &[f64]) -> f64 {
    let m = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + r.iter().map(|&t| (t - m).exp()).sum::<f64>().ln()
}

/// Predictions `r = Σ_i D_i X (v_i^c − w_i^c)` (`n × k`, row-major) for
/// weights in the [`OracleSolution`](crate::OracleSolution) layout (`w` ignored for gated ReLU).
///
/// # Panics
/// If the shapes are inconsistent.
#[allow(clippy::too_many_arguments)]
pub fn predictions(
    x: &[f64],
    n: usize,
    d: usize,
    k: usize,
    masks: &[Vec<bool>],
    kind: Kind,
    v: &[Vec<f64>],
    w: &[Vec<f64>],
) -> Vec<f64> {
    let p = masks.len();
    assert_eq!(x.len(), n * d, "predictions: x must be n*d");
    assert!(
        masks.iter().all(|m| m.len() == n),
        "predictions: masks must have length n"
    );
    let w: &[Vec<f64>] = match kind {
        Kind::Relu => w,
        Kind::GatedRelu => &[],
    };
    assert_eq!(v.len(), k * p, "predictions: v must have k*P entries");
    if kind == Kind::Relu {
        assert_eq!(w.len(), k * p, "predictions: w must have k*P entries");
    }
    assert!(
        v.iter().chain(w).all(|g| g.len() == d),
        "predictions: weights must have length d"
    );
    let mut r = vec![0.0; n * k];
    for j in 0..n {
        let row = &x[j * d..(j + 1) * d];
        for c in 0..k {
            let mut acc = 0.0;
            for (i, m) in masks.iter().enumerate() {
                if !m[j] {
                    continue;
                }
                acc += dot(row, &v[c * p + i]);
                if let Some(wi) = w.get(c * p + i) {
                    acc -= dot(row, wi);
                }
            }
            r[j * k + c] = acc;
        }
    }
    r
}

/// Evaluates the objective of `kind` at the given weights (no constraint check).
///
/// `v` holds `P` vectors of length `d` (`u_i` for gated ReLU); `w` holds `P`
/// vectors for ReLU and is ignored for gated ReLU.
///
/// # Panics
/// If the shapes are inconsistent.
#[allow(clippy::too_many_arguments)]
pub fn objective(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    masks: &[Vec<bool>],
    beta: f64,
    kind: Kind,
    v: &[Vec<f64>],
    w: &[Vec<f64>],
) -> f64 {
    validate(x, n, d, y, masks).expect("objective: bad input shapes");
    objective_loss(x, n, d, y, 1, None, masks, beta, kind, Loss::Squared, v, w)
}

/// Evaluates the objective of [`solve_loss`](crate::solve_loss) at the given weights (no
/// constraint check): `Σ_j ω_j loss(r_j, y_j) + β Σ ‖group‖₂`, with `r` from
/// [`predictions`]; `weights = None` means `ω_j = 1`. Weights in the
/// [`OracleSolution`](crate::OracleSolution) layout (`k·P` vectors; `w` ignored for gated ReLU).
///
/// # Panics
/// If the inputs are invalid (as [`solve_loss`](crate::solve_loss) would reject them) or the
/// shapes of `v`, `w` are inconsistent.
#[allow(clippy::too_many_arguments)]
pub fn objective_loss(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    k: usize,
    weights: Option<&[f64]>,
    masks: &[Vec<bool>],
    beta: f64,
    kind: Kind,
    loss: Loss,
    v: &[Vec<f64>],
    w: &[Vec<f64>],
) -> f64 {
    let labels = validate_loss(&Inputs::new(x, n, d, y, k, weights, masks), loss)
        .expect("objective_loss: bad input");
    let r = predictions(x, n, d, k, masks, kind, v, w);
    let w: &[Vec<f64>] = match kind {
        Kind::Relu => w,
        Kind::GatedRelu => &[],
    };
    let mut data = 0.0;
    for j in 0..n {
        let om = weights.map_or(1.0, |wt| wt[j]);
        if om == 0.0 {
            continue;
        }
        let rj = &r[j * k..(j + 1) * k];
        let yj = &y[j * k..(j + 1) * k];
        let lj = match loss {
            Loss::Squared => {
                0.5 * rj
                    .iter()
                    .zip(yj)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            }
            Loss::Logistic => rj.iter().zip(yj).map(|(a, b)| softplus(-a * b)).sum(),
            Loss::Softmax => logsumexp(rj) - rj[labels[j]],
        };
        data += om * lj;
    }
    let reg: f64 = v.iter().chain(w).map(|g| norm(g)).sum();
    data + beta * reg
}

/// Maximum constraint violation `max(0, −min_{i,j} ((2D_i − I) X z_i)_j)` over
/// all groups `z ∈ {v_i, w_i}` for [`Kind::Relu`]; always `0` for
/// [`Kind::GatedRelu`].
///
/// Accepts the single-output layout (`P` groups each) as well as the
/// [`solve_loss`](crate::solve_loss) layout with `k·P` groups (`v[c·P + i]` is checked against
/// mask `i`).
///
/// # Panics
/// If the shapes are inconsistent.
#[allow(clippy::too_many_arguments)]
pub fn max_violation(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    masks: &[Vec<bool>],
    _beta: f64,
    kind: Kind,
    v: &[Vec<f64>],
    w: &[Vec<f64>],
) -> f64 {
    // `y` may be `n` (single output) or `n × k`; only its shape is checked
    let k = y.len().checked_div(n).unwrap_or(1).max(1);
    validate_loss(&Inputs::new(x, n, d, y, k, None, masks), Loss::Squared)
        .expect("max_violation: bad input shapes");
    if kind == Kind::GatedRelu {
        return 0.0;
    }
    let p = masks.len();
    assert!(
        p == 0 || (v.len() % p == 0 && v.len() >= p),
        "max_violation: v must have a multiple of P entries"
    );
    assert_eq!(
        w.len(),
        v.len(),
        "max_violation: w must have as many entries as v"
    );
    if p == 0 {
        return 0.0;
    }
    let mut worst = 0.0f64;
    for (gi, (vi, wi)) in v.iter().zip(w).enumerate() {
        let m = &masks[gi % p];
        for z in [vi, wi] {
            assert_eq!(z.len(), d, "max_violation: weights must have length d");
            for (j, &mj) in m.iter().enumerate() {
                let xz = dot(&x[j * d..(j + 1) * d], z);
                let s = if mj { xz } else { -xz };
                worst = worst.max(-s);
            }
        }
    }
    worst
}
