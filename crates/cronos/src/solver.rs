//! The solver: setup (validation, patterns, Gram, preconditioner), the ADMM loop with
//! residual balancing and periodic certificates, and termination as a [`Status`].
//!
//! Internally X is scaled by 1/c with c² = ‖X‖²_F / d (so the Gram's mean eigenvalue is 1
//! and the two constraint blocks of the u-step are balanced); by positive homogeneity this
//! is the same program with β/c, and weights are scaled back by 1/c on the way out.

use crate::admm::{rescale_duals, step, AdmmState, AdmmWorkspace, Split, StepInput};
use crate::certificate::{certify, CertWorkspace, Certificate};
use crate::design::Design;
use crate::error::{invalid_data, invalid_setting, CronosError, Result};
use crate::loss::{Loss, LossData};
use crate::model::Model;
use crate::nystrom::{nystrom, NystromFactor};
use crate::patterns::sample_patterns_distributed;
use crate::pcg::{IdentityPrecond, Precond};
use crate::polish::{newton_step, PolishReport};
use crate::precond::{BlockWhitener, NystromPrecond, StructuredPrecond};
use crate::real::Real;
use crate::settings::{Activation, Beta, PrecondKind, Rank, Settings};
use crate::system::{view, System};
use faer::{Mat, MatRef, Par, Side};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How a solve ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Status {
    /// Certified gap and primal feasibility within tolerance.
    Solved,
    /// `max_iter` reached.
    MaxIterations,
    /// `time_limit` reached.
    TimeLimit,
    /// NaN/Inf appeared in the iterates.
    NumericalError,
    /// The callback asked to stop.
    Interrupted,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Solved => "solved",
            Status::MaxIterations => "max_iterations",
            Status::TimeLimit => "time_limit",
            Status::NumericalError => "numerical_error",
            Status::Interrupted => "interrupted",
        };
        f.write_str(s)
    }
}

/// A callback's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop after this iteration.
    Stop,
}

/// One iteration's report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IterInfo {
    /// Iteration number (1-based).
    pub iteration: usize,
    /// Seconds since the solve started (setup excluded).
    pub seconds: f64,
    /// Objective at the last certificate.
    pub objective: f64,
    /// Lower bound at the last certificate.
    pub lower_bound: f64,
    /// Certified relative gap at the last certificate.
    pub relative_gap: f64,
    /// Whether the certificate was recomputed this iteration.
    pub certified: bool,
    /// Relative primal residual.
    pub primal_residual: f64,
    /// Relative dual residual.
    pub dual_residual: f64,
    /// CG iterations of this u-step.
    pub cg_iterations: usize,
    /// Final relative CG residual.
    pub cg_residual: f64,
    /// Penalty ρ used.
    pub rho: f64,
    /// Cone-block scale σ used.
    pub sigma: f64,
    /// Relative primal residuals of the blocks u = z and σGu = s.
    pub primal_blocks: [f64; 2],
    /// Relative dual residuals of the two blocks.
    pub dual_blocks: [f64; 2],
}

/// The outcome of a solve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Solution {
    /// How it ended.
    pub status: Status,
    /// ADMM iterations.
    pub iterations: usize,
    /// Total CG iterations.
    pub cg_iterations: usize,
    /// Final certificate (user scaling).
    pub certificate: Certificate,
    /// Cone-constraint violation of the returned weights and the recovered network's
    /// objective (ReLU: an unconverged iterate may violate the constraints, and then its
    /// convex objective can lie below the lower bound, which bounds feasible points only).
    #[serde(default)]
    pub feasibility: crate::feasibility::Feasibility,
    /// Setup seconds (patterns, Gram, preconditioner).
    pub setup_seconds: f64,
    /// Solve seconds.
    pub solve_seconds: f64,
    /// Per-iteration reports.
    pub history: Vec<IterInfo>,
}

enum AnyPrecond<T: Real> {
    None(IdentityPrecond),
    Nystrom(NystromPrecond<T>),
    Structured(StructuredPrecond<T>),
}

impl<T: Real> AnyPrecond<T> {
    fn as_dyn(&self) -> &dyn Precond<T> {
        match self {
            AnyPrecond::None(p) => p,
            AnyPrecond::Nystrom(p) => p,
            AnyPrecond::Structured(p) => p,
        }
    }
    fn factor(&self) -> Option<&NystromFactor<T>> {
        match self {
            AnyPrecond::None(_) => None,
            AnyPrecond::Nystrom(p) => Some(p.factor()),
            AnyPrecond::Structured(p) => Some(p.factor()),
        }
    }
}

