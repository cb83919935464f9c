//! What `cronos train` reports after the solve: the metrics of the saved network, the
//! per-iteration metrics file, the plot, the JSON summary and the human-readable summary.

use super::observe::Record;
use super::prepare::{Prepared, Rows};
use super::fit::over_ranks;
use super::summary::{empty_scores, DataScores};
use crate::data::{accuracy, mse, r2};
use anyhow::{anyhow, Result};
use cronos::{Activation, Model};
use cronos_model::Classes;
use serde_json::{json, Value};
use std::path::Path;

/// Scores of the saved network on the fitting, validation and test rows (classification:
/// accuracies; regression: MSE and R²; the training score over all ranks of `comm`). Absent sets give nulls, so the keys are stable.
/// `fit_predictions` are the model's predictions on the fitting rows (the solver holds those
/// rows once the CLI has handed them over).
pub fn data_scores(model: &Model<f32>, p: &Prepared, fit_predictions: faer::Mat<f32>, comm: &dyn cronos::Comm) -> Result<DataScores> {
    fn predict<'r>(model: &Model<f32>, r: Option<&'r Rows>) -> Result<Option<(faer::Mat<f32>, &'r Rows)>> {
        Ok(r.map(|r| model.predict_data(r.x.as_data()).map(|m| (m, r))).transpose()?)
    }
    let (fit, val, test) = (Some((fit_predictions, &p.fit)), predict(model, p.val.as_ref())?, predict(model, p.test.as_ref())?);
    let mut s = empty_scores(p.classes().is_some());
    match p.classes() {
        Some(c) => {
            let acc = |x: &Option<(faer::Mat<f32>, &Rows)>| x.as_ref().map(|(pr, r)| accuracy(&c.decode(pr.as_ref()), &r.labels));
            (s.train_accuracy, s.test_accuracy, s.validation_accuracy) = (acc(&fit), acc(&test), Some(acc(&val)));
            s.train_accuracy = s.train_accuracy.map(|v| over_ranks(comm, v, p.fit.labels.len()));
        }
        None => {
            let err = |x: &Option<(faer::Mat<f32>, &Rows)>, f: fn(faer::MatRef<'_, f32>, faer::MatRef<'_, f32>) -> f64| {
                x.as_ref().map(|(pr, r)| f(pr.as_ref(), r.y.as_ref()))
            };
            (s.train_mse, s.test_mse, s.test_r2, s.validation_mse) = (err(&fit, mse), err(&test, mse), err(&test, r2), Some(err(&val, mse)));
            s.train_mse = s.train_mse.map(|v| over_ranks(comm, v, p.fit.labels.len()));
        }
    }
    Ok(s)
}

/// The metrics file: one JSON object per iteration, the solver's report plus the scores
/// (accuracies, or MSEs for regression).
pub fn write_metrics_file(path: &Path, force: bool, records: &[Record], classification: bool) -> Result<()> {
    let (tk, sk, vk) = if classification {
        ("train_accuracy", "test_accuracy", "validation_accuracy")
    } else {
        ("train_mse", "test_mse", "validation_mse")
    };
    let conv = |x: Option<f64>| x.map(|v| if classification { v } else { -v });
    let mut s = String::new();
    for r in records {
        let mut v = serde_json::to_value(&r.info)?;
        let o = v.as_object_mut().expect("IterInfo serializes to an object");
        o.insert(tk.into(), json!(conv(r.train)));
        o.insert(sk.into(), json!(conv(r.test)));
        o.insert(vk.into(), json!(conv(r.val)));
        s.push_str(&serde_json::to_string(&v)?);
        s.push('\n');
    }
    cronos_data::atomic_write(path, force, |w| w.write_all(s.as_bytes()))?;
    Ok(())
}

/// The report plot (SVG or PNG) of the run.
pub fn write_plot(path: &Path, records: &[Record], classification: bool, title: String) -> Result<()> {
    let acc = |f: fn(&Record) -> Option<f64>| -> Vec<Option<f64>> {
        records.iter().map(|r| if classification { f(r) } else { None }).collect()
    };
    let col = |f: fn(&Record) -> f64| -> Vec<f64> { records.iter().map(f).collect() };
    let series = cronos_plot::Series {
        seconds: col(|r| r.info.seconds),
        objective: col(|r| r.info.objective),
        relative_gap: col(|r| r.info.relative_gap),
        train_accuracy: acc(|r| r.train),
        test_accuracy: acc(|r| r.test.or(r.val)),
        cg_iterations: col(|r| r.info.cg_iterations as f64),
        primal_residual: col(|r| r.info.primal_residual),
        dual_residual: col(|r| r.info.dual_residual),
    };
    cronos_plot::write_report(path, &cronos_plot::ReportInfo { title }, &series).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// The plot's title: program, data source, rows, patterns and β (a range for several outputs,
/// so the title fits whatever the class count).
pub fn plot_title(activation: Activation, source: &str, n: usize, n_patterns: usize, beta: &[f64]) -> String {
    let (lo, hi) = beta.iter().fold((f64::INFINITY, 0.0f64), |(l, h), &b| (l.min(b), h.max(b)));
    let beta_text = if beta.len() == 1 || lo == hi {
        format!("{lo:.4}")
    } else {
        format!("{lo:.4}…{hi:.4} ({} outputs)", beta.len())
    };
    let source = Path::new(source).file_name().map_or(source.to_string(), |f| f.to_string_lossy().into_owned());
    let program = if activation == Activation::Relu { "convex ReLU" } else { "convex gated ReLU" };
    format!("cronos: {program}, {source}, n={n}, P={n_patterns}, β={beta_text}")
}

/// β as the summary shows it: a number for one output, a list for several.
pub fn beta_json(beta: &[f64]) -> Value {
    if beta.len() == 1 {
        json!(beta[0])
    } else {
        json!(beta)
    }
}

/// The accuracies or errors line of the human-readable summary.
pub fn score_line(s: &DataScores, classes: Option<&Classes>, best_iteration: Option<usize>) -> String {
    match classes {
        Some(_) => format!(
            "accuracy: train {}, test {}{}",
            pct(s.train_accuracy),
            pct(s.test_accuracy),
            s.validation_accuracy
                .flatten()
                .map(|v| format!(", validation {} (best at iteration {})", pct(Some(v)), best_iteration.unwrap_or(0)))
                .unwrap_or_default()
        ),
        None => format!("MSE: train {:.4e}, test {}, test R² {}", s.train_mse.unwrap_or(f64::NAN), opt(s.test_mse), opt(s.test_r2)),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}%", 100.0 * v)).unwrap_or_else(|| "-".into())
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e9 {
        format!("{x}")
    } else if (1e-3..1e4).contains(&x.abs()) {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{x:.3e}")
    }
}

/// Up to 12 numbers, compactly.
pub fn fmt_list(v: &[f64]) -> String {
    let s: Vec<String> = v.iter().take(12).map(|&x| fmt_num(x)).collect();
    if v.len() > 12 {
        format!("{}, ...", s.join(", "))
    } else {
        s.join(", ")
    }
}
