//! Tests for the clarabel-based oracle: closed-form instances, optimality
//! (KKT / perturbation) checks on random instances, and a timing sanity check.

#![allow(clippy::needless_range_loop, clippy::type_complexity)]

use cronos_oracle::{max_violation, objective, solve, Kind, OracleSolution};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn gauss(rng: &mut StdRng) -> f64 {
    // Box–Muller
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

/// Random instance: X Gaussian, y from a planted ReLU net plus noise, masks
/// m_i = (X h_i ≥ 0) for random gates h_i (returned as well).
struct Instance {
    x: Vec<f64>,
    n: usize,
    d: usize,
    y: Vec<f64>,
    masks: Vec<Vec<bool>>,
    gates: Vec<Vec<f64>>,
}

fn instance(rng: &mut StdRng, n: usize, d: usize, p: usize) -> Instance {
    let x: Vec<f64> = (0..n * d).map(|_| gauss(rng)).collect();
    let planted: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..d).map(|_| gauss(rng)).collect())
        .collect();
    let y: Vec<f64> = (0..n)
        .map(|j| {
            let row = &x[j * d..(j + 1) * d];
            planted
                .iter()
                .enumerate()
                .map(|(k, u)| if k % 2 == 0 { 1.0 } else { -1.0 } * dot(row, u).max(0.0))
                .sum::<f64>()
                + 0.1 * gauss(rng)
        })
        .collect();
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
    Instance {
        x,
        n,
        d,
        y,
        masks,
        gates,
    }
}

/// max_i ‖(D_i X)ᵀ y‖: for β above this, zero is optimal for both programs.
fn beta_max(inst: &Instance) -> f64 {
    inst.masks
        .iter()
        .map(|m| {
            let mut g = vec![0.0; inst.d];
            for j in 0..inst.n {
                if m[j] {
                    for k in 0..inst.d {
                        g[k] += inst.x[j * inst.d + k] * inst.y[j];
                    }
                }
            }
            norm(&g)
        })
        .fold(0.0, f64::max)
}

fn obj(inst: &Instance, beta: f64, kind: Kind, v: &[Vec<f64>], w: &[Vec<f64>]) -> f64 {
    objective(
        &inst.x,
        inst.n,
        inst.d,
        &inst.y,
        &inst.masks,
        beta,
        kind,
        v,
        w,
    )
}

fn viol(inst: &Instance, beta: f64, kind: Kind, s: &OracleSolution) -> f64 {
    max_violation(
        &inst.x,
        inst.n,
        inst.d,
        &inst.y,
        &inst.masks,
        beta,
        kind,
        &s.v,
        &s.w,
    )
}

fn run(inst: &Instance, beta: f64, kind: Kind) -> OracleSolution {
    let s = solve(&inst.x, inst.n, inst.d, &inst.y, &inst.masks, beta, kind).expect("solve failed");
    assert!(
        s.status == "Solved" || s.status == "AlmostSolved",
        "status {}",
        s.status
    );
    assert_eq!(s.v.len(), inst.masks.len());
    assert_eq!(
        s.w.len(),
        if kind == Kind::Relu {
            inst.masks.len()
        } else {
            0
        }
    );
    s
}

#[test]
fn objective_and_violation_by_hand() {
    // n=2, d=1, X = [1, -1], y = [1, 1], one mask [true, false]
    let x = [1.0, -1.0];
    let y = [1.0, 1.0];
    let masks = vec![vec![true, false]];
    let v = vec![vec![3.0]];
    let w = vec![vec![1.0]];
    // residual = D X (v - w) - y = [2, 0] - [1, 1] = [1, -1] -> ½·2 = 1; reg = β(3+1)
    let f = objective(&x, 2, 1, &y, &masks, 0.5, Kind::Relu, &v, &w);
    assert!((f - 3.0).abs() < 1e-14, "{f}");
    // gated ignores w: residual [3,0]-[1,1] = [2,-1] -> 2.5; reg 0.5·3
    let g = objective(&x, 2, 1, &y, &masks, 0.5, Kind::GatedRelu, &v, &[]);
    assert!((g - 4.0).abs() < 1e-14, "{g}");
    // (2D-I)X = [1, 1]; v=3 feasible; w=-2 violates by 2
    let bad = vec![vec![-2.0]];
    assert_eq!(
        max_violation(&x, 2, 1, &y, &masks, 0.5, Kind::Relu, &v, &w),
        0.0
    );
    assert!((max_violation(&x, 2, 1, &y, &masks, 0.5, Kind::Relu, &v, &bad) - 2.0).abs() < 1e-14);
    assert_eq!(
        max_violation(&x, 2, 1, &y, &masks, 0.5, Kind::GatedRelu, &bad, &[]),
        0.0
    );
}

