//! Sparse X against the densified solve: on small seeded data the sparse kernels (CSR, see
//! `cronos::sparse`) and the dense GEMMs must give the same objective, lower bound, gap and
//! weights to rounding, for both activations, both Gram forms (d ≤ n and the wide Woodbury
//! form), the split losses, and in f32; and sparse input must be accepted by the solver
//! directly (`Solver::new_data`).
use cronos::data::{with_storage, Storage};
use cronos::gram::{with_form, GramForm};
use cronos::{Activation, Beta, Csr, Loss, PrecondKind, Real, Settings, Solver};
use faer::Mat;
use rand::{Rng, SeedableRng};

/// n × d with about `density` of the entries non-zero, and y a smooth function of X.
fn sparse_problem(n: usize, d: usize, density: f64, seed: u64, classify: bool) -> (Mat<f64>, Mat<f64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let x = Mat::<f64>::from_fn(n, d, |_, _| if rng.random::<f64>() < density { rng.random::<f64>() * 2.0 } else { 0.0 });
    let y = Mat::<f64>::from_fn(n, 1, |i, _| {
        let s: f64 = (0..d).map(|j| x[(i, j)] * ((j % 5) as f64 - 2.0)).sum::<f64>() - 0.3;
        if classify { if s > 0.0 { 1.0 } else { -1.0 } } else { s.abs() + 0.1 * s }
    });
    (x, y)
}

/// Newton polishing is off (`polish_below: 0`) except where said: its backtracking line
/// search turns last-bit differences into ~1e-8 ones, between thread counts of the dense
/// solve as much as between storages (see the last test); ADMM itself agrees to ~1e-15.
fn settings(act: Activation, loss: Loss) -> Settings {
    Settings {
        polish_below: 0.0,
        activation: act,
        loss,
        n_patterns: 8,
        beta: Beta::Fraction(0.05),
        max_iter: 60,
        tol_gap: 1e-12,
        certificate_every: 5,
        threads: 2,
        ..Settings::default()
    }
}

struct Run {
    objective: f64,
    lower: f64,
    gap: f64,
    weights: Mat<f64>,
    bytes: usize,
}

fn run<T: Real>(x: &Mat<f64>, y: &Mat<f64>, s: Settings, storage: Storage, form: GramForm) -> Run {
    let xt = Mat::<T>::from_fn(x.nrows(), x.ncols(), |i, j| T::from_f64(x[(i, j)]));
    let yt = Mat::<T>::from_fn(y.nrows(), y.ncols(), |i, j| T::from_f64(y[(i, j)]));
    // the sparse run gets CSR input, the dense run dense input: the conversion is exercised too
    let csr = Csr::from_dense(xt.as_ref());
    with_form(form, || {
        with_storage(storage, || {
            let mut solver = match storage {
                Storage::Sparse => Solver::new_data(&csr, yt.as_ref(), None, s).unwrap(),
                Storage::Dense => Solver::new_data(xt.as_ref(), yt.as_ref(), None, s).unwrap(),
            };
            let sol = solver.solve();
            let w = solver.model().weights;
            Run {
                objective: sol.certificate.objective,
                lower: sol.certificate.lower_bound,
                gap: sol.certificate.relative_gap,
                weights: Mat::from_fn(w.nrows(), w.ncols(), |i, j| w[(i, j)].to_f64()),
                bytes: solver.design_bytes(),
            }
        })
    })
}

