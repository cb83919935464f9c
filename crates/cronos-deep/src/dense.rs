//! Fully connected layers: [`Dense`] (y = xW + b) and [`GatedDense`], the gated-ReLU layer
//! y = (xW + b) ⊙ 1[xG + g ≥ 0] of a CRONOS head, whose gates are frozen buffers (the gate
//! is piecewise constant, so it passes no gradient).

use crate::init::he_normal;
use crate::layer::{Layer, LayerSpec, Param};
use crate::ops::{add_bias, col_sums, gemm};
use crate::tensor::Tensor;

/// y = x W + b, W inputs × outputs (row-major).
pub struct Dense {
    inputs: usize,
    outputs: usize,
    weight: Param,
    bias: Param,
    cache: Option<Tensor>,
}

impl Dense {
    /// He-initialised weights (seeded), zero bias.
    pub fn new(inputs: usize, outputs: usize, seed: u64) -> Self {
        Self::from_weights(inputs, outputs, he_normal(inputs * outputs, inputs, seed), vec![0.0; outputs])
    }

    /// From given weights (inputs × outputs, row-major) and bias.
    pub fn from_weights(inputs: usize, outputs: usize, weight: Vec<f32>, bias: Vec<f32>) -> Self {
        Dense {
            inputs,
            outputs,
            weight: Param::new("weight", &[inputs, outputs], weight, true),
            bias: Param::new("bias", &[outputs], bias, false),
            cache: None,
        }
    }

    /// Marks all parameters frozen (a fixed head).
    pub fn frozen(mut self) -> Self {
        self.weight.trainable = false;
        self.bias.trainable = false;
        self
    }
}

fn affine(x: &Tensor, inputs: usize, outputs: usize, w: &[f32], b: &[f32]) -> Tensor {
    let n = x.batch();
    assert_eq!(x.row_len(), inputs, "dense layer: input width");
    let mut y = Tensor::zeros(&[n, outputs]);
    gemm(&mut y.data, n, outputs, &x.data, n, inputs, false, w, inputs, outputs, false, false);
    add_bias(&mut y.data, b);
    y
}

/// Parameter gradients of an affine map from its input and the gradient at its output, and
/// the input gradient when asked.
fn affine_backward(x: &Tensor, g: &Tensor, inputs: usize, outputs: usize, w: &mut Param, b: &mut Param, need: bool) -> Tensor {
    let n = x.batch();
    gemm(&mut w.grad, inputs, outputs, &x.data, n, inputs, true, &g.data, n, outputs, false, false);
    col_sums(&g.data, outputs, &mut b.grad);
    if !need {
        return Tensor::default();
    }
    let mut dx = Tensor::zeros(&x.shape);
    gemm(&mut dx.data, n, inputs, &g.data, n, outputs, false, &w.value, inputs, outputs, true, false);
    dx
}

impl Layer for Dense {
    fn forward(&mut self, x: &Tensor, train: bool) -> Tensor {
        let y = affine(x, self.inputs, self.outputs, &self.weight.value, &self.bias.value);
        self.cache = train.then(|| x.clone());
        y
    }
    fn backward(&mut self, g: &Tensor, need: bool) -> Tensor {
        let x = self.cache.take().expect("Dense::backward without a training forward");
        affine_backward(&x, g, self.inputs, self.outputs, &mut self.weight, &mut self.bias, need)
    }
    fn params(&self) -> Vec<&Param> {
        vec![&self.weight, &self.bias]
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        vec![&mut self.weight, &mut self.bias]
    }
    fn spec(&self) -> LayerSpec {
        LayerSpec::Dense { inputs: self.inputs, outputs: self.outputs }
    }
    fn output_shape(&self, _input: &[usize]) -> Vec<usize> {
        vec![self.outputs]
    }
}

/// Gated ReLU layer y = (xW + b) ⊙ 1[xG + g ≥ 0]; (G, g) are frozen.
pub struct GatedDense {
    inputs: usize,
    outputs: usize,
    weight: Param,
    bias: Param,
    gate_weight: Param,
    gate_bias: Param,
    cache: Option<(Tensor, Vec<bool>)>,
}

impl GatedDense {
    /// From weights and gates (inputs × outputs, row-major) and their biases.
    pub fn new(inputs: usize, outputs: usize, weight: Vec<f32>, bias: Vec<f32>, gate_weight: Vec<f32>, gate_bias: Vec<f32>) -> Self {
        GatedDense {
            inputs,
            outputs,
            weight: Param::new("weight", &[inputs, outputs], weight, true),
            bias: Param::new("bias", &[outputs], bias, false),
            gate_weight: Param::frozen("gate_weight", &[inputs, outputs], gate_weight),
            gate_bias: Param::frozen("gate_bias", &[outputs], gate_bias),
            cache: None,
        }
    }

    /// Marks the weights frozen too (a fixed head).
    pub fn frozen(mut self) -> Self {
        self.weight.trainable = false;
        self.bias.trainable = false;
        self
    }
}

impl Layer for GatedDense {
    fn forward(&mut self, x: &Tensor, train: bool) -> Tensor {
        let mut y = affine(x, self.inputs, self.outputs, &self.weight.value, &self.bias.value);
        let gate = affine(x, self.inputs, self.outputs, &self.gate_weight.value, &self.gate_bias.value);
        let mask: Vec<bool> = gate.data.iter().map(|&v| v >= 0.0).collect();
        for (v, &on) in y.data.iter_mut().zip(&mask) {
            if !on {
                *v = 0.0;
            }
        }
        self.cache = train.then(|| (x.clone(), mask));
        y
    }
    fn backward(&mut self, g: &Tensor, need: bool) -> Tensor {
        let (x, mask) = self.cache.take().expect("GatedDense::backward without a training forward");
        let mut gz = g.clone();
        for (v, &on) in gz.data.iter_mut().zip(&mask) {
            if !on {
                *v = 0.0;
            }
        }
        affine_backward(&x, &gz, self.inputs, self.outputs, &mut self.weight, &mut self.bias, need)
    }
    fn params(&self) -> Vec<&Param> {
        vec![&self.weight, &self.bias, &self.gate_weight, &self.gate_bias]
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        vec![&mut self.weight, &mut self.bias, &mut self.gate_weight, &mut self.gate_bias]
    }
    fn spec(&self) -> LayerSpec {
        LayerSpec::GatedDense { inputs: self.inputs, outputs: self.outputs }
    }
    fn output_shape(&self, _input: &[usize]) -> Vec<usize> {
        vec![self.outputs]
    }
}
