//! The one result schema of `cronos train`, single-process and distributed: the outcome of
//! the solve ([`Outcome`]), the scores of the saved network ([`DataScores`]), the model file
//! written from them ([`save_model`]) and the JSON summary of `--json` ([`TrainSummary`]).
//! Scripts read these field names: they stay stable.

use anyhow::Result;
use cronos::feasibility::Feasibility;
use cronos::{BetaChoice, Calibration, Certificate, Model, Settings, Status};
use cronos_model::{Metadata, ModelFile, Preprocessing, Task};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Scores of the saved network on the fitting, validation and test rows: accuracies for
/// classification (the MSE keys are null), MSE and R² for regression (the accuracy keys are
/// null). The other task's validation key is absent, not null.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DataScores {
    pub train_accuracy: Option<f64>,
    pub test_accuracy: Option<f64>,
    /// `Some(None)`: a classification run without validation rows (null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<Option<f64>>,
    pub train_mse: Option<f64>,
    pub test_mse: Option<f64>,
    pub test_r2: Option<f64>,
    /// `Some(None)`: a regression run without validation rows (null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_mse: Option<Option<f64>>,
}

/// How the solve ended, as every report shows it.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: Status,
    /// The certificate of the saved weights (the best validation iterate's, or the last).
    pub certificate: Certificate,
    /// Of the last iterate; `None` when a restored best iterate is saved instead.
    pub feasibility: Option<Feasibility>,
    pub iterations: usize,
    pub cg_iterations: usize,
    pub solve_seconds: f64,
    pub setup_seconds: f64,
    /// The iteration of the saved weights when they are not the last iterate's: the best
    /// validation iterate, or the solver's best certified point after a solve that stopped short.
    pub best_iteration: Option<usize>,
    pub active_neurons: usize,
    pub scores: DataScores,
    /// Rows of the test and validation sets.
    pub n_test: Option<usize>,
    pub n_validation: Option<usize>,
}

impl Outcome {
    /// The model file's `metrics`: the scores, the certificate and the counts.
    pub fn metrics(&self) -> Result<Map<String, Value>> {
        let Value::Object(mut m) = serde_json::to_value(&self.scores)? else { unreachable!("a struct serializes to an object") };
        m.insert("objective".into(), json!(self.certificate.objective));
        m.insert("lower_bound".into(), json!(self.certificate.lower_bound));
        m.insert("relative_gap".into(), json!(self.certificate.relative_gap));
        m.insert("constraint_violation".into(), json!(self.feasibility.map(|f| f.constraint_violation)));
        m.insert("network_objective".into(), json!(self.feasibility.map(|f| f.network_objective)));
        m.insert("admm_iterations".into(), json!(self.iterations));
        m.insert("cg_iterations".into(), json!(self.cg_iterations));
        m.insert("active_neurons".into(), json!(self.active_neurons));
        m.insert("n_test".into(), json!(self.n_test));
        m.insert("n_validation".into(), json!(self.n_validation));
        m.insert("best_iteration".into(), json!(self.best_iteration));
        Ok(m)
    }
}

/// What the model file records about the data.
pub struct DataInfo<'a> {
    /// Rows fitted (over all ranks).
    pub n_train: usize,
    pub fingerprint: &'a str,
    /// The training source as the model file names it.
    pub source: String,
}

/// Writes the model file: the network, the preprocessing, the task and the metadata of the
/// run (settings, data, metrics, certificate, status, calibration).
#[allow(clippy::too_many_arguments)]
pub fn save_model(out: &Path, force: bool, model: Model<f32>, pre: Preprocessing, task: Task, settings: &Settings, data: DataInfo<'_>, metrics: Map<String, Value>, outcome: &Outcome, calibration: Option<Calibration>) -> Result<ModelFile> {
    let mut meta = Metadata::new(settings.clone());
    meta.n_train = data.n_train;
    meta.data_fingerprint = data.fingerprint.to_string();
    meta.data_source = data.source;
    meta.metrics = metrics.into_iter().collect();
    meta.certificate = outcome.certificate.clone();
    meta.status = outcome.status.to_string();
    meta.calibration = calibration;
    let mf = ModelFile::new(model, pre, task, meta);
    mf.save(out, force)?;
    Ok(mf)
}

/// The automatic choice of β, as the summary reports it (`--beta auto` only).
#[derive(Clone, Debug, Serialize)]
pub struct AutoBeta {
    pub beta_fraction: f64,
    pub path_seconds: f64,
    pub path_fraction: f64,
    pub path_rows: usize,
    pub beta_path: Value,
}