/// `lower_tol` for the lower bound and the weights: with a split loss it is the maximum of a golden-section
/// search over the dual scale (48 steps, so an interval of ~1e-10 of its range), whose
/// branches a last-bit difference can flip; the kernels themselves agree to ~1e-13.
fn assert_same_lb(a: &Run, b: &Run, tol: f64, lower_tol: f64, what: &str) {
    let rel = |u: f64, v: f64| (u - v).abs() / u.abs().max(v.abs()).max(1e-300);
    assert!(rel(a.objective, b.objective) <= tol, "{what}: objective {} vs {}", a.objective, b.objective);
    assert!(rel(a.lower, b.lower) <= lower_tol, "{what}: lower bound {} vs {}", a.lower, b.lower);
    assert!((a.gap - b.gap).abs() <= lower_tol.max(1e-12), "{what}: gap {} vs {}", a.gap, b.gap);
    let wmax = a.weights.norm_max().max(1e-300);
    let dw = (&a.weights - &b.weights).norm_max() / wmax;
    assert!(dw <= lower_tol, "{what}: weights differ by {dw:e} (relative to max |w| = {wmax})");
    assert!(a.objective.is_finite() && a.objective > 0.0, "{what}: objective {}", a.objective);
    eprintln!("{what}: objective rel. diff {:.1e}, lower bound {:.1e}, weights {dw:.1e}", rel(a.objective, b.objective), rel(a.lower, b.lower));
}

fn assert_same(a: &Run, b: &Run, tol: f64, what: &str) {
    assert_same_lb(a, b, tol, tol, what)
}

#[test]
fn sparse_equals_dense_in_f64_for_both_activations_and_forms() {
    // tall (d ≤ n: primal Gram form) and wide (d > n: the n × n Woodbury form)
    for (n, d, seed) in [(150, 40, 1u64), (50, 120, 2)] {
        let (x, y) = sparse_problem(n, d, 0.1, seed, false);
        for act in [Activation::GatedRelu, Activation::Relu] {
            for form in [GramForm::Primal, GramForm::Dual] {
                let s = settings(act, Loss::Squared);
                let dense = run::<f64>(&x, &y, s.clone(), Storage::Dense, form);
                let sparse = run::<f64>(&x, &y, s, Storage::Sparse, form);
                eprintln!("{n}×{d} {act:?} {form:?}: objective {:.12} / {:.12}, gap {:.3e}, dense {} B sparse {} B",
                    dense.objective, sparse.objective, dense.gap, dense.bytes, sparse.bytes);
                assert_same(&dense, &sparse, 1e-10, &format!("{n}×{d} {act:?} {form:?}"));
            }
        }
    }
}

#[test]
fn sparse_equals_dense_for_split_losses_and_other_preconditioners() {
    let (x, y) = sparse_problem(120, 30, 0.15, 3, true);
    for (act, loss, pre) in [
        (Activation::GatedRelu, Loss::Logistic, PrecondKind::Structured),
        (Activation::Relu, Loss::Logistic, PrecondKind::Nystrom),
        // (no preconditioner is left out: unpreconditioned CG on these ill-conditioned systems
        // turns rounding into ~1e-8 differences, between thread counts as well)
        (Activation::GatedRelu, Loss::Squared, PrecondKind::Nystrom),
    ] {
        let s = Settings { preconditioner: pre, ..settings(act, loss) };
        let dense = run::<f64>(&x, &y, s.clone(), Storage::Dense, GramForm::Primal);
        let sparse = run::<f64>(&x, &y, s, Storage::Sparse, GramForm::Primal);
        // ReLU with the Nyström sketch: adaptive σ/ρ and sketch decisions amplify to ~1e-10
        let lower_tol = if loss == Loss::Squared { 1e-10 } else { 1e-9 };
        assert_same_lb(&dense, &sparse, 1e-10, lower_tol, &format!("{act:?} {loss:?} {pre:?}"));
    }
}

#[test]
fn sparse_equals_dense_in_f32_to_its_rounding() {
    let (x, y) = sparse_problem(100, 25, 0.1, 4, false);
    let s = Settings { max_iter: 30, ..settings(Activation::GatedRelu, Loss::Squared) };
    let dense = run::<f32>(&x, &y, s.clone(), Storage::Dense, GramForm::Primal);
    let sparse = run::<f32>(&x, &y, s, Storage::Sparse, GramForm::Primal);
    assert_same(&dense, &sparse, 1e-3, "f32");
}