/// The CRONOS solver for one data set and settings.
pub struct Solver<T: Real> {
    settings: Settings,
    pool: rayon::ThreadPool,
    design: Design<T>,
    sys: System<T>,
    precond: AnyPrecond<T>,
    white_eig: Option<(Mat<T>, Vec<f64>)>,
    state: AdmmState<T>,
    ws: AdmmWorkspace<T>,
    cert_ws: CertWorkspace<T>,
    loss: LossData<T>,
    /// Scale η of the loss split r = Fu, or `None` for the unweighted squared loss.
    eta: Option<f64>,
    fty: Vec<T>,
    beta: Vec<f64>,
    /// β_max per output (internal scaling): all neurons are zero for β ≥ β_max (gated), or
    /// an upper bound of that threshold (ReLU).
    beta_max: Vec<f64>,
    /// Iteration count at the start of the current solve (after the last change of β).
    iter_base: usize,
    scale: f64,
    sigma: f64,
    gram0: Mat<T>,
    last_sigma_change: usize,
    sigma_changes: usize,
    best_lower: Vec<f64>,
    gates: Mat<T>,
    d_user: usize,
    setup_seconds: f64,
    cert: Certificate,
    cg_total: usize,
    history: Vec<IterInfo>,
}

fn check_finite<T: Real>(m: MatRef<'_, T>, what: &'static str) -> Result<()> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let v = m[(i, j)].to_f64();
            if !v.is_finite() {
                return Err(invalid_data(
                    what,
                    format!("non-finite value {v} at row {i}, column {j}"),
                ));
            }
        }
    }
    Ok(())
}

impl<T: Real> Solver<T> {
    /// Validates the inputs, samples patterns and builds the operators and preconditioner.
    ///
    /// `x` is n × d (any layout), `y` is n × k (k ≥ 1 outputs).
    ///
    /// # Errors
    /// A typed error naming the field and value for bad settings or data.
    pub fn new(x: MatRef<'_, T>, y: MatRef<'_, T>, settings: Settings) -> Result<Self> {
        Self::new_weighted(x, y, None, settings)
    }

    /// As [`Solver::new`], with per-sample weights in the loss (`None`: all 1).
    ///
    /// # Errors
    /// Also for weights that are negative, not finite, all zero or of the wrong length, and
    /// for targets that do not fit `settings.loss` (±1 for logistic, one-hot for softmax).
    pub fn new_weighted(
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
        weights: Option<&[f64]>,
        settings: Settings,
    ) -> Result<Self> {
        Self::new_distributed_weighted(x, y, weights, settings, crate::comm::local())
    }

    /// As [`Solver::new`] for one rank of a solve whose rows are spread over the ranks of
    /// `comm` (collective: every rank calls it with its own rows of x and y, and the same
    /// settings). Sums over rows go through `comm`; everything else is replicated, and the
    /// result matches a single process on all rows (see [`crate::distributed`]).
    ///
    /// # Errors
    /// As [`Solver::new`]; a rank that fails validation, or disagrees with rank 0 on the
    /// settings, width, output count or scalar type, fails every rank with
    /// [`CronosError::Distributed`] naming it.
    pub fn new_distributed(
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
        settings: Settings,
        comm: std::sync::Arc<dyn crate::comm::Comm>,
    ) -> Result<Self> {
        Self::new_distributed_weighted(x, y, None, settings, comm)
    }

