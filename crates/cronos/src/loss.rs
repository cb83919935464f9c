//! Losses beyond the squared one: their value, gradient, proximal operator and convex
//! conjugate (for the certificate), with optional sample weights.
//!
//! | loss | targets y (n × k) | ℓ(r) per row, weight w | −ℓ*(−tλ) at λ = −∇ℓ(r₀) |
//! |---|---|---|---|
//! | `Squared` | any | ½w‖r − y‖² | Σ_c t λ_c y_c − t² λ_c² / 2w |
//! | `Logistic` | ±1 per column | w Σ_c log(1 + e^{−y_c r_c}) | w Σ_c H(t a_c), a = λy/w ∈ [0, 1] |
//! | `Softmax` | one-hot (k ≥ 2) | w (logsumexp(r) − r_label) | w·Entropy(e_label + t(p − e_label)) |
//!
//! H is the binary entropy and p = softmax(r₀): every bound is concave in t and is
//! maximised on the feasible interval by the certificate. The proximal operators
//! argmin_r ℓ(r) + ‖r − v‖²/2τ are elementwise (squared, logistic) or per row (softmax) and
//! solved by safeguarded Newton steps to machine precision.

use crate::error::{invalid_data, Result};
use crate::real::Real;
use faer::{Mat, MatMut, MatRef};
use serde::{Deserialize, Serialize};

/// The data-fitting loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Loss {
    /// ½‖r − y‖²: regression, or classification with ±1 targets (one-vs-all).
    #[default]
    Squared,
    /// Binary logistic loss per output column, targets ±1.
    Logistic,
    /// Multinomial (softmax cross-entropy) loss coupling the k ≥ 2 outputs; one-hot targets.
    Softmax,
}

impl Loss {
    /// Upper bound of the loss's curvature (sets the scale of the split r = Fu).
    pub fn curvature(self) -> f64 {
        match self {
            Loss::Squared => 1.0,
            Loss::Logistic => 0.25,
            Loss::Softmax => 0.5,
        }
    }
    /// Whether outputs are coupled (one certificate and one β for all outputs).
    pub fn coupled(self) -> bool {
        self == Loss::Softmax
    }
}

/// Turns scores into probabilities in place: sigmoid per column (logistic) or softmax per
/// row (softmax).
///
/// # Errors
/// For the squared loss, whose scores are not probabilities.
pub fn scores_to_proba<T: Real>(loss: Loss, mut s: MatMut<'_, T>) -> Result<()> {
    let (n, k) = (s.nrows(), s.ncols());
    match loss {
        Loss::Squared => {
            return Err(invalid_data(
                "model",
                "predict_proba needs a model fitted with the logistic or softmax loss",
            ))
        }
        Loss::Logistic => {
            for c in 0..k {
                for i in 0..n {
                    s[(i, c)] = T::from_f64(sigmoid(s[(i, c)].to_f64()));
                }
            }
        }
        Loss::Softmax => {
            let (mut row, mut p) = (vec![0.0; k], vec![0.0; k]);
            for i in 0..n {
                (0..k).for_each(|c| row[c] = s[(i, c)].to_f64());
                softmax_row(&row, &mut p);
                (0..k).for_each(|c| s[(i, c)] = T::from_f64(p[c]));
            }
        }
    }
    Ok(())
}

/// A loss bound to its targets and sample weights.
#[derive(Clone, Debug)]
pub struct LossData<T: Real> {
    /// Which loss.
    pub loss: Loss,
    y: Mat<T>,
    w: Vec<f64>,
    labels: Vec<usize>,
}

fn log1pexp(a: f64) -> f64 {
    if a > 0.0 {
        a + (-a).exp().ln_1p()
    } else {
        a.exp().ln_1p()
    }
}

fn sigmoid(a: f64) -> f64 {
    if a >= 0.0 {
        1.0 / (1.0 + (-a).exp())
    } else {
        let e = a.exp();
        e / (1.0 + e)
    }
}

fn xlogx(p: f64) -> f64 {
    if p > 0.0 {
        p * p.ln()
    } else {
        0.0
    }
}

