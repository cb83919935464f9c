//! `cronos train` on sparse files (LIBSVM, scipy.sparse `.npz`): the same steps as
//! [`super::prepare`] (class subset, row limits, validation split, preprocessing fitted on the
//! fitting rows) on compressed sparse rows, so the data are never densified.
//!
//! Preprocessing keeps zeros zero: `standardize` divides each feature by its standard
//! deviation without centering (centering would fill every entry; the model's bias absorbs
//! the offset), `scale` divides by the largest |value| (for non-negative data exactly the
//! min/max scaling to [0, 1], a sparse column's minimum being 0). The model file stores
//! offset 0 and these scales, so `cronos predict` applies the same map to any input.

use super::prepare::{kept_rows, validation_split, Prepared, Rows};
use crate::data::{self, targets};
use crate::TrainArgs;
use anyhow::{anyhow, bail, Result};
use cronos::{Csr, OwnedData};
use cronos_data::{LoadOptions, SparseTable, Split};
use cronos_model::{PreprocessKind, Preprocessing, Task};
use std::path::{Path, PathBuf};

/// The prepared data when the training file is sparse by nature, `None` otherwise.
pub fn prepare_sparse(a: &TrainArgs, kind: PreprocessKind, task_of: impl Fn(&[f64]) -> Result<Task>) -> Result<Option<Prepared>> {
    let opts = data::load_options(&a.source.data);
    let Some(train_path) = a.source.train.clone() else { return Ok(None) };
    if train_path.is_dir() || !train_path.exists() {
        return Ok(None);
    }
    let Some(train) = cronos_data::load_sparse(&train_path, &opts)? else { return Ok(None) };
    // test rows have the training width (a LIBSVM file need not use the last features)
    let test_opts = LoadOptions { n_features: Some(train.d), ..opts.clone() };
    let test = a.source.test.as_ref().map(|p| load_any(p, &test_opts)).transpose()?;
    let labels = train.labels.clone().ok_or_else(|| anyhow!("{}: no labels found (LIBSVM labels, or an array `y` in the .npz)", train_path.display()))?;
    if let Some((t, p)) = test.as_ref().zip(a.source.test.as_ref()) {
        if t.labels.is_none() {
            bail!("{}: no labels found", p.display());
        }
        if t.d != train.d {
            bail!("{}: {} features but the training data {} has {}", p.display(), t.d, train_path.display(), train.d);
        }
    }
    let (train, test) = subset(a, &train_path, &labels, train, test)?;
    if train.n == 0 {
        bail!("{}: no rows", train_path.display());
    }
    let fingerprint = train.fingerprint();
    let task = task_of(train.labels.as_deref().unwrap_or_default())?;
    let (fit_t, val_t) = match a.val_fraction {
        Some(f) => {
            let (fit, val) = validation_split(train.n, f, a.seed)?;
            (train.select_rows(&fit), Some(train.select_rows(&val)))
        }
        None => (train, None),
    };
    let mut pre = fit_preprocessing(&fit_t, kind);
    let feature_weighting = super::relevance::wanted(a, false);
    if feature_weighting {
        // the rows as `pre` makes them, only to score the features: dropped before the final
        // rows are built, so the peak stays one preprocessed copy
        let scored = rows(&fit_t, &train_path, &pre, &task)?;
        super::relevance::fold_sparse(a, &mut pre, &scored, &task)?;
    }
    let fit = rows(&fit_t, &train_path, &pre, &task)?;
    let val = val_t.as_ref().map(|t| rows(t, &train_path, &pre, &task)).transpose()?;
    let test = match (&test, &a.source.test) {
        (Some(t), Some(p)) => Some(rows(t, p, &pre, &task)?),
        _ => None,
    };
    let fit_shape = (fit.x.nrows(), fit.x.ncols());
    Ok(Some(Prepared { train_path, fit, val, test, task, pre, feature_weighting, fingerprint, fit_shape }))
}

/// A test file of any format as sparse rows (a dense one is converted, not the other way).
fn load_any(p: &PathBuf, opts: &LoadOptions) -> Result<SparseTable> {
    if let Some(t) = cronos_data::load_sparse(p, opts)? {
        return Ok(t);
    }
    let t = data::load(p, opts, Split::Test)?;
    let mut s = SparseTable { n: t.n, d: t.d, indptr: vec![0], labels: t.labels.clone(), ..Default::default() };
    for i in 0..t.n {
        for j in 0..t.d {
            let v = t.get(i, j);
            if v != 0.0 {
                s.indices.push(j as u32);
                s.values.push(v);
            }
        }
        s.indptr.push(s.values.len());
    }
    Ok(s)
}

/// `--classes`, `--n-train`, `--n-test` on sparse tables (the rows of [`kept_rows`]).
fn subset(a: &TrainArgs, path: &Path, labels: &[f64], train: SparseTable, test: Option<SparseTable>) -> Result<(SparseTable, Option<SparseTable>)> {
    let test_rows = test.as_ref().map(|t| (t.n, t.labels.as_deref()));
    let (tr, te) = kept_rows(a, path, &cronos_model::Classes::from_labels(labels), labels, train.n, test_rows)?;
    Ok((train.select_rows(&tr), test.map(|t| t.select_rows(&te))))
}

/// Offset 0 and per-feature scales of `kind` (see the module docs), in f64 then rounded.
fn fit_preprocessing(t: &SparseTable, kind: PreprocessKind) -> Preprocessing {
    let mut p = Preprocessing::identity(t.d);
    p.kind = kind;
    let (mut s1, mut s2, mut amax) = (vec![0.0f64; t.d], vec![0.0f64; t.d], vec![0.0f64; t.d]);
    for i in 0..t.n {
        for (j, v) in t.row(i) {
            let v = v as f64;
            s1[j] += v;
            s2[j] += v * v;
            amax[j] = amax[j].max(v.abs());
        }
    }
    let n = t.n.max(1) as f64;
    for j in 0..t.d {
        let s = match kind {
            PreprocessKind::None => 1.0,
            PreprocessKind::Scale01 => amax[j],
            PreprocessKind::Standardize => {
                let mean = s1[j] / n;
                (s2[j] / n - mean * mean).max(0.0).sqrt()
            }
        };
        p.scale[j] = if s > 0.0 && s.is_finite() && (s as f32) > 0.0 { s as f32 } else { 1.0 };
    }
    p
}

/// Scaled sparse rows of `t` with their targets.
fn rows(t: &SparseTable, path: &Path, pre: &Preprocessing, task: &Task) -> Result<Rows> {
    let values = t.indices.iter().zip(&t.values).map(|(&j, &v)| v / pre.scale[j as usize]).collect();
    let x = Csr::new(t.n, t.d, t.indptr.clone(), t.indices.clone(), values).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let labels = t.labels.clone().unwrap_or_default();
    let y = match task {
        Task::Classification(c) => c.encode(&labels).map_err(|e| anyhow!("{}: {e}", path.display()))?,
        Task::Regression => targets(&labels),
    };
    Ok(Rows { x: OwnedData::Sparse(x), labels, y })
}
