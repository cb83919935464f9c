//! Spatial reduction: non-overlapping max pooling on NHWC tensors, and flattening.

use crate::layer::{Layer, LayerSpec};
use crate::tensor::Tensor;
use rayon::prelude::*;

/// Max pooling with a size × size window and stride `size` (a trailing partial window is
/// dropped, as in the usual floor convention). The argmax of every output is cached.
pub struct MaxPool {
    height: usize,
    width: usize,
    channels: usize,
    size: usize,
    argmax: Option<Vec<u32>>,
}

impl MaxPool {
    /// Pooling of height × width × channels images.
    pub fn new(height: usize, width: usize, channels: usize, size: usize) -> Self {
        assert!(size >= 1 && size <= height && size <= width, "pool window larger than the image");
        MaxPool { height, width, channels, size, argmax: None }
    }
    fn out_hw(&self) -> (usize, usize) {
        (self.height / self.size, self.width / self.size)
    }
}

impl Layer for MaxPool {
    fn forward(&mut self, x: &Tensor, train: bool) -> Tensor {
        let (h, w, c, s) = (self.height, self.width, self.channels, self.size);
        let (oh, ow) = self.out_hw();
        let n = x.batch();
        assert_eq!(x.row_len(), h * w * c, "max pool: input size");
        let mut y = Tensor::zeros(&[n, oh, ow, c]);
        let mut arg = vec![0u32; n * oh * ow * c];
        y.data.par_chunks_mut(oh * ow * c).zip(arg.par_chunks_mut(oh * ow * c)).zip(x.data.par_chunks(h * w * c)).for_each(|((yo, ao), xi)| {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ch in 0..c {
                        let mut best = f32::NEG_INFINITY;
                        let mut bi = 0usize;
                        for dy in 0..s {
                            for dx in 0..s {
                                let i = ((oy * s + dy) * w + ox * s + dx) * c + ch;
                                if xi[i] > best {
                                    best = xi[i];
                                    bi = i;
                                }
                            }
                        }
                        let o = (oy * ow + ox) * c + ch;
                        yo[o] = best;
                        ao[o] = bi as u32;
                    }
                }
            }
        });
        self.argmax = train.then_some(arg);
        y
    }
    fn backward(&mut self, g: &Tensor, _need: bool) -> Tensor {
        let arg = self.argmax.take().expect("MaxPool::backward without a training forward");
        let (h, w, c) = (self.height, self.width, self.channels);
        let n = g.batch();
        let per = g.row_len();
        let mut dx = Tensor::zeros(&[n, h, w, c]);
        dx.data.par_chunks_mut(h * w * c).zip(g.data.par_chunks(per)).zip(arg.par_chunks(per)).for_each(|((d, gi), ai)| {
            for (v, &i) in gi.iter().zip(ai) {
                d[i as usize] += v;
            }
        });
        dx
    }
    fn spec(&self) -> LayerSpec {
        LayerSpec::MaxPool { height: self.height, width: self.width, channels: self.channels, size: self.size }
    }
    fn output_shape(&self, _input: &[usize]) -> Vec<usize> {
        let (oh, ow) = self.out_hw();
        vec![oh, ow, self.channels]
    }
}

/// Reshape to batch × features (free: NHWC data is already the flattened matrix).
#[derive(Default)]
pub struct Flatten {
    shape: Option<Vec<usize>>,
}

impl Flatten {
    /// A flatten layer.
    pub fn new() -> Self {
        Flatten { shape: None }
    }
}

impl Layer for Flatten {
    fn forward(&mut self, x: &Tensor, train: bool) -> Tensor {
        self.shape = train.then(|| x.shape.clone());
        x.clone().reshaped(&[x.batch(), x.row_len()])
    }
    fn backward(&mut self, g: &Tensor, _need: bool) -> Tensor {
        let shape = self.shape.take().expect("Flatten::backward without a training forward");
        g.clone().reshaped(&shape)
    }
    fn spec(&self) -> LayerSpec {
        LayerSpec::Flatten
    }
    fn output_shape(&self, input: &[usize]) -> Vec<usize> {
        vec![input.iter().product()]
    }
}
