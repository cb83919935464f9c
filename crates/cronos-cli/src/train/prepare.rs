//! `cronos train`, before the solver, for one process and for MPI ranks alike: outputs
//! checked, data loaded ([`super::load`]), the class subset and the row limits applied, the
//! task inferred, the validation split drawn, the preprocessing fitted on the fitting rows
//! only, and the targets encoded.

use super::agree::{agree, sum};
use super::load::{load, Loaded};
use crate::data::{self, check_output, select_rows};
use crate::{PreprocessArg, TaskArg, TrainArgs};
use anyhow::{anyhow, bail, Result};
use cronos::comm::{all_gather_f64, Comm};
use cronos::OwnedData;
use cronos_data::Table;
use cronos_model::{Classes, PreprocessKind, Preprocessing, Task};
use faer::Mat;
use std::path::{Path, PathBuf};

/// Rows ready for the solver: preprocessed features, the original labels and the targets.
pub struct Rows {
    /// Preprocessed features (sparse for sparse files, see [`super::sparse`]).
    pub x: OwnedData<f32>,
    /// Labels as read (class labels or regression targets).
    pub labels: Vec<f64>,
    /// Targets of the loss (±1 / one-hot codes, or the regression values).
    pub y: Mat<f32>,
}

/// Everything `train` needs from the data.
pub struct Prepared {
    /// The training file or directory.
    pub train_path: PathBuf,
    /// Rows the solver fits.
    pub fit: Rows,
    /// Held-out rows of `--val-fraction`.
    pub val: Option<Rows>,
    /// Test rows.
    pub test: Option<Rows>,
    /// Classification (with its classes) or regression.
    pub task: Task,
    /// Preprocessing fitted on `fit` (relevance weights divided into its scale when
    /// `feature_weighting`).
    pub pre: Preprocessing,
    /// Whether the features were relevance-weighted (`--feature-weighting`).
    pub feature_weighting: bool,
    /// Fingerprint of the training rows (before the validation split).
    pub fingerprint: String,
    /// Rows (over all ranks) and columns of `fit.x`, which [`Prepared::take_fit_x`] hands to
    /// the solver.
    pub fit_shape: (usize, usize),
}

impl Prepared {
    /// Takes the fitting rows' features out (an empty matrix stays behind) for
    /// [`cronos::Solver::new_owned_weighted`]: the solver scales them in place, where a copy
    /// would hold 2× X at peak (the default job: 188 MB of about 800 MB).
    pub fn take_fit_x(&mut self) -> cronos::data::OwnedData<f32> {
        std::mem::replace(&mut self.fit.x, cronos::data::OwnedData::Dense(faer::Mat::zeros(0, 0)))
    }

    /// The score of predictions `pred` of rows `r`: the accuracy for classification, minus
    /// the MSE for regression (larger is better for both), as the progress table, early
    /// stopping and pricing report it.
    pub fn score(&self, pred: faer::MatRef<'_, f32>, r: &Rows) -> f64 {
        match self.classes() {
            Some(c) => crate::data::accuracy(&c.decode(pred), &r.labels),
            None => -crate::data::mse(pred, r.y.as_ref()),
        }
    }

    /// The classes, for a classification task.
    pub fn classes(&self) -> Option<&Classes> {
        match &self.task {
            Task::Classification(c) => Some(c),
            Task::Regression => None,
        }
    }
}

/// Checks every output path and option that needs no data, before anything heavy runs.
pub fn check_outputs(a: &TrainArgs) -> Result<()> {
    if let Some(f) = a.val_fraction {
        if !(f > 0.0 && f < 1.0) {
            bail!("--val-fraction {f}: must lie in (0, 1)");
        }
    }
    if a.checkpoint_every == 0 {
        bail!("--checkpoint-every 0: must be >= 1");
    }
    check_output(&a.out, a.force, "the model")?;
    if let Some(p) = &a.plot {
        let ext = p.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
        if !matches!(ext.as_deref(), Some("svg") | Some("png")) {
            bail!("{}: the plot must be a .svg or .png file", p.display());
        }
        check_output(p, a.force, "the plot")?;
    }
    if let Some(p) = &a.metrics {
        check_output(p, a.force, "the metrics")?;
    }
    if let Some(p) = &a.checkpoint {
        if a.resume {
            if !p.is_file() {
                bail!("{}: no such checkpoint file (--resume needs one)", p.display());
            }
        } else if p.exists() && !a.force {
            bail!("{}: already exists (use --resume to continue from it, or --force to overwrite)", p.display());
        } else {
            check_output(p, true, "the checkpoint")?;
        }
    }
    Ok(())
}

