//! GᵀG = blkdiag(XᵀX) in the form that fits the data's shape.
//!
//! * [`GramForm::Primal`] (d ≤ n): the d × d Gram XᵀX is formed once and every product with
//!   it is a d × d GEMM; the structured preconditioner eigendecomposes it.
//! * [`GramForm::Dual`] (d > n, wide data): nothing d × d is ever formed. XᵀX u = Xᵀ(X u) is
//!   two GEMMs through X (2nd flops per column instead of d²), and the preconditioner works
//!   with the n × n X Xᵀ instead (see [`crate::woodbury`]). Memory stays O(nd + n²).
//!
//! The form is chosen from the shapes ([`GramForm::choose`]); tests can force either with
//! [`with_form`] to check that both give the same solution.

use crate::data::XMat;
use crate::design::Design;
use crate::error::{CronosError, Result};
use crate::real::Real;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use std::cell::Cell;
use std::sync::Arc;

/// Rows up to which a gated program uses the exact n × n inverse (see [`GramForm::choose_for`]).
pub const EXACT_MAX_ROWS: usize = 2048;

/// Which representation of XᵀX the solver uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GramForm {
    /// The d × d XᵀX, formed once.
    Primal,
    /// Products through X and the n × n X Xᵀ; nothing d × d.
    Dual,
}

thread_local! {
    static FORCED: Cell<Option<GramForm>> = const { Cell::new(None) };
}

