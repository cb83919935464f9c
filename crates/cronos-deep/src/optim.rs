//! First-order optimizers: SGD with momentum, Adam (L2 decay in the gradient), AdamW
//! (decoupled decay) and D-Adaptation AdamW (Defazio & Mishchenko 2023), which estimates its
//! own step size and takes no learning rate. Frozen parameters are skipped. Every `step`
//! takes a schedule factor that multiplies the learning rate (for D-Adaptation, the `lr`
//! multiplier of the reference implementation, 1 by default).

use crate::error::{setting, Result};
use crate::layer::Param;
use serde::{Deserialize, Serialize};

/// An optimizer and its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Heavy-ball SGD: v ← μv + g + λw, w ← w − ηv.
    Sgd {
        /// Learning rate η.
        lr: f32,
        /// Momentum μ.
        momentum: f32,
        /// L2 weight decay λ (weights only).
        weight_decay: f32,
    },
    /// Adam with L2 decay added to the gradient.
    Adam {
        /// Learning rate.
        lr: f32,
        /// L2 weight decay (weights only).
        weight_decay: f32,
    },
    /// AdamW: Adam with decoupled weight decay w ← w − ηλw.
    AdamW {
        /// Learning rate.
        lr: f32,
        /// Decoupled weight decay (weights only).
        weight_decay: f32,
    },
    /// D-Adaptation AdamW: no learning rate.
    DAdaptAdamW {
        /// Decoupled weight decay (weights only).
        weight_decay: f32,
    },
}

impl OptimizerKind {
    /// Checks the hyper-parameters.
    ///
    /// # Errors
    /// A non-positive learning rate, a momentum outside [0, 1), a negative decay.
    pub fn validate(&self) -> Result<()> {
        let (lr, wd) = match *self {
            OptimizerKind::Sgd { lr, momentum, weight_decay } => {
                if !(0.0..1.0).contains(&momentum) {
                    return Err(setting("momentum", momentum, "must lie in [0, 1)"));
                }
                (lr, weight_decay)
            }
            OptimizerKind::Adam { lr, weight_decay } | OptimizerKind::AdamW { lr, weight_decay } => (lr, weight_decay),
            OptimizerKind::DAdaptAdamW { weight_decay } => (1.0, weight_decay),
        };
        if !(lr.is_finite() && lr > 0.0) {
            return Err(setting("lr", lr, "must be finite and > 0"));
        }
        if !(wd.is_finite() && wd >= 0.0) {
            return Err(setting("weight_decay", wd, "must be finite and >= 0"));
        }
        Ok(())
    }

    /// Short label, e.g. `adamw(lr=1e-3)`.
    pub fn label(&self) -> String {
        match self {
            OptimizerKind::Sgd { lr, .. } => format!("sgd(lr={lr})"),
            OptimizerKind::Adam { lr, .. } => format!("adam(lr={lr})"),
            OptimizerKind::AdamW { lr, .. } => format!("adamw(lr={lr})"),
            OptimizerKind::DAdaptAdamW { .. } => "dadapt-adamw".into(),
        }
    }

    /// A fresh optimizer state.
    pub fn build(&self) -> Optimizer {
        Optimizer { kind: *self, t: 0, m: Vec::new(), v: Vec::new(), s: Vec::new(), d: 1e-6, numerator: 0.0 }
    }
}

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

/// Optimizer state (moments per trainable parameter, in the order given to `step`).
pub struct Optimizer {
    kind: OptimizerKind,
    t: usize,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    s: Vec<Vec<f32>>,
    d: f64,
    numerator: f64,
}

