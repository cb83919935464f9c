//! Convergence study on small instances: iterations and final gap per variant (env vars select variants).
use cronos::{Activation, Beta, Settings, Solver};
use faer::Mat;
#[path = "../tests/common/mod.rs"]
mod common;
fn main() {
    let maxit: usize = std::env::var("MAXIT").ok().map_or(3000, |s| s.parse().unwrap());
    let mut rows = vec![];
    for (name, x, y, beta) in [
        ("rand1", common::random_problem(40, 4, 1).0, common::random_problem(40, 4, 1).1, 0.05),
        ("rand2", common::random_problem(60, 5, 2).0, common::random_problem(60, 5, 2).1, 0.05),
        ("fm01", common::fmnist_small(60, 0.0, 1.0).0, common::fmnist_small(60, 0.0, 1.0).1, 0.5),
        ("fm24", common::fmnist_small(60, 2.0, 4.0).0, common::fmnist_small(60, 2.0, 4.0).1, 0.2),
        ("linreg", common::random_problem(200, 10, 4).0, { let (x, _) = common::random_problem(200, 10, 4); Mat::<f64>::from_fn(200, 1, |i, _| 3.0 * x[(i, 0)] + 0.1 * x[(i, 3)]) }, 0.0),
        ("fm24big", common::fmnist_small(400, 2.0, 4.0).0, common::fmnist_small(400, 2.0, 4.0).1, 0.2),
    ] {
        for act in [Activation::GatedRelu, Activation::Relu] {
            let s = Settings { activation: act, n_patterns: 8, beta: if beta == 0.0 { Beta::Fraction(1e-3) } else { Beta::Value(beta) }, max_iter: maxit, tol_gap: 1e-6, tol_residual: 1e-6, certificate_every: 10, threads: 1, adaptive_sigma: std::env::var("FIXSIGMA").is_err(), ..Settings::default() };
            let mut sv = Solver::new(x.as_ref(), y.as_ref(), s).unwrap();
            let sol = sv.solve();
            if std::env::var("TRACE").ok().as_deref() == Some(name) && act == Activation::Relu {
                for h in sol.history.iter().filter(|h| h.iteration % 25 == 0) {
                    eprintln!("  it {} gap {:.1e} rho {:.1e} sigma {:.1e} pr {:.1e}/{:.1e} du {:.1e}/{:.1e}", h.iteration, h.relative_gap, h.rho, h.sigma, h.primal_blocks[0], h.primal_blocks[1], h.dual_blocks[0], h.dual_blocks[1]);
                }
            }
            let h = sol.history.last().unwrap();
            rows.push(format!("{name:8} {:9} it {:5} gap {:.1e} pr {:.1e} rho {:.1e} blocks pr {:.1e}/{:.1e} du {:.1e}/{:.1e}", format!("{act:?}"), sol.iterations, sol.certificate.relative_gap, h.primal_residual, h.rho, h.primal_blocks[0], h.primal_blocks[1], h.dual_blocks[0], h.dual_blocks[1]));
        }
    }
    let _ = Mat::<f64>::zeros(0, 0);
    for r in rows { println!("{r}"); }
}