#[test]
fn rejects_bad_input() {
    let x = [1.0, 2.0];
    let y = [1.0, 1.0];
    let m = vec![vec![true, true]];
    assert!(solve(&x, 2, 1, &y, &m, 0.0, Kind::Relu).is_err());
    assert!(solve(&x, 2, 1, &y, &m, f64::NAN, Kind::Relu).is_err());
    assert!(solve(&x, 3, 1, &y, &m, 1.0, Kind::Relu).is_err());
    assert!(solve(&x, 2, 1, &y[..1], &m, 1.0, Kind::Relu).is_err());
    assert!(solve(&x, 2, 1, &y, &[vec![true]], 1.0, Kind::GatedRelu).is_err());
    // no masks: trivial
    let s = solve(&x, 2, 1, &y, &[], 1.0, Kind::Relu).unwrap();
    assert!((s.objective - 1.0).abs() < 1e-15);
}

#[test]
fn huge_beta_gives_zero() {
    let mut rng = StdRng::seed_from_u64(7);
    for &(n, d, p) in &[(20, 3, 4), (35, 5, 7)] {
        let inst = instance(&mut rng, n, d, p);
        let half_y2 = 0.5 * dot(&inst.y, &inst.y);
        let bmax = beta_max(&inst);
        for kind in [Kind::Relu, Kind::GatedRelu] {
            let s = run(&inst, 1.01 * bmax, kind);
            let wn: f64 = s.v.iter().chain(&s.w).map(|g| norm(g)).fold(0.0, f64::max);
            assert!(wn < 1e-7, "{kind:?}: weights not zero, max norm {wn}");
            assert!(
                (s.objective - half_y2).abs() <= 1e-8 * half_y2,
                "{kind:?}: {} vs {}",
                s.objective,
                half_y2
            );
            // strictly below the threshold the gated solution must be nonzero and better
            if kind == Kind::GatedRelu {
                let s = run(&inst, 0.5 * bmax, kind);
                assert!(
                    s.objective < half_y2 * (1.0 - 1e-6),
                    "{} vs {}",
                    s.objective,
                    half_y2
                );
            }
        }
    }
}

#[test]
fn closed_form_one_dimensional() {
    // x_j = j+1 > 0, y = 2x, masks: all ones and all zeros.
    // Gated and ReLU: u = v = 2 − β/‖x‖², w = 0, dead group = 0.
    let n = 6;
    let x: Vec<f64> = (0..n).map(|j| (j + 1) as f64).collect();
    let y: Vec<f64> = x.iter().map(|t| 2.0 * t).collect();
    let masks = vec![vec![true; n], vec![false; n]];
    let xx = dot(&x, &x);
    for &beta in &[1e-3, 0.5, 10.0] {
        let u = 2.0 - beta / xx;
        let f = 0.5 * (beta / xx).powi(2) * xx + beta * u;
        for kind in [Kind::Relu, Kind::GatedRelu] {
            let s = solve(&x, n, 1, &y, &masks, beta, kind).unwrap();
            assert!(
                (s.v[0][0] - u).abs() < 1e-6,
                "{kind:?} β={beta}: v={} u={u}",
                s.v[0][0]
            );
            assert!(s.v[1][0].abs() < 1e-6);
            if kind == Kind::Relu {
                assert!(
                    s.w[0][0].abs() < 1e-6 && s.w[1][0].abs() < 1e-6,
                    "{kind:?} β={beta}: w={:?}",
                    s.w
                );
            }
            assert!(
                (s.objective - f).abs() <= 1e-9 * (1.0 + f),
                "{kind:?} β={beta}: {} vs {f}",
                s.objective
            );
        }
    }

    // Mixed-sign data with the all-ones mask: the ReLU cone forces v = w = 0,
    // while the gated program still fits.
    let x = vec![1.0, -1.0, 2.0];
    let y: Vec<f64> = x.iter().map(|t| 2.0 * t).collect();
    let masks = vec![vec![true; 3]];
    let beta = 0.3;
    let xx = dot(&x, &x);
    let relu = solve(&x, 3, 1, &y, &masks, beta, Kind::Relu).unwrap();
    let half_y2 = 0.5 * dot(&y, &y);
    assert!(
        (relu.objective - half_y2).abs() < 1e-8,
        "{}",
        relu.objective
    );
    let gated = solve(&x, 3, 1, &y, &masks, beta, Kind::GatedRelu).unwrap();
    let u = 2.0 - beta / xx;
    assert!((gated.v[0][0] - u).abs() < 1e-7);
    assert!(gated.objective < relu.objective);
}