impl Optimizer {
    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.t
    }

    /// D-Adaptation's current step-size estimate d (None for the other optimizers).
    pub fn d_estimate(&self) -> Option<f64> {
        matches!(self.kind, OptimizerKind::DAdaptAdamW { .. }).then_some(self.d)
    }

    /// One update of the trainable parameters from their gradients; `factor` scales the
    /// learning rate (schedules).
    pub fn step(&mut self, params: &mut [&mut Param], factor: f32) {
        let mut train: Vec<&mut Param> = params.iter_mut().filter(|p| p.trainable).map(|p| &mut **p).collect();
        if self.m.is_empty() {
            self.m = train.iter().map(|p| vec![0.0; p.value.len()]).collect();
            self.v = self.m.clone();
            if matches!(self.kind, OptimizerKind::DAdaptAdamW { .. }) {
                self.s = self.m.clone();
            }
        }
        self.t += 1;
        match self.kind {
            OptimizerKind::Sgd { lr, momentum, weight_decay } => {
                let lr = lr * factor;
                for (p, m) in train.iter_mut().zip(&mut self.m) {
                    let wd = if p.decay { weight_decay } else { 0.0 };
                    for ((w, g), m) in p.value.iter_mut().zip(&p.grad).zip(m.iter_mut()) {
                        *m = momentum * *m + g + wd * *w;
                        *w -= lr * *m;
                    }
                }
            }
            OptimizerKind::Adam { lr, weight_decay } | OptimizerKind::AdamW { lr, weight_decay } => {
                let decoupled = matches!(self.kind, OptimizerKind::AdamW { .. });
                let lr = lr * factor;
                let bc1 = 1.0 - BETA1.powi(self.t as i32);
                let bc2 = 1.0 - BETA2.powi(self.t as i32);
                for ((p, m), v) in train.iter_mut().zip(&mut self.m).zip(&mut self.v) {
                    let wd = if p.decay { weight_decay } else { 0.0 };
                    for (((w, &g), m), v) in p.value.iter_mut().zip(&p.grad).zip(m.iter_mut()).zip(v.iter_mut()) {
                        let g = if decoupled { g } else { g + wd * *w };
                        *m = BETA1 * *m + (1.0 - BETA1) * g;
                        *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                        if decoupled {
                            *w -= lr * wd * *w;
                        }
                        *w -= lr * (*m / bc1) / ((*v / bc2).sqrt() + EPS);
                    }
                }
            }
            OptimizerKind::DAdaptAdamW { weight_decay } => self.dadapt_step(&mut train, weight_decay, factor),
        }
    }

    /// D-Adaptation Adam (the reference `DAdaptAdam` with decoupled decay, no bias
    /// correction, growth rate ∞): the moments carry the step d·lr, and d grows to the ratio
    /// of the weighted gradient/step correlation to the ℓ1 norm of the weighted gradient sum.
    fn dadapt_step(&mut self, train: &mut [&mut Param], weight_decay: f32, lr: f32) {
        let sqrt_b2 = BETA2.sqrt();
        let dlr = (self.d * lr as f64) as f32;
        let mut numerator_acc = 0.0f64;
        let mut sk_l1 = 0.0f64;
        for (((p, m), v), s) in train.iter().zip(&mut self.m).zip(&mut self.v).zip(&mut self.s) {
            let mut dot = 0.0f64;
            let mut l1 = 0.0f64;
            for (((&g, m), v), s) in p.grad.iter().zip(m.iter_mut()).zip(v.iter_mut()).zip(s.iter_mut()) {
                dot += (g * *m / (v.sqrt() + EPS)) as f64;
                *m = BETA1 * *m + dlr * (1.0 - BETA1) * g;
                *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                *s = sqrt_b2 * *s + dlr * (1.0 - sqrt_b2) * g;
                l1 += s.abs() as f64;
            }
            numerator_acc += dlr as f64 * dot;
            sk_l1 += l1;
        }
        self.numerator = sqrt_b2 as f64 * self.numerator + (1.0 - sqrt_b2 as f64) * numerator_acc;
        if sk_l1 == 0.0 {
            return; // zero gradient everywhere: nothing to learn from
        }
        if lr > 0.0 {
            let d_hat = self.numerator / ((1.0 - sqrt_b2 as f64) * sk_l1);
            self.d = self.d.max(d_hat);
        }
        for ((p, m), v) in train.iter_mut().zip(&self.m).zip(&self.v) {
            let wd = if p.decay { weight_decay } else { 0.0 };
            for ((w, m), v) in p.value.iter_mut().zip(m).zip(v) {
                *w -= wd * dlr * *w;
                *w -= m / (v.sqrt() + EPS);
            }
        }
    }
}

/// Fraction of the steps spent in the linear warm-up of [`cosine`].
pub const WARMUP: f64 = 0.03;

/// Linear warm-up over the first [`WARMUP`] of the steps, then cosine decay to 0 (the factor
/// for step `t` of `total`, 0-based). The warm-up keeps the first, large-gradient steps from
/// killing ReLUs (D-Adaptation's first estimates of d overshoot without it).
pub fn cosine(t: usize, total: usize) -> f32 {
    if total == 0 {
        return 1.0;
    }
    let warm = (WARMUP * total as f64).ceil();
    if (t as f64) < warm {
        return ((t + 1) as f64 / warm) as f32;
    }
    let x = ((t as f64 - warm) / (total as f64 - warm).max(1.0)).min(1.0);
    (0.5 * (1.0 + (std::f64::consts::PI * x).cos())) as f32
}
