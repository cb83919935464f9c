//! Setup: validation of data and settings, scaling of X, pattern sampling, the design and
//! its Gram, β_max, and the first preconditioner.

use super::*;
use crate::comm::Comm;
use crate::patterns::SampledPatterns;
use std::sync::Arc;

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
    /// [`crate::CronosError::Distributed`] naming it.
    pub fn new_distributed(
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
        settings: Settings,
        comm: Arc<dyn Comm>,
    ) -> Result<Self> {
        Self::new_distributed_weighted(x, y, None, settings, comm)
    }

    /// [`Solver::new_distributed`] with per-sample weights (this rank's rows).
    ///
    /// # Errors
    /// As [`Solver::new_distributed`].
    pub fn new_distributed_weighted(x: MatRef<'_, T>, y: MatRef<'_, T>, weights: Option<&[f64]>, settings: Settings, comm: Arc<dyn Comm>) -> Result<Self> {
        Self::new_data_distributed(DataRef::Dense(x), y, weights, settings, comm)
    }

    /// As [`Solver::new_weighted`] for dense or sparse X ([`crate::sparse::Csr`]). X is stored
    /// sparse when its density is below [`crate::data::SPARSE_DENSITY`] (also dense input),
    /// dense otherwise; both give the same solution up to rounding.
    ///
    /// # Errors
    /// As [`Solver::new_weighted`].
    pub fn new_data<'a>(x: impl Into<DataRef<'a, T>>, y: MatRef<'_, T>, weights: Option<&[f64]>, settings: Settings) -> Result<Self> {
        Self::new_data_distributed(x.into(), y, weights, settings, crate::comm::local())
    }

    /// As [`Solver::new_weighted`], taking dense `x` by value: stored dense, the solver scales
    /// it in place instead of copying it, so peak memory holds one X instead of two (a front
    /// end that no longer needs its rows should hand them over).
    ///
    /// # Errors
    /// As [`Solver::new_weighted`].
    pub fn new_owned_weighted(x: crate::data::OwnedData<T>, y: MatRef<'_, T>, weights: Option<&[f64]>, settings: Settings) -> Result<Self> {
        Self::setup(XInput::Owned(x), y, weights, settings, crate::comm::local())
    }

    /// [`Solver::new_data`] on one rank of a distributed solve (sparse X on one rank only).
    ///
    /// # Errors
    /// As [`Solver::new_distributed`]; sparse X over several ranks is refused.
    pub fn new_data_distributed(x: DataRef<'_, T>, y: MatRef<'_, T>, weights: Option<&[f64]>, settings: Settings, comm: Arc<dyn Comm>) -> Result<Self> {
        Self::setup(XInput::Borrowed(x), y, weights, settings, comm)
    }

    fn setup(
        input: XInput<'_, T>,
        y: MatRef<'_, T>,
        weights: Option<&[f64]>,
        mut settings: Settings,
        comm: Arc<dyn Comm>,
    ) -> Result<Self> {
        let t0 = Instant::now();
        let x = input.view();
        check_inputs(x, y, weights, &settings, &*comm)?;
        let (n, d_user, k) = (x.nrows(), x.ncols(), y.ncols());
        let loss = LossData::new(settings.loss, y, weights)?;
        let threads = settings.thread_count();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| invalid_setting("threads", threads, e.to_string()))?;
        let d = d_user + settings.bias as usize;
        let ss = crate::distributed::frobenius_sq_data(x, settings.bias, threads, &*comm);
        if ss == 0.0 {
            return Err(invalid_data("x", "all values are zero (and no bias)"));
        }
        let relu = settings.activation == Activation::Relu;
        // few rows: the exact inverse for gated programs with the squared loss, whose Newton
        // polish it also preconditions well (logistic's curvature varies by row: see choose_for)
        let exact_ok = !relu && settings.loss == Loss::Squared;
        let form = GramForm::choose_for(n, d, comm.size(), exact_ok.then_some(settings.n_patterns));
        let nnz = x.nnz() + if settings.bias { n } else { 0 };
        let storage = Storage::choose(nnz, n, d, comm.size());
        let stored = (storage == Storage::Sparse).then_some(nnz);
        check_memory::<T>(&mut settings, n, d, k, form, loss.unweighted(), stored)?;
        let scale = (ss / d as f64).sqrt();
        let xs = input.into_scaled(T::from_f64(1.0 / scale), settings.bias, storage);
        let sampled = sample_gates(&xs, weights, &settings, &pool, &*comm);
        let p = sampled.patterns.p();
        let layout = WeightLayout::new(d, p, relu, k);
        let len = layout.len();
        match settings.rank {
            Rank::Fixed(r) if r > layout.output_len() => {
                return Err(invalid_setting("rank", r, format!("larger than the problem dimension {}", layout.output_len())))
            }
            _ => {}
        }
        // one slack (and dual ν) column per ReLU block, none for gated ReLU
        let nu_cols = if relu { layout.groups() } else { 0 };
        let mut design = Design::with_comm(xs, sampled.patterns, threads, layout.groups(), nu_cols, comm);
        let sigma = settings.constraint_scale;
        // gated programs never apply GᵀG: nothing is formed for them
        let gram0 = if relu {
            pool.install(|| GramOp::new(form, &design))
        } else {
            GramOp::through_x(&design)
        };
        let mut sys = System::with_gram(&design, relu, k, gram0.scaled(sigma * sigma));
        let (fty, beta_max, eta) = loss_start(&loss, &settings, &pool, &mut design, &mut sys, len);
        let beta = beta_values(settings.beta, &beta_max, scale);
        let rho = settings.rho.unwrap_or(1.0);
        // the structured preconditioner's Gram data: the eigendecomposition of XᵀX (ReLU,
        // d ≤ n) or X Xᵀ for the exact Woodbury inverse (d > n)
        let white_eig = if settings.preconditioner == PrecondKind::Structured && (relu || form == GramForm::Dual) {
            Some(pool.install(|| GramEigen::new(&gram0, relu))?)
        } else {
            None
        };
        let split_len = if eta.is_some() { n * k } else { 0 };
        let state = initial_state(&loss, len, rho, sigma, eta);
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
            gram0,
            last_sigma_change: 0,
            sigma_changes: 0,
            best_lower: Vec::new(),
            best_point: None,
            displaced: None,
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
}

