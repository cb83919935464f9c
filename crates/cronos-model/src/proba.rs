//! Class probabilities of a model file: the network's scores as class logits, divided by the
//! stored temperature, through a row softmax: what `cronos predict --proba`, the ONNX export
//! and the Python estimators' `predict_proba` compute.

use crate::{ModelFile, Task};
use cronos::calibration::{class_logits, probabilities};
use faer::{Mat, MatRef};

impl ModelFile {
    /// The temperature T of the probabilities: the fitted one when the file holds a
    /// calibration, else 1 (files written before calibration existed, or logistic/softmax
    /// models, whose loss calibrates them).
    pub fn temperature(&self) -> f64 {
        self.metadata.calibration.as_ref().map_or(1.0, |c| c.temperature)
    }

    /// Class probabilities (n × classes, columns in class order, rows summing to one) of raw
    /// features (n × d): softmax of the class logits (scores; (−s, s) or, for the logistic
    /// loss, (0, s) with two classes) divided by [`ModelFile::temperature`].
    ///
    /// # Errors
    /// As [`ModelFile::predict`], and for a regression model (no classes).
    pub fn predict_proba(&self, x: MatRef<'_, f32>) -> Result<Mat<f64>, cronos::CronosError> {
        if !matches!(self.task, Task::Classification(_)) {
            return Err(cronos::CronosError::InvalidData { what: "model", reason: "class probabilities need a classification model; this one is a regressor".into() });
        }
        let scores = self.predict(x)?;
        let logits = class_logits(self.model.loss, scores.as_ref());
        Ok(probabilities(logits.as_ref(), self.temperature()))
    }
}
