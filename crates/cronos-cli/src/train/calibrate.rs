//! The probability temperature of a squared-loss classifier (`cronos predict --proba`, the
//! ONNX export): fitted on rows the scored model never trained on (a model that nearly
//! interpolates its own rows would get a temperature far too small).

use super::prepare::Prepared;
use anyhow::Result;
use cronos::calibration::{fit_on_rows, path_validation_rows};
use cronos::{BetaChoice, Calibration, Loss, Model, PathSettings, Settings};

/// Whether probabilities of this fit are calibrated at all: squared-loss classifiers only
/// (the logistic and softmax losses are calibrated by their loss; regression has none).
fn applies(p: &Prepared, settings: &Settings) -> bool {
    settings.loss == Loss::Squared && p.classes().is_some()
}

/// Before the solver takes the fitting rows (see [`Prepared::take_fit_x`]): with `--beta
/// auto` and no `--val-fraction`, the temperature of the path's model at the chosen β on the
/// path's validation rows, which it never saw. `None` otherwise.
pub fn from_path(p: &Prepared, settings: &Settings, weights: Option<&[f64]>, choice: Option<&BetaChoice<f32>>, ps: &PathSettings) -> Result<Option<Calibration>> {
    let Some(c) = choice.filter(|_| applies(p, settings) && p.val.is_none()) else { return Ok(None) };
    let rows = path_validation_rows(p.fit.y.as_ref(), settings, ps);
    Ok(fit_on_rows(&c.model, p.fit.x.as_data(), p.fit.y.as_ref(), weights, &rows)?)
}

/// The temperature of the saved model: on the `--val-fraction` rows (rows it never saw) when
/// there are some, else the one [`from_path`] fitted. A fixed β without `--val-fraction` has
/// no held-out rows and stays uncalibrated (T = 1): holding rows out would cost a second
/// solve, which the Python package pays but a CLI run at a fixed β should not.
pub fn for_saved_model(p: &Prepared, settings: &Settings, model: &Model<f32>, from_path: Option<Calibration>) -> Result<Option<Calibration>> {
    if !applies(p, settings) {
        return Ok(None);
    }
    match &p.val {
        Some(v) => {
            let rows: Vec<usize> = (0..v.x.nrows()).collect();
            Ok(fit_on_rows(model, v.x.as_data(), v.y.as_ref(), None, &rows)?)
        }
        None => Ok(from_path),
    }
}