    /// [`Solver::new_distributed`] with per-sample weights (this rank's rows).
    ///
    /// # Errors
    /// As [`Solver::new_distributed`].
    pub fn new_distributed_weighted(
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
        weights: Option<&[f64]>,
        settings: Settings,
        comm: std::sync::Arc<dyn crate::comm::Comm>,
    ) -> Result<Self> {
        let t0 = Instant::now();
        crate::distributed::startup_check(x, y, weights, &settings, &*comm)?;
        settings.validate()?;
        let (n, d_user, k) = (x.nrows(), x.ncols(), y.ncols());
        if n == 0 || d_user == 0 {
            return Err(invalid_data(
                "x",
                format!("empty data: {n} rows × {d_user} columns"),
            ));
        }
        if y.nrows() != n {
            return Err(invalid_data(
                "y",
                format!("{} rows but x has {n}", y.nrows()),
            ));
        }
        if k == 0 {
            return Err(invalid_data("y", "no output column"));
        }
        check_finite(x, "x")?;
        check_finite(y, "y")?;
        let loss = LossData::new(settings.loss, y, weights)?;
        let threads = settings.thread_count();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| invalid_setting("threads", threads, e.to_string()))?;
        let d = d_user + settings.bias as usize;
        let ss = crate::distributed::frobenius_sq(x, settings.bias, threads, &*comm);
        if ss == 0.0 {
            return Err(invalid_data("x", "all values are zero (and no bias)"));
        }
        let scale = (ss / d as f64).sqrt();
        let inv = T::from_f64(1.0 / scale);
        let xs = Mat::<T>::from_fn(n, d, |i, j| if j < d_user { x[(i, j)] * inv } else { inv });
        let relu = settings.activation == Activation::Relu;
        let p_req = settings.n_patterns;
        // centred gates for gated ReLU only: on a ReLU program (0 vs 6, 600 rows) they left
        // every neuron at zero down to 0.04·β_max, where origin-near gates fit (their
        // near-all-active patterns have wide cones)
        let center = if settings.bias && settings.centered_gates && !relu {
            Some(crate::distributed::column_means(
                xs.as_ref(),
                weights,
                threads,
                &*comm,
            ))
        } else {
            None
        };
        let sampled = pool.install(|| {
            sample_patterns_distributed(
                xs.as_ref(),
                p_req,
                settings.seed,
                center.as_deref(),
                Par::rayon(0),
                &*comm,
            )
        });
        let p = sampled.patterns.p();
        let nb = if relu { 2 * p } else { p };
        let len = d * nb * k;
        match settings.rank {
            Rank::Fixed(r) if r > d * nb => {
                return Err(invalid_setting(
                    "rank",
                    r,
                    format!("larger than the problem dimension {}", d * nb),
                ))
            }
            _ => {}
        }
        let nu_cols = if relu { 2 * p * k } else { 0 };
        let mut design = Design::with_comm(xs, sampled.patterns, threads, nb * k, nu_cols, comm);
        let sigma = settings.constraint_scale;
        let gram0 = pool.install(|| design.gram());
        let mut sys = System::new(
            &design,
            relu,
            &gram0 * faer::Scale(T::from_f64(sigma * sigma)),
        );
        // β_max per output: the largest group norm of Fᵀλ₀, λ₀ = −∇ℓ(0) (= y for the squared
        // loss, whose u-step then needs Fᵀy itself)
        let mut lam0 = Mat::<T>::zeros(n, k);
        loss.neg_grad(Mat::<T>::zeros(n, k).as_ref(), lam0.as_mut());
        let mut fty = vec![T::default(); len];
        pool.install(|| sys.ft(&mut design, lam0.as_ref(), &mut fty));
        drop(lam0);
        let nbd = sys.block_len();
        let mut beta_max: Vec<f64> = (0..k)
            .map(|c| {
                (0..nb)
                    .map(|g| {
                        crate::real::sum_sq(&fty[c * nbd + g * d..c * nbd + (g + 1) * d]).sqrt()
                    })
                    .fold(0.0, f64::max)
            })
            .collect();
        if settings.loss.coupled() {
            let m = beta_max.iter().copied().fold(0.0, f64::max);
            beta_max.iter_mut().for_each(|b| *b = m);
        }
        let eta = if settings.loss == Loss::Squared && loss.unweighted() {
            None
        } else {
            fty = Vec::new();
            // η² = curvature. On Pullover vs Coat (gated, logistic, 150 its) curvature/4 gave a
            // 10× smaller gap (3.5e-3 vs 4e-2), but instances with uneven sample weights then
            // converge much worse (rows of small weight have little curvature): folding √w
            // into the rows of X would make the curvature uniform and allow the smaller η.
            Some(settings.loss.curvature().sqrt())
        };
        let beta = beta_values(settings.beta, &beta_max, scale);
        let rho = settings.rho.unwrap_or(1.0);
        let white_eig = if relu && settings.preconditioner == PrecondKind::Structured {
            let g64 = Mat::<f64>::from_fn(d, d, |i, j| sys.gram[(i, j)].to_f64());
            let evd = g64
                .self_adjoint_eigen(Side::Lower)
                .map_err(|e| CronosError::Numerical {
                    context: "eigendecomposition of the Gram XᵀX",
                    reason: format!("{e:?}"),
                })?;
            let q = Mat::<T>::from_fn(d, d, |i, j| T::from_f64(evd.U()[(i, j)]));
            // eigenvalues of the unscaled Gram XᵀX (sys.gram holds σ²XᵀX)
            let lam = (0..d)
                .map(|i| evd.S().column_vector()[i] / (sigma * sigma))
                .collect();
            Some((q, lam))
        } else {
            None
        };
        let split_len = if eta.is_some() { n * k } else { 0 };
        let mut state = AdmmState::zeros(len, rho, sigma);
        state.r = vec![T::default(); split_len];
        state.theta = vec![T::default(); split_len];
        if let Some(eta) = eta {
            // θ consistent with r = 0: the r-step's fixed point has ∇ℓ(r) = ρηθ. Starting
            // from θ = 0 instead makes the dual residual look huge and residual balancing
            // drives ρ down for hundreds of iterations.
            init_theta(&loss, &mut state, eta);
        }
        let mut solver = Solver {
            pool,
            precond: AnyPrecond::None(IdentityPrecond),
            white_eig,
            state,
            ws: AdmmWorkspace::new(len, split_len),
            cert_ws: CertWorkspace::new(n, k, len),
            loss,
            eta,
            fty,
            beta,
            beta_max,
            iter_base: 0,
            scale,
            sigma,
            gram0,
            last_sigma_change: 0,
            sigma_changes: 0,
            best_lower: Vec::new(),
            gates: sampled.gates,
            d_user,
            setup_seconds: 0.0,
            cert: Certificate::default(),
            cg_total: 0,
            history: Vec::new(),
            design,
            sys,
            settings,
        };
        solver.build_precond()?;
        solver.setup_seconds = t0.elapsed().as_secs_f64();
        Ok(solver)
    }

    /// The ρ of the operator I + FᵀF/ρ + GᵀG: the ADMM penalty for the squared loss, 1/η²
    /// (independent of the penalty) with a loss split.
    fn sys_rho(&self) -> f64 {
        self.eta.map_or(self.state.rho, |e| 1.0 / (e * e))
    }

    /// (Re)builds the preconditioner for the current ρ.
    fn build_precond(&mut self) -> Result<()> {
        let (nbd, d, seed, rank) = (
            self.sys.block_len(),
            self.sys.d,
            self.settings.seed,
            self.settings.rank,
        );
        let rho = self.sys_rho();
        let (design, sys) = (&mut self.design, &mut self.sys);
        self.precond = match self.settings.preconditioner {
            PrecondKind::None => AnyPrecond::None(IdentityPrecond),
            PrecondKind::Nystrom => {
                let f = self.pool.install(|| {
                    nystrom::<T>(
                        nbd,
                        |om, out| {
                            let l = om.ncols();
                            let x: Vec<T> = contiguous(om);
                            let (mut a, mut b) =
                                (vec![T::default(); nbd * l], vec![T::default(); nbd * l]);
                            sys.ftf(design, &x, &mut a);
                            sys.gtg(&x, &mut b);
                            let inv = T::from_f64(1.0 / rho);
                            *out =
                                Mat::from_fn(nbd, l, |i, j| a[j * nbd + i] * inv + b[j * nbd + i]);
                        },
                        rank,
                        1.0,
                        seed,
                    )
                })?;
                AnyPrecond::Nystrom(NystromPrecond::new(f, 1.0))
            }
            PrecondKind::Structured => {
                let s2 = self.sigma * self.sigma;
                let white = BlockWhitener::new(
                    d,
                    self.white_eig
                        .clone()
                        .map(|(q, l)| (q, l.iter().map(|v| v * s2).collect())),
                );
                let f = self.pool.install(|| {
                    nystrom::<T>(
                        nbd,
                        |om, out| {
                            let l = om.ncols();
                            let x: Vec<T> = contiguous(om);
                            let (mut a, mut b, mut t) = (
                                vec![T::default(); nbd * l],
                                vec![T::default(); nbd * l],
                                vec![T::default(); nbd * l],
                            );
                            white.apply(&x, &mut a, &mut t);
                            sys.ftf(design, &a, &mut b);
                            white.apply(&b, &mut a, &mut t);
                            *out = Mat::from_fn(nbd, l, |i, j| a[j * nbd + i]);
                        },
                        rank,
                        rho,
                        seed,
                    )
                })?;
                AnyPrecond::Structured(StructuredPrecond::new(white, f, rho))
            }
        };
        Ok(())
    }

    /// Changes the penalties (ρ, σ), rescaling the scaled duals so the unscaled ones are
    /// unchanged, and re-targets the preconditioner: free for a new ρ with the structured
    /// preconditioner, a new sketch when σ changes (W depends on σ) or for plain Nyström.
    fn rebalance(&mut self, rho: f64, sigma: f64) -> Result<()> {
        let (old_rho, old_sigma) = (self.state.rho, self.sigma);
        rescale_duals(
            &mut self.state,
            &mut self.design,
            old_rho,
            old_sigma,
            rho,
            sigma,
        );
        // from the unscaled Gram, so a chain of changes gives the same bits as one
        self.sys.gram = &self.gram0 * faer::Scale(T::from_f64(sigma * sigma));
        self.sigma = sigma;
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

    /// Performs one ADMM iteration and returns its report.
    pub fn step(&mut self) -> IterInfo {
        let t = self.history.last().map_or(0.0, |h| h.seconds);
        let t0 = Instant::now();
        let it = self.state.iteration + 1 - self.iter_base;
        let cg_tol =
            (self.settings.cg_tol / (it as f64).powf(1.5)).max(self.settings.cg_floor::<T>());
        let split = self.eta.map(|eta| Split {
            loss: &self.loss,
            eta,
        });
        let inp = StepInput {
            fty: &self.fty,
            beta: &self.beta,
            gamma: self.settings.gamma,
            cg_tol,
            cg_max_iter: self.settings.cg_max_iter,
            sigma: self.sigma,
            split,
            split_dual: self.settings.adaptive_rho && it % 5 == 0,
        };
        let (st, design, sys, pre, ws) = (
            &mut self.state,
            &mut self.design,
            &mut self.sys,
            self.precond.as_dyn(),
            &mut self.ws,
        );
        let mut stats = self.pool.install(|| step(st, design, sys, pre, &inp, ws));
        self.cg_total += stats.cg_iterations;
        let certified = it % self.settings.certificate_every == 0 || it == 1;
        if certified {
            self.certify();
            let gap = self.cert.relative_gap;
            if !self.sys.relu
                && gap > self.settings.tol_gap
                && gap <= self.settings.polish_below
                // every 20 iterations: a function of the iteration count alone, so a run
                // resumed from a checkpoint polishes where the uninterrupted one did
                && it % 20 == 0
            {
                let rep = self.polish();
                stats.cg_iterations += rep.cg_iterations;
                if rep.steps > 0 {
                    // u = z (and r = Fz) after an accepted polish
                    stats.primal_rel = 0.0;
                }
            }
        }
        let (rho, sigma) = (self.state.rho, self.sigma);
        if self.settings.adaptive_rho && it % 5 == 0 {
            self.balance(it, &stats);
        }
        let info = IterInfo {
            iteration: it,
            seconds: t + t0.elapsed().as_secs_f64(),
            objective: self.cert.objective,
            lower_bound: self.cert.lower_bound,
            relative_gap: self.cert.relative_gap,
            certified,
            primal_residual: stats.primal_rel,
            dual_residual: stats.dual_rel,
            cg_iterations: stats.cg_iterations,
            cg_residual: stats.cg_residual,
            rho,
            sigma,
            primal_blocks: stats.primal_blocks,
            dual_blocks: stats.dual_blocks,
        };
        self.history.push(info.clone());
        info
    }

    /// Residual balancing (every 5 iterations): ρ balances the primal and dual residuals, and
    /// σ the cone block σGu = s against the consensus block u = z (its penalty is ρσ²).
    /// Each change disturbs ADMM, so the imbalance that triggers one grows with the iteration
    /// count, a change is at most 10×, nothing moves once both residuals are within tolerance,
    /// and σ (which costs a new sketch) moves from iteration 50 on, at most every 50 iterations and 8
    /// times: early residual ratios are dominated by the start-up transient.
    fn balance(&mut self, it: usize, stats: &crate::admm::StepStats) {
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
        let (rho, sigma) = (self.state.rho, self.sigma);
        let rc = ratio(stats.primal_rel, stats.dual_rel);
        let new_rho = if rc > 1.0 / thr && rc < thr {
            rho
        } else {
            (rho * rc.clamp(0.1, 10.0)).clamp(1e-8, 1e8)
        };
        let mut new_sigma = sigma;
        if self.sys.relu
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

    /// Newton polishing of the current weights on their active groups (gated ReLU; a no-op
    /// for ReLU), see [`crate::polish`]: the polished weights replace z (and u, and the
    /// split's r) when they lower the objective, and the certificate is recomputed. `step`
    /// calls it on certified iterations that are multiples of 20 once the gap is below
    /// `Settings::polish_below`.
    pub fn polish(&mut self) -> PolishReport {
        if self.sys.relu {
            return PolishReport::default();
        }
        let (d, nb) = (self.sys.d, self.sys.nb);
        // the preconditioner approximates (I + FᵀF/ρ)⁻¹; the Newton matrix is about
        // c·FᵀF + b·I (c: loss curvature, b: typical β/‖z_g‖), i.e. ρ = b/c
        let mut curv: Vec<f64> = self
            .state
            .z
            .chunks(d)
            .enumerate()
            .filter_map(|(g, zg)| {
                let nz = crate::real::sum_sq(zg).sqrt();
                (nz > 0.0).then(|| self.beta[g / nb] / nz)
            })
            .collect();
        if curv.is_empty() {
            return PolishReport::default();
        }
        curv.sort_by(f64::total_cmp);
        let target = curv[curv.len() / 2] / self.settings.loss.curvature();
        let sys_rho = self.sys_rho();
        if let AnyPrecond::Structured(p) = &mut self.precond {
            p.set_rho(target);
        }
        // one Newton step at a time, certified after each: stop at the gap target or when a
        // step no longer lowers the objective (on 10,000 × 785, 10 outputs: one step from a
        // gap of 6e-2 gives 5e-7 relative objective error, later steps cost 100 CG each)
        let mut total = PolishReport {
            objective_before: f64::NAN,
            ..Default::default()
        };
        let mut last_gap = self.cert.relative_gap;
        for _ in 0..6 {
            let mut z = self.state.z.clone();
            let (design, sys, loss, beta, pre) = (
                &mut self.design,
                &mut self.sys,
                &self.loss,
                &self.beta,
                self.precond.as_dyn(),
            );
            let rep = self
                .pool
                .install(|| newton_step(&mut z, design, sys, loss, beta, pre, 60));
            self.cg_total += rep.cg_iterations;
            total.cg_iterations += rep.cg_iterations;
            if total.objective_before.is_nan() {
                total.objective_before = rep.objective_before;
                total.objective_after = rep.objective_before;
            }
            if !(rep.steps > 0 && rep.objective_after < rep.objective_before) {
                break;
            }
            self.set_weights_internal(z);
            total.steps += 1;
            total.objective_after = rep.objective_after;
            let gap = self.certify().relative_gap;
            // done, or not converging fast: likely a wrong active set, which ADMM must fix
            if gap <= 0.5 * self.settings.tol_gap || gap > 0.5 * last_gap {
                break;
            }
            last_gap = gap;
        }
        if let AnyPrecond::Structured(p) = &mut self.precond {
            p.set_rho(sys_rho);
        }
        total
    }

    /// Replaces z (and u = z, and the split's r = Fz) by polished weights.
    fn set_weights_internal(&mut self, z: Vec<T>) {
        if !self.state.r.is_empty() {
            let (n, k) = (self.loss.n(), self.loss.k());
            let mut fz = Mat::<T>::zeros(n, k);
            let (design, sys) = (&mut self.design, &mut self.sys);
            self.pool.install(|| sys.f(design, &z, fz.as_mut()));
            for c in 0..k {
                for i in 0..n {
                    self.state.r[c * n + i] = fz[(i, c)];
                }
            }
        }
        self.state.u.clone_from(&z);
        self.state.z = z;
    }

    /// Recomputes the certificate at the current weights.
    pub fn certify(&mut self) -> &Certificate {
        let (st, design, sys, loss, beta, cw, sigma) = (
            &self.state,
            &mut self.design,
            &mut self.sys,
            &self.loss,
            &self.beta,
            &mut self.cert_ws,
            self.sigma,
        );
        let mut cert = self
            .pool
            .install(|| certify(st, design, sys, loss, beta, sigma, cw));
        // Every bound ever certified stays valid: keep the best one per output.
        if self.best_lower.len() != cert.lower_bounds.len() {
            self.best_lower = cert.lower_bounds.clone();
        }
        for (b, l) in self.best_lower.iter_mut().zip(&cert.lower_bounds) {
            *b = b.max(*l);
        }
        cert.lower_bounds.clone_from(&self.best_lower);
        cert.lower_bound = cert.lower_bounds.iter().sum();
        cert.relative_gap = if cert.objective > 0.0 {
            (cert.objective - cert.lower_bound) / cert.objective
        } else {
            0.0
        };
        self.cert = cert;
        &self.cert
    }

    /// Termination test after a [`Solver::step`], for callers that drive the loop themselves:
    /// NaN/Inf → `NumericalError`; certified gap and primal residual within tolerance →
    /// `Solved` (a claim made on a stale certificate is confirmed on a fresh one first, and the
    /// last report updated); then the iteration and time limits (`elapsed`: time since the
    /// solve started). Returns the last report and the status, if the solve should end.
    pub fn termination(&mut self, elapsed: std::time::Duration) -> (IterInfo, Option<Status>) {
        // ranks must stop together: rank 0's clock decides
        let elapsed = crate::distributed::agree_elapsed(self.design.comm(), elapsed);
        let info = self.history.last().cloned().unwrap_or_default();
        if !(info.primal_residual.is_finite() && info.objective.is_finite()) {
            return (info, Some(Status::NumericalError));
        }
        let mut converged = info.primal_residual <= self.settings.tol_residual
            && info.relative_gap <= self.settings.tol_gap;
        if converged && !info.certified {
            let c = self.certify().clone();
            converged = c.relative_gap <= self.settings.tol_gap;
            if let Some(h) = self.history.last_mut() {
                h.objective = c.objective;
                h.lower_bound = c.lower_bound;
                h.relative_gap = c.relative_gap;
                h.certified = true;
            }
        }
        let info = self.history.last().cloned().unwrap_or(info);
        let end = if converged {
            Some(Status::Solved)
        } else if self.state.iteration - self.iter_base >= self.settings.max_iter {
            Some(Status::MaxIterations)
        } else if self.settings.time_limit.is_some_and(|l| elapsed >= l) {
            Some(Status::TimeLimit)
        } else {
            None
        };
        (info, end)
    }

    /// Runs until a termination criterion holds.
    pub fn solve(&mut self) -> Solution {
        self.solve_with(|_| Control::Continue)
    }

    /// Runs until a termination criterion holds or `callback` says stop.
    pub fn solve_with(&mut self, mut callback: impl FnMut(&IterInfo) -> Control) -> Solution {
        let t0 = Instant::now();
        let status = loop {
            self.step();
            let (last, end) = self.termination(t0.elapsed());
            let stop = callback(&last) == Control::Stop;
            match end {
                Some(s @ (Status::Solved | Status::NumericalError)) => break s,
                _ if stop => break Status::Interrupted,
                Some(s) => break s,
                None => {}
            }
        };
        if !self.history.last().is_some_and(|h| h.certified) {
            self.certify();
        }
        Solution {
            status,
            iterations: self.state.iteration - self.iter_base,
            cg_iterations: self.cg_total,
            certificate: self.cert.clone(),
            feasibility: self.feasibility(),
            setup_seconds: self.setup_seconds,
            solve_seconds: t0.elapsed().as_secs_f64(),
            history: self.history.clone(),
        }
    }

    /// Cone-constraint violation and recovered-network objective of the current weights (one
    /// pass over X; see [`crate::feasibility`]).
    pub fn feasibility(&self) -> crate::feasibility::Feasibility {
        let (z, design, loss, beta) = (&self.state.z, &self.design, &self.loss, &self.beta);
        let (nb, relu, obj) = (self.sys.nb, self.sys.relu, self.cert.objective);
        self.pool.install(|| crate::feasibility::feasibility(z, design, loss, beta, nb, relu, obj))
    }

    /// The fitted model at the current iterate (weights z, scaled back to the user's units).
    pub fn model(&self) -> Model<T> {
        let inv = T::from_f64(1.0 / self.scale);
        let w: Vec<T> = self.state.z.iter().map(|&v| v * inv).collect();
        Model::from_parts(
            self.settings.activation,
            self.settings.bias,
            self.d_user,
            self.loss.k(),
            self.gates.clone(),
            view(&w, self.sys.d).to_owned(),
            self.beta.iter().map(|b| b * self.scale).collect(),
        )
        .with_loss(self.settings.loss)
    }

    /// The ADMM state (for checkpoints); the cone duals ν are included in `nu`.
    pub fn checkpoint(&self) -> Checkpoint<T> {
        let nu = self
            .design
            .shards()
            .iter()
            .flat_map(|s| s.nu.iter().copied())
            .collect();
        Checkpoint {
            state: self.state.clone(),
            nu,
            cg_total: self.cg_total,
            history: self.history.clone(),
            cert: self.cert.clone(),
            last_sigma_change: self.last_sigma_change,
            sigma_changes: self.sigma_changes,
        }
    }

    /// Restores a checkpoint taken from a solver with the same data and settings.
    ///
    /// # Errors
    /// When the checkpoint's shapes do not match this solver.
    pub fn restore(&mut self, cp: Checkpoint<T>) -> Result<()> {
        let total: usize = self.design.shards().iter().map(|s| s.nu.len()).sum();
        if cp.state.u.len() != self.state.u.len() || cp.nu.len() != total {
            return Err(invalid_data(
                "checkpoint",
                "shapes do not match this problem (different data, settings or thread count?)",
            ));
        }
        let (rho, sigma) = (cp.state.rho, cp.state.sigma);
        // bring the operator to the checkpoint's penalties first, then load its iterates
        // (rebalancing rescales the duals it finds, so they must be loaded afterwards)
        if rho != self.state.rho || sigma != self.sigma {
            self.rebalance(rho, sigma)?;
        }
        self.last_sigma_change = cp.last_sigma_change;
        self.sigma_changes = cp.sigma_changes;
        self.state = cp.state;
        let mut off = 0;
        for sh in self.design.shards_mut() {
            let l = sh.nu.len();
            sh.nu.copy_from_slice(&cp.nu[off..off + l]);
            off += l;
        }
        self.cg_total = cp.cg_total;
        self.history = cp.history;
        self.best_lower = cp.cert.lower_bounds.clone();
        self.cert = cp.cert;
        Ok(())
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    /// Number of distinct patterns actually used.
    pub fn n_patterns(&self) -> usize {
        self.sys.p
    }
    /// β per output in the user's scaling.
    pub fn beta(&self) -> Vec<f64> {
        self.beta.iter().map(|b| b * self.scale).collect()
    }
    /// Rank and sketch size of the preconditioner's Nyström factor, if any.
    pub fn precond_rank(&self) -> Option<(usize, usize)> {
        self.precond
            .factor()
            .map(|f| (f.lam.len(), f.sketch_columns))
    }
    /// Seconds spent in setup.
    pub fn setup_seconds(&self) -> f64 {
        self.setup_seconds
    }
    /// Convex-model predictions Fz on the training rows (n × k) at the last certificate.
    pub fn train_predictions(&self) -> MatRef<'_, T> {
        self.cert_ws.predictions()
    }
    /// Bytes held by the design (X, patterns, shard buffers and cone duals).
    pub fn design_bytes(&self) -> usize {
        self.design.bytes()
    }
    /// Applies the u-step operator I + FᵀF/ρ + σ²GᵀG at the current ρ (benchmarks, tests).
    pub fn apply_system(&mut self, u: &[T], out: &mut [T]) {
        let rho = T::from_f64(self.sys_rho());
        let (design, sys) = (&mut self.design, &mut self.sys);
        self.pool.install(|| sys.apply(design, rho, u, out));
    }
    /// Changes the gap tolerance and the iteration limit of the next solves (the path solves
    /// each point to a looser gap than a final fit).
    pub fn set_limits(&mut self, tol_gap: f64, max_iter: usize) {
        self.settings.tol_gap = tol_gap;
        self.settings.max_iter = max_iter.max(1);
    }

    /// β_max per output in the user's scaling: the smallest β at which every neuron is zero
    /// (gated ReLU; for ReLU an upper bound of it, see [`crate::path::relu_beta_max`]).
    pub fn beta_max(&self) -> Vec<f64> {
        self.beta_max.iter().map(|b| b * self.scale).collect()
    }

    /// The loss with its targets and weights.
    pub fn loss(&self) -> &LossData<T> {
        &self.loss
    }

    /// Changes β for the next solve, keeping the iterates as a warm start (the operator and
    /// the preconditioner do not depend on β). The iteration limit and the forcing sequence
    /// of CG restart; the history and the kept lower bound (valid for the old β only) are cleared.
    ///
    /// # Errors
    /// For an invalid β.
    pub fn set_beta(&mut self, beta: Beta) -> Result<()> {
        let s = Settings {
            beta,
            ..Settings::default()
        };
        s.validate()?;
        self.settings.beta = beta;
        let new = beta_values(beta, &self.beta_max, self.scale);
        // At the optimum ρλ_g is β times a subgradient of ‖z_g‖: scale the consensus dual with
        // β, so the warm start is a point of the new problem's optimality conditions' shape.
        // Measured on a logistic path (Pullover vs Coat, 2,000 rows): whole path 41.5 s with
        // this scaling vs 54.8 s without, and 20× smaller gaps at the small-β points.
        let nbd = self.sys.block_len();
        for (c, (&b_new, &b_old)) in new.iter().zip(&self.beta).enumerate() {
            if b_old > 0.0 {
                let f = T::from_f64(b_new / b_old);
                self.state.lam[c * nbd..(c + 1) * nbd]
                    .iter_mut()
                    .for_each(|v| *v *= f);
            }
        }
        self.beta = new;
        self.iter_base = self.state.iteration;
        self.history.clear();
        self.best_lower.clear();
        self.certify();
        Ok(())
    }

    /// Starts from the weights of `model` (duals reset): a model of the same shape fitted on
    /// similar data (another β, more rows, features of a previous alternation step).
    ///
    /// # Errors
    /// When the model's activation, patterns, outputs or input width differ from this problem.
    pub fn warm_start(&mut self, model: &Model<T>) -> Result<()> {
        let (d, len) = (self.sys.d, self.state.u.len());
        if model.activation != self.settings.activation || model.bias != self.settings.bias {
            return Err(invalid_data(
                "model",
                "activation or bias differs from the solver's settings",
            ));
        }
        if model.weights.nrows() != d || model.weights.nrows() * model.weights.ncols() != len {
            return Err(invalid_data(
                "model",
                format!(
                    "weights are {} × {} but this problem needs {d} × {}",
                    model.weights.nrows(),
                    model.weights.ncols(),
                    len / d
                ),
            ));
        }
        let scale = T::from_f64(self.scale);
        for j in 0..model.weights.ncols() {
            for i in 0..d {
                self.state.z[j * d + i] = model.weights[(i, j)] * scale;
            }
        }
        self.state.u.copy_from_slice(&self.state.z);
        for v in [
            &mut self.state.lam,
            &mut self.state.gts,
            &mut self.state.gtnu,
            &mut self.state.theta,
        ] {
            v.fill(T::default());
        }
        for sh in self.design.shards_mut() {
            sh.nu.fill(T::default());
        }
        let (d_, sys) = (self.sys.d, &mut self.sys);
        if self.eta.is_some() {
            // r = Fu (so the first u-step does not pull towards zero predictions)
            let n = self.loss.n();
            let r = &mut self.state.r;
            let (design, u) = (&mut self.design, &self.state.u);
            self.pool
                .install(|| sys.f(design, u, crate::system::view_mut(r, n)));
            init_theta(&self.loss, &mut self.state, self.eta.unwrap_or(1.0));
        }
        if self.sys.relu {
            // s = max(0, σGu) with γ = 0 keeps ν = 0
            let (st, design, sigma) = (&mut self.state, &mut self.design, T::from_f64(self.sigma));
            self.pool.install(|| {
                design.slack_pass(
                    crate::system::view(&st.u, d_),
                    sigma,
                    T::default(),
                    crate::system::view_mut(&mut st.gts, d_),
                    crate::system::view_mut(&mut st.gtnu, d_),
                )
            });
        }
        self.best_lower.clear();
        self.certify();
        Ok(())
    }

    /// Length of the weight vector (d·nb·k).
    pub fn weights_len(&self) -> usize {
        self.state.u.len()
    }
}

/// A resumable snapshot of the solver state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint<T> {
    /// ADMM iterates.
    pub state: AdmmState<T>,
    /// Cone duals ν of all shards, concatenated.
    pub nu: Vec<T>,
    /// CG iterations so far.
    pub cg_total: usize,
    /// History so far.
    pub history: Vec<IterInfo>,
    /// Last certificate.
    pub cert: Certificate,
    /// Iteration of the last change of σ.
    #[serde(default)]
    pub last_sigma_change: usize,
    /// Number of σ changes so far.
    #[serde(default)]
    pub sigma_changes: usize,
}

/// θ = ∇ℓ(r)/(ρη), the scaled multiplier of ηFu = ηr at the current r.
fn init_theta<T: Real>(loss: &LossData<T>, st: &mut AdmmState<T>, eta: f64) {
    let n = loss.n();
    let mut lam = Mat::<T>::zeros(n, loss.k());
    loss.neg_grad(crate::system::view(&st.r, n), lam.as_mut());
    let f = -1.0 / (st.rho * eta);
    for c in 0..loss.k() {
        for i in 0..n {
            st.theta[c * n + i] = T::from_f64(f * lam[(i, c)].to_f64());
        }
    }
}

/// β per output in the solver's internal scaling.
fn beta_values(beta: Beta, beta_max: &[f64], scale: f64) -> Vec<f64> {
    beta_max
        .iter()
        .map(|bmax| match beta {
            Beta::Value(b) => b / scale,
            Beta::Fraction(f) => f * bmax,
        })
        .collect()
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
