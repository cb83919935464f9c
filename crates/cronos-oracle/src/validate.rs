//! Input checks shared by the solver and the evaluation functions.

use crate::Loss;

/// The data of a problem: `x` (`n × d`), `y` (`n × k`), sample weights and masks.
#[derive(Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub x: &'a [f64],
    pub n: usize,
    pub d: usize,
    pub y: &'a [f64],
    pub k: usize,
    pub weights: Option<&'a [f64]>,
    pub masks: &'a [Vec<bool>],
}

impl<'a> Inputs<'a> {
    pub(crate) fn new(
        x: &'a [f64],
        n: usize,
        d: usize,
        y: &'a [f64],
        k: usize,
        weights: Option<&'a [f64]>,
        masks: &'a [Vec<bool>],
    ) -> Self {
        Inputs {
            x,
            n,
            d,
            y,
            k,
            weights,
            masks,
        }
    }
}

/// Checks the shapes of the inputs (single output).
pub(crate) fn validate(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    masks: &[Vec<bool>],
) -> Result<(), String> {
    validate_loss(&Inputs::new(x, n, d, y, 1, None, masks), Loss::Squared).map(|_| ())
}

/// Checks the shapes and values of the inputs; returns the softmax labels
/// (argmax column of each row of `y`; empty for the other losses).
pub(crate) fn validate_loss(inputs: &Inputs, loss: Loss) -> Result<Vec<usize>, String> {
    let Inputs {
        x,
        n,
        d,
        y,
        k,
        weights,
        masks,
    } = *inputs;
    if d == 0 {
        return Err("d must be positive".into());
    }
    if k == 0 {
        return Err("k must be positive".into());
    }
    if x.len() != n * d {
        return Err(format!("x has length {} but n*d = {}", x.len(), n * d));
    }
    if y.len() != n * k {
        return Err(format!("y has length {} but n*k = {}", y.len(), n * k));
    }
    if let Some((i, m)) = masks.iter().enumerate().find(|(_, m)| m.len() != n) {
        return Err(format!("mask {} has length {} but n = {}", i, m.len(), n));
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err("x or y contains non-finite values".into());
    }
    if let Some(wt) = weights {
        if wt.len() != n {
            return Err(format!("weights have length {} but n = {}", wt.len(), n));
        }
        if wt.iter().any(|&v| !(v >= 0.0 && v.is_finite())) {
            return Err("weights must be finite and nonnegative".into());
        }
    }
    match loss {
        Loss::Squared => Ok(Vec::new()),
        Loss::Logistic => {
            if y.iter().any(|&t| t != 1.0 && t != -1.0) {
                return Err("logistic loss needs targets in {-1, +1}".into());
            }
            Ok(Vec::new())
        }
        Loss::Softmax => {
            if k < 2 {
                return Err("softmax loss needs k >= 2 outputs".into());
            }
            Ok((0..n)
                .map(|j| {
                    let row = &y[j * k..(j + 1) * k];
                    let mut best = 0;
                    for c in 1..k {
                        if row[c] > row[best] {
                            best = c;
                        }
                    }
                    best
                })
                .collect())
        }
    }
}
