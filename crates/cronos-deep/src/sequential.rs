//! A chain of layers: forward, backward, batched inference and parameter access.

use crate::conv::{Conv2d, ConvShape};
use crate::dense::{Dense, GatedDense};
use crate::error::{DeepError, Result};
use crate::layer::{Layer, LayerSpec, Param};
use crate::pool::{Flatten, MaxPool};
use crate::relu::Relu;
use crate::tensor::Tensor;

/// Rows per inference batch: bounds the im2col buffers.
pub const INFER_BATCH: usize = 256;

/// Layers applied in order to samples of shape `input_shape`.
pub struct Sequential {
    /// Shape of one input sample (e.g. `[28, 28, 1]` or `[784]`).
    pub input_shape: Vec<usize>,
    /// The layers.
    pub layers: Vec<Box<dyn Layer>>,
}

impl Sequential {
    /// An empty chain on samples of `input_shape` (the identity).
    pub fn new(input_shape: &[usize]) -> Self {
        Sequential { input_shape: input_shape.to_vec(), layers: Vec::new() }
    }

    /// Appends a layer.
    pub fn push(mut self, layer: impl Layer + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Shape of one output sample.
    pub fn output_shape(&self) -> Vec<usize> {
        self.layers.iter().fold(self.input_shape.clone(), |s, l| l.output_shape(&s))
    }

    /// Values per output sample.
    pub fn output_len(&self) -> usize {
        self.output_shape().iter().product()
    }

    /// Output of a batch; `train` keeps the caches for [`Sequential::backward`].
    pub fn forward(&mut self, x: &Tensor, train: bool) -> Tensor {
        let mut h: Option<Tensor> = None;
        for l in self.layers.iter_mut() {
            h = Some(l.forward(h.as_ref().unwrap_or(x), train));
        }
        h.unwrap_or_else(|| x.clone())
    }

    /// Backward through the last training forward; returns the input gradient when asked.
    pub fn backward(&mut self, grad_out: &Tensor, need_input_grad: bool) -> Tensor {
        let mut g = grad_out.clone();
        for (i, l) in self.layers.iter_mut().enumerate().rev() {
            // the first layer's input gradient is wasted work unless the caller wants it
            g = l.backward(&g, i > 0 || need_input_grad);
        }
        g
    }

    /// Inference in batches of [`INFER_BATCH`] rows (no caches kept).
    pub fn predict(&mut self, x: &Tensor) -> Tensor {
        let n = x.batch();
        let mut out = Vec::with_capacity(n * self.output_len());
        for r0 in (0..n).step_by(INFER_BATCH) {
            let rows = INFER_BATCH.min(n - r0);
            out.extend(self.forward(&x.rows(r0, rows), false).data);
        }
        let mut shape = vec![n];
        shape.extend(self.output_shape());
        Tensor::from_vec(out, &shape)
    }

    /// All parameters, layer by layer.
    pub fn params(&self) -> Vec<&Param> {
        self.layers.iter().flat_map(|l| l.params()).collect()
    }

    /// All parameters, mutable, same order.
    pub fn params_mut(&mut self) -> Vec<&mut Param> {
        self.layers.iter_mut().flat_map(|l| l.params_mut()).collect()
    }

    /// Number of trainable scalars.
    pub fn n_trainable(&self) -> usize {
        self.params().iter().filter(|p| p.trainable).map(|p| p.value.len()).sum()
    }

    /// The layer specs.
    pub fn specs(&self) -> Vec<LayerSpec> {
        self.layers.iter().map(|l| l.spec()).collect()
    }

    /// Rebuilds a chain from specs (parameters zero/placeholder, to be loaded).
    ///
    /// # Errors
    /// When consecutive specs do not fit together.
    pub fn from_specs(input_shape: &[usize], specs: &[LayerSpec]) -> Result<Self> {
        let mut s = Sequential::new(input_shape);
        for (i, spec) in specs.iter().enumerate() {
            let have: usize = s.output_shape().iter().product();
            let need = match spec {
                LayerSpec::Dense { inputs, .. } | LayerSpec::GatedDense { inputs, .. } => Some(*inputs),
                LayerSpec::Conv2d { height, width, in_channels, .. } => Some(height * width * in_channels),
                LayerSpec::MaxPool { height, width, channels, .. } => Some(height * width * channels),
                LayerSpec::Relu | LayerSpec::Flatten => None,
            };
            if need.is_some_and(|k| k != have) {
                return Err(DeepError::Shape { context: format!("layer {i} ({spec:?})"), expected: format!("{} inputs", need.unwrap_or(0)), got: have.to_string() });
            }
            s.layers.push(match *spec {
                LayerSpec::Dense { inputs, outputs } => Box::new(Dense::from_weights(inputs, outputs, vec![0.0; inputs * outputs], vec![0.0; outputs])),
                LayerSpec::GatedDense { inputs, outputs } => {
                    let z = vec![0.0; inputs * outputs];
                    Box::new(GatedDense::new(inputs, outputs, z.clone(), vec![0.0; outputs], z, vec![0.0; outputs]))
                }
                LayerSpec::Relu => Box::new(Relu::new()),
                LayerSpec::Flatten => Box::new(Flatten::new()),
                LayerSpec::Conv2d { height, width, in_channels, out_channels, kernel, padding } => {
                    Box::new(Conv2d::new(ConvShape { height, width, in_channels, out_channels, kernel, padding }, 0))
                }
                LayerSpec::MaxPool { height, width, channels, size } => Box::new(MaxPool::new(height, width, channels, size)),
            });
        }
        Ok(s)
    }
}
