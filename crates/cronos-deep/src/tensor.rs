//! A minimal dense tensor: row-major f32 data and a shape whose first axis is the batch.
//!
//! Images are stored NHWC (batch, height, width, channels): a convolution by im2col then
//! produces its output in the same layout with one GEMM and no transposes, and flattening is
//! free (the data of an n × h × w × c tensor *is* the n × (h·w·c) matrix).

use faer::{MatMut, MatRef};

/// Row-major f32 tensor; `shape[0]` is the batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tensor {
    /// The values, row-major (last axis fastest).
    pub data: Vec<f32>,
    /// The shape; the product of its entries is `data.len()`.
    pub shape: Vec<usize>,
}

impl Tensor {
    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Tensor { data: vec![0.0; shape.iter().product()], shape: shape.to_vec() }
    }

    /// Wraps `data` (its length must be the product of `shape`).
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Self {
        assert_eq!(data.len(), shape.iter().product::<usize>(), "tensor data does not match shape {shape:?}");
        Tensor { data, shape: shape.to_vec() }
    }

    /// Batch size (first axis).
    pub fn batch(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    /// Values per sample (product of the axes after the first).
    pub fn row_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }

    /// The tensor as a batch × row_len row-major matrix.
    pub fn mat(&self) -> MatRef<'_, f32> {
        MatRef::from_row_major_slice(&self.data, self.batch(), self.row_len())
    }

    /// Mutable batch × row_len view.
    pub fn mat_mut(&mut self) -> MatMut<'_, f32> {
        let (n, d) = (self.batch(), self.row_len());
        MatMut::from_row_major_slice_mut(&mut self.data, n, d)
    }

    /// The same data under another shape with the same number of values.
    pub fn reshaped(mut self, shape: &[usize]) -> Self {
        assert_eq!(self.data.len(), shape.iter().product::<usize>(), "cannot reshape {:?} to {shape:?}", self.shape);
        self.shape = shape.to_vec();
        self
    }

    /// Rows `start..start + len` of the batch.
    pub fn rows(&self, start: usize, len: usize) -> Tensor {
        let r = self.row_len();
        let mut shape = self.shape.clone();
        shape[0] = len;
        Tensor { data: self.data[start * r..(start + len) * r].to_vec(), shape }
    }

    /// The rows `idx`, in that order.
    pub fn gather(&self, idx: &[usize]) -> Tensor {
        let r = self.row_len();
        let mut data = Vec::with_capacity(idx.len() * r);
        for &i in idx {
            data.extend_from_slice(&self.data[i * r..(i + 1) * r]);
        }
        let mut shape = self.shape.clone();
        shape[0] = idx.len();
        Tensor { data, shape }
    }
}