impl AutoBeta {
    pub fn of(c: &BetaChoice<f32>) -> Result<Self> {
        Ok(AutoBeta { beta_fraction: c.fraction, path_seconds: c.seconds, path_fraction: c.path_fraction, path_rows: c.path_rows, beta_path: serde_json::to_value(&c.path)? })
    }
}

/// What only a distributed run reports.
#[derive(Clone, Debug, Serialize)]
pub struct DistributedStats {
    pub ranks: usize,
    pub allreduce_bytes_per_iteration: f64,
    pub seconds_per_iteration: f64,
}

/// The `--json` object of `cronos train` (printed with its keys sorted).
#[derive(Clone, Debug, Serialize)]
pub struct TrainSummary {
    pub status: String,
    pub objective: f64,
    pub lower_bound: f64,
    pub relative_gap: f64,
    pub constraint_violation: Option<f64>,
    pub network_objective: Option<f64>,
    #[serde(flatten)]
    pub scores: DataScores,
    pub seconds: f64,
    pub setup_seconds: f64,
    pub total_seconds: f64,
    pub admm_iterations: usize,
    pub cg_iterations: usize,
    pub active_neurons: usize,
    pub n_patterns: usize,
    /// A number for one output, a list for several.
    pub beta: Value,
    pub loss: String,
    pub beta_auto: bool,
    pub temperature: Option<f64>,
    #[serde(flatten)]
    pub auto: Option<AutoBeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Value>,
    pub n_train: usize,
    pub n_test: Option<usize>,
    pub n_validation: Option<usize>,
    pub n_features: usize,
    /// `relevance` or `none` (`--feature-weighting`, as applied).
    pub feature_weighting: &'static str,
    pub task: &'static str,
    pub classes: Option<Vec<f64>>,
    pub best_iteration: Option<usize>,
    pub model_path: String,
    pub data_fingerprint: String,
    #[serde(flatten)]
    pub distributed: Option<DistributedStats>,
}

/// The fields of [`TrainSummary`] that come from the run rather than the outcome.
pub struct RunInfo<'a> {
    pub settings: &'a Settings,
    pub mf: &'a ModelFile,
    pub total_seconds: f64,
    pub auto: Option<AutoBeta>,
    pub pricing: Option<Value>,
    pub n_features: usize,
    pub feature_weighting: bool,
    pub model_path: &'a Path,
    pub distributed: Option<DistributedStats>,
}

impl TrainSummary {
    /// The summary of a saved model `r.mf` and its `outcome`.
    pub fn new(o: &Outcome, r: RunInfo<'_>) -> Self {
        let (model, meta) = (&r.mf.model, &r.mf.metadata);
        let classes = match &r.mf.task {
            Task::Classification(c) => Some(c.labels.clone()),
            Task::Regression => None,
        };
        TrainSummary {
            status: o.status.to_string(),
            objective: o.certificate.objective,
            lower_bound: o.certificate.lower_bound,
            relative_gap: o.certificate.relative_gap,
            constraint_violation: o.feasibility.map(|f| f.constraint_violation),
            network_objective: o.feasibility.map(|f| f.network_objective),
            scores: o.scores.clone(),
            seconds: o.solve_seconds,
            setup_seconds: o.setup_seconds,
            total_seconds: r.total_seconds,
            admm_iterations: o.iterations,
            cg_iterations: o.cg_iterations,
            active_neurons: o.active_neurons,
            n_patterns: model.n_patterns(),
            beta: super::report::beta_json(&model.beta),
            loss: format!("{:?}", r.settings.loss).to_lowercase(),
            beta_auto: r.auto.is_some(),
            temperature: meta.calibration.as_ref().map(|c| c.temperature),
            auto: r.auto,
            pricing: r.pricing,
            n_train: meta.n_train,
            n_test: o.n_test,
            n_validation: o.n_validation,
            n_features: r.n_features,
            feature_weighting: if r.feature_weighting { "relevance" } else { "none" },
            task: if classes.is_some() { "classification" } else { "regression" },
            classes,
            best_iteration: o.best_iteration,
            model_path: r.model_path.display().to_string(),
            data_fingerprint: meta.data_fingerprint.clone(),
            distributed: r.distributed,
        }
    }

    /// The JSON object, keys sorted (as `--json` has always printed it).
    pub fn to_json(&self) -> Result<Value> {
        Ok(serde_json::to_value(self)?)
    }
}

/// The scores' keys of a task, every value null.
pub fn empty_scores(classification: bool) -> DataScores {
    DataScores {
        validation_accuracy: classification.then_some(None),
        validation_mse: (!classification).then_some(None),
        ..DataScores::default()
    }
}
