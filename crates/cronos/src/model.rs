//! The fitted model: gates, convex weights, and the recovered two-layer network.
//!
//! From the convex weights, every non-zero block becomes one neuron: v_j/√‖v_j‖ with output
//! weight +√‖v_j‖ and w_j/√‖w_j‖ with −√‖w_j‖ (ReLU), u_j/√‖u_j‖ with +√‖u_j‖ gated by h_j
//! (gated ReLU). On the training rows the network's predictions equal the convex model's
//! whenever the cone constraints hold, and its weight-decay penalty ½Σ(‖u‖² + α²) equals the
//! group norm.

use crate::error::{invalid_data, Result};
use crate::layout::{WeightLayout, SIDE_V, SIDE_W};
use crate::patterns::Patterns;
use crate::real::Real;
use crate::loss::Loss;
use crate::settings::Activation;
use faer::linalg::matmul::matmul;
use crate::data::DataRef;
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// Rows per prediction batch: bounds memory to a few batch × P matrices.
const BATCH: usize = 4096;

/// A fitted convex model.
#[derive(Clone, Debug)]
pub struct Model<T: Real> {
    /// ReLU or gated ReLU.
    pub activation: Activation,
    /// Whether a bias column is appended to inputs.
    pub bias: bool,
    /// Input features (without bias).
    pub n_features: usize,
    /// Outputs k.
    pub n_outputs: usize,
    /// Gate vectors h_j, (d + bias) × P.
    pub gates: Mat<T>,
    /// Convex weights, (d + bias) × (nb·k): per output, v_1..v_P then w_1..w_P (ReLU) or u_1..u_P
    /// (see [`Model::layout`]).
    pub weights: Mat<T>,
    /// β per output.
    pub beta: Vec<f64>,
    /// The loss it was fitted with (decides what [`Model::predict_proba`] means).
    pub loss: Loss,
}

/// The recovered network f(x) = Σ_m σ_m(x) (x̃ᵀw1_m) α_m, with σ_m the ReLU gate of the
/// neuron itself (ReLU) or of its gate vector (gated ReLU), and x̃ = (x, 1) with bias.
#[derive(Clone, Debug)]
pub struct Network<T: Real> {
    /// ReLU or gated ReLU.
    pub activation: Activation,
    /// First-layer weights, d × m (input features only).
    pub w1: Mat<T>,
    /// First-layer biases, m (zero without bias).
    pub b1: Vec<T>,
    /// Gate vectors per neuron (gated ReLU only): d × m and biases m.
    pub gates: Option<(Mat<T>, Vec<T>)>,
    /// Output weights, m × k (each neuron feeds the output it was trained for).
    pub w2: Mat<T>,
}

impl<T: Real> Model<T> {
    /// Assembles a model from its parts.
    pub fn from_parts(activation: Activation, bias: bool, n_features: usize, n_outputs: usize, gates: Mat<T>, weights: Mat<T>, beta: Vec<f64>) -> Self {
        Model { activation, bias, n_features, n_outputs, gates, weights, beta, loss: Loss::Squared }
    }
    /// The same model, marked as fitted with `loss`.
    pub fn with_loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    /// Patterns P.
    pub fn n_patterns(&self) -> usize {
        self.gates.ncols()
    }
    /// The layout of [`Model::weights`]: blocks of d + bias rows, per output, side, pattern.
    pub fn layout(&self) -> WeightLayout {
        let rows = self.n_features + usize::from(self.bias);
        WeightLayout::new(rows, self.n_patterns(), self.activation == Activation::Relu, self.n_outputs)
    }

    /// Neurons with a non-zero weight block.
    pub fn active_neurons(&self) -> usize {
        (0..self.weights.ncols()).filter(|&j| self.weights.col(j).norm_l2() > T::default()).count()
    }

