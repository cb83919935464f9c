use cronos::{Activation, Beta, Settings, Solver};
use faer::Mat;

fn data(n: usize, d: usize, seed: u64) -> (Mat<f64>, Mat<f64>) {
    let mut s = seed;
    let mut rnd = || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; (s % 10000) as f64 / 5000.0 - 1.0 };
    let x = Mat::<f64>::from_fn(n, d, |_, _| rnd());
    let y = Mat::<f64>::from_fn(n, 1, |i, _| (x[(i, 0)] - 0.5 * x[(i, 1)]).max(0.0) - 0.3 * x[(i, 2)].abs() + 0.1 * rnd());
    (x, y)
}

#[test]
fn probe() {
    for act in [Activation::GatedRelu, Activation::Relu] {
        let (x, y) = data(40, 4, 7);
        let settings = Settings { activation: act, n_patterns: 6, beta: Beta::Value(0.05), max_iter: 3000, tol_gap: 1e-7, tol_residual: 1e-7, bias: false, ..Settings::default() };
        let mut s = Solver::new(x.as_ref(), y.as_ref(), settings).unwrap();
        let sol = s.solve();
        let m = s.model();
        let p = m.n_patterns();
        // masks from the gates
        let masks: Vec<Vec<bool>> = (0..p).map(|j| (0..40).map(|i| (0..4).map(|c| x[(i, c)] * m.gates[(c, j)]).sum::<f64>() >= 0.0).collect()).collect();
        let xr: Vec<f64> = (0..40).flat_map(|i| (0..4).map(move |c| (i, c))).map(|(i, c)| x[(i, c)]).collect();
        let yr: Vec<f64> = (0..40).map(|i| y[(i, 0)]).collect();
        let kind = if act == Activation::Relu { cronos_oracle::Kind::Relu } else { cronos_oracle::Kind::GatedRelu };
        let o = cronos_oracle::solve(&xr, 40, 4, &yr, &masks, 0.05, kind).unwrap();
        eprintln!("{act:?}: ours obj {} lb {} gap {:e} status {:?} it {} | oracle {}", sol.certificate.objective, sol.certificate.lower_bound, sol.certificate.relative_gap, sol.status, sol.iterations, o.objective);
    }
}
