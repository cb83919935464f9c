//! The layer abstraction: forward with a cache, backward that fills parameter gradients and
//! returns the input gradient, and a serialisable spec to rebuild the layer from a file.
//!
//! To plug in another architecture, implement [`Layer`] (or compose the existing ones in a
//! [`crate::Sequential`]); the optimizers, the AM loop, the baselines and the model file work
//! on any `Sequential`.

use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// One parameter tensor with its gradient.
#[derive(Clone, Debug)]
pub struct Param {
    /// Name inside its layer (`weight`, `bias`, `gate_weight`, ...).
    pub name: &'static str,
    /// Shape, for the model file.
    pub shape: Vec<usize>,
    /// Values.
    pub value: Vec<f32>,
    /// Gradient of the last backward pass (same length as `value`).
    pub grad: Vec<f32>,
    /// Whether weight decay applies (weights yes, biases no).
    pub decay: bool,
    /// Whether optimizers update it (false for frozen buffers such as head gates).
    pub trainable: bool,
}

impl Param {
    /// A trainable parameter with a zero gradient.
    pub fn new(name: &'static str, shape: &[usize], value: Vec<f32>, decay: bool) -> Self {
        assert_eq!(value.len(), shape.iter().product::<usize>());
        Param { name, shape: shape.to_vec(), grad: vec![0.0; value.len()], value, decay, trainable: true }
    }

    /// A frozen buffer: saved with the model, never updated.
    pub fn frozen(name: &'static str, shape: &[usize], value: Vec<f32>) -> Self {
        Param { trainable: false, ..Param::new(name, shape, value, false) }
    }
}

/// Serialisable description of a layer (everything but its parameter values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerSpec {
    /// Fully connected: y = x W + b.
    Dense {
        /// Input width.
        inputs: usize,
        /// Output width.
        outputs: usize,
    },
    /// Gated ReLU: y = (x W + b) ⊙ 1[x G + g ≥ 0] with frozen gates (G, g).
    GatedDense {
        /// Input width.
        inputs: usize,
        /// Output width.
        outputs: usize,
    },
    /// Elementwise max(x, 0).
    Relu,
    /// 2-D convolution, NHWC, stride 1.
    Conv2d {
        /// Input height.
        height: usize,
        /// Input width.
        width: usize,
        /// Input channels.
        in_channels: usize,
        /// Output channels.
        out_channels: usize,
        /// Square kernel size.
        kernel: usize,
        /// Zero padding on every side.
        padding: usize,
    },
    /// Non-overlapping max pooling, NHWC.
    MaxPool {
        /// Input height.
        height: usize,
        /// Input width.
        width: usize,
        /// Channels.
        channels: usize,
        /// Window (and stride).
        size: usize,
    },
    /// Reshape to batch × features.
    Flatten,
}

/// A differentiable layer. `forward` with `train = true` keeps what `backward` needs;
/// `backward` must follow such a forward, overwrites the parameter gradients and returns the
/// gradient with respect to the input (an empty tensor when `need_input_grad` is false).
pub trait Layer: Send {
    /// Output for a batch.
    fn forward(&mut self, x: &Tensor, train: bool) -> Tensor;
    /// Backward pass through the last training forward.
    fn backward(&mut self, grad_out: &Tensor, need_input_grad: bool) -> Tensor;
    /// Parameters (possibly none), in a fixed order.
    fn params(&self) -> Vec<&Param> {
        Vec::new()
    }
    /// Mutable parameters, same order as [`Layer::params`].
    fn params_mut(&mut self) -> Vec<&mut Param> {
        Vec::new()
    }
    /// The layer's description.
    fn spec(&self) -> LayerSpec;
    /// Output shape per sample for the given input shape per sample.
    fn output_shape(&self, input: &[usize]) -> Vec<usize>;
}
