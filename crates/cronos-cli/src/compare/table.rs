//! `cronos compare`'s outputs: one table row per method family (its best run), as markdown
//! and JSON, and the plot of validation accuracy vs training time.

use super::{CompareArgs, Run};
use crate::deep::DeepData;
use anyhow::{Context, Result};
use cronos_deep::{Arch, Dataset};
use serde_json::json;

/// One table row per method family: its best run (by validation accuracy) and the family's
/// total time.
pub(super) struct Row {
    family: String,
    best: usize,
    runs: usize,
    total: f64,
}

pub(super) fn family_rows(runs: &[Run]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let acc = |j: usize| runs[j].report.best_val().and_then(|p| p.val_accuracy).unwrap_or(f64::NAN);
        match rows.iter_mut().find(|row| row.family == r.family) {
            Some(row) => {
                row.runs += 1;
                row.total += r.report.seconds;
                if acc(i) > acc(row.best) {
                    row.best = i;
                }
            }
            None => rows.push(Row { family: r.family.clone(), best: i, runs: 1, total: r.report.seconds }),
        }
    }
    rows
}

/// The markdown table (with its data line) and the JSON rows.
pub(super) fn summary(a: &CompareArgs, d: &DeepData, arch: &Arch, rows: &[Row], runs: &[Run]) -> (String, Vec<serde_json::Value>) {
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v));
    let mut table = String::new();
    table.push_str(&format!(
        "data: {} ({} train, {} validation, {} test rows), features: {}, {} epochs per baseline run, {} per CRONOS-AM run\n\n",
        d.source,
        d.train.len(),
        d.val.as_ref().map_or(0, Dataset::len),
        d.test.as_ref().map_or(0, Dataset::len),
        arch.name(),
        a.epochs,
        a.am_epochs.unwrap_or(a.epochs)
    ));
    table.push_str("| method | best run | runs | best val. acc. | time to best | total time (incl. grid) | test acc. at best val. | final test acc. |\n|---|---|---|---|---|---|---|---|\n");
    let mut json_rows = Vec::new();
    for row in rows {
        let r = &runs[row.best];
        let b = r.report.best_val();
        table.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} s | {:.0} s | {} | {} |\n",
            row.family,
            r.label,
            row.runs,
            pct(b.and_then(|p| p.val_accuracy)),
            b.map_or(f64::NAN, |p| p.seconds),
            row.total,
            pct(b.and_then(|p| p.test_accuracy)),
            pct(r.report.last().and_then(|p| p.test_accuracy))
        ));
        json_rows.push(json!({
            "method": row.family, "best_run": r.label, "runs": row.runs,
            "best_validation_accuracy": b.and_then(|p| p.val_accuracy), "seconds_to_best": b.map(|p| p.seconds),
            "total_seconds": row.total, "test_accuracy_at_best": b.and_then(|p| p.test_accuracy),
            "final_test_accuracy": r.report.last().and_then(|p| p.test_accuracy),
        }));
    }
    (table, json_rows)
}

/// Validation accuracy vs training time of each family's best run.
pub(super) fn write_plot(plot: &std::path::Path, d: &DeepData, arch: &Arch, rows: &[Row], runs: &[Run]) -> Result<()> {
    let curves: Vec<cronos_plot::CompareCurve> = rows
        .iter()
        .map(|row| {
            let r = &runs[row.best];
            cronos_plot::CompareCurve {
                label: if row.runs > 1 { format!("{} ({})", row.family, r.label) } else { row.family.clone() },
                seconds: r.report.history.iter().map(|p| p.seconds).collect(),
                accuracy: r.report.history.iter().map(|p| p.val_accuracy.unwrap_or(f64::NAN)).collect(),
            }
        })
        .collect();
    // the data set's own name: a full path would not fit in the title
    let name = std::path::Path::new(&d.source).file_name().map_or(d.source.clone(), |n| n.to_string_lossy().into_owned());
    let title = format!("validation accuracy vs training time: {} on {name}", arch.name());
    cronos_plot::write_comparison(plot, &title, &curves).with_context(|| plot.display().to_string())
}