/// The data stages on this rank's rows (all rows in one process): load → select (classes,
/// row limits) → task → split → preprocess → encode. The class list, the preprocessing
/// statistics, the row count and the fingerprint are combined over the ranks of `comm`, so a
/// distributed fit prepares exactly the rows one process would; each stage that can fail on
/// one rank ends with an agreement step ([`agree`]).
pub fn prepare(a: &TrainArgs, comm: &dyn Comm) -> Result<Prepared> {
    let opts = data::load_options(&a.source.data);
    if comm.size() == 1 {
        // sparse files stay sparse (one process only)
        let train_file = a.source.train.clone().unwrap_or_default();
        let kind = preprocess_kind(a.preprocess.or(Some(PreprocessArg::Standardize)), false);
        if let Some(p) = super::sparse::prepare_sparse(a, kind, |labels| infer_task(a.task, &train_file, labels))? {
            return Ok(p);
        }
    }
    let Loaded { train_path, test_path, train, test } = agree(comm, load(a, comm))?;
    let (train_t, test_t) = select(a, comm, &train_path, train, test)?;
    let fingerprint = fingerprint(&train_t, comm);
    let label_set = distinct_over(comm, train_t.labels.as_deref().unwrap_or_default());
    let task = agree(comm, infer_task(a.task, &train_path, &label_set.labels))?;
    let (fit_t, val_t) = match a.val_fraction {
        Some(f) => {
            let (fit, val) = validation_split(train_t.n, f, a.seed)?;
            let val_t = select_rows(&train_t, &val);
            (data::retain_rows(train_t, &fit), Some(val_t))
        }
        None => (train_t, None),
    };
    let idx = data::is_idx(&train_path, &opts);
    let kind = preprocess_kind(a.preprocess, idx);
    let mut pre = Preprocessing::fit_over(data::view(&fit_t), kind, comm);
    let feature_weighting = super::relevance::wanted(a, idx);
    if feature_weighting {
        super::relevance::fold_dense(a, &mut pre, data::view(&fit_t), fit_t.labels.as_deref().unwrap_or_default(), &task, comm)?;
    }
    let n_fit = sum(comm, &[fit_t.n as f64])[0] as usize;
    let (fit, val, test) = agree(comm, (|| {
        let fit = rows(fit_t, &train_path, &pre, &task)?;
        let val = val_t.map(|t| rows(t, &train_path, &pre, &task)).transpose()?;
        let test = match (test_t, &test_path) {
            (Some(t), Some(p)) => Some(rows(t, p, &pre, &task)?),
            _ => None,
        };
        Ok((fit, val, test))
    })())?;
    let fit_shape = (n_fit, fit.x.ncols());
    Ok(Prepared { train_path, fit, val, test, task, pre, feature_weighting, fingerprint, fit_shape })
}

/// The preprocessing of `--preprocess` (default: scale for IDX images, standardize otherwise).
pub fn preprocess_kind(arg: Option<PreprocessArg>, idx: bool) -> PreprocessKind {
    match arg {
        Some(PreprocessArg::None) => PreprocessKind::None,
        Some(PreprocessArg::Scale) => PreprocessKind::Scale01,
        Some(PreprocessArg::Standardize) => PreprocessKind::Standardize,
        None if idx => PreprocessKind::Scale01,
        None => PreprocessKind::Standardize,
    }
}

/// The select stage: `--classes` (checked against the labels of all ranks), `--n-train` and
/// `--n-test`.
fn select(a: &TrainArgs, comm: &dyn Comm, train_path: &Path, train: Table, test: Option<Table>) -> Result<(Table, Option<Table>)> {
    let labels = train.labels.clone().unwrap_or_default();
    let present = distinct_over(comm, &labels);
    let test_rows = test.as_ref().map(|t| (t.n, t.labels.as_deref()));
    let (train_idx, test_idx) = agree(comm, kept_rows(a, train_path, &present, &labels, train.n, test_rows))?;
    let test = test.map(|t| data::retain_rows(t, &test_idx));
    Ok((data::retain_rows(train, &train_idx), test))
}

/// The distinct labels of every rank's rows.
fn distinct_over(comm: &dyn Comm, labels: &[f64]) -> Classes {
    if comm.size() == 1 {
        return Classes::from_labels(labels);
    }
    let local = Classes::from_labels(labels).labels;
    Classes::from_labels(&all_gather_f64(comm, &local).concat())
}

