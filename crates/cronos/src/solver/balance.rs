//! Penalties and preconditioning: residual balancing of ρ and σ, and (re)building the
//! preconditioner when they change.

use super::*;

impl<T: Real> Solver<T> {
    /// The ρ of the operator I + FᵀF/ρ + GᵀG: the ADMM penalty for the squared loss, 1/η²
    /// (independent of the penalty) with a loss split.
    pub(super) fn sys_rho(&self) -> f64 {
        self.eta.map_or(self.state.rho, |e| 1.0 / (e * e))
    }

    /// (Re)builds the preconditioner for the current ρ.
    pub(super) fn build_precond(&mut self) -> Result<()> {
        let (nbd, d, seed, rank) = (
            self.sys.layout.output_len(),
            self.sys.d(),
            self.settings.seed,
            self.settings.rank,
        );
        let rho = self.sys_rho();
        let (design, sys) = (&mut self.design, &mut self.sys);
        self.precond = match self.settings.preconditioner {
            PrecondKind::None => AnyPrecond::None(IdentityPrecond),
            PrecondKind::Nystrom => {
                let f = self.pool.install(|| {
                    sketch(nbd, rank, 1.0, seed, |x: &[T], y: &mut [T]| {
                        let (mut a, mut b) = (vec![T::default(); x.len()], vec![T::default(); x.len()]);
                        sys.ftf(design, x, &mut a);
                        sys.gtg(x, &mut b);
                        let inv = T::from_f64(1.0 / rho);
                        y.iter_mut().zip(a.iter().zip(&b)).for_each(|(y, (a, b))| *y = *a * inv + *b);
                    })
                })?;
                AnyPrecond::Nystrom(NystromPrecond::new(f, 1.0))
            }
            PrecondKind::Structured => {
                let s2 = self.state.sigma * self.state.sigma;
                // wide data: the exact inverse through n × n matrices, no sketch
                let (eig, relu) = (self.white_eig.as_ref(), sys.relu());
                let exact = self.pool.install(|| {
                    eig.and_then(|e| WoodburyPrecond::new(e, design.patterns(), relu, s2, rho))
                });
                if let Some(w) = exact {
                    self.precond = AnyPrecond::Structured(StructuredPrecond::exact(w));
                    return Ok(());
                }
                let white = BlockWhitener::new(
                    d,
                    match &self.white_eig {
                        Some(GramEigen::Primal { q, lam }) => {
                            Some((q.clone(), lam.iter().map(|v| v * s2).collect()))
                        }
                        _ => None,
                    },
                );
                // a sketch column costs 1/k of a PCG iteration on k outputs, so the adaptive
                // rank aims k× tighter (λ̂_r ≤ 4ρ/k): on the default job (10 outputs) rank 256
                // instead of 128 halved the refit's CG per ADMM iteration and, with the
                // group-scaled Newton preconditioner, its polish (see `newton_precond`)
                let mu = rho / self.loss.k().max(1) as f64;
                let f = self.pool.install(|| {
                    sketch(nbd, rank, mu, seed, |x: &[T], y: &mut [T]| {
                        let (mut b, mut t) = (vec![T::default(); x.len()], vec![T::default(); x.len()]);
                        white.apply(x, y, &mut t);
                        sys.ftf(design, y, &mut b);
                        white.apply(&b, y, &mut t);
                    })
                })?;
                AnyPrecond::Structured(StructuredPrecond::new(white, f, rho))
            }
        };
        Ok(())
    }