/// Softmax of a row into `p`, returning logsumexp.
fn softmax_row(r: &[f64], p: &mut [f64]) -> f64 {
    let m = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for (pi, &ri) in p.iter_mut().zip(r) {
        *pi = (ri - m).exp();
        s += *pi;
    }
    p.iter_mut().for_each(|v| *v /= s);
    m + s.ln()
}

impl<T: Real> LossData<T> {
    /// Checks that `y` fits the loss and the weights are valid (finite, ≥ 0, length n, not all 0).
    ///
    /// # Errors
    /// `InvalidData` naming `y` or `sample_weight` and the offending value.
    pub fn new(loss: Loss, y: MatRef<'_, T>, weights: Option<&[f64]>) -> Result<Self> {
        let (n, k) = (y.nrows(), y.ncols());
        let w = match weights {
            Some(w) => {
                if w.len() != n {
                    return Err(invalid_data(
                        "sample_weight",
                        format!("{} weights for {n} rows", w.len()),
                    ));
                }
                if let Some((i, v)) = w
                    .iter()
                    .enumerate()
                    .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
                {
                    return Err(invalid_data(
                        "sample_weight",
                        format!("weight {v} at row {i}: weights must be finite and >= 0"),
                    ));
                }
                if w.iter().all(|v| *v == 0.0) {
                    return Err(invalid_data("sample_weight", "all weights are zero"));
                }
                w.to_vec()
            }
            None => vec![1.0; n],
        };
        let mut labels = Vec::new();
        match loss {
            Loss::Squared => {}
            Loss::Logistic => {
                for c in 0..k {
                    for i in 0..n {
                        let v = y[(i, c)].to_f64();
                        if v != 1.0 && v != -1.0 {
                            return Err(invalid_data("y", format!("logistic loss needs targets -1/+1, found {v} at row {i}, column {c}")));
                        }
                    }
                }
            }
            Loss::Softmax => {
                if k < 2 {
                    return Err(invalid_data(
                        "y",
                        format!(
                            "softmax loss needs one-hot targets with at least 2 columns, got {k}"
                        ),
                    ));
                }
                labels.reserve(n);
                for i in 0..n {
                    let pos: Vec<usize> = (0..k).filter(|&c| y[(i, c)].to_f64() > 0.0).collect();
                    if pos.len() != 1 {
                        return Err(invalid_data(
                            "y",
                            format!(
                                "softmax loss needs one-hot rows, row {i} has {} positive entries",
                                pos.len()
                            ),
                        ));
                    }
                    labels.push(pos[0]);
                }
            }
        }
        Ok(LossData {
            loss,
            y: y.to_owned(),
            w,
            labels,
        })
    }

