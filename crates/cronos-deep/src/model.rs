//! A deep model: feature layers followed by a two-layer head, both ordinary layers.

use crate::loss::accuracy;
use crate::sequential::Sequential;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Feature layers and head; scores = head(features(x)).
pub struct DeepModel {
    /// The feature network (trained by a first-order method).
    pub features: Sequential,
    /// The head (from a CRONOS solve, or trained end to end).
    pub head: Sequential,
    /// Descriptive metadata saved with the model.
    pub info: ModelInfo,
}

/// What a deep model is, for the model file and reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Architecture name (e.g. `cnn(16,32)`).
    pub arch: String,
    /// How it was trained (e.g. `cronos-am`, `adam(lr=0.001)`).
    pub method: String,
    /// Class labels in output order (as in the training data).
    pub classes: Vec<f64>,
    /// Pixel/feature scaling applied before the network: x ↦ x · input_scale.
    pub input_scale: f32,
}

impl DeepModel {
    /// Scores (n × k) in inference batches.
    pub fn predict(&mut self, x: &Tensor) -> Tensor {
        let f = self.features.predict(x);
        self.head.predict(&f)
    }

    /// Accuracy on labelled samples.
    pub fn accuracy(&mut self, x: &Tensor, labels: &[usize]) -> f64 {
        accuracy(&self.predict(x), labels)
    }

    /// Trainable scalars of features and head.
    pub fn n_params(&self) -> usize {
        self.features.params().iter().chain(self.head.params().iter()).map(|p| p.value.len()).sum()
    }
}