/// The caller's X: borrowed (copied when scaled) or owned dense (scaled in place when it is
/// stored dense).
enum XInput<'a, T: Real> {
    Borrowed(DataRef<'a, T>),
    Owned(crate::data::OwnedData<T>),
}

impl<T: Real> XInput<'_, T> {
    fn view(&self) -> DataRef<'_, T> {
        match self {
            XInput::Borrowed(x) => *x,
            XInput::Owned(x) => x.as_data(),
        }
    }

    /// X·`inv`, with a last column of `inv` when `bias`, stored as `storage` says.
    fn into_scaled(self, inv: T, bias: bool, storage: Storage) -> XMat<T> {
        match (self, storage) {
            (XInput::Owned(crate::data::OwnedData::Dense(mut x)), Storage::Dense) => {
                let (n, d_user) = (x.nrows(), x.ncols());
                for j in 0..d_user {
                    x.col_mut(j).iter_mut().for_each(|v| *v *= inv);
                }
                if bias {
                    // column-major: one more column at the end (reallocates once, before the
                    // solver's large buffers exist)
                    x.resize_with(n, d_user + 1, |_, _| inv);
                }
                XMat::Dense(x)
            }
            (input, storage) => XMat::scaled(input.view(), inv, bias, storage),
        }
    }
}

/// The collective startup check (dense X) and the local checks of shapes, values and settings.
fn check_inputs<T: Real>(x: DataRef<'_, T>, y: MatRef<'_, T>, weights: Option<&[f64]>, settings: &Settings, comm: &dyn Comm) -> Result<()> {
    match x {
        DataRef::Dense(m) => crate::distributed::startup_check(m, y, weights, settings, comm)?,
        DataRef::Sparse(_) if comm.size() > 1 => {
            return Err(invalid_data("x", "sparse data over several ranks is not supported: densify it, or train on one process"))
        }
        DataRef::Sparse(_) => {}
    }
    settings.validate()?;
    check_shapes(x.nrows(), x.ncols(), y)?;
    x.check_finite("x")?;
    check_finite(y, "y")
}

/// Samples the gate patterns on the scaled X.
fn sample_gates<T: Real>(xs: &XMat<T>, weights: Option<&[f64]>, settings: &Settings, pool: &rayon::ThreadPool, comm: &dyn Comm) -> SampledPatterns<T> {
    let relu = settings.activation == Activation::Relu;
    // centred gates for gated ReLU only: on a ReLU program (0 vs 6, 600 rows) they left
    // every neuron at zero down to 0.04·β_max, where origin-near gates fit (their
    // near-all-active patterns have wide cones)
    let center = if settings.bias && settings.centered_gates && !relu {
        Some(crate::distributed::column_means_x(xs, weights, settings.thread_count(), comm))
    } else {
        None
    };
    pool.install(|| sample_patterns_data(xs, settings.n_patterns, settings.seed, center.as_deref(), Par::rayon(0), comm))
}

