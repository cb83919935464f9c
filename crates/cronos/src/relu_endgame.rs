//! The ReLU endgame: an augmented Lagrangian on the cone constraints, whose subproblems are
//! solved by the polish's Newton steps.
//!
//! ADMM finds the active neurons of the ReLU program quickly, but its tail is linear, and the
//! certificate of an iterate is only as good as the iterate: the dual bound built from
//! λ = −∇ℓ(Fz) loses about the square root of the primal error (measured against Clarabel on
//! 200 rows of Fashion-MNIST: primal error 8.8e-5 after 300 iterations, bound 8.5e-3 below
//! the optimum; the best cone multipliers for that λ, by 3,000 FISTA steps, gave 6.5e-3).
//! So the primal must converge fast. With the multipliers μ ≥ 0 of the cones (2D_j − I)X z_b ≥ 0,
//! the method of multipliers minimizes
//!
//!   ℓ(Fz) + β Σ‖z_b‖ + (1/2σ) Σ (‖max(0, μ − σ(2D_j − I)X z_b)‖² − ‖μ‖²)
//!
//! over the active blocks (a smooth, semismooth-Newton-friendly problem: the Newton steps of
//! [`crate::polish`] with one more term, see [`crate::design::ConeAlMode`]), then updates
//! μ ← max(0, μ − σ(2D_j − I)X z_b) and raises σ until the cones hold. The multipliers live
//! where ADMM keeps its cone duals (ν = −μ/(ρσ)), so the certificate uses the endgame's own
//! dual. The Newton systems are preconditioned by their exact diagonal blocks
//! ([`crate::block_precond`]) where those fit; zero blocks that the dual shows belong to the
//! support are added between rounds, after their multipliers are solved exactly
//! ([`crate::nnls`]). The solver keeps the result only when it certifies (see
//! `Solver::relu_endgame`): ADMM does not resume well from it.

use crate::design::{ConeAlMode, Design};
use crate::polish::SmoothTerm;
use crate::real::Real;
use crate::system::{view, view_mut};

/// The augmented-Lagrangian term of the cones as a [`SmoothTerm`] of a Newton step.
pub struct ConeAl<T: Real> {
    /// ρσ of ADMM: converts its stored cone duals to multipliers, μ = max(0, −ρσν).
    pub rho_sigma: f64,
    /// The penalty σ of the term.
    pub sigma: f64,
    d: usize,
    buf: Vec<T>,
}

impl<T: Real> ConeAl<T> {
    /// The term for weights of `len` numbers in blocks of `d`.
    pub fn new(rho_sigma: f64, sigma: f64, d: usize, len: usize) -> Self {
        ConeAl { rho_sigma, sigma, d, buf: vec![T::default(); len] }
    }

    /// μ ← max(0, μ − σ(2D − I)Xz) for the blocks of `z`; returns the cone violation of z
    /// relative to its largest pre-activation (as [`crate::feasibility`] measures it).
    pub fn update_multipliers(&mut self, design: &mut Design<T>, z: &[T]) -> f64 {
        let st = design.cone_al_pass(view(z, self.d), self.rho_sigma, self.sigma, ConeAlMode::Update, view_mut(&mut self.buf, self.d));
        if st.largest > 0.0 {
            st.violation / st.largest
        } else {
            0.0
        }
    }
}

impl<T: Real> SmoothTerm<T> for ConeAl<T> {
    fn value(&mut self, design: &mut Design<T>, z: &[T]) -> f64 {
        design.cone_al_pass(view(z, self.d), self.rho_sigma, self.sigma, ConeAlMode::Value, view_mut(&mut self.buf, self.d)).value
    }

    fn value_grad(&mut self, design: &mut Design<T>, z: &[T], grad: &mut [T]) -> f64 {
        let st = design.cone_al_pass(view(z, self.d), self.rho_sigma, self.sigma, ConeAlMode::Gradient, view_mut(&mut self.buf, self.d));
        grad.iter_mut().zip(&self.buf).for_each(|(g, b)| *g += *b);
        st.value
    }

    fn hess_add(&mut self, design: &mut Design<T>, v: &[T], out: &mut [T]) {
        design.cone_al_hessian(view(v, self.d), self.sigma, view_mut(&mut self.buf, self.d));
        out.iter_mut().zip(&self.buf).for_each(|(o, b)| *o += *b);
    }

    fn add_block_hessians(&mut self, design: &mut Design<T>, groups: &[usize], out: &mut [faer::Mat<f64>]) {
        design.add_cone_block_grams(groups, self.sigma, out);
    }
}