    /// Changes the penalties (ρ, σ), rescaling the scaled duals so the unscaled ones are
    /// unchanged, and re-targets the preconditioner: free for a new ρ with the structured
    /// preconditioner, a new sketch when σ changes (W depends on σ) or for plain Nyström.
    pub(super) fn rebalance(&mut self, rho: f64, sigma: f64) -> Result<()> {
        let (old_rho, old_sigma) = (self.state.rho, self.state.sigma);
        rescale_duals(
            &mut self.state,
            &mut self.design,
            old_rho,
            old_sigma,
            rho,
            sigma,
        );
        // from the unscaled Gram, so a chain of changes gives the same bits as one
        self.sys.gram = self.gram0.scaled(sigma * sigma);
        let sigma_changed = sigma != old_sigma;
        let sys_rho = self.sys_rho();
        match &mut self.precond {
            _ if self.eta.is_some() && !sigma_changed => {}
            AnyPrecond::Structured(p) if !sigma_changed => p.set_rho(sys_rho),
            AnyPrecond::None(_) => {}
            _ => self.build_precond()?,
        }
        Ok(())
    }

    /// Residual balancing (every 5 iterations): ρ balances the primal and dual residuals, and
    /// σ the cone block σGu = s against the consensus block u = z (its penalty is ρσ²).
    /// Each change disturbs ADMM, so the imbalance that triggers one grows with the iteration
    /// count, a change is at most 10×, nothing moves once both residuals are within tolerance,
    /// and σ (which costs a new sketch) moves from iteration 50 on, at most every 50 iterations and 8
    /// times: early residual ratios are dominated by the start-up transient.
    pub(super) fn balance(&mut self, it: usize, stats: &crate::admm::StepStats) {
        let tol = self.settings.tol_residual;
        if stats.primal_rel <= tol && stats.dual_rel <= tol {
            return;
        }
        let ratio = |p: f64, d: f64| {
            if p > 0.0 && d > 0.0 {
                (p / d).sqrt()
            } else {
                1.0
            }
        };
        let thr = 5.0 * (1.0 + it as f64 / 200.0);
        let (rho, sigma) = (self.state.rho, self.state.sigma);
        let rc = ratio(stats.primal_rel, stats.dual_rel);
        let new_rho = if rc > 1.0 / thr && rc < thr {
            rho
        } else {
            (rho * rc.clamp(0.1, 10.0)).clamp(1e-8, 1e8)
        };
        let mut new_sigma = sigma;
        if self.sys.relu()
            && self.settings.adaptive_sigma
            && it >= 50
            && it >= self.last_sigma_change + 50
            && self.sigma_changes < 8
        {
            let r1 = ratio(stats.primal_blocks[0], stats.dual_blocks[0]);
            let r2 = ratio(stats.primal_blocks[1], stats.dual_blocks[1]);
            let sr = (r2 / r1).sqrt();
            if sr > thr.sqrt() || sr < 1.0 / thr.sqrt() {
                new_sigma = (sigma * sr.clamp(0.1, 10.0)).clamp(1e-4, 1e4);
                self.last_sigma_change = it;
                self.sigma_changes += 1;
            }
        }
        if new_rho != rho || new_sigma != sigma {
            let _ = self.rebalance(new_rho, new_sigma);
        }
    }
}

/// The Nyström factor (shift `mu`) of the nbd × nbd operator that `op(x, y)` applies to
/// contiguous column-major blocks of sketch columns (`y` = image of `x`, both nbd·l long).
fn sketch<T: Real>(nbd: usize, rank: Rank, mu: f64, seed: u64, mut op: impl FnMut(&[T], &mut [T])) -> Result<NystromFactor<T>> {
    let apply = |om: MatRef<'_, T>, out: &mut Mat<T>| {
        let l = om.ncols();
        let x: Vec<T> = contiguous(om);
        let mut y = vec![T::default(); nbd * l];
        op(&x, &mut y);
        *out = Mat::from_fn(nbd, l, |i, j| y[j * nbd + i]);
    };
    nystrom::<T>(nbd, apply, rank, mu, seed)
}

fn contiguous<T: Real>(m: MatRef<'_, T>) -> Vec<T> {
    let mut v = Vec::with_capacity(m.nrows() * m.ncols());
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            v.push(m[(i, j)]);
        }
    }
    v
}
