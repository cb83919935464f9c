//! 2-D convolution (stride 1, zero padding) on NHWC tensors by im2col and one faer GEMM.
//!
//! Each output pixel (n, oy, ox) is a row of the column matrix, whose k·k·c entries are the
//! input patch in (ky, kx, c) order, so a patch row is k contiguous copies of k·c values and
//! the product cols · W (W: k·k·c × out) is the output, already NHWC. Backward: dW = colsᵀ·g,
//! db = column sums of g, and dcols = g·Wᵀ scattered back (col2im) per sample in parallel.

use crate::init::he_normal;
use crate::layer::{Layer, LayerSpec, Param};
use crate::ops::{add_bias, col_sums, gemm};
use crate::tensor::Tensor;
use rayon::prelude::*;

/// Geometry of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size k (k × k).
    pub kernel: usize,
    /// Zero padding on every side.
    pub padding: usize,
}

impl ConvShape {
    /// Output height.
    pub fn out_height(&self) -> usize {
        self.height + 2 * self.padding + 1 - self.kernel
    }
    /// Output width.
    pub fn out_width(&self) -> usize {
        self.width + 2 * self.padding + 1 - self.kernel
    }
    /// Length of a patch row, k·k·c_in.
    pub fn patch(&self) -> usize {
        self.kernel * self.kernel * self.in_channels
    }
}

/// Convolution layer with weights (k·k·c_in) × c_out and a bias per output channel.
pub struct Conv2d {
    s: ConvShape,
    weight: Param,
    bias: Param,
    cols: Option<Vec<f32>>,
}

impl Conv2d {
    /// He-initialised kernel (seeded), zero bias.
    pub fn new(s: ConvShape, seed: u64) -> Self {
        assert!(s.kernel >= 1 && s.kernel <= s.height + 2 * s.padding && s.kernel <= s.width + 2 * s.padding, "kernel larger than the padded image");
        let fan_in = s.patch();
        Conv2d {
            s,
            weight: Param::new("weight", &[fan_in, s.out_channels], he_normal(fan_in * s.out_channels, fan_in, seed), true),
            bias: Param::new("bias", &[s.out_channels], vec![0.0; s.out_channels], false),
            cols: None,
        }
    }

    /// The geometry.
    pub fn shape(&self) -> ConvShape {
        self.s
    }

    /// im2col of one sample into `out` (oh·ow rows of k·k·c).
    fn im2col_one(s: &ConvShape, x: &[f32], out: &mut [f32]) {
        let (h, w, c, k, p) = (s.height as isize, s.width as isize, s.in_channels, s.kernel, s.padding as isize);
        let (oh, ow) = (s.out_height(), s.out_width());
        let patch = s.patch();
        for oy in 0..oh {
            for ox in 0..ow {
                let row = &mut out[(oy * ow + ox) * patch..(oy * ow + ox + 1) * patch];
                for ky in 0..k {
                    let iy = oy as isize + ky as isize - p;
                    let seg = &mut row[ky * k * c..(ky + 1) * k * c];
                    if iy < 0 || iy >= h {
                        seg.fill(0.0);
                        continue;
                    }
                    for kx in 0..k {
                        let ix = ox as isize + kx as isize - p;
                        let dst = &mut seg[kx * c..(kx + 1) * c];
                        if ix < 0 || ix >= w {
                            dst.fill(0.0);
                        } else {
                            let src = ((iy * w + ix) as usize) * c;
                            dst.copy_from_slice(&x[src..src + c]);
                        }
                    }
                }
            }
        }
    }

    /// col2im of one sample: adds the patch gradients back onto the input gradient.
    fn col2im_one(s: &ConvShape, dcols: &[f32], dx: &mut [f32]) {
        let (h, w, c, k, p) = (s.height as isize, s.width as isize, s.in_channels, s.kernel, s.padding as isize);
        let (oh, ow) = (s.out_height(), s.out_width());
        let patch = s.patch();
        dx.fill(0.0);
        for oy in 0..oh {
            for ox in 0..ow {
                let row = &dcols[(oy * ow + ox) * patch..(oy * ow + ox + 1) * patch];
                for ky in 0..k {
                    let iy = oy as isize + ky as isize - p;
                    if iy < 0 || iy >= h {
                        continue;
                    }
                    for kx in 0..k {
                        let ix = ox as isize + kx as isize - p;
                        if ix < 0 || ix >= w {
                            continue;
                        }
                        let dst = ((iy * w + ix) as usize) * c;
                        let src = &row[(ky * k + kx) * c..(ky * k + kx + 1) * c];
                        for (d, v) in dx[dst..dst + c].iter_mut().zip(src) {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}

impl Layer for Conv2d {
    fn forward(&mut self, x: &Tensor, train: bool) -> Tensor {
        let s = self.s;
        let n = x.batch();
        assert_eq!(x.row_len(), s.height * s.width * s.in_channels, "conv2d: input size");
        let (oh, ow, patch) = (s.out_height(), s.out_width(), s.patch());
        let mut cols = vec![0.0f32; n * oh * ow * patch];
        let xin = s.height * s.width * s.in_channels;
        cols.par_chunks_mut(oh * ow * patch).zip(x.data.par_chunks(xin)).for_each(|(c, xi)| Self::im2col_one(&s, xi, c));
        let rows = n * oh * ow;
        let mut y = Tensor::zeros(&[n, oh, ow, s.out_channels]);
        gemm(&mut y.data, rows, s.out_channels, &cols, rows, patch, false, &self.weight.value, patch, s.out_channels, false, false);
        add_bias(&mut y.data, &self.bias.value);
        self.cols = train.then_some(cols);
        y
    }

    fn backward(&mut self, g: &Tensor, need: bool) -> Tensor {
        let s = self.s;
        let cols = self.cols.take().expect("Conv2d::backward without a training forward");
        let (oh, ow, patch, co) = (s.out_height(), s.out_width(), s.patch(), s.out_channels);
        let n = g.batch();
        let rows = n * oh * ow;
        gemm(&mut self.weight.grad, patch, co, &cols, rows, patch, true, &g.data, rows, co, false, false);
        col_sums(&g.data, co, &mut self.bias.grad);
        if !need {
            return Tensor::default();
        }
        // reuse the column buffer for dcols = g Wᵀ
        let mut dcols = cols;
        gemm(&mut dcols, rows, patch, &g.data, rows, co, false, &self.weight.value, patch, co, true, false);
        let mut dx = Tensor::zeros(&[n, s.height, s.width, s.in_channels]);
        let xin = s.height * s.width * s.in_channels;
        dx.data.par_chunks_mut(xin).zip(dcols.par_chunks(oh * ow * patch)).for_each(|(d, c)| Self::col2im_one(&s, c, d));
        dx
    }
    fn params(&self) -> Vec<&Param> {
        vec![&self.weight, &self.bias]
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        vec![&mut self.weight, &mut self.bias]
    }
    fn spec(&self) -> LayerSpec {
        let s = self.s;
        LayerSpec::Conv2d { height: s.height, width: s.width, in_channels: s.in_channels, out_channels: s.out_channels, kernel: s.kernel, padding: s.padding }
    }
    fn output_shape(&self, _input: &[usize]) -> Vec<usize> {
        vec![self.s.out_height(), self.s.out_width(), self.s.out_channels]
    }
}
