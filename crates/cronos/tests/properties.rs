//! Property tests of the operators, preconditioners, recovery, determinism and bad input.
mod common;
use common::*;
use cronos::design::Design;
use cronos::nystrom::nystrom;
use cronos::patterns::sample_patterns;
use cronos::pcg::{pcg, PcgWorkspace, Precond, ScratchBuf};
use cronos::precond::{BlockWhitener, NystromPrecond, StructuredPrecond};
use cronos::system::{view, view_mut, System};
use cronos::{Activation, Beta, CronosError, Rank, Settings, Solver};
use faer::{Mat, Par};

fn rand_vec(len: usize, seed: u64) -> Vec<f64> {
    let mut r = Rng(seed | 1);
    (0..len).map(|_| r.next()).collect()
}
fn dotv(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Design + system on random data with `shards` row shards (bias column appended).
fn setup(n: usize, d: usize, p: usize, relu: bool, k: usize, shards: usize) -> (Design<f64>, System<f64>, Mat<f64>) {
    let (x0, _) = random_problem(n, d, 11);
    let x = Mat::<f64>::from_fn(n, d + 1, |i, j| if j < d { x0[(i, j)] } else { 1.0 });
    let s = sample_patterns(x.as_ref(), p, 4, Par::Seq);
    let nb = if relu { 2 * s.patterns.p() } else { s.patterns.p() };
    let mut design = Design::new(x.clone(), s.patterns, shards, nb * k, 2 * p * k);
    let gram = design.gram();
    let sys = System::new(&design, relu, k, gram);
    let _ = &mut design;
    (design, sys, x)
}

/// The explicit F (n × N) of the definition: block j of v is D_j X, of w is −D_j X.
fn explicit_f(design: &Design<f64>, x: &Mat<f64>, relu: bool) -> Mat<f64> {
    let (n, d, p) = (x.nrows(), x.ncols(), design.p());
    let nb = if relu { 2 * p } else { p };
    Mat::from_fn(n, d * nb, |i, c| {
        let (b, f) = (c / d, c % d);
        let (j, sign) = if b < p { (b, 1.0) } else { (b - p, -1.0) };
        if design.patterns().get(i, j) { sign * x[(i, f)] } else { 0.0 }
    })
}

#[test]
fn f_matches_definition_and_adjoints_hold() {
    for relu in [true, false] {
        for shards in [1, 3] {
            let (mut design, mut sys, x) = setup(150, 4, 6, relu, 2, shards);
            let nbd = sys.layout.output_len();
            let u = rand_vec(nbd * 2, 1);
            let mut fu = Mat::<f64>::zeros(150, 2);
            sys.f(&mut design, &u, fu.as_mut());
            let fe = explicit_f(&design, &x, relu);
            for c in 0..2 {
                let uc = Mat::<f64>::from_fn(nbd, 1, |i, _| u[c * nbd + i]);
                let want = &fe * &uc;
                for i in 0..150 {
                    assert!((fu[(i, c)] - want[(i, 0)]).abs() < 1e-12, "F u differs from the definition");
                }
            }
            // ⟨F u, r⟩ = ⟨u, Fᵀ r⟩
            let r = Mat::<f64>::from_fn(150, 2, |i, c| ((i * 7 + c * 3) % 11) as f64 - 5.0);
            let mut ftr = vec![0.0; nbd * 2];
            sys.ft(&mut design, r.as_ref(), &mut ftr);
            let lhs: f64 = (0..2).map(|c| (0..150).map(|i| fu[(i, c)] * r[(i, c)]).sum::<f64>()).sum();
            assert!((lhs - dotv(&u, &ftr)).abs() < 1e-9 * lhs.abs().max(1.0));
            // fused FᵀF = Fᵀ(F u)
            let mut ftf = vec![0.0; nbd * 2];
            sys.ftf(&mut design, &u, &mut ftf);
            let mut ft_fu = vec![0.0; nbd * 2];
            sys.ft(&mut design, fu.as_ref(), &mut ft_fu);
            for i in 0..ftf.len() {
                assert!((ftf[i] - ft_fu[i]).abs() < 1e-9 * (1.0 + ft_fu[i].abs()));
            }
        }
    }
}

#[test]
fn gtg_is_block_diagonal_gram_and_slack_pass_matches() {
    let (mut design, sys, x) = setup(120, 3, 5, true, 1, 2);
    let (n, d, p) = (120, 4, design.p());
    let u = rand_vec(sys.layout.output_len(), 3);
    // explicit G: block (j, side) is (2D_j − I) X acting on that block
    let mut gu = vec![0.0; n * 2 * p];
    for b in 0..2 * p {
        let j = b % p;
        for i in 0..n {
            let e = if design.patterns().get(i, j) { 1.0 } else { -1.0 };
            gu[b * n + i] = e * (0..d).map(|f| x[(i, f)] * u[b * d + f]).sum::<f64>();
        }
    }
    let mut gtgu = vec![0.0; u.len()];
    for b in 0..2 * p {
        let j = b % p;
        for f in 0..d {
            gtgu[b * d + f] = (0..n).map(|i| (if design.patterns().get(i, j) { 1.0 } else { -1.0 }) * x[(i, f)] * gu[b * n + i]).sum();
        }
    }
    let mut ours = vec![0.0; u.len()];
    sys.gtg(&u, &mut ours);
    for i in 0..u.len() {
        assert!((ours[i] - gtgu[i]).abs() < 1e-9 * (1.0 + gtgu[i].abs()), "GᵀG ≠ blkdiag(XᵀX)");
    }
    // slack pass with ν = 0, γ = 1, σ = 1: s = max(0, Gu), ν = Gu − s = min(0, Gu)
    let (mut gts, mut gtnu) = (vec![0.0; u.len()], vec![0.0; u.len()]);
    let st = design.slack_pass(view(&u, d), 1.0, 1.0, view_mut(&mut gts, d), view_mut(&mut gtnu, d));
    let neg: f64 = gu.iter().map(|v| v.min(0.0).powi(2)).sum();
    assert!((st.primal_sq - neg).abs() < 1e-9 * (1.0 + neg));
    for b in 0..2 * p {
        let j = b % p;
        for f in 0..d {
            let want: f64 = (0..n).map(|i| (if design.patterns().get(i, j) { 1.0 } else { -1.0 }) * x[(i, f)] * gu[b * n + i].max(0.0)).sum();
            assert!((gts[b * d + f] - want).abs() < 1e-9 * (1.0 + want.abs()));
        }
    }
}

/// Dense SPD operator for preconditioner tests: A = I + H with H = G Gᵀ.
fn dense_h(n: usize, r: usize) -> Mat<f64> {
    let g = Mat::<f64>::from_fn(n, r, |i, j| (((i * 13 + j * 7) % 17) as f64 - 8.0) / (1.0 + j as f64));
    &g * g.transpose()
}

fn check_spd(pre: &dyn Precond<f64>, n: usize) {
    let (a, b) = (rand_vec(n, 5), rand_vec(n, 6));
    let (mut pa, mut pb) = (vec![0.0; n], vec![0.0; n]);
    let mut scratch = ScratchBuf::new(pre.scratch_req(n, 1));
    pre.apply(&a, &mut pa, 1, scratch.scratch());
    pre.apply(&b, &mut pb, 1, scratch.scratch());
    assert!((dotv(&pa, &b) - dotv(&a, &pb)).abs() < 1e-9 * dotv(&a, &a).sqrt() * dotv(&b, &b).sqrt(), "not symmetric");
    assert!(dotv(&pa, &a) > 0.0, "not positive");
}

#[test]
fn nystrom_preconditioner_is_spd_and_exact_at_full_rank() {
    let n = 60;
    let h = dense_h(n, 10);
    for rank in [Rank::Fixed(5), Rank::Fixed(n), Rank::Adaptive { max: 32 }] {
        let f = nystrom::<f64>(n, |o, y| *y = &h * o, rank, 1.0, 3).unwrap();
        let pre = NystromPrecond::new(f, 1.0);
        check_spd(&pre, n);
        if rank == Rank::Fixed(n) {
            // P = H + I exactly, so PCG on (I + H) converges in one step
            let b = rand_vec(n, 9);
            let mut x = vec![0.0; n];
            let apply = |v: &[f64], out: &mut [f64]| {
                let vm = Mat::<f64>::from_fn(n, 1, |i, _| v[i]);
                let r = &h * &vm;
                for i in 0..n {
                    out[i] = v[i] + r[(i, 0)];
                }
            };
            let info = pcg(apply, &pre, &b, &mut x, 1, 1e-10, 10, &mut PcgWorkspace::new(n));
            assert!(info.converged && info.iterations <= 2, "{info:?}");
        }
    }
}

#[test]
fn structured_preconditioner_is_spd() {
    let (mut design, mut sys, _) = setup(200, 5, 4, true, 1, 1);
    let d = sys.d();
    let nbd = sys.layout.output_len();
    let g64 = sys.gram.dense().unwrap().clone();
    let evd = g64.self_adjoint_eigen(faer::Side::Lower).unwrap();
    let q = evd.U().to_owned();
    let lam: Vec<f64> = (0..d).map(|i| evd.S().column_vector()[i]).collect();
    let white = BlockWhitener::new(d, Some((q, lam)));
    let f = nystrom::<f64>(nbd, |o, y| {
        let l = o.ncols();
        let x: Vec<f64> = (0..l).flat_map(|j| (0..nbd).map(move |i| (i, j))).map(|(i, j)| o[(i, j)]).collect();
        let (mut a, mut b, mut t) = (vec![0.0; nbd * l], vec![0.0; nbd * l], vec![0.0; nbd * l]);
        white.apply(&x, &mut a, &mut t);
        sys.ftf(&mut design, &a, &mut b);
        white.apply(&b, &mut a, &mut t);
        *y = Mat::from_fn(nbd, l, |i, j| a[j * nbd + i]);
    }, Rank::Fixed(8), 1.0, 1)
    .unwrap();
    let pre = StructuredPrecond::new(white, f, 0.5);
    check_spd(&pre, nbd);
}

#[test]
fn recovered_network_matches_convex_model_on_training_data() {
    let (x, y) = random_problem(60, 3, 21);
    for act in [Activation::GatedRelu, Activation::Relu] {
        let s = Settings { activation: act, n_patterns: 8, beta: Beta::Value(0.02), max_iter: 4000, tol_gap: 1e-8, tol_residual: 1e-9, threads: 1, ..Settings::default() };
        let mut solver = Solver::new(x.as_ref(), y.as_ref(), s).unwrap();
        solver.solve();
        let m = solver.model();
        let (net, cvx) = (m.predict(x.as_ref()).unwrap(), m.predict_convex(x.as_ref()).unwrap());
        // The two differ only through violated cone constraints: per row, by at most the sum of
        // the violations |x̃ᵀz_g| over groups whose sign disagrees with their pattern.
        let p = m.n_patterns();
        let xb = Mat::<f64>::from_fn(60, 4, |i, j| if j < 3 { x[(i, j)] } else { 1.0 });
        let pre = &xb * &m.weights;
        let gate = &xb * &m.gates;
        let scale = (0..60).map(|i| cvx[(i, 0)].abs()).fold(1.0, f64::max);
        let mut worst: f64 = 0.0;
        for i in 0..60 {
            let viol: f64 = (0..m.weights.ncols())
                .map(|b| {
                    let on = gate[(i, b % p)] >= 0.0;
                    let v = pre[(i, b)];
                    if (on && v < 0.0) || (!on && v > 0.0) { v.abs() } else { 0.0 }
                })
                .sum();
            worst = worst.max(viol);
            assert!((net[(i, 0)] - cvx[(i, 0)]).abs() <= viol + 1e-12 * scale, "{act:?} row {i}: network {} vs convex {} with violation {viol}", net[(i, 0)], cvx[(i, 0)]);
        }
        if act == Activation::GatedRelu {
            let d = (&net - &cvx).norm_l2();
            assert!(d < 1e-10 * scale, "gated: the network is the convex model, differs by {d}");
        } else {
            assert!(worst < 1e-2 * scale, "constraint violation {worst} too large");
        }
        // the network's weight decay equals the group norm
        let nw = m.network();
        let decay: f64 = 0.5 * (nw.w1.squared_norm_l2() + nw.b1.iter().map(|b| b * b).sum::<f64>() + nw.w2.squared_norm_l2());
        let group: f64 = (0..m.weights.ncols()).map(|j| m.weights.col(j).norm_l2()).sum();
        assert!((decay - group).abs() < 1e-9 * group.max(1.0));
    }
}

#[test]
fn deterministic_for_seed_and_threads() {
    let (x, y) = random_problem(300, 6, 3);
    let run = |threads| {
        let s = Settings { n_patterns: 10, max_iter: 30, threads, seed: 5, ..Settings::default() };
        let mut solver = Solver::new(x.as_ref(), y.as_ref(), s).unwrap();
        solver.solve();
        solver.model().weights
    };
    let (a, b) = (run(2), run(2));
    assert!(a == b, "same seed and thread count must give bit-identical weights");
    let c = run(1);
    let diff = (&a - &c).norm_l2() / a.norm_l2().max(1e-300);
    assert!(diff < 1e-6, "thread count changed the result by {diff}");
}

#[test]
fn f32_solves_too() {
    let (x, y) = random_problem(200, 5, 8);
    let (x, y) = (Mat::<f32>::from_fn(200, 5, |i, j| x[(i, j)] as f32), Mat::<f32>::from_fn(200, 1, |i, _| y[(i, 0)] as f32));
    let settings = Settings { activation: Activation::GatedRelu, n_patterns: 8, max_iter: 2000, beta: Beta::Value(0.05), tol_gap: 1e-4, ..Settings::default() };
    let mut s = Solver::new(x.as_ref(), y.as_ref(), settings.clone()).unwrap();
    let sol = s.solve();
    assert!(sol.certificate.relative_gap < 1e-3, "gap {}", sol.certificate.relative_gap);
    let (x64, y64) = (Mat::<f64>::from_fn(200, 5, |i, j| x[(i, j)] as f64), Mat::<f64>::from_fn(200, 1, |i, _| y[(i, 0)] as f64));
    let exact = Solver::new(x64.as_ref(), y64.as_ref(), Settings { tol_gap: 1e-7, max_iter: 20000, ..settings }).unwrap().solve().certificate;
    let rel = (sol.certificate.objective - exact.objective).abs() / exact.objective;
    assert!(rel < 1e-3, "f32 objective {} vs f64 {}", sol.certificate.objective, exact.objective);
}

fn err_of(x: &Mat<f64>, y: &Mat<f64>, s: Settings) -> CronosError {
    match Solver::new(x.as_ref(), y.as_ref(), s) {
        Err(e) => e,
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn bad_input_is_a_typed_error_naming_field_and_value() {
    let (x, y) = random_problem(20, 3, 1);
    let mut xn = x.clone();
    xn[(3, 1)] = f64::NAN;
    let e = err_of(&xn, &y, Settings::default());
    assert!(matches!(e, CronosError::InvalidData { what: "x", .. }) && e.to_string().contains("row 3"), "{e}");
    let mut yi = y.clone();
    yi[(0, 0)] = f64::INFINITY;
    assert!(matches!(err_of(&x, &yi, Settings::default()), CronosError::InvalidData { what: "y", .. }));
    let e = err_of(&Mat::zeros(0, 3), &Mat::zeros(0, 1), Settings::default());
    assert!(e.to_string().contains("empty"), "{e}");
    let e = err_of(&x, &Mat::zeros(19, 1), Settings::default());
    assert!(e.to_string().contains("19 rows"), "{e}");
    let cases: Vec<(Settings, &str, &str)> = vec![
        (Settings { n_patterns: 0, ..Settings::default() }, "n_patterns", "0"),
        (Settings { beta: Beta::Value(-1.0), ..Settings::default() }, "beta", "-1"),
        (Settings { beta: Beta::Fraction(2.0), ..Settings::default() }, "beta", "2"),
        (Settings { rank: Rank::Fixed(100000), ..Settings::default() }, "rank", "100000"),
        (Settings { rho: Some(f64::NAN), ..Settings::default() }, "rho", "NaN"),
        (Settings { max_iter: 0, ..Settings::default() }, "max_iter", "0"),
        (Settings { constraint_scale: 0.0, ..Settings::default() }, "constraint_scale", "0"),
    ];
    for (s, field, value) in cases {
        let e = err_of(&x, &y, s);
        let msg = e.to_string();
        assert!(matches!(e, CronosError::InvalidSetting { .. }) && msg.contains(field) && msg.contains(value), "{msg}");
    }
}

#[test]
fn singular_gram_and_constant_data_still_solve() {
    // duplicate and zero columns: XᵀX is singular, I + XᵀX is not
    let (x0, y) = random_problem(50, 3, 2);
    let x = Mat::<f64>::from_fn(50, 5, |i, j| match j { 3 => x0[(i, 0)], 4 => 0.0, _ => x0[(i, j)] });
    let mut s = Solver::new(x.as_ref(), y.as_ref(), Settings { n_patterns: 6, max_iter: 200, ..Settings::default() }).unwrap();
    let sol = s.solve();
    assert!(sol.certificate.objective.is_finite() && sol.certificate.lower_bound <= sol.certificate.objective + 1e-9);
    // all-zero features without bias have no pattern and no signal
    let e = err_of(&Mat::zeros(10, 2), &Mat::zeros(10, 1), Settings { bias: false, ..Settings::default() });
    assert!(e.to_string().contains("zero"), "{e}");
}