/// Perturbs one group of the solution and returns the objective there.
fn perturbed(
    inst: &Instance,
    beta: f64,
    kind: Kind,
    s: &OracleSolution,
    which_w: bool,
    i: usize,
    f: impl Fn(&[f64]) -> Vec<f64>,
) -> (f64, f64) {
    let mut v = s.v.clone();
    let mut w = s.w.clone();
    let g = if which_w { &mut w[i] } else { &mut v[i] };
    *g = f(g);
    let o = obj(inst, beta, kind, &v, &w);
    let vi = max_violation(
        &inst.x,
        inst.n,
        inst.d,
        &inst.y,
        &inst.masks,
        beta,
        kind,
        &v,
        &w,
    );
    (o, vi)
}

#[test]
fn random_instances_optimality() {
    let mut rng = StdRng::seed_from_u64(2024);
    for trial in 0..8 {
        let n = rng.random_range(20..=40);
        let d = rng.random_range(3..=5);
        let p = rng.random_range(4..=8);
        let inst = instance(&mut rng, n, d, p);
        let beta = beta_max(&inst) * [0.01, 0.05, 0.2, 0.5][trial % 4];

        let relu = run(&inst, beta, Kind::Relu);
        let gated = run(&inst, beta, Kind::GatedRelu);
        let tol = 1e-9 * (1.0 + relu.objective);

        // objective field is the recomputed objective
        assert_eq!(
            relu.objective,
            obj(&inst, beta, Kind::Relu, &relu.v, &relu.w)
        );
        // feasibility
        let vr = viol(&inst, beta, Kind::Relu, &relu);
        assert!(vr <= 1e-7, "trial {trial}: violation {vr}");
        // gated relaxes ReLU
        assert!(
            gated.objective <= relu.objective + tol,
            "trial {trial}: gated {} > relu {}",
            gated.objective,
            relu.objective
        );
        // the ReLU solution mapped to u = v − w is gated-feasible and no better than gated opt
        let u: Vec<Vec<f64>> = relu
            .v
            .iter()
            .zip(&relu.w)
            .map(|(a, b)| a.iter().zip(b).map(|(p, q)| p - q).collect())
            .collect();
        assert!(gated.objective <= obj(&inst, beta, Kind::GatedRelu, &u, &[]) + tol);

        // ---- ReLU: feasible perturbations never lower the objective
        for i in 0..p {
            for which_w in [false, true] {
                let h = &inst.gates[i];
                let hn = norm(h);
                let mut cands: Vec<Box<dyn Fn(&[f64]) -> Vec<f64>>> = vec![
                    Box::new(|g: &[f64]| g.iter().map(|t| t * (1.0 + 1e-3)).collect()),
                    Box::new(|g: &[f64]| g.iter().map(|t| t * (1.0 - 1e-3)).collect()),
                    Box::new(|g: &[f64]| vec![0.0; g.len()]),
                ];
                // move towards c·h_i (a point of the cone {(2D_i − I) X z ≥ 0})
                for _ in 0..3 {
                    let c = rng.random_range(0.1..3.0) / hn;
                    let eps = [1e-3, 1e-2, 1e-1][rng.random_range(0..3)];
                    let h = h.clone();
                    cands.push(Box::new(move |g: &[f64]| {
                        g.iter()
                            .zip(&h)
                            .map(|(t, hk)| (1.0 - eps) * t + eps * c * hk)
                            .collect()
                    }));
                }
                for f in cands {
                    let (o, vi) = perturbed(&inst, beta, Kind::Relu, &relu, which_w, i, f);
                    assert!(vi <= 1e-7, "perturbation left the feasible set: {vi}");
                    assert!(
                        o >= relu.objective - tol,
                        "trial {trial}: ReLU perturbation lowered objective {} -> {o}",
                        relu.objective
                    );
                }
            }
        }

        // ---- Gated: arbitrary perturbations never lower the objective
        for i in 0..p {
            for _ in 0..4 {
                let dir: Vec<f64> = (0..d).map(|_| gauss(&mut rng)).collect();
                let scale = 1e-3 * (1.0 + norm(&gated.v[i]));
                let (o, _) = perturbed(&inst, beta, Kind::GatedRelu, &gated, false, i, |g| {
                    g.iter().zip(&dir).map(|(t, e)| t + scale * e).collect()
                });
                assert!(
                    o >= gated.objective - tol,
                    "trial {trial}: gated perturbation lowered objective"
                );
            }
        }

        // ---- Gated KKT: g_i = (D_i X)ᵀ r must satisfy g_i = −β u_i/‖u_i‖ (u_i ≠ 0) or ‖g_i‖ ≤ β
        let mut r: Vec<f64> = inst.y.iter().map(|t| -t).collect();
        for j in 0..n {
            for (i, m) in inst.masks.iter().enumerate() {
                if m[j] {
                    r[j] += dot(&inst.x[j * d..(j + 1) * d], &gated.v[i]);
                }
            }
        }
        let umax = gated.v.iter().map(|u| norm(u)).fold(0.0, f64::max);
        for (i, m) in inst.masks.iter().enumerate() {
            let mut g = vec![0.0; d];
            for j in 0..n {
                if m[j] {
                    for k in 0..d {
                        g[k] += inst.x[j * d + k] * r[j];
                    }
                }
            }
            let un = norm(&gated.v[i]);
            let gn = norm(&g);
            let comp = dot(&g, &gated.v[i]) + beta * un;
            // dual feasibility ‖g_i‖ ≤ β and complementarity g_iᵀu_i + β‖u_i‖ = 0
            // (≥ 0 always given ‖g_i‖ ≤ β; = 0 iff g_i = −β u_i/‖u_i‖ or u_i = 0).
            assert!(
                gn <= beta * (1.0 + 1e-7),
                "trial {trial} group {i}: ‖g‖/β − 1 = {:e}",
                gn / beta - 1.0
            );
            assert!(
                comp.abs() <= 1e-8 * beta * (1.0 + un),
                "trial {trial} group {i}: complementarity gᵀu + β‖u‖ = {comp:e} (‖u‖ = {un:e})"
            );
            if un > 1e-3 * (1.0 + umax) {
                assert!(
                    gn >= beta * (1.0 - 1e-7),
                    "trial {trial} group {i}: active group with ‖g‖ < β"
                );
            }
        }
    }
}

