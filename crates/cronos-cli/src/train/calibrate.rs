//! The probability temperature of a squared-loss classifier (`cronos predict --proba`, the
//! ONNX export): fitted on rows the saved model's β was validated on, never on its own
//! training rows (a model that nearly interpolates them would get a temperature far too small).

use super::prepare::Prepared;
use anyhow::Result;
use cronos::calibration::{fit_holdout, fit_on_rows, holdout_rows, path_validation_rows};
use cronos::{BetaChoice, Calibration, Loss, Model, PathSettings, Settings};

/// The temperature, in order of preference: on the `--val-fraction` rows with the saved model
/// (rows it never saw); on the β path's validation rows with the path's model at the chosen β
/// (`--beta auto`); else one extra solve at the fixed β on a seeded stratified 90% of the
/// rows, scored on the other 10%. `None` for regression, the logistic and softmax losses
/// (calibrated by their loss) and data too small to hold rows out.
pub fn calibrate(
    p: &Prepared,
    settings: &Settings,
    weights: Option<&[f64]>,
    choice: Option<&BetaChoice<f32>>,
    ps: &PathSettings,
    model: &Model<f32>,
) -> Result<Option<Calibration>> {
    if settings.loss != Loss::Squared || p.classes().is_none() {
        return Ok(None);
    }
    if let Some(v) = &p.val {
        let rows: Vec<usize> = (0..v.x.nrows()).collect();
        return Ok(fit_on_rows(model, v.x.as_ref(), v.y.as_ref(), None, &rows)?);
    }
    Ok(match choice {
        Some(c) => {
            let rows = path_validation_rows(p.fit.y.as_ref(), settings, ps);
            fit_on_rows(&c.model, p.fit.x.as_ref(), p.fit.y.as_ref(), weights, &rows)?
        }
        None => {
            let rows = holdout_rows(p.fit.y.as_ref(), settings, ps.validation_fraction);
            fit_holdout(p.fit.x.as_ref(), p.fit.y.as_ref(), weights, settings, &rows, false)?
        }
    })
}
