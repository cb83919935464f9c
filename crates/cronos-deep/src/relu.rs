//! The ReLU activation.

use crate::layer::{Layer, LayerSpec};
use crate::tensor::Tensor;

/// y = max(x, 0) elementwise; the mask of positive inputs is cached for backward.
#[derive(Default)]
pub struct Relu {
    mask: Option<Vec<bool>>,
}

impl Relu {
    /// A ReLU layer.
    pub fn new() -> Self {
        Relu { mask: None }
    }
}

impl Layer for Relu {
    fn forward(&mut self, x: &Tensor, train: bool) -> Tensor {
        let mut y = x.clone();
        y.data.iter_mut().for_each(|v| *v = v.max(0.0));
        self.mask = train.then(|| x.data.iter().map(|&v| v > 0.0).collect());
        y
    }
    fn backward(&mut self, g: &Tensor, _need: bool) -> Tensor {
        let mask = self.mask.take().expect("Relu::backward without a training forward");
        let mut d = g.clone();
        for (v, &on) in d.data.iter_mut().zip(&mask) {
            if !on {
                *v = 0.0;
            }
        }
        d
    }
    fn spec(&self) -> LayerSpec {
        LayerSpec::Relu
    }
    fn output_shape(&self, input: &[usize]) -> Vec<usize> {
        input.to_vec()
    }
}