/// Fᵀy (kept only for the unweighted squared loss, whose u-step needs it), β_max per output,
/// and the scale η of the loss split (`None`: no split).
pub(super) fn loss_start<T: Real>(loss: &LossData<T>, settings: &Settings, pool: &rayon::ThreadPool, design: &mut Design<T>, sys: &mut System<T>, len: usize) -> (Vec<T>, Vec<f64>, Option<f64>) {
    let (n, k) = (loss.n(), loss.k());
    // β_max per output: the largest group norm of Fᵀλ₀, λ₀ = −∇ℓ(0) (= y for the squared
    // loss, whose u-step then needs Fᵀy itself)
    let mut lam0 = Mat::<T>::zeros(n, k);
    loss.neg_grad(Mat::<T>::zeros(n, k).as_ref(), lam0.as_mut());
    let mut fty = vec![T::default(); len];
    pool.install(|| sys.ft(design, lam0.as_ref(), &mut fty));
    drop(lam0);
    let beta_max = beta_max_of(&fty, &sys.layout.for_len(len), settings.loss.coupled());
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
    (fty, beta_max, eta)
}

/// The all-zero starting iterate, with the split's r = 0 and its consistent θ.
pub(super) fn initial_state<T: Real>(loss: &LossData<T>, len: usize, rho: f64, sigma: f64, eta: Option<f64>) -> AdmmState<T> {
    let split_len = if eta.is_some() { loss.n() * loss.k() } else { 0 };
    let mut state = AdmmState::zeros(len, rho, sigma);
    state.r = vec![T::default(); split_len];
    state.theta = vec![T::default(); split_len];
    if let Some(eta) = eta {
        // θ consistent with r = 0: the r-step's fixed point has ∇ℓ(r) = ρηθ. Starting
        // from θ = 0 instead makes the dual residual look huge and residual balancing
        // drives ρ down for hundreds of iterations.
        init_theta(loss, &mut state, eta);
    }
    state
}

fn check_shapes<T: Real>(n: usize, d_user: usize, y: MatRef<'_, T>) -> Result<()> {
    if n == 0 || d_user == 0 {
        return Err(invalid_data("x", format!("empty data: {n} rows × {d_user} columns")));
    }
    if y.nrows() != n {
        return Err(invalid_data("y", format!("{} rows but x has {n}", y.nrows())));
    }
    if y.ncols() == 0 {
        return Err(invalid_data("y", "no output column"));
    }
    Ok(())
}

/// β_max per output: the largest group norm of Fᵀλ₀ (`ft_lam0`, in `layout`), λ₀ = −∇ℓ(0);
/// a coupled loss (softmax) has one β_max for all outputs.
fn beta_max_of<T: Real>(ft_lam0: &[T], layout: &WeightLayout, coupled: bool) -> Vec<f64> {
    let mut beta_max: Vec<f64> = (0..layout.outputs())
        .map(|c| {
            layout
                .output_group_ranges(c)
                .map(|s| crate::real::sum_sq(&ft_lam0[s]).sqrt())
                .fold(0.0, f64::max)
        })
        .collect();
    if coupled {
        let m = beta_max.iter().copied().fold(0.0, f64::max);
        beta_max.iter_mut().for_each(|b| *b = m);
    }
    beta_max
}

/// Estimates the memory of the solve before anything large is allocated (see
/// [`crate::memory`]) and fails with [`crate::CronosError::OutOfMemory`] when it does not fit; an
/// adaptive Nyström rank is first capped to what fits (it only tunes the preconditioner).
fn check_memory<T: Real>(settings: &mut Settings, n: usize, d: usize, k: usize, form: GramForm, unweighted: bool, nnz: Option<usize>) -> Result<()> {
    use crate::memory::{estimate, sketch_bytes_per_column, sketch_columns, Shape};
    let shape = Shape {
        n,
        d,
        p: settings.n_patterns,
        k,
        relu: settings.activation == Activation::Relu,
        scalar: std::mem::size_of::<T>(),
        threads: settings.thread_count(),
        split: !(settings.loss == Loss::Squared && unweighted),
        nnz,
    };
    let kind = settings.preconditioner;
    let full = estimate(shape, form, kind, sketch_columns(settings.rank));
    if let (Rank::Adaptive { max }, Some(avail)) = (settings.rank, crate::memory::available_bytes()) {
        if full.total() > avail {
            let fixed = estimate(shape, form, kind, 0).total();
            let fit = (avail.saturating_sub(fixed) / sketch_bytes_per_column(shape).max(1)) as usize;
            if fit >= 16 && fit < max {
                settings.rank = Rank::Adaptive { max: fit };
                return crate::memory::check(&estimate(shape, form, kind, fit));
            }
        }
    }
    crate::memory::check(&full)
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

/// θ = ∇ℓ(r)/(ρη), the scaled multiplier of ηFu = ηr at the current r.
pub(super) fn init_theta<T: Real>(loss: &LossData<T>, st: &mut AdmmState<T>, eta: f64) {
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
