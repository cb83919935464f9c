//! A labelled data set for the deep models: samples as a tensor (images NHWC) and class
//! indices, plus the seeded mini-batch schedule with exact epoch accounting.

use crate::error::{DeepError, Result};
use crate::tensor::Tensor;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Samples and their class indices 0..n_classes.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Samples, shape `[n, ...]`.
    pub x: Tensor,
    /// Class index per sample.
    pub labels: Vec<usize>,
    /// Number of classes k.
    pub n_classes: usize,
}

impl Dataset {
    /// Checks sizes and labels.
    ///
    /// # Errors
    /// When the label count differs from the sample count or a label is ≥ `n_classes`.
    pub fn new(x: Tensor, labels: Vec<usize>, n_classes: usize) -> Result<Self> {
        if labels.len() != x.batch() {
            return Err(DeepError::Shape { context: "labels".into(), expected: format!("{} labels", x.batch()), got: labels.len().to_string() });
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= n_classes) {
            return Err(DeepError::Shape { context: "labels".into(), expected: format!("class indices < {n_classes}"), got: bad.to_string() });
        }
        Ok(Dataset { x, labels, n_classes })
    }

    /// From a loaded table (column-major features): each row becomes a sample of `shape`
    /// (e.g. `[28, 28, 1]`; row-major, so IDX images come out HWC), multiplied by `scale`;
    /// labels are mapped to their index in `classes`.
    ///
    /// # Errors
    /// Missing labels, a label not in `classes`, or a shape that does not hold a row.
    pub fn from_table(t: &cronos_data::Table, classes: &[f64], shape: &[usize], scale: f32) -> Result<Self> {
        if shape.iter().product::<usize>() != t.d {
            return Err(DeepError::Shape { context: "sample shape".into(), expected: format!("{} values", t.d), got: format!("{shape:?}") });
        }
        let labels = t.labels.as_ref().ok_or_else(|| DeepError::Shape { context: "labels".into(), expected: "a label column".into(), got: "none".into() })?;
        let idx = labels
            .iter()
            .map(|l| classes.iter().position(|c| c == l).ok_or_else(|| DeepError::Shape { context: "labels".into(), expected: format!("one of {classes:?}"), got: l.to_string() }))
            .collect::<Result<Vec<_>>>()?;
        let mut data = vec![0.0f32; t.n * t.d];
        for j in 0..t.d {
            for (i, v) in t.column(j).iter().enumerate() {
                data[i * t.d + j] = v * scale;
            }
        }
        let mut full = vec![t.n];
        full.extend_from_slice(shape);
        Dataset::new(Tensor::from_vec(data, &full), idx, classes.len())
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The samples `idx`.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        Dataset { x: self.x.gather(idx), labels: idx.iter().map(|&i| self.labels[i]).collect(), n_classes: self.n_classes }
    }

    /// Shape of one sample.
    pub fn sample_shape(&self) -> Vec<usize> {
        self.x.shape[1..].to_vec()
    }
}

/// Mini-batches over `n` samples: a fresh seeded permutation per epoch, the last batch of an
/// epoch possibly smaller, so that `epochs()` is exact (samples seen / n).
pub struct Batches {
    n: usize,
    batch: usize,
    rng: rand::rngs::StdRng,
    perm: Vec<usize>,
    pos: usize,
    seen: usize,
}

impl Batches {
    /// A schedule over `n` samples with batches of `batch`.
    pub fn new(n: usize, batch: usize, seed: u64) -> Self {
        Batches { n, batch: batch.max(1), rng: rand::rngs::StdRng::seed_from_u64(seed), perm: Vec::new(), pos: n, seen: 0 }
    }

    /// Batches per epoch (⌈n / batch⌉).
    pub fn per_epoch(&self) -> usize {
        self.n.div_ceil(self.batch)
    }

    /// The next batch's sample indices.
    pub fn next_batch(&mut self) -> &[usize] {
        if self.pos >= self.n {
            self.perm = (0..self.n).collect();
            self.perm.shuffle(&mut self.rng);
            self.pos = 0;
        }
        let end = (self.pos + self.batch).min(self.n);
        let start = self.pos;
        self.pos = end;
        self.seen += end - start;
        &self.perm[start..end]
    }

    /// Epochs done: samples seen / n.
    pub fn epochs(&self) -> f64 {
        self.seen as f64 / self.n.max(1) as f64
    }
}
