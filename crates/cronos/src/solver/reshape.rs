//! The solver on a new pattern set (a pricing round, see [`crate::pricing`]): the same data,
//! loss, β and penalties; a new design, operator and preconditioner on the solver's own
//! scaled X (shared, not copied); the weights of kept patterns carried over and new groups
//! at zero, so the warm start's objective is the old one whenever the dropped groups are zero.

use super::*;
use crate::patterns::Patterns;

impl<T: Real> Solver<T> {
    /// The activation patterns of the training rows (one bit per row and pattern).
    pub fn patterns(&self) -> &Patterns {
        self.design.patterns()
    }

    /// The gate vectors, (d + bias) × P, in the solver's scaled coordinates (the same
    /// hyperplanes as in the user's: X is scaled by a positive factor, the bias column too).
    pub fn gates(&self) -> MatRef<'_, T> {
        self.gates.as_ref()
    }

    /// The design matrix in the solver's internal scaling (bias column included).
    pub fn scaled_x(&self) -> &XMat<T> {
        self.design.x()
    }

    /// β per output in the solver's internal scaling (the scale of the certificate's dual
    /// feasibility test ‖F_gᵀλ‖ ≤ β on [`Solver::scaled_x`]).
    pub fn beta_internal(&self) -> &[f64] {
        &self.beta
    }

    /// Replaces the pattern set by `patterns` with gate vectors `gates` (columns, d × P', in
    /// the solver's coordinates, see [`Solver::gates`]): new pattern j takes the weights of
    /// old pattern `from[j]` (every output), or starts at zero for `None`. Gated ReLU only.
    /// The iteration count, history and kept lower bound restart (a bound of the old pattern
    /// set does not bound the new program); the warm point is certified on the new set.
    ///
    /// # Errors
    /// For a ReLU solver, mismatched shapes, or an old index out of range.
    pub fn replace_patterns(&mut self, gates: Mat<T>, patterns: Patterns, from: &[Option<usize>]) -> Result<()> {
        let (d, k, old) = (self.sys.d(), self.loss.k(), self.sys.layout);
        let p = patterns.p();
        if self.sys.relu() {
            return Err(invalid_setting("activation", "relu", "pattern pricing needs gated ReLU"));
        }
        if gates.nrows() != d || gates.ncols() != p || from.len() != p || patterns.n() != self.design.n() || p == 0 {
            return Err(invalid_data("patterns", format!("{p} patterns of {} rows, {} × {} gates and {} sources for {} rows × {d}", patterns.n(), gates.nrows(), gates.ncols(), from.len(), self.design.n())));
        }
        // the old weights, mapped group by group (checks the sources)
        let layout = WeightLayout::new(d, p, false, k);
        let carried = layout.remap_from(&old, from, view(&self.state.z, d))?;
        let mut z = vec![T::default(); layout.len()];
        crate::system::view_mut(&mut z, d).copy_from(&carried);
        let threads = self.settings.thread_count();
        let comm = self.design.comm_arc();
        self.design = Design::with_comm(self.design.x_arc(), patterns, threads, layout.groups(), 0, comm);
        let (rho, sigma) = (self.state.rho, self.state.sigma);
        self.sys = System::with_gram(&self.design, false, k, self.gram0.scaled(sigma * sigma));
        let len = layout.len();
        let (fty, _beta_max, _) = setup::loss_start(&self.loss, &self.settings, &self.pool, &mut self.design, &mut self.sys, len);
        // β and β_max stay those of the solve: the program only gains columns
        self.fty = fty;
        self.state = setup::initial_state(&self.loss, len, rho, sigma, self.eta);
        self.ws = AdmmWorkspace::new(len, if self.eta.is_some() { self.loss.n() * self.loss.k() } else { 0 });
        self.cert_ws = CertWorkspace::new(self.loss.n(), k, len);
        self.gates = gates;
        self.iter_base = 0;
        self.history.clear();
        self.best_lower.clear();
        self.best_point = None;
        self.displaced = None;
        self.build_precond()?;
        self.warm_start_z(&z)?;
        Ok(())
    }
}
