//! Tests for [`solve_loss`]: squared / logistic / softmax losses, several
//! outputs and sample weights (objective consistency, β_max / KKT checks,
//! comparison with feasible points, weights vs duplicated rows).

#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

use cronos_oracle::{
    max_violation, objective_loss, one_hot, predictions, solve, solve_loss, Kind, Loss,
    OracleSolution,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const LN2: f64 = std::f64::consts::LN_2;

fn gauss(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Instance for `loss` with `k` outputs: Gaussian X (last column 1 = bias),
/// targets from a planted ReLU net, masks from random gates.
struct Inst {
    x: Vec<f64>,
    n: usize,
    d: usize,
    y: Vec<f64>,
    k: usize,
    masks: Vec<Vec<bool>>,
    gates: Vec<Vec<f64>>,
    loss: Loss,
}

fn instance(rng: &mut StdRng, n: usize, d: usize, p: usize, k: usize, loss: Loss) -> Inst {
    let mut x: Vec<f64> = (0..n * d).map(|_| gauss(rng)).collect();
    for j in 0..n {
        x[j * d + d - 1] = 1.0;
    }
    let planted: Vec<Vec<f64>> = (0..2 * k)
        .map(|_| (0..d).map(|_| gauss(rng)).collect())
        .collect();
    let score = |j: usize, c: usize, rng: &mut StdRng| {
        let row = &x[j * d..(j + 1) * d];
        dot(row, &planted[2 * c]).max(0.0) - dot(row, &planted[2 * c + 1]).max(0.0)
            + 0.3 * gauss(rng)
    };
    let mut y = vec![0.0; n * k];
    for j in 0..n {
        let s: Vec<f64> = (0..k).map(|c| score(j, c, rng)).collect();
        match loss {
            Loss::Squared => y[j * k..(j + 1) * k].copy_from_slice(&s),
            Loss::Logistic => {
                for c in 0..k {
                    y[j * k + c] = if s[c] >= 0.0 { 1.0 } else { -1.0 };
                }
            }
            Loss::Softmax => {
                let l = (0..k).fold(0, |b, c| if s[c] > s[b] { c } else { b });
                y[j * k + l] = 1.0;
            }
        }
    }
    let gates: Vec<Vec<f64>> = (0..p)
        .map(|_| (0..d).map(|_| gauss(rng)).collect())
        .collect();
    let masks = gates
        .iter()
        .map(|h| {
            (0..n)
                .map(|j| dot(&x[j * d..(j + 1) * d], h) >= 0.0)
                .collect()
        })
        .collect();
    Inst {
        x,
        n,
        d,
        y,
        k,
        masks,
        gates,
        loss,
    }
}

fn run(inst: &Inst, wt: Option<&[f64]>, beta: f64, kind: Kind) -> OracleSolution {
    let s = solve_loss(
        &inst.x,
        inst.n,
        inst.d,
        &inst.y,
        inst.k,
        wt,
        &inst.masks,
        beta,
        kind,
        inst.loss,
    )
    .unwrap_or_else(|e| panic!("{:?} {kind:?}: {e}", inst.loss));
    assert!(
        s.status == "Solved" || s.status == "AlmostSolved",
        "status {}",
        s.status
    );
    let p = inst.masks.len();
    assert_eq!(s.k, inst.k);
    assert_eq!(s.v.len(), inst.k * p);
    assert_eq!(s.w.len(), if kind == Kind::Relu { inst.k * p } else { 0 });
    assert!(s.v.iter().chain(&s.w).all(|g| g.len() == inst.d));
    s
}

fn obj(
    inst: &Inst,
    wt: Option<&[f64]>,
    beta: f64,
    kind: Kind,
    v: &[Vec<f64>],
    w: &[Vec<f64>],
) -> f64 {
    objective_loss(
        &inst.x,
        inst.n,
        inst.d,
        &inst.y,
        inst.k,
        wt,
        &inst.masks,
        beta,
        kind,
        inst.loss,
        v,
        w,
    )
}

fn viol(inst: &Inst, kind: Kind, v: &[Vec<f64>], w: &[Vec<f64>]) -> f64 {
    max_violation(
        &inst.x,
        inst.n,
        inst.d,
        &inst.y,
        &inst.masks,
        1.0,
        kind,
        v,
        w,
    )
}

fn labels(inst: &Inst) -> Vec<usize> {
    (0..inst.n)
        .map(|j| {
            (0..inst.k)
                .find(|&c| inst.y[j * inst.k + c] == 1.0)
                .unwrap()
        })
        .collect()
}

/// `ω_j ∂loss/∂r_jc` at predictions `r` (n × k).
fn loss_grad(inst: &Inst, wt: Option<&[f64]>, r: &[f64]) -> Vec<f64> {
    let (n, k) = (inst.n, inst.k);
    let lab = if inst.loss == Loss::Softmax {
        labels(inst)
    } else {
        Vec::new()
    };
    let mut g = vec![0.0; n * k];
    for j in 0..n {
        let om = wt.map_or(1.0, |w| w[j]);
        let rj = &r[j * k..(j + 1) * k];
        match inst.loss {
            Loss::Squared => {
                for c in 0..k {
                    g[j * k + c] = om * (rj[c] - inst.y[j * k + c]);
                }
            }
            Loss::Logistic => {
                for c in 0..k {
                    let yc = inst.y[j * k + c];
                    // d/dr log(1+exp(−y r)) = −y σ(−y r)
                    g[j * k + c] = om * -yc / (1.0 + (yc * rj[c]).exp());
                }
            }
            Loss::Softmax => {
                let m = rj.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = rj.iter().map(|t| (t - m).exp()).sum();
                for c in 0..k {
                    let pc = (rj[c] - m).exp() / z;
                    g[j * k + c] = om * (pc - if c == lab[j] { 1.0 } else { 0.0 });
                }
            }
        }
    }
    g
}

/// Gradients `(D_i X)ᵀ G_{:,c}` per group, layout `c·P + i`.
fn group_grads(inst: &Inst, g: &[f64]) -> Vec<Vec<f64>> {
    let (n, d, k, p) = (inst.n, inst.d, inst.k, inst.masks.len());
    let mut out = vec![vec![0.0; d]; k * p];
    for c in 0..k {
        for (i, m) in inst.masks.iter().enumerate() {
            for j in 0..n {
                if m[j] {
                    for l in 0..d {
                        out[c * p + i][l] += inst.x[j * d + l] * g[j * k + c];
                    }
                }
            }
        }
    }
    out
}

/// β_max of the gated program: max_{i,c} ‖(D_i X)ᵀ ∇loss(0)_c‖.
fn beta_max(inst: &Inst, wt: Option<&[f64]>) -> f64 {
    let g = loss_grad(inst, wt, &vec![0.0; inst.n * inst.k]);
    group_grads(inst, &g)
        .iter()
        .map(|v| norm(v))
        .fold(0.0, f64::max)
}

const LOSSES: [(Loss, usize); 5] = [
    (Loss::Squared, 1),
    (Loss::Squared, 2),
    (Loss::Logistic, 1),
    (Loss::Logistic, 2),
    (Loss::Softmax, 3),
];

fn random_weights(rng: &mut StdRng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|j| {
            if j % 7 == 3 {
                0.0
            } else {
                0.2 + 2.0 * rng.random::<f64>()
            }
        })
        .collect()
}

#[test]
fn objective_by_hand() {
    // n = 2, d = 1, X = [1, −1], one mask [true, false], v = 3, w = 1 → r = [2, 0]
    let x = [1.0, -1.0];
    let masks = vec![vec![true, false]];
    let v = vec![vec![3.0]];
    let w = vec![vec![1.0]];
    let ln1p = |a: f64| a.exp().ln_1p();
    // logistic, y = [1, −1], weights [2, 0.5]: 2·log(1+e^−2) + 0.5·log 2 + β·4
    let f = objective_loss(
        &x,
        2,
        1,
        &[1.0, -1.0],
        1,
        Some(&[2.0, 0.5]),
        &masks,
        0.1,
        Kind::Relu,
        Loss::Logistic,
        &v,
        &w,
    );
    let want = 2.0 * ln1p(-2.0) + 0.5 * LN2 + 0.4;
    assert!((f - want).abs() < 1e-14, "{f} vs {want}");
    // softmax, k = 2, output 0: (v, w) = (3, 1), output 1: (0, 0); labels [1, 0]
    let v2 = vec![vec![3.0], vec![0.0]];
    let w2 = vec![vec![1.0], vec![0.0]];
    let y = one_hot(&[1, 0], 2);
    let f = objective_loss(
        &x,
        2,
        1,
        &y,
        2,
        None,
        &masks,
        0.1,
        Kind::Relu,
        Loss::Softmax,
        &v2,
        &w2,
    );
    // row 0: r = (2, 0), label 1 → log(e² + 1); row 1: r = (0, 0) → log 2
    let want = (2f64.exp() + 1.0).ln() + LN2 + 0.4;
    assert!((f - want).abs() < 1e-14, "{f} vs {want}");
    // squared with weights, k = 2
    let y = [1.0, 0.0, 0.0, 2.0];
    let f = objective_loss(
        &x,
        2,
        1,
        &y,
        2,
        Some(&[3.0, 1.0]),
        &masks,
        0.1,
        Kind::GatedRelu,
        Loss::Squared,
        &v2,
        &[],
    );
    // gated ignores w: r = [(3, 0), (0, 0)] → 3·½(4 + 0) + ½(0 + 4) = 8; reg 0.1·3
    assert!((f - 8.3).abs() < 1e-14, "{f}");
    let r = predictions(&x, 2, 1, 2, &masks, Kind::Relu, &v2, &w2);
    assert_eq!(r, vec![2.0, 0.0, 0.0, 0.0]);
}

#[test]
fn rejects_bad_input() {
    let x = [1.0, 2.0];
    let m = vec![vec![true, true]];
    let s = |y: &[f64], k, wt: Option<&[f64]>, loss| {
        solve_loss(&x, 2, 1, y, k, wt, &m, 0.5, Kind::GatedRelu, loss)
    };
    assert!(s(&[1.0, 0.0], 1, None, Loss::Logistic).is_err()); // 0/1 labels
    assert!(s(&[1.0, 0.0], 1, None, Loss::Softmax).is_err()); // k = 1
    assert!(s(&[1.0, -1.0], 1, Some(&[1.0, -1.0]), Loss::Logistic).is_err());
    assert!(s(&[1.0, -1.0], 1, Some(&[1.0]), Loss::Logistic).is_err());
    assert!(s(&[1.0, -1.0], 1, Some(&[1.0, f64::NAN]), Loss::Squared).is_err());
    assert!(s(&[1.0, -1.0, 1.0], 2, None, Loss::Squared).is_err());
    assert!(s(&[1.0, -1.0], 0, None, Loss::Squared).is_err());
    assert!(s(&[1.0, -1.0], 1, Some(&[1.0, 0.0]), Loss::Logistic).is_ok());
    // no masks: loss at zero
    let t = solve_loss(
        &x,
        2,
        1,
        &one_hot(&[0, 2], 3),
        3,
        Some(&[1.0, 2.0]),
        &[],
        0.5,
        Kind::Relu,
        Loss::Softmax,
    )
    .unwrap();
    assert_eq!(t.status, "Trivial");
    assert!((t.objective - 3.0 * 3f64.ln()).abs() < 1e-14);
}

#[test]
fn squared_matches_solve_and_separates_over_outputs() {
    let mut rng = StdRng::seed_from_u64(11);
    let inst = instance(&mut rng, 24, 4, 5, 2, Loss::Squared);
    for kind in [Kind::GatedRelu, Kind::Relu] {
        let joint = run(&inst, None, 0.1, kind);
        let mut sum = 0.0;
        for c in 0..2 {
            let yc: Vec<f64> = (0..inst.n).map(|j| inst.y[j * 2 + c]).collect();
            let a = solve(&inst.x, inst.n, inst.d, &yc, &inst.masks, 0.1, kind).unwrap();
            let b = solve_loss(
                &inst.x,
                inst.n,
                inst.d,
                &yc,
                1,
                None,
                &inst.masks,
                0.1,
                kind,
                Loss::Squared,
            )
            .unwrap();
            assert_eq!(
                a.objective, b.objective,
                "solve == solve_loss(Squared, k = 1)"
            );
            sum += a.objective;
        }
        assert!(
            (joint.objective - sum).abs() <= 1e-7 * sum,
            "{kind:?}: {} vs {sum}",
            joint.objective
        );
    }
}

#[test]
fn logistic_separates_over_outputs() {
    let mut rng = StdRng::seed_from_u64(12);
    let inst = instance(&mut rng, 24, 3, 5, 2, Loss::Logistic);
    let wt = random_weights(&mut rng, inst.n);
    for kind in [Kind::GatedRelu, Kind::Relu] {
        let joint = run(&inst, Some(&wt), 0.05, kind);
        let mut sum = 0.0;
        for c in 0..2 {
            let yc: Vec<f64> = (0..inst.n).map(|j| inst.y[j * 2 + c]).collect();
            let a = solve_loss(
                &inst.x,
                inst.n,
                inst.d,
                &yc,
                1,
                Some(&wt),
                &inst.masks,
                0.05,
                kind,
                Loss::Logistic,
            )
            .unwrap();
            sum += a.objective;
        }
        assert!(
            (joint.objective - sum).abs() <= 1e-7 * sum,
            "{kind:?}: {} vs {sum}",
            joint.objective
        );
    }
}

#[test]
fn beta_max_gives_zero() {
    let mut rng = StdRng::seed_from_u64(13);
    for (t, &(loss, k)) in LOSSES.iter().enumerate() {
        let inst = instance(&mut rng, 20 + 3 * t, 3, 4, k, loss);
        let wt = random_weights(&mut rng, inst.n);
        for wt in [None, Some(&wt[..])] {
            let sw: f64 = wt.map_or(inst.n as f64, |w| w.iter().sum());
            let at_zero = match loss {
                Loss::Squared => (0..inst.n)
                    .map(|j| {
                        wt.map_or(1.0, |w| w[j])
                            * 0.5
                            * dot(&inst.y[j * k..(j + 1) * k], &inst.y[j * k..(j + 1) * k])
                    })
                    .sum(),
                Loss::Logistic => k as f64 * LN2 * sw,
                Loss::Softmax => (k as f64).ln() * sw,
            };
            let bmax = beta_max(&inst, wt);
            for kind in [Kind::GatedRelu, Kind::Relu] {
                let s = run(&inst, wt, 1.01 * bmax, kind);
                let wn = s.v.iter().chain(&s.w).map(|g| norm(g)).fold(0.0, f64::max);
                assert!(
                    wn < 1e-6,
                    "{loss:?} k={k} {kind:?}: weights not zero ({wn})"
                );
                assert!(
                    (s.objective - at_zero).abs() <= 1e-8 * at_zero,
                    "{loss:?} k={k} {kind:?}: {} vs {at_zero}",
                    s.objective
                );
                // below the threshold the gated program does strictly better
                if kind == Kind::GatedRelu {
                    let s = run(&inst, wt, 0.5 * bmax, kind);
                    assert!(
                        s.objective < at_zero * (1.0 - 1e-6),
                        "{loss:?}: {} vs {at_zero}",
                        s.objective
                    );
                }
            }
        }
    }
}

#[test]
fn optimum_beats_feasible_points_and_kkt() {
    let mut rng = StdRng::seed_from_u64(14);
    for (t, &(loss, k)) in LOSSES.iter().enumerate() {
        let inst = instance(&mut rng, 25 + 2 * t, 4, 6, k, loss);
        let p = inst.masks.len();
        let wt = random_weights(&mut rng, inst.n);
        let wt = if t % 2 == 0 { Some(&wt[..]) } else { None };
        let beta = 0.1 * beta_max(&inst, wt);
        for kind in [Kind::GatedRelu, Kind::Relu] {
            let s = run(&inst, wt, beta, kind);
            let f = s.objective;
            assert_eq!(f, obj(&inst, wt, beta, kind, &s.v, &s.w));
            assert!(
                viol(&inst, kind, &s.v, &s.w) < 1e-7,
                "{loss:?} {kind:?}: infeasible"
            );
            let zero = vec![vec![0.0; inst.d]; k * p];
            let f0 = obj(&inst, wt, beta, kind, &zero, &zero);
            assert!(f < f0, "{loss:?} {kind:?}: {f} vs zero {f0}");
            for trial in 0..20 {
                // random feasible point: gated any, ReLU nonnegative multiples of the gates
                let (v, w): (Vec<Vec<f64>>, Vec<Vec<f64>>) = match kind {
                    Kind::GatedRelu => (
                        (0..k * p)
                            .map(|_| (0..inst.d).map(|_| 0.3 * gauss(&mut rng)).collect())
                            .collect(),
                        Vec::new(),
                    ),
                    Kind::Relu => {
                        let mut mk = || -> Vec<Vec<f64>> {
                            (0..k * p)
                                .map(|g| {
                                    let a = 0.5 * rng.random::<f64>();
                                    inst.gates[g % p].iter().map(|h| a * h).collect()
                                })
                                .collect()
                        };
                        (mk(), mk())
                    }
                };
                assert!(viol(&inst, kind, &v, &w) == 0.0);
                let fr = obj(&inst, wt, beta, kind, &v, &w);
                assert!(f <= fr + 1e-9 * f, "{loss:?} {kind:?}: {f} vs random {fr}");
                // and points on the segment towards the optimum
                let th = if trial % 2 == 0 { 1e-3 } else { 0.2 };
                let mix = |a: &[Vec<f64>], b: &[Vec<f64>]| -> Vec<Vec<f64>> {
                    a.iter()
                        .zip(b)
                        .map(|(p, q)| {
                            p.iter()
                                .zip(q)
                                .map(|(s, r)| (1.0 - th) * s + th * r)
                                .collect()
                        })
                        .collect()
                };
                let (vm, wm) = (mix(&s.v, &v), mix(&s.w, &w));
                let fm = obj(&inst, wt, beta, kind, &vm, &wm);
                assert!(f <= fm + 1e-9 * f, "{loss:?} {kind:?} θ={th}: {f} vs {fm}");
            }
            // first-order optimality of the (unconstrained) gated program
            if kind == Kind::GatedRelu {
                let r = predictions(&inst.x, inst.n, inst.d, k, &inst.masks, kind, &s.v, &s.w);
                let gg = group_grads(&inst, &loss_grad(&inst, wt, &r));
                let mut nonzero = 0;
                for (u, g) in s.v.iter().zip(&gg) {
                    let nu = norm(u);
                    if nu > 1e-4 {
                        nonzero += 1;
                        let res: Vec<f64> =
                            g.iter().zip(u).map(|(a, b)| a + beta * b / nu).collect();
                        assert!(
                            norm(&res) <= 1e-4 * beta,
                            "{loss:?}: stationarity {} (β {beta})",
                            norm(&res)
                        );
                    } else {
                        assert!(
                            norm(g) <= beta * (1.0 + 1e-4),
                            "{loss:?}: dead group ‖g‖ {} > β {beta}",
                            norm(g)
                        );
                    }
                }
                assert!(nonzero > 0, "{loss:?}: all groups zero at 0.1 β_max");
            }
        }
    }
}

#[test]
fn integer_weights_equal_duplicated_rows() {
    let mut rng = StdRng::seed_from_u64(15);
    for (t, &(loss, k)) in LOSSES.iter().enumerate() {
        let inst = instance(&mut rng, 14 + t, 3, 4, k, loss);
        for kind in [Kind::GatedRelu, Kind::Relu] {
            // Zero weights only for gated ReLU: a row of weight 0 drops out of
            // the loss but still constrains the ReLU program ((2D_i − I)X v_i ≥ 0),
            // whereas the duplicated instance loses the row altogether.
            let choices: &[f64] = if kind == Kind::GatedRelu {
                &[0.0, 1.0, 2.0, 3.0]
            } else {
                &[1.0, 2.0, 3.0]
            };
            let wt: Vec<f64> = (0..inst.n)
                .map(|j| choices[(j + t) % choices.len()])
                .collect();
            // duplicated instance: row j repeated wt[j] times
            let rows: Vec<usize> = (0..inst.n)
                .flat_map(|j| std::iter::repeat_n(j, wt[j] as usize))
                .collect();
            let dup = Inst {
                x: rows
                    .iter()
                    .flat_map(|&j| inst.x[j * inst.d..(j + 1) * inst.d].to_vec())
                    .collect(),
                n: rows.len(),
                d: inst.d,
                y: rows
                    .iter()
                    .flat_map(|&j| inst.y[j * k..(j + 1) * k].to_vec())
                    .collect(),
                k,
                masks: inst
                    .masks
                    .iter()
                    .map(|m| rows.iter().map(|&j| m[j]).collect())
                    .collect(),
                gates: inst.gates.clone(),
                loss,
            };
            let beta = 0.2 * beta_max(&inst, Some(&wt));
            let a = run(&inst, Some(&wt), beta, kind);
            let b = run(&dup, None, beta, kind);
            // the same weights give the same objective on both instances …
            let a_on_dup = obj(&dup, None, beta, kind, &a.v, &a.w);
            assert!(
                (a_on_dup - a.objective).abs() <= 1e-12 * a.objective,
                "{loss:?}: {a_on_dup} vs {}",
                a.objective
            );
            // … and the optima agree
            assert!(
                (a.objective - b.objective).abs() <= 1e-7 * a.objective,
                "{loss:?} k={k} {kind:?}: weighted {} vs duplicated {}",
                a.objective,
                b.objective
            );
        }
    }
}
