//! Losses on a batch: the squared loss of the CRONOS head subproblem and softmax
//! cross-entropy for end-to-end baselines. Both are means over the batch; sums are
//! accumulated in f64.

use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Which loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// ½‖f(x) − y‖² with ±1 one-vs-all targets (the CRONOS objective's data term).
    Squared,
    /// Softmax cross-entropy on class indices.
    CrossEntropy,
}

/// ±1 one-vs-all targets (row i: +1 at its class, −1 elsewhere), n × k row-major.
pub fn pm1_targets(labels: &[usize], k: usize) -> Tensor {
    let mut y = Tensor::from_vec(vec![-1.0; labels.len() * k], &[labels.len(), k]);
    for (i, &c) in labels.iter().enumerate() {
        y.data[i * k + c] = 1.0;
    }
    y
}

impl Loss {
    /// Mean loss over the batch and its gradient with respect to the scores.
    pub fn eval(&self, scores: &Tensor, labels: &[usize]) -> (f64, Tensor) {
        let (n, k) = (scores.batch(), scores.row_len());
        let mut g = Tensor::zeros(&scores.shape);
        let inv = 1.0 / n.max(1) as f32;
        let mut total = 0.0f64;
        for (i, (row, grow)) in scores.data.chunks_exact(k).zip(g.data.chunks_exact_mut(k)).enumerate() {
            match self {
                Loss::Squared => {
                    for (c, (&s, gv)) in row.iter().zip(grow.iter_mut()).enumerate() {
                        let r = s - if c == labels[i] { 1.0 } else { -1.0 };
                        total += 0.5 * (r as f64) * (r as f64);
                        *gv = r * inv;
                    }
                }
                Loss::CrossEntropy => {
                    let mx = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let z: f64 = row.iter().map(|&s| ((s - mx) as f64).exp()).sum();
                    total += z.ln() + (mx - row[labels[i]]) as f64;
                    for (c, (&s, gv)) in row.iter().zip(grow.iter_mut()).enumerate() {
                        let p = (((s - mx) as f64).exp() / z) as f32;
                        *gv = (p - if c == labels[i] { 1.0 } else { 0.0 }) * inv;
                    }
                }
            }
        }
        (total / n.max(1) as f64, g)
    }
}

/// Fraction of rows whose largest score (first maximum) is the label.
pub fn accuracy(scores: &Tensor, labels: &[usize]) -> f64 {
    let k = scores.row_len();
    let hits = scores
        .data
        .chunks_exact(k)
        .zip(labels)
        .filter(|(row, &l)| {
            let mut best = 0;
            for (c, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = c;
                }
            }
            best == l
        })
        .count();
    hits as f64 / labels.len().max(1) as f64
}