    fn check(&self, x: MatRef<'_, T>) -> Result<()> {
        if x.ncols() != self.n_features {
            return Err(invalid_data("x", format!("{} features but the model was trained on {}", x.ncols(), self.n_features)));
        }
        for j in 0..x.ncols() {
            for i in 0..x.nrows() {
                if !x[(i, j)].to_f64().is_finite() {
                    return Err(invalid_data("x", format!("non-finite value at row {i}, column {j}")));
                }
            }
        }
        Ok(())
    }

    fn with_bias(&self, x: MatRef<'_, T>) -> Mat<T> {
        let d = self.n_features;
        Mat::from_fn(x.nrows(), d + self.bias as usize, |i, j| if j < d { x[(i, j)] } else { T::from_f64(1.0) })
    }

    /// Predictions of the recovered network (n × k), in batches of bounded memory.
    ///
    /// # Errors
    /// When `x` has the wrong width or non-finite values.
    pub fn predict(&self, x: MatRef<'_, T>) -> Result<Mat<T>> {
        self.check(x)?;
        Ok(self.network().predict_unchecked(x))
    }

    /// [`Model::predict`] for dense or sparse rows (sparse rows are never densified: the
    /// first layer is a sparse × dense product per batch).
    ///
    /// # Errors
    /// When `x` has the wrong width or non-finite values.
    pub fn predict_data<'a>(&self, x: impl Into<DataRef<'a, T>>) -> Result<Mat<T>> {
        match x.into() {
            DataRef::Dense(m) => self.predict(m),
            DataRef::Sparse(s) => {
                if s.ncols() != self.n_features {
                    return Err(invalid_data("x", format!("{} features but the model was trained on {}", s.ncols(), self.n_features)));
                }
                DataRef::Sparse(s).check_finite("x")?;
                Ok(self.network().predict_with(s.nrows(), |r0, rows, w, out| s.mul_range(r0, rows, w, out)))
            }
        }
    }

    /// Class probabilities: the sigmoid of each output (logistic loss) or the softmax over
    /// outputs (softmax loss) of [`Model::predict`].
    ///
    /// # Errors
    /// For a model fitted with the squared loss (its outputs are not probabilities), and as
    /// [`Model::predict`].
    pub fn predict_proba(&self, x: MatRef<'_, T>) -> Result<Mat<T>> {
        let mut s = self.predict(x)?;
        crate::loss::scores_to_proba(self.loss, s.as_mut())?;
        Ok(s)
    }

    /// Predictions of the convex model, Σ_j 1[x̃ᵀh_j ≥ 0] x̃ᵀ(v_j − w_j): equal to
    /// [`Model::predict`] on the training rows when the cone constraints hold.
    ///
    /// # Errors
    /// When `x` has the wrong width or non-finite values.
    pub fn predict_convex(&self, x: MatRef<'_, T>) -> Result<Mat<T>> {
        self.check(x)?;
        let (n, k, p, lay) = (x.nrows(), self.n_outputs, self.n_patterns(), self.layout());
        let mut out = Mat::<T>::zeros(n, k);
        for r0 in (0..n).step_by(BATCH) {
            let rows = BATCH.min(n - r0);
            let xb = self.with_bias(x.subrows(r0, rows));
            let pat = Patterns::from_gates(xb.as_ref(), self.gates.as_ref(), Par::rayon(0));
            let mut z = Mat::<T>::zeros(rows, self.weights.ncols());
            matmul(z.as_mut(), Accum::Replace, xb.as_ref(), self.weights.as_ref(), T::from_f64(1.0), Par::rayon(0));
            for c in 0..k {
                for j in 0..p {
                    for i in 0..rows {
                        if pat.get(i, j) {
                            let mut v = z[(i, lay.block(c, SIDE_V, j))];
                            if lay.relu() {
                                v -= z[(i, lay.block(c, SIDE_W, j))];
                            }
                            out[(r0 + i, c)] += v;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The recovered two-layer network (only active neurons).
    pub fn network(&self) -> Network<T> {
        let (d, k, lay) = (self.n_features, self.n_outputs, self.layout());
        let mut cols: Vec<(usize, usize, f64)> = Vec::new(); // (weight column, output, sign)
        for c in 0..k {
            for g in lay.output_groups(c) {
                let sign = WeightLayout::side_sign(lay.group_side(g));
                if self.weights.col(g).norm_l2() > T::default() {
                    cols.push((g, c, sign));
                }
            }
        }
        let m = cols.len();
        let mut w1 = Mat::<T>::zeros(d, m);
        let mut b1 = vec![T::default(); m];
        let mut w2 = Mat::<T>::zeros(m, k);
        let mut gw = Mat::<T>::zeros(d, m);
        let mut gb = vec![T::default(); m];
        for (idx, &(col, c, sign)) in cols.iter().enumerate() {
            let nrm = self.weights.col(col).norm_l2().to_f64();
            let s = T::from_f64(1.0 / nrm.sqrt());
            for i in 0..d {
                w1[(i, idx)] = self.weights[(i, col)] * s;
            }
            if self.bias {
                b1[idx] = self.weights[(d, col)] * s;
            }
            w2[(idx, c)] = T::from_f64(sign * nrm.sqrt());
            let j = lay.group_pattern(col);
            for i in 0..d {
                gw[(i, idx)] = self.gates[(i, j)];
            }
            if self.bias {
                gb[idx] = self.gates[(d, j)];
            }
        }
        let gates = (self.activation == Activation::GatedRelu).then_some((gw, gb));
        Network { activation: self.activation, w1, b1, gates, w2 }
    }
}

impl<T: Real> Network<T> {
    /// Hidden neurons m.
    pub fn width(&self) -> usize {
        self.w1.ncols()
    }

    /// Predictions (n × k) in batches of bounded memory.
    ///
    /// # Errors
    /// When `x` has the wrong width.
    pub fn predict(&self, x: MatRef<'_, T>) -> Result<Mat<T>> {
        if x.ncols() != self.w1.nrows() {
            return Err(invalid_data("x", format!("{} features but the network takes {}", x.ncols(), self.w1.nrows())));
        }
        Ok(self.predict_unchecked(x))
    }

    fn predict_unchecked(&self, x: MatRef<'_, T>) -> Mat<T> {
        self.predict_with(x.nrows(), |r0, rows, w, out| {
            matmul(out, Accum::Replace, x.subrows(r0, rows), w, T::from_f64(1.0), Par::rayon(0))
        })
    }

    /// Predictions of n rows given `mul(r0, rows, W, out)`: out = X[r0 .. r0 + rows, :]·W.
    pub(crate) fn predict_with(&self, n: usize, mul: impl Fn(usize, usize, MatRef<'_, T>, MatMut<'_, T>)) -> Mat<T> {
        let (m, k) = (self.width(), self.w2.ncols());
        let mut out = Mat::<T>::zeros(n, k);
        let zero = T::default();
        for r0 in (0..n).step_by(BATCH) {
            let rows = BATCH.min(n - r0);
            let mut h = Mat::<T>::zeros(rows, m);
            mul(r0, rows, self.w1.as_ref(), h.as_mut());
            let mut g = None;
            if let Some((gw, _)) = &self.gates {
                let mut gm = Mat::<T>::zeros(rows, m);
                mul(r0, rows, gw.as_ref(), gm.as_mut());
                g = Some(gm);
            }
            for j in 0..m {
                for i in 0..rows {
                    let pre = h[(i, j)] + self.b1[j];
                    let on = match (&g, &self.gates) {
                        (Some(gm), Some((_, gb))) => gm[(i, j)] + gb[j] >= zero,
                        _ => pre > zero,
                    };
                    h[(i, j)] = if on { pre } else { zero };
                }
            }
            matmul(out.as_mut().subrows_mut(r0, rows), Accum::Replace, h.as_ref(), self.w2.as_ref(), T::from_f64(1.0), Par::rayon(0));
        }
        out
    }
}