    /// Rows n.
    pub fn n(&self) -> usize {
        self.y.nrows()
    }
    /// Outputs k.
    pub fn k(&self) -> usize {
        self.y.ncols()
    }
    /// The targets.
    pub fn y(&self) -> MatRef<'_, T> {
        self.y.as_ref()
    }
    /// Sample weights (all 1 when none were given).
    pub fn weights(&self) -> &[f64] {
        &self.w
    }
    /// Whether every weight is 1 (then the squared loss can stay inside the u-step).
    pub fn unweighted(&self) -> bool {
        self.w.iter().all(|v| *v == 1.0)
    }

    /// Loss value per output at predictions `r` (softmax: the total in entry 0, zeros after).
    pub fn value(&self, r: MatRef<'_, T>) -> Vec<f64> {
        let (n, k) = (self.n(), self.k());
        let mut out = vec![0.0; k];
        match self.loss {
            Loss::Squared | Loss::Logistic => {
                for (c, o) in out.iter_mut().enumerate() {
                    for i in 0..n {
                        let (ri, yi) = (r[(i, c)].to_f64(), self.y[(i, c)].to_f64());
                        *o += self.w[i]
                            * if self.loss == Loss::Squared {
                                0.5 * (ri - yi) * (ri - yi)
                            } else {
                                log1pexp(-yi * ri)
                            };
                    }
                }
            }
            Loss::Softmax => {
                let (mut row, mut p) = (vec![0.0; k], vec![0.0; k]);
                for i in 0..n {
                    (0..k).for_each(|c| row[c] = r[(i, c)].to_f64());
                    out[0] += self.w[i] * (softmax_row(&row, &mut p) - row[self.labels[i]]);
                }
            }
        }
        out
    }

    /// ℓ(r) summed over outputs and over the ranks of `comm` (this rank holds its rows of r).
    pub fn total(&self, r: MatRef<'_, T>, comm: &dyn crate::comm::Comm) -> f64 {
        let mut v = self.value(r);
        comm.sum_f64(&mut v);
        v.iter().sum()
    }

    /// λ = −∇ℓ(r) into `lam` (n × k).
    pub fn neg_grad(&self, r: MatRef<'_, T>, mut lam: MatMut<'_, T>) {
        let (n, k) = (self.n(), self.k());
        match self.loss {
            Loss::Squared | Loss::Logistic => {
                for c in 0..k {
                    for i in 0..n {
                        let (ri, yi) = (r[(i, c)].to_f64(), self.y[(i, c)].to_f64());
                        let g = if self.loss == Loss::Squared {
                            yi - ri
                        } else {
                            yi * sigmoid(-yi * ri)
                        };
                        lam[(i, c)] = T::from_f64(self.w[i] * g);
                    }
                }
            }
            Loss::Softmax => {
                let (mut row, mut p) = (vec![0.0; k], vec![0.0; k]);
                for i in 0..n {
                    (0..k).for_each(|c| row[c] = r[(i, c)].to_f64());
                    softmax_row(&row, &mut p);
                    for c in 0..k {
                        let e = if c == self.labels[i] { 1.0 } else { 0.0 };
                        lam[(i, c)] = T::from_f64(self.w[i] * (e - p[c]));
                    }
                }
            }
        }
    }

    /// `out = ∇²ℓ(r) v` (n × k; per row for softmax, elementwise otherwise): the loss's part
    /// of the Newton system of [`crate::polish`].
    pub fn hess_vec(&self, r: MatRef<'_, T>, v: MatRef<'_, T>, mut out: MatMut<'_, T>) {
        let (n, k) = (self.n(), self.k());
        match self.loss {
            Loss::Squared | Loss::Logistic => {
                for c in 0..k {
                    for i in 0..n {
                        let h = if self.loss == Loss::Squared {
                            1.0
                        } else {
                            let s = sigmoid(self.y[(i, c)].to_f64() * r[(i, c)].to_f64());
                            s * (1.0 - s)
                        };
                        out[(i, c)] = T::from_f64(self.w[i] * h * v[(i, c)].to_f64());
                    }
                }
            }
            Loss::Softmax => {
                let (mut row, mut p) = (vec![0.0; k], vec![0.0; k]);
                for i in 0..n {
                    (0..k).for_each(|c| row[c] = r[(i, c)].to_f64());
                    softmax_row(&row, &mut p);
                    let pv: f64 = (0..k).map(|c| p[c] * v[(i, c)].to_f64()).sum();
                    for c in 0..k {
                        out[(i, c)] = T::from_f64(self.w[i] * p[c] * (v[(i, c)].to_f64() - pv));
                    }
                }
            }
        }
    }

    /// The diagonal of ∇²ℓ(r) per entry (n × k): the weights of the diagonal blocks of the
    /// Newton matrix in the ReLU endgame's block preconditioner (for softmax, the diagonal of
    /// each row's k × k Hessian).
    pub fn hess_diag(&self, r: MatRef<'_, T>, mut out: MatMut<'_, T>) {
        let (n, k) = (self.n(), self.k());
        let mut p = vec![0.0; if self.loss == Loss::Softmax { k } else { 0 }];
        let mut row = p.clone();
        for i in 0..n {
            if self.loss == Loss::Softmax {
                (0..k).for_each(|c| row[c] = r[(i, c)].to_f64());
                softmax_row(&row, &mut p);
            }
            for c in 0..k {
                let h = match self.loss {
                    Loss::Squared => 1.0,
                    Loss::Logistic => {
                        let s = sigmoid(self.y[(i, c)].to_f64() * r[(i, c)].to_f64());
                        s * (1.0 - s)
                    }
                    Loss::Softmax => p[c] * (1.0 - p[c]),
                };
                out[(i, c)] = T::from_f64(self.w[i] * h);
            }
        }
    }

    /// The dual value −ℓ*(−tλ) restricted to `outputs` (all outputs for a coupled loss), and
    /// the largest t at which it is finite.
    pub fn dual(&self, lam: MatRef<'_, T>, outputs: std::ops::Range<usize>, t: f64) -> f64 {
        let n = self.n();
        let mut v = 0.0;
        match self.loss {
            Loss::Squared => {
                for c in outputs {
                    for i in 0..n {
                        let (l, w) = (lam[(i, c)].to_f64(), self.w[i]);
                        if w > 0.0 {
                            v += t * l * self.y[(i, c)].to_f64() - 0.5 * t * t * l * l / w;
                        }
                    }
                }
            }
            Loss::Logistic => {
                for c in outputs {
                    for i in 0..n {
                        let w = self.w[i];
                        if w > 0.0 {
                            let a = (t * lam[(i, c)].to_f64() * self.y[(i, c)].to_f64() / w)
                                .clamp(0.0, 1.0);
                            v -= w * (xlogx(a) + xlogx(1.0 - a));
                        }
                    }
                }
            }
            Loss::Softmax => {
                for i in 0..n {
                    let w = self.w[i];
                    if w > 0.0 {
                        let mut ent = 0.0;
                        for c in outputs.clone() {
                            // q = e_y + t(p − e_y) with p − e_y = −λ/w
                            let e = if c == self.labels[i] { 1.0 } else { 0.0 };
                            ent -= xlogx((e - t * lam[(i, c)].to_f64() / w).max(0.0));
                        }
                        v += w * ent;
                    }
                }
            }
        }
        v
    }

    /// Largest t keeping tλ in the conjugate's domain (∞ for the squared loss).
    pub fn t_domain(&self, lam: MatRef<'_, T>, outputs: std::ops::Range<usize>) -> f64 {
        let mut t = f64::INFINITY;
        for c in outputs {
            for i in 0..self.n() {
                let w = self.w[i];
                let a = match self.loss {
                    Loss::Squared => continue,
                    Loss::Logistic => {
                        lam[(i, c)].to_f64() * self.y[(i, c)].to_f64() / w.max(1e-300)
                    }
                    // q_label = 1 − tλ_label/w ≥ 0
                    Loss::Softmax if c == self.labels[i] => lam[(i, c)].to_f64() / w.max(1e-300),
                    Loss::Softmax => continue,
                };
                if a > 0.0 {
                    t = t.min(1.0 / a);
                }
            }
        }
        t
    }

    /// r = argmin ℓ(r) + ‖r − v‖² / 2τ, row by row, in place on `r` (which holds v on entry).
    pub fn prox(&self, mut r: MatMut<'_, T>, tau: f64) {
        let (n, k) = (self.n(), self.k());
        match self.loss {
            Loss::Squared => {
                for c in 0..k {
                    for i in 0..n {
                        let (v, wt) = (r[(i, c)].to_f64(), self.w[i] * tau);
                        r[(i, c)] = T::from_f64((v + wt * self.y[(i, c)].to_f64()) / (1.0 + wt));
                    }
                }
            }
            Loss::Logistic => {
                for c in 0..k {
                    for i in 0..n {
                        let (v, y, wt) =
                            (r[(i, c)].to_f64(), self.y[(i, c)].to_f64(), self.w[i] * tau);
                        r[(i, c)] = T::from_f64(prox_logistic(v, y, wt));
                    }
                }
            }
            Loss::Softmax => {
                let mut buf = SoftmaxProx::new(k);
                for i in 0..n {
                    (0..k).for_each(|c| buf.v[c] = r[(i, c)].to_f64());
                    buf.solve(self.labels[i], self.w[i] * tau);
                    (0..k).for_each(|c| r[(i, c)] = T::from_f64(buf.r[c]));
                }
            }
        }
    }
}

