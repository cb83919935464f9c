use cronos::{Settings, Solver};
use faer::Mat;
fn main() {
    let x = Mat::<f64>::from_fn(40, 1, |i, _| i as f64 / 20.0 - 1.0);
    let y = Mat::<f64>::from_fn(40, 1, |i, _| x[(i, 0)].abs());
    let act = if std::env::args().any(|a| a == "gated") { cronos::Activation::GatedRelu } else { cronos::Activation::Relu };
    let mut solver = Solver::new(x.as_ref(), y.as_ref(), Settings { activation: act, n_patterns: 16, max_iter: 2000, cg_tol: std::env::var("CGTOL").ok().map_or(1e-2, |s| s.parse().unwrap()), cg_tol_min: std::env::var("CGMIN").ok().map(|s| s.parse().unwrap()), rho: std::env::var("RHO").ok().map(|s| s.parse().unwrap()), adaptive_rho: std::env::var("NOADAPT").is_err(), constraint_scale: std::env::var("SIGMA").ok().map_or(1.0, |s| s.parse().unwrap()), ..Settings::default() }).unwrap();
    let sol = solver.solve_with(|h| { if h.iteration % 50 == 0 { eprintln!("it {} obj {:.6e} lb {:.6e} gap {:.1e} rho {:.1e} sig {:.1e} pr {:.1e}/{:.1e} du {:.1e}/{:.1e} cg {}", h.iteration, h.objective, h.lower_bound, h.relative_gap, h.rho, h.sigma, h.primal_blocks[0], h.primal_blocks[1], h.dual_blocks[0], h.dual_blocks[1], h.cg_iterations); } cronos::Control::Continue });
    println!("{:?} {} gap {:e} beta {:?}", sol.status, sol.iterations, sol.certificate.relative_gap, solver.beta());
}