#[test]
fn timing_sanity() {
    let mut rng = StdRng::seed_from_u64(99);
    let inst = instance(&mut rng, 200, 10, 16);
    let beta = 0.05 * beta_max(&inst);
    for kind in [Kind::Relu, Kind::GatedRelu] {
        let t0 = Instant::now();
        let s = run(&inst, beta, kind);
        let dt = t0.elapsed().as_secs_f64();
        eprintln!(
            "n=200 d=10 P=16 {kind:?}: {dt:.3}s, status {}, objective {}",
            s.status, s.objective
        );
        assert!(dt < 5.0, "{kind:?} took {dt}s");
        assert!(viol(&inst, beta, kind, &s) <= 1e-7);
    }
}

/// Independent cross-check of the gated program with FISTA (group soft-thresholding).
#[test]
fn gated_matches_fista() {
    let mut rng = StdRng::seed_from_u64(31);
    for _ in 0..3 {
        let (n, d, p) = (30, 4, 5);
        let inst = instance(&mut rng, n, d, p);
        let beta = 0.1 * beta_max(&inst);
        let oracle = run(&inst, beta, Kind::GatedRelu);

        // F z = Σ_i D_i X z_i
        let apply = |z: &[Vec<f64>]| -> Vec<f64> {
            (0..n)
                .map(|j| {
                    let row = &inst.x[j * d..(j + 1) * d];
                    (0..p)
                        .filter(|&i| inst.masks[i][j])
                        .map(|i| dot(row, &z[i]))
                        .sum()
                })
                .collect()
        };
        let apply_t = |r: &[f64]| -> Vec<Vec<f64>> {
            (0..p)
                .map(|i| {
                    let mut g = vec![0.0; d];
                    for j in 0..n {
                        if inst.masks[i][j] {
                            for k in 0..d {
                                g[k] += inst.x[j * d + k] * r[j];
                            }
                        }
                    }
                    g
                })
                .collect()
        };
        // Lipschitz constant ‖F‖² by power iteration (with a safety margin)
        let mut z: Vec<Vec<f64>> = (0..p)
            .map(|_| (0..d).map(|_| gauss(&mut rng)).collect())
            .collect();
        let mut lip = 0.0;
        for _ in 0..200 {
            let nz = z.iter().map(|g| dot(g, g)).sum::<f64>().sqrt();
            z.iter_mut().flatten().for_each(|t| *t /= nz);
            z = apply_t(&apply(&z));
            lip = z.iter().map(|g| dot(g, g)).sum::<f64>().sqrt();
        }
        let step = 1.0 / (1.01 * lip);

        let zero = vec![vec![0.0; d]; p];
        let (mut zk, mut yk, mut tk) = (zero.clone(), zero.clone(), 1.0f64);
        for _ in 0..20000 {
            let mut r = apply(&yk);
            r.iter_mut().zip(&inst.y).for_each(|(a, b)| *a -= b);
            let g = apply_t(&r);
            let znew: Vec<Vec<f64>> = yk
                .iter()
                .zip(&g)
                .map(|(yi, gi)| {
                    let c: Vec<f64> = yi.iter().zip(gi).map(|(a, b)| a - step * b).collect();
                    let cn = norm(&c);
                    let shrink = if cn > step * beta {
                        1.0 - step * beta / cn
                    } else {
                        0.0
                    };
                    c.iter().map(|t| t * shrink).collect()
                })
                .collect();
            let tnew = 0.5 * (1.0 + (1.0 + 4.0 * tk * tk).sqrt());
            let mom = (tk - 1.0) / tnew;
            yk = znew
                .iter()
                .zip(&zk)
                .map(|(a, b)| a.iter().zip(b).map(|(p, q)| p + mom * (p - q)).collect())
                .collect();
            zk = znew;
            tk = tnew;
        }
        let f_fista = obj(&inst, beta, Kind::GatedRelu, &zk, &[]);
        let tol = 1e-9 * (1.0 + oracle.objective);
        assert!(
            f_fista >= oracle.objective - tol,
            "FISTA {f_fista} beat oracle {}",
            oracle.objective
        );
        assert!(
            f_fista - oracle.objective <= 1e-7 * (1.0 + oracle.objective),
            "oracle {} vs FISTA {f_fista}",
            oracle.objective
        );
    }
}

