//! `cronos train --pricing-rounds N`: pattern pricing after the solve (the library's
//! [`cronos::price`]), with the training and test score of every round in the summary.

use super::prepare::{Prepared, Rows};
use crate::TrainArgs;
use anyhow::{bail, Result};
use cronos::{PricingReport, PricingSettings, Solver};
use serde_json::{json, Value};

/// The pricing settings of the command line (validated), `None` when pricing is off.
pub fn settings(a: &TrainArgs) -> Result<Option<PricingSettings>> {
    if a.pricing_rounds == 0 {
        return Ok(None);
    }
    if a.relu {
        bail!("--pricing-rounds {}: pattern pricing needs gated ReLU (drop --relu)", a.pricing_rounds);
    }
    let ps = PricingSettings { rounds: a.pricing_rounds, candidates: a.pricing_candidates, add: a.pricing_add, max_iter: a.pricing_max_iter, swap: a.pricing_swap, ..PricingSettings::default() };
    ps.validate().map_err(|e| anyhow::anyhow!("invalid option: {e}"))?;
    Ok(Some(ps))
}

/// Runs pricing on the solved `solver`; returns the report and the summary's `pricing`
/// object (rounds run, patterns added and dropped, and per round objective, bound, gap,
/// train and test score, active neurons, patterns, seconds).
pub fn run(a: &TrainArgs, p: &Prepared, solver: &mut Solver<f32>, ps: &PricingSettings) -> Result<(PricingReport, Value)> {
    let score = |pred: faer::MatRef<'_, f32>, r: &Rows| p.score(pred, r);
    let mut rows: Vec<Value> = Vec::new();
    let mut error = None;
    let report = cronos::price(solver, ps, |s, r| {
        let test = match &p.test {
            Some(t) => match s.model().predict_data(t.x.as_data()) {
                Ok(pr) => Some(score(pr.as_ref(), t)),
                Err(e) => {
                    error.get_or_insert(e);
                    None
                }
            },
            None => None,
        };
        let train = score(s.train_predictions(), &p.fit);
        if !a.quiet {
            eprintln!(
                "pricing round {:>2}: +{:<3} −{:<3} patterns {:>5}  max violation {:>7.3}  objective {:.6e}  gap {:.1e}  active {:>5}  train {:.4}  test {}  {:.1}s (search {:.1}s, {} its){}",
                r.round,
                r.added,
                r.dropped,
                r.patterns,
                r.max_violation,
                r.objective,
                r.relative_gap,
                r.active_neurons,
                train,
                test.map_or("-".into(), |v| format!("{v:.4}")),
                r.seconds,
                r.search_seconds,
                r.iterations,
                if r.undone { "  (undone: back to the patterns before it)" } else if r.reverted { "  (returned to the warm start)" } else { "" }
            );
        }
        rows.push(json!({
            "round": r.round, "objective": r.objective, "lower_bound": r.lower_bound, "relative_gap": r.relative_gap,
            "train_score": train, "test_score": test, "active_neurons": r.active_neurons, "patterns": r.patterns,
            "added": r.added, "dropped": r.dropped, "candidates": r.candidates, "violators": r.violators,
            "max_violation": r.max_violation, "iterations": r.iterations, "seconds": r.seconds, "search_seconds": r.search_seconds, "reverted": r.reverted, "undone": r.undone,
        }));
        cronos::Control::Continue
    })?;
    if let Some(e) = error {
        return Err(e.into());
    }
    let value = json!({
        // rounds that searched for gates (round 0 is the solve before, a last record with no
        // search the finishing solve of --pricing-max-iter)
        "rounds_run": report.rounds.iter().filter(|r| r.candidates > 0).count(),
        "final_solve": report.rounds.len() > 1 && report.rounds.last().is_some_and(|r| r.candidates == 0),
        "patterns_added": report.rounds.iter().map(|r| r.added).sum::<usize>(),
        "patterns_dropped": report.rounds.iter().map(|r| r.dropped).sum::<usize>(),
        "stop": format!("{:?}", report.stop),
        "seconds": report.rounds.iter().map(|r| r.seconds).sum::<f64>(),
        "rounds": rows,
    });
    Ok((report, value))
}