/// argmin_r wt·log(1 + e^{−y r}) + (r − v)²/2: the root of a monotone function, bracketed
/// between v and v + wt·y; Newton steps that leave the bracket are replaced by bisection.
fn prox_logistic(v: f64, y: f64, wt: f64) -> f64 {
    if wt == 0.0 {
        return v;
    }
    let (mut lo, mut hi) = if y > 0.0 { (v, v + wt) } else { (v - wt, v) };
    let mut r = v + 0.5 * wt * y * sigmoid(-y * v);
    for _ in 0..100 {
        let s = sigmoid(-y * r);
        let g = -wt * y * s + (r - v);
        if g > 0.0 {
            hi = r;
        } else {
            lo = r;
        }
        let h = wt * s * (1.0 - s) + 1.0;
        let mut next = r - g / h;
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - r).abs() <= 1e-15 * (1.0 + r.abs()) || hi - lo <= 1e-15 * (1.0 + r.abs()) {
            return next;
        }
        r = next;
    }
    r
}

/// wt·(logsumexp(x) − x_label) + ‖x − v‖²/2, leaving softmax(x) in `p`.
fn prox_objective(x: &[f64], v: &[f64], p: &mut [f64], label: usize, wt: f64) -> f64 {
    let lse = softmax_row(x, p);
    wt * (lse - x[label]) + 0.5 * x.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum::<f64>()
}