/// Runs `f` with the Gram form forced to `form` for solvers set up on this thread (tests
/// of the two forms against each other). A forced dual form still falls back to the
/// primal one for a solve over several ranks, whose X Xᵀ would span ranks.
#[doc(hidden)]
pub fn with_form<R>(form: GramForm, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<GramForm>);
    impl Drop for Reset {
        fn drop(&mut self) {
            FORCED.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(FORCED.with(|c| c.replace(Some(form))));
    f()
}

impl GramForm {
    /// The form for n local rows, d columns (bias included) and `ranks` processes: dual when
    /// d > n on one rank, primal otherwise.
    pub fn choose(n: usize, d: usize, ranks: usize) -> Self {
        Self::choose_for(n, d, ranks, None)
    }

    /// [`GramForm::choose`], where `gated_patterns` is P for a gated program with the squared
    /// loss. A gated program never applies GᵀG, so its form only picks the preconditioner, and
    /// on few rows the dual form's exact n × n inverse pays even when d ≤ n: one solve per
    /// u-step instead of 3–10 PCG steps, for an n × n Cholesky per new ρ (at n = 2,048:
    /// 2.9 GFlop, 2 × 34 MB). Measured on Fashion-MNIST, 10 classes, 2,000 rows: path 15.1 →
    /// 7.7 s. The caller leaves out the logistic and softmax losses: their Newton polish,
    /// preconditioned by the same inverse of I + FᵀF/ρ, stalled where the row curvatures of
    /// the loss spread (Pullover/Coat, 1,500 rows, logistic: gap 4.7e-3 after 500 iterations,
    /// against solved in 40 with the Nyström preconditioner).
    pub fn choose_for(n: usize, d: usize, ranks: usize, gated_patterns: Option<usize>) -> Self {
        let few_rows = gated_patterns.is_some_and(|p| n <= EXACT_MAX_ROWS && n < p * d);
        match FORCED.with(|c| c.get()) {
            _ if ranks > 1 => GramForm::Primal,
            Some(f) => f,
            None if d > n || few_rows => GramForm::Dual,
            None => GramForm::Primal,
        }
    }
}

/// c·XᵀX as an operator on d × w blocks.
#[derive(Clone)]
pub enum GramOp<T: Real> {
    /// The formed d × d matrix c·XᵀX.
    Primal(Mat<T>),
    /// c·Xᵀ(X u) through the shared X.
    Dual {
        /// The design matrix (n × d).
        x: Arc<XMat<T>>,
        /// The factor c.
        scale: T,
    },
}

impl<T: Real> GramOp<T> {
    /// The unscaled XᵀX of `design` in `form` (the primal form is formed here).
    pub fn new(form: GramForm, design: &Design<T>) -> Self {
        match form {
            GramForm::Primal => GramOp::Primal(design.gram()),
            GramForm::Dual => Self::through_x(design),
        }
    }
    /// XᵀX applied through X, nothing formed (also the stand-in of gated programs, which
    /// never apply GᵀG).
    pub fn through_x(design: &Design<T>) -> Self {
        GramOp::Dual { x: design.x_arc(), scale: T::from_f64(1.0) }
    }
    /// The form.
    pub fn form(&self) -> GramForm {
        match self {
            GramOp::Primal(_) => GramForm::Primal,
            GramOp::Dual { .. } => GramForm::Dual,
        }
    }
    /// This operator times `c`.
    pub fn scaled(&self, c: f64) -> Self {
        match self {
            GramOp::Primal(k) => GramOp::Primal(k * faer::Scale(T::from_f64(c))),
            GramOp::Dual { x, scale } => GramOp::Dual { x: x.clone(), scale: T::from_f64(scale.to_f64() * c) },
        }
    }
    /// The formed matrix (primal form only).
    pub fn dense(&self) -> Option<&Mat<T>> {
        match self {
            GramOp::Primal(k) => Some(k),
            GramOp::Dual { .. } => None,
        }
    }
    /// `out = G u` (`Accum::Replace`) or `out += G u` (`Accum::Add`), u and out d × w.
    pub fn apply(&self, u: MatRef<'_, T>, mut out: MatMut<'_, T>, accum: Accum) {
        match self {
            GramOp::Primal(k) => matmul(out, accum, k.as_ref(), u, T::from_f64(1.0), Par::Seq),
            GramOp::Dual { x, scale } => {
                let mut t = Mat::<T>::zeros(x.nrows(), u.ncols());
                x.mul(u, t.as_mut());
                if accum == Accum::Replace {
                    out.fill(T::default());
                }
                x.tmul_add(t.as_ref(), out.as_mut(), *scale);
            }
        }
    }
}

/// What the structured preconditioner needs of the Gram, computed once per solve.
#[derive(Clone)]
pub enum GramEigen<T: Real> {
    /// Eigenvectors Q (d × d) and eigenvalues of the unscaled XᵀX.
    Primal {
        /// Orthonormal eigenvectors.
        q: Mat<T>,
        /// Eigenvalues, unscaled.
        lam: Vec<f64>,
    },
    /// The n × n X Xᵀ and, for ReLU, its eigendecomposition X Xᵀ = U diag(λ) Uᵀ.
    Dual {
        /// The design matrix (n × d).
        x: Arc<XMat<T>>,
        /// c·X Xᵀ in f64 (shared with the gated Woodbury preconditioner); `None` for gated
        /// programs on sparse X, which re-form it when needed instead of holding n² values.
        xxt: Option<Arc<Mat<f64>>>,
        /// The factor c.
        scale: f64,
        /// U and λ (ReLU only: gated programs have no GᵀG to invert).
        eig: Option<(Mat<f64>, Vec<f64>)>,
    },
}

impl<T: Real> GramEigen<T> {
    /// From the unscaled Gram operator; `relu` selects whether the dual form needs λ.
    ///
    /// # Errors
    /// [`CronosError::Numerical`] when an eigendecomposition fails.
    pub fn new(gram: &GramOp<T>, relu: bool) -> Result<Self> {
        match gram {
            GramOp::Primal(k) => {
                let (q, lam) = sym_eigen(Mat::<f64>::from_fn(k.nrows(), k.ncols(), |i, j| k[(i, j)].to_f64()), "eigendecomposition of the Gram XᵀX")?;
                let q = Mat::<T>::from_fn(q.nrows(), q.ncols(), |i, j| T::from_f64(q[(i, j)]));
                let s = gram_scale(gram);
                Ok(GramEigen::Primal { q, lam: lam.iter().map(|l| l / s).collect() })
            }
            GramOp::Dual { x, scale } => {
                let s = scale.to_f64();
                if !relu && x.xxt_is_cheap() {
                    return Ok(GramEigen::Dual { x: x.clone(), xxt: None, scale: s, eig: None });
                }
                let mut g = x.xxt();
                if s != 1.0 {
                    g *= faer::Scale(s);
                }
                let eig = if relu { Some(sym_eigen(g.clone(), "eigendecomposition of X Xᵀ")?) } else { None };
                Ok(GramEigen::Dual { x: x.clone(), xxt: Some(Arc::new(g)), scale: s, eig })
            }
        }
    }
}

fn gram_scale<T: Real>(g: &GramOp<T>) -> f64 {
    match g {
        GramOp::Primal(_) => 1.0,
        GramOp::Dual { scale, .. } => scale.to_f64(),
    }
}

/// Eigendecomposition of a symmetric f64 matrix (eigenvalues clamped at 0); `context` names
/// the matrix in the error.
pub(crate) fn sym_eigen(a: Mat<f64>, context: &'static str) -> Result<(Mat<f64>, Vec<f64>)> {
    let evd = a.self_adjoint_eigen(Side::Lower).map_err(|e| CronosError::Numerical { context, reason: format!("{e:?}") })?;
    let lam = (0..a.nrows()).map(|i| evd.S().column_vector()[i].max(0.0)).collect();
    Ok((evd.U().to_owned(), lam))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_apply_matches_formed_gram() {
        let (n, d, w) = (7, 19, 3);
        let x = Mat::<f64>::from_fn(n, d, |i, j| ((i * 13 + j * 7) % 11) as f64 / 5.0 - 1.0);
        let u = Mat::<f64>::from_fn(d, w, |i, j| ((i + 3 * j) % 5) as f64 - 2.0);
        let k = x.transpose() * &x;
        let want = &k * &u * faer::Scale(2.5);
        for xm in [XMat::Dense(x.clone()), XMat::sparse(crate::sparse::Csr::from_dense(x.as_ref()))] {
            let xm = Arc::new(xm);
            let op = GramOp::Dual { x: xm.clone(), scale: 1.0 }.scaled(2.5);
            let mut got = Mat::<f64>::zeros(d, w);
            op.apply(u.as_ref(), got.as_mut(), Accum::Replace);
            assert!((&got - &want).norm_l2() <= 1e-12 * want.norm_l2());
            let g = xm.xxt();
            assert!((&g - &x * x.transpose()).norm_l2() <= 1e-12 * g.norm_l2());
        }
    }

    #[test]
    fn choice_follows_shape_and_override() {
        assert_eq!(GramForm::choose(100, 10, 1), GramForm::Primal);
        assert_eq!(GramForm::choose(10, 100, 1), GramForm::Dual);
        assert_eq!(GramForm::choose(10, 100, 2), GramForm::Primal);
        assert_eq!(with_form(GramForm::Dual, || GramForm::choose(100, 10, 1)), GramForm::Dual);
        assert_eq!(with_form(GramForm::Primal, || GramForm::choose(10, 100, 1)), GramForm::Primal);
        assert_eq!(GramForm::choose(10, 100, 1), GramForm::Dual);
    }

    #[test]
    fn gated_programs_on_few_rows_take_the_exact_inverse() {
        // few rows: dual (the exact n × n inverse) for gated, primal for ReLU
        assert_eq!(GramForm::choose_for(1_000, 65, 1, Some(64)), GramForm::Dual);
        assert_eq!(GramForm::choose_for(1_000, 65, 1, None), GramForm::Primal);
        // too many rows, or no fewer rows than unknowns per output, or several ranks
        assert_eq!(GramForm::choose_for(EXACT_MAX_ROWS + 1, 785, 1, Some(64)), GramForm::Primal);
        assert_eq!(GramForm::choose_for(EXACT_MAX_ROWS, 785, 1, Some(64)), GramForm::Dual);
        assert_eq!(GramForm::choose_for(500, 5, 1, Some(64)), GramForm::Primal);
        assert_eq!(GramForm::choose_for(1_000, 65, 2, Some(64)), GramForm::Primal);
        assert_eq!(with_form(GramForm::Primal, || GramForm::choose_for(1_000, 65, 1, Some(64))), GramForm::Primal);
    }
}
