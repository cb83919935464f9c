//! Data loading and row selection helpers for the commands.

use crate::DataOpts;
use anyhow::{anyhow, bail, Result};
use cronos_data::{LabelColumn, LoadOptions, Table};
use faer::Mat;
use std::path::{Path, PathBuf};

/// Parses `--label-column`.
pub fn label_column(s: &str) -> LabelColumn {
    match s.trim() {
        "last" => LabelColumn::Last,
        "none" => LabelColumn::None,
        t => match t.parse::<usize>() {
            Ok(k) => LabelColumn::Index(k),
            Err(_) => LabelColumn::Name(t.to_string()),
        },
    }
}

/// Load options from the shared flags.
pub fn load_options(o: &DataOpts) -> LoadOptions {
    LoadOptions {
        format: o.format.map(|f| f.to_format()),
        label_column: o.label_column.as_deref().map(label_column),
        ..LoadOptions::default()
    }
}

/// Loads a data file (or an IDX directory's given split).
pub fn load(path: &Path, opts: &LoadOptions, split: cronos_data::Split) -> Result<Table> {
    if path.is_dir() {
        return Ok(cronos_data::load_idx_dir(path, split)?);
    }
    if !path.exists() {
        bail!("{}: no such file", path.display());
    }
    Ok(cronos_data::load(path, opts)?)
}

/// True when the data came from IDX files (u8 images).
pub fn is_idx(path: &Path, opts: &LoadOptions) -> bool {
    path.is_dir() || opts.format == Some(cronos_data::Format::Idx) || (opts.format.is_none() && cronos_data::Format::from_path(path) == Some(cronos_data::Format::Idx))
}

/// Keeps the rows `idx` (ascending) of `t`, in place.
pub fn retain_rows(mut t: Table, idx: &[usize]) -> Table {
    t.retain_rows(idx);
    t
}

/// The rows `idx` of `t`, in that order.
pub fn select_rows(t: &Table, idx: &[usize]) -> Table {
    let m = idx.len();
    let mut x = Vec::with_capacity(m * t.d);
    for j in 0..t.d {
        let col = t.column(j);
        x.extend(idx.iter().map(|&i| col[i]));
    }
    Table {
        x,
        n: m,
        d: t.d,
        labels: t.labels.as_ref().map(|l| idx.iter().map(|&i| l[i]).collect()),
        feature_names: t.feature_names.clone(),
    }
}

/// The features as an n × d matrix.
pub fn to_mat(t: &Table) -> Mat<f32> {
    let n = t.n;
    Mat::from_fn(n, t.d, |i, j| t.x[j * n + i])
}

/// The features as an n × d matrix, consuming the table: its memory is given back column by
/// column as the matrix fills, and the matrix has room for one more column (the solver's bias
/// column), so neither step holds two copies of X.
///
/// # Errors
/// When the matrix cannot be allocated (an address-space limit, say): an error naming the
/// size instead of an abort.
pub fn into_mat(t: Table) -> Result<Mat<f32>> {
    let (n, d) = (t.n, t.d);
    let mut x = Mat::<f32>::new();
    x.try_reserve(n, d + 1).map_err(|_| {
        anyhow!("not enough memory for the {n} × {d} feature matrix ({}); train on fewer rows (--n-train) or spread them over processes (--distributed)", cronos::memory::gb(n as u64 * (d as u64 + 1) * 4))
    })?;
    t.into_columns(|j, col| x.resize_with(n, j + 1, |i, _| col[i]));
    Ok(x)
}

/// The features of `t` as a matrix view (no copy).
pub fn view(t: &Table) -> faer::MatRef<'_, f32> {
    faer::MatRef::from_column_major_slice(&t.x, t.n, t.d)
}

/// The labels, or an error naming the file.
pub fn labels<'a>(t: &'a Table, path: &Path) -> Result<&'a [f64]> {
    t.labels.as_deref().ok_or_else(|| anyhow!("{}: no labels found (use --label-column, or an .npz with arrays `x` and `y`)", path.display()))
}

/// Display name of a data source.
pub fn source_name(p: &Path) -> String {
    p.display().to_string()
}

/// Checks that `path` can be created: refused when it exists (unless `force`), an error when
/// its directory is missing or not writable. Creates nothing.
pub fn check_output(path: &Path, force: bool, what: &str) -> Result<()> {
    if path.is_dir() {
        bail!("{}: is a directory ({what} must be a file)", path.display());
    }
    if !force && std::fs::symlink_metadata(path).is_ok() {
        bail!("{}: already exists (use --force to overwrite)", path.display());
    }
    let dir: PathBuf = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!("{}: directory {} does not exist", path.display(), dir.display());
    }
    // probe: create and remove a temporary file in the directory
    let probe = dir.join(format!(".cronos-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => bail!("{}: cannot write to directory {}: {e}", path.display(), dir.display()),
    }
}

/// Classification metrics of predicted vs true labels.
pub fn accuracy(pred: &[f64], truth: &[f64]) -> f64 {
    if truth.is_empty() {
        return f64::NAN;
    }
    pred.iter().zip(truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
}

/// Mean squared error over all entries of `pred − y` (per row, summed over outputs).
pub fn mse(pred: faer::MatRef<'_, f32>, y: faer::MatRef<'_, f32>) -> f64 {
    let n = pred.nrows().max(1);
    let mut s = 0.0;
    for j in 0..pred.ncols() {
        for i in 0..pred.nrows() {
            let e = pred[(i, j)] as f64 - y[(i, j)] as f64;
            s += e * e;
        }
    }
    s / n as f64
}

/// Coefficient of determination R² (averaged over outputs).
pub fn r2(pred: faer::MatRef<'_, f32>, y: faer::MatRef<'_, f32>) -> f64 {
    let n = y.nrows();
    if n == 0 {
        return f64::NAN;
    }
    let mut tot = 0.0;
    for j in 0..y.ncols() {
        let mean = (0..n).map(|i| y[(i, j)] as f64).sum::<f64>() / n as f64;
        let ss_tot: f64 = (0..n).map(|i| (y[(i, j)] as f64 - mean).powi(2)).sum();
        let ss_res: f64 = (0..n).map(|i| (y[(i, j)] as f64 - pred[(i, j)] as f64).powi(2)).sum();
        tot += if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { f64::NAN };
    }
    tot / y.ncols() as f64
}

/// Regression targets as an n × 1 matrix.
pub fn targets(labels: &[f64]) -> Mat<f32> {
    Mat::from_fn(labels.len(), 1, |i, _| labels[i] as f32)
}