/// The fingerprint of the training rows: of the table in one process; over K ranks, of the
/// ranks' own fingerprints (`mpiK-…`), since no rank holds every row.
fn fingerprint(t: &Table, comm: &dyn Comm) -> String {
    if comm.size() == 1 {
        return t.fingerprint();
    }
    let fp = u64::from_str_radix(&t.fingerprint(), 16).unwrap_or(0);
    let fps = all_gather_f64(comm, &[(fp >> 32) as f64, (fp & 0xffff_ffff) as f64]);
    format!("mpi{}-{:016x}", comm.size(), cronos::comm::fnv1a(format!("{fps:?}").as_bytes()))
}

/// The rows that `--classes`, `--n-train` and `--n-test` keep, dense or sparse: (training
/// rows, test rows) from the training labels and row count, and the test file's row count and
/// labels when there is one.
pub(super) fn kept_rows(a: &TrainArgs, train_path: &Path, present: &Classes, train_labels: &[f64], n_train: usize, test: Option<(usize, Option<&[f64]>)>) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut train_idx: Vec<usize> = (0..n_train).collect();
    let mut test_idx: Vec<usize> = test.map(|(n, _)| (0..n).collect()).unwrap_or_default();
    if let Some(cl) = &a.source.classes {
        if cl.len() < 2 {
            bail!("--classes: give at least two classes (e.g. --classes 0,6)");
        }
        if let Some(c) = cl.iter().find(|&&c| present.index_of(c).is_none()) {
            bail!(
                "{}: class {c} given in --classes does not occur in the labels (classes: {})",
                train_path.display(),
                super::report::fmt_list(&present.labels)
            );
        }
        train_idx.retain(|&i| cl.contains(&train_labels[i]));
        if let Some(tl) = test.and_then(|(_, l)| l) {
            test_idx.retain(|&i| cl.contains(&tl[i]));
        }
    }
    if let Some(n) = a.source.n_train {
        if n == 0 {
            bail!("--n-train 0: need at least one row");
        }
        train_idx.truncate(n);
    }
    if let Some(n) = a.source.n_test {
        test_idx.truncate(n);
    }
    Ok((train_idx, test_idx))
}

/// Classification for integer labels with at most 1,000 classes (`--task auto`); `labels`
/// may be the rows' labels or their distinct values.
pub(super) fn infer_task(task: TaskArg, train_path: &Path, labels: &[f64]) -> Result<Task> {
    let classification = match task {
        TaskArg::Classification => true,
        TaskArg::Regression => false,
        TaskArg::Auto => labels.iter().all(|l| l.fract() == 0.0) && Classes::from_labels(labels).len() <= 1000,
    };
    if !classification {
        return Ok(Task::Regression);
    }
    let c = Classes::from_labels(labels);
    if c.len() < 2 {
        bail!(
            "{}: only one class ({}) in the training labels; a classifier needs two",
            train_path.display(),
            super::report::fmt_list(&c.labels)
        );
    }
    Ok(Task::Classification(c))
}

/// A seeded shuffle of `0..n` cut into (fitting rows, validation rows), each sorted.
pub fn validation_split(n: usize, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    use rand::{seq::SliceRandom, SeedableRng};
    let nv = ((n as f64) * fraction).round() as usize;
    if nv == 0 || nv >= n {
        bail!("--val-fraction {fraction}: leaves {nv} validation and {} training rows of {n}", n - nv.min(n));
    }
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15));
    let (fit, val) = perm.split_at(n - nv);
    let (mut fit, mut val) = (fit.to_vec(), val.to_vec());
    fit.sort_unstable();
    val.sort_unstable();
    Ok((fit, val))
}

/// Preprocessed rows of `t` (preprocessed in place, then moved into a matrix); labels
/// outside the training classes are an error naming the file.
fn rows(mut t: Table, path: &Path, pre: &Preprocessing, task: &Task) -> Result<Rows> {
    pre.apply(faer::MatMut::from_column_major_slice_mut(&mut t.x, t.n, t.d));
    let labels = t.labels.take().unwrap_or_default();
    let y = match task {
        Task::Classification(c) => c.encode(&labels).map_err(|e| anyhow!("{}: {e}", path.display()))?,
        Task::Regression => data::targets(&labels),
    };
    Ok(Rows { x: OwnedData::Dense(data::into_mat(t).map_err(|e| anyhow!("{}: {e}", path.display()))?), labels, y })
}