/// Newton's method for one softmax row, with the Hessian wt(diag p − ppᵀ) + I inverted by
/// Sherman–Morrison and a backtracking line search on the (strongly convex) objective.
struct SoftmaxProx {
    v: Vec<f64>,
    r: Vec<f64>,
    p: Vec<f64>,
    g: Vec<f64>,
    dir: Vec<f64>,
    trial: Vec<f64>,
}

impl SoftmaxProx {
    fn new(k: usize) -> Self {
        SoftmaxProx {
            v: vec![0.0; k],
            r: vec![0.0; k],
            p: vec![0.0; k],
            g: vec![0.0; k],
            dir: vec![0.0; k],
            trial: vec![0.0; k],
        }
    }
    fn solve(&mut self, label: usize, wt: f64) {
        let k = self.v.len();
        self.r.copy_from_slice(&self.v);
        if wt == 0.0 {
            return;
        }
        let mut f = prox_objective(&self.r, &self.v, &mut self.p, label, wt);
        for _ in 0..50 {
            for c in 0..k {
                let e = if c == label { 1.0 } else { 0.0 };
                self.g[c] = wt * (self.p[c] - e) + self.r[c] - self.v[c];
            }
            // (D − wt p pᵀ)⁻¹ g with D = diag(1 + wt p)
            let (mut pdg, mut pdp) = (0.0, 0.0);
            for c in 0..k {
                let dc = 1.0 + wt * self.p[c];
                pdg += self.p[c] * self.g[c] / dc;
                pdp += self.p[c] * self.p[c] / dc;
            }
            let coef = wt * pdg / (1.0 - wt * pdp).max(1e-300);
            let mut dec = 0.0;
            for c in 0..k {
                let dc = 1.0 + wt * self.p[c];
                self.dir[c] = -(self.g[c] / dc + coef * self.p[c] / dc);
                dec -= self.g[c] * self.dir[c];
            }
            // converged when the gradient is at rounding level (a test on the decrease of f
            // could never pass there: f's own rounding is larger)
            let gmax = self.g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if gmax <= 1e-14 * (1.0 + wt + self.r.iter().fold(0.0f64, |m, v| m.max(v.abs()))) {
                return;
            }
            // near the solution (tiny Newton decrement) the full step is taken: f cannot
            // resolve the decrease any more and Newton converges quadratically there
            let mut step = 1.0;
            loop {
                for c in 0..k {
                    self.trial[c] = self.r[c] + step * self.dir[c];
                }
                let ft = prox_objective(&self.trial, &self.v, &mut self.p, label, wt);
                if ft <= f - 0.25 * step * dec || dec <= 1e-12 * (1.0 + f.abs()) {
                    self.r.copy_from_slice(&self.trial);
                    f = ft;
                    break;
                }
                step *= 0.5;
                if step < 1e-10 {
                    // no decrease measurable along a descent direction: at the solution
                    prox_objective(&self.r, &self.v, &mut self.p, label, wt);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prox's optimality condition ∇ℓ(r) + (r − v)/τ = 0, to rounding, over a range of
    /// scales (including saturated logits), and far fewer objective evaluations than the cap.
    #[test]
    fn proximal_operators_satisfy_their_optimality_conditions() {
        let (n, k) = (7, 3);
        let y = Mat::<f64>::from_fn(n, k, |i, c| if (i + c) % 3 == 0 { 1.0 } else { -1.0 });
        let onehot = Mat::<f64>::from_fn(n, k, |i, c| (c == i % k) as u8 as f64);
        let w: Vec<f64> = (0..n).map(|i| 0.5 + i as f64).collect();
        for (loss, y) in [
            (Loss::Logistic, &y),
            (Loss::Softmax, &onehot),
            (Loss::Squared, &y),
        ] {
            let ld = LossData::new(loss, y.as_ref(), Some(&w)).unwrap();
            for (tau, sc) in [(1e-3, 1.0), (1.0, 1.0), (50.0, 1.0), (1.0, 40.0)] {
                let v =
                    Mat::<f64>::from_fn(n, k, |i, c| sc * ((i * 7 + c * 3) % 5) as f64 - 2.0 * sc);
                let mut r = v.clone();
                ld.prox(r.as_mut(), tau);
                let mut lam = Mat::<f64>::zeros(n, k);
                ld.neg_grad(r.as_ref(), lam.as_mut());
                for c in 0..k {
                    for i in 0..n {
                        let g = -lam[(i, c)] + (r[(i, c)] - v[(i, c)]) / tau;
                        let scale = 1.0 + w[i] + v[(i, c)].abs() / tau;
                        assert!(
                            g.abs() <= 1e-10 * scale,
                            "{loss:?} τ={tau} scale {sc}: residual {g} at ({i},{c})"
                        );
                    }
                }
            }
        }
    }

    /// Fenchel–Young equality at the gradient: −ℓ*(−λ) = ℓ(r) − ⟨∇ℓ(r), r⟩, i.e. the dual
    /// value at t = 1 matches, so the certificate is exact at the optimum.
    #[test]
    fn conjugates_match_fenchel_young_at_the_gradient() {
        let (n, k) = (6, 3);
        let y = Mat::<f64>::from_fn(n, k, |i, c| if (i * c) % 2 == 0 { 1.0 } else { -1.0 });
        let onehot = Mat::<f64>::from_fn(n, k, |i, c| (c == (i * 2) % k) as u8 as f64);
        let w: Vec<f64> = (0..n).map(|i| 1.0 + 0.3 * i as f64).collect();
        for (loss, y) in [
            (Loss::Logistic, &y),
            (Loss::Softmax, &onehot),
            (Loss::Squared, &y),
        ] {
            let ld = LossData::new(loss, y.as_ref(), Some(&w)).unwrap();
            let r = Mat::<f64>::from_fn(n, k, |i, c| 0.7 * i as f64 - 1.1 * c as f64);
            let mut lam = Mat::<f64>::zeros(n, k);
            ld.neg_grad(r.as_ref(), lam.as_mut());
            let value: f64 = ld.value(r.as_ref()).iter().sum();
            let mut inner = 0.0;
            for c in 0..k {
                for i in 0..n {
                    inner += lam[(i, c)] * r[(i, c)];
                }
            }
            // −ℓ*(−λ) = ℓ(r) + ⟨λ, r⟩ with λ = −∇ℓ(r)
            let dual = ld.dual(lam.as_ref(), 0..k, 1.0);
            assert!(
                (dual - (value + inner)).abs() <= 1e-10 * (1.0 + value.abs()),
                "{loss:?}: {dual} vs {}",
                value + inner
            );
            assert!(ld.t_domain(lam.as_ref(), 0..k) >= 1.0);
        }
    }
}
