//! Gradients of the feature layers through a fixed head, and of a trainable head, against
//! central finite differences along random directions (one direction per parameter tensor,
//! so every layer type is checked on its own).

use cronos_deep::arch::dense_head;
use cronos_deep::dense::{Dense, GatedDense};
use cronos_deep::init::he_normal;
use cronos_deep::{Arch, Loss, Sequential, Tensor};

fn loss_of(features: &mut Sequential, head: &mut Sequential, x: &Tensor, labels: &[usize], loss: Loss) -> f64 {
    let f = features.forward(x, false);
    loss.eval(&head.forward(&f, false), labels).0
}

/// Checks ⟨∇L, v⟩ against (L(θ + εv) − L(θ − εv)) / 2ε for every trainable tensor of both
/// parts; returns how many tensors were checked.
fn check(features: &mut Sequential, head: &mut Sequential, x: &Tensor, labels: &[usize], loss: Loss) -> usize {
    let f = features.forward(x, true);
    let s = head.forward(&f, true);
    let (_, g) = loss.eval(&s, labels);
    let gf = head.backward(&g, true);
    features.backward(&gf, false);
    let grads: Vec<Vec<f32>> = features.params().iter().chain(head.params().iter()).map(|p| p.grad.clone()).collect();
    let n_feat = features.params().len();
    let mut checked = 0;
    for (t, grad) in grads.iter().enumerate() {
        let trainable = if t < n_feat { features.params()[t].trainable } else { head.params()[t - n_feat].trainable };
        if !trainable {
            continue;
        }
        let v = he_normal(grad.len(), 1, 1000 + t as u64);
        let analytic: f64 = grad.iter().zip(&v).map(|(&g, &d)| g as f64 * d as f64).sum();
        // small enough not to cross a gate or pooling switch (the gated head is discontinuous in its
        // input), large enough for f32 forward passes
        let eps = 2e-4f32;
        let at = |sign: f32, features: &mut Sequential, head: &mut Sequential| {
            {
                let p = if t < n_feat { features.params_mut().remove(t) } else { head.params_mut().remove(t - n_feat) };
                p.value.iter_mut().zip(&v).for_each(|(w, d)| *w += sign * eps * d);
            }
            let l = loss_of(features, head, x, labels, loss);
            let p = if t < n_feat { features.params_mut().remove(t) } else { head.params_mut().remove(t - n_feat) };
            p.value.iter_mut().zip(&v).for_each(|(w, d)| *w -= sign * eps * d);
            l
        };
        let lp = at(1.0, features, head);
        let lm = at(-1.0, features, head);
        let numeric = (lp - lm) / (2.0 * eps as f64);
        let err = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1e-3);
        assert!(err < 1e-2, "tensor {t}: analytic {analytic:.6e} vs finite difference {numeric:.6e} (rel. error {err:.2e})");
        checked += 1;
    }
    checked
}

fn images(n: usize, h: usize, w: usize, c: usize, seed: u64) -> Tensor {
    let v: Vec<f32> = he_normal(n * h * w * c, 2, seed);
    Tensor::from_vec(v, &[n, h, w, c])
}

/// A fixed gated-ReLU head as CRONOS-AM builds it (frozen layers).
fn fixed_gated_head(d: usize, m: usize, k: usize) -> Sequential {
    Sequential::new(&[d])
        .push(GatedDense::new(d, m, he_normal(d * m, d, 1), he_normal(m, 4, 2), he_normal(d * m, d, 3), he_normal(m, 4, 4)).frozen())
        .push(Dense::from_weights(m, k, he_normal(m * k, m, 5), vec![0.0; k]).frozen())
}

#[test]
fn cnn_features_through_a_fixed_gated_head() {
    let x = images(6, 8, 8, 2, 7);
    let labels = vec![0, 1, 2, 1, 0, 2];
    let mut features = Arch::Cnn { c1: 3, c2: 4, dense: 5 }.build(&[8, 8, 2], 11);
    // non-zero biases, so that their gradients are exercised off the initial point
    for p in features.params_mut() {
        if p.name == "bias" {
            p.value = he_normal(p.value.len(), 8, 99);
        }
    }
    let d = features.output_len();
    assert_eq!(d, 5);
    let mut head = fixed_gated_head(d, 5, 3);
    // conv1, conv2 and the dense projection (w, b each); the frozen head must not be counted
    assert_eq!(check(&mut features, &mut head, &x, &labels, Loss::Squared), 6);
}

#[test]
fn mlp_features_and_trainable_head_with_cross_entropy() {
    let x = images(5, 3, 4, 1, 8);
    let labels = vec![1, 0, 3, 2, 1];
    let mut features = Arch::Mlp { hidden: vec![7, 6] }.build(&[3, 4, 1], 12);
    let mut head = dense_head(6, 5, 4, 13);
    assert_eq!(check(&mut features, &mut head, &x, &labels, Loss::CrossEntropy), 8);
}

#[test]
fn frozen_layers_are_not_updated_by_optimizers() {
    let mut head = fixed_gated_head(4, 3, 2);
    let before: Vec<Vec<f32>> = head.params().iter().map(|p| p.value.clone()).collect();
    for p in head.params_mut() {
        p.grad.iter_mut().for_each(|g| *g = 1.0);
    }
    let mut opt = cronos_deep::OptimizerKind::AdamW { lr: 0.1, weight_decay: 0.1 }.build();
    opt.step(&mut head.params_mut(), 1.0);
    let after: Vec<Vec<f32>> = head.params().iter().map(|p| p.value.clone()).collect();
    assert_eq!(before, after);
}