#[test]
fn storage_follows_density_and_sparse_x_is_small() {
    // 0.5% dense: chosen sparse without forcing; the design holds far less than n·d values
    let (x, y) = sparse_problem(400, 600, 0.005, 5, false);
    let csr = Csr::from_dense(x.as_ref());
    assert_eq!(Storage::choose(csr.nnz(), 400, 601, 1), Storage::Sparse);
    assert_eq!(Storage::choose(400 * 601 / 2, 400, 601, 1), Storage::Dense);
    assert_eq!(Storage::choose(0, 400, 601, 2), Storage::Dense, "several ranks stay dense");
    let s = Settings { max_iter: 5, ..settings(Activation::GatedRelu, Loss::Squared) };
    let mut solver = Solver::new_data(&csr, y.as_ref(), None, s.clone()).unwrap();
    solver.solve();
    let dense_bytes = with_storage(Storage::Dense, || Solver::new_data(&csr, y.as_ref(), None, s.clone()).unwrap().design_bytes());
    assert!(solver.design_bytes() < dense_bytes / 2, "sparse design {} B vs dense {} B", solver.design_bytes(), dense_bytes);
    // the same matrix given dense is stored sparse too, and solved to the same bits
    let a = solver.model().weights;
    let mut from_dense = Solver::new_data(x.as_ref(), y.as_ref(), None, s).unwrap();
    from_dense.solve();
    assert_eq!(from_dense.design_bytes(), solver.design_bytes());
    assert!(a == from_dense.model().weights, "dense input stored sparse gives other weights");
}

#[test]
fn bad_sparse_input_is_a_typed_error() {
    let x = Csr::<f64>::new(3, 2, vec![0, 1, 2, 3], vec![0, 1, 0], vec![1.0, f64::NAN, 2.0]).unwrap();
    let y = Mat::<f64>::from_fn(3, 1, |i, _| i as f64);
    let e = Solver::new_data(&x, y.as_ref(), None, Settings::default()).err().unwrap().to_string();
    assert!(e.contains("non-finite") && e.contains("row 1"), "{e}");
    let y2 = Mat::<f64>::zeros(4, 1);
    let e = Solver::new_data(&x, y2.as_ref(), None, Settings::default()).err().unwrap().to_string();
    assert!(e.contains("y"), "{e}");
}


#[test]
fn with_newton_polishing_sparse_differs_no_more_than_thread_counts_do() {
    // gated polishing's line search amplifies last-bit differences (here to ~3e-8 from 1 vs
    // 2 threads of the dense solve): the sparse solve must stay within that same spread
    let (x, y) = sparse_problem(150, 40, 0.1, 1, false);
    let s2 = Settings { polish_below: 0.5, ..settings(Activation::GatedRelu, Loss::Squared) };
    let s1 = Settings { threads: 1, ..s2.clone() };
    let a = run::<f64>(&x, &y, s1, Storage::Dense, GramForm::Primal);
    let b = run::<f64>(&x, &y, s2.clone(), Storage::Dense, GramForm::Primal);
    let c = run::<f64>(&x, &y, s2, Storage::Sparse, GramForm::Primal);
    let threads = (&a.weights - &b.weights).norm_max();
    let storage = (&b.weights - &c.weights).norm_max();
    eprintln!("polished: dense 1 vs 2 threads {threads:.2e}, dense vs sparse {storage:.2e}");
    // threads may agree to the last bit on some runs (4.7e-16) and differ by 3e-8 on others:
    // the bound is the larger of ten times that spread and 1e-6 of the weights' scale
    let bound = (10.0 * threads).max(1e-6 * b.weights.norm_max());
    assert!(storage <= bound, "dense vs sparse {storage:e} vs threads {threads:e}");
    assert!((b.objective - c.objective).abs() <= 1e-10 * b.objective);
}