/// Robustness: many random instances over a wide range of β, including
/// duplicate, all-true and all-false masks, must all solve to full accuracy
/// with feasible weights.
#[test]
fn stress_many_instances() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut almost = 0;
    let total = 60;
    for t in 0..total {
        let n = rng.random_range(10..=40);
        let d = rng.random_range(1..=5);
        let p = rng.random_range(1..=8);
        let mut inst = instance(&mut rng, n, d, p);
        match t % 5 {
            1 => inst.masks.push(vec![true; n]),
            2 => inst.masks.push(vec![false; n]),
            3 => {
                let m = inst.masks[0].clone();
                inst.masks.push(m);
            }
            _ => {}
        }
        let frac = [1e-4, 1e-3, 1e-2, 0.1, 0.5, 0.9][t % 6];
        let beta = frac * beta_max(&inst).max(1e-12);
        for kind in [Kind::Relu, Kind::GatedRelu] {
            let s = solve(&inst.x, inst.n, inst.d, &inst.y, &inst.masks, beta, kind)
                .unwrap_or_else(|e| {
                    panic!("instance {t} {kind:?} (n={n} d={d} β-frac={frac}): {e}")
                });
            if s.status != "Solved" {
                almost += 1;
            }
            assert!(viol(&inst, beta, kind, &s) <= 1e-7, "instance {t} {kind:?}");
            let half_y2 = 0.5 * dot(&inst.y, &inst.y);
            assert!(
                s.objective <= half_y2 * (1.0 + 1e-9),
                "instance {t} {kind:?} (n={n} d={d} P={} β-frac={frac}): objective {} > ½‖y‖² = {half_y2} [{}]",
                inst.masks.len(),
                s.objective,
                s.status
            );
        }
    }
    eprintln!("stress: {almost} of {} solves were AlmostSolved", 2 * total);
    assert!(almost <= total / 10, "too many AlmostSolved: {almost}");
}
