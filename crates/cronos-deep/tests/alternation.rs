//! One CRONOS-AM alternation (head solve → feature step through the fixed head → head
//! re-solve) does not increase the head subproblem's training objective, and the frozen
//! head layers reproduce the solver's objective.

use cronos::Activation;
use cronos_deep::am::feature_step;
use cronos_deep::head::{head_layers, head_objective, solve_head, HeadConfig};
use cronos_deep::init::he_normal;
use cronos_deep::loss::pm1_targets;
use cronos_deep::{Arch, OptimizerKind, Tensor};

/// Three classes of 8×8 images: a class-dependent bright square plus noise.
fn data(n: usize) -> (Tensor, Vec<usize>) {
    let noise = he_normal(n * 64, 8, 5);
    let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let mut x = vec![0.0f32; n * 64];
    for i in 0..n {
        for p in 0..64 {
            let (r, c) = (p / 8, p % 8);
            let on = match labels[i] {
                0 => r < 4 && c < 4,
                1 => r >= 4 && c >= 4,
                _ => (2..6).contains(&r) && (2..6).contains(&c),
            };
            x[i * 64 + p] = on as u8 as f32 * 0.5 + noise[i * 64 + p];
        }
    }
    (Tensor::from_vec(x, &[n, 8, 8, 1]), labels)
}

#[test]
fn an_alternation_step_does_not_increase_the_head_objective() {
    let (x, labels) = data(120);
    let y = pm1_targets(&labels, 3);
    let mut features = Arch::Cnn { c1: 4, c2: 4, dense: 0 }.build(&[8, 8, 1], 3);
    // a fixed β for both solves: the same objective before and after
    let cfg = HeadConfig { activation: Activation::GatedRelu, n_patterns: 8, beta: Some(0.05), max_iter: 3000, tol_gap: 2e-3, threads: 1, ..HeadConfig::default() };
    let f0 = features.predict(&x);
    let h0 = solve_head(&f0, &y, &cfg, 0, None).unwrap();
    let obj0 = h0.solution.certificate.objective;
    let net0 = h0.model.network();
    let l0 = head_objective(&net0, &h0.model.beta, &f0, &y);
    assert!((l0 - obj0).abs() <= 1e-3 * obj0, "frozen head layers give {l0}, the solver {obj0}");
    assert!(h0.solution.certificate.relative_gap <= 2e-3, "first solve not converged: gap {}", h0.solution.certificate.relative_gap);

    // one full-batch gradient step of the feature layers through the fixed head
    let mut head = head_layers(&net0);
    let mut opt = OptimizerKind::Sgd { lr: 1e-2, momentum: 0.0, weight_decay: 0.0 }.build();
    feature_step(&mut features, &mut head, &mut opt, &x, &labels, 1.0);
    let f1 = features.predict(&x);
    let l1 = head_objective(&net0, &h0.model.beta, &f1, &y);
    assert!(l1 < l0, "the feature step did not decrease the objective: {l0} -> {l1}");

    // re-solve on the new features: the old head is feasible, so the optimum is ≤ l1
    let h1 = solve_head(&f1, &y, &cfg, 0, Some(&h0.model)).unwrap();
    assert!(h1.warm_started, "the second solve should start from the first head (same gates)");
    let c1 = &h1.solution.certificate;
    assert!(c1.lower_bound <= l1 * (1.0 + 1e-4), "certified bound {} above a feasible value {l1}", c1.lower_bound);
    // certified: objective ≤ optimum / (1 − gap) ≤ l1 / (1 − gap)
    assert!(c1.relative_gap <= 2e-3, "second solve not converged: gap {}", c1.relative_gap);
    assert!(c1.objective <= l1 / (1.0 - c1.relative_gap), "re-solve worse than keeping the head: {l1} -> {}", c1.objective);
    assert!(c1.objective <= obj0, "objective increased over the alternation: {obj0} -> {} (feature step: {l0} -> {l1})", c1.objective);
}
