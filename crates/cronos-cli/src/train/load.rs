//! The load stage: this rank's rows of the training source (all rows in one process) and, on
//! rank 0, the test set, checked for labels and widths.
//!
//! Over K ranks, rank r reads only rows ⌊r·n/K⌋ .. ⌊(r+1)·n/K⌋ of the training source: the
//! row count comes from the IDX labels file or the `.npy` header; CSV, LIBSVM and `.npz` are
//! parsed whole and sliced.

use crate::data;
use crate::TrainArgs;
use anyhow::{anyhow, bail, Result};
use cronos::comm::Comm;
use cronos::design::shard_rows;
use cronos_data::{LoadOptions, Split, Table};
use std::path::{Path, PathBuf};

/// The tables as read.
pub struct Loaded {
    /// The training file or directory.
    pub train_path: PathBuf,
    /// The test file or directory, when there is one.
    pub test_path: Option<PathBuf>,
    /// This rank's training rows.
    pub train: Table,
    /// The test rows (rank 0 only).
    pub test: Option<Table>,
}

/// Reads this rank's training rows and (rank 0) the test set: `--train`/`--test`, DIR, or
/// the bundled data.
pub fn load(a: &TrainArgs, comm: &dyn Comm) -> Result<Loaded> {
    let opts = data::load_options(&a.source.data);
    let (train_path, test_path) = a.source.paths();
    if a.source.train.is_none() && !train_path.is_dir() {
        bail!("{}: not a directory of IDX files (use --train FILE for a data file)", train_path.display());
    }
    let train = match comm.size() {
        1 => data::load(&train_path, &opts, Split::Train)?,
        _ => load_shard(&train_path, &opts, comm)?,
    };
    let test = match comm.rank() {
        0 => test_path.as_ref().map(|p| data::load(p, &opts, Split::Test)).transpose()?,
        _ => None,
    };
    data::labels(&train, &train_path)?;
    if let (Some(t), Some(p)) = (&test, &test_path) {
        data::labels(t, p)?;
        if t.d != train.d {
            bail!("{}: {} features but the training data {} has {}", p.display(), t.d, train_path.display(), train.d);
        }
    }
    if train.n == 0 {
        bail!("{}: no rows", train_path.display());
    }
    Ok(Loaded { train_path, test_path, train, test })
}

/// Rows of the training source from a header, or `None` when the format has none.
fn header_rows(path: &Path, opts: &LoadOptions) -> Result<Option<usize>> {
    if path.is_dir() {
        for name in ["train-labels-idx1-ubyte", "train-labels-idx1-ubyte.gz", "train-labels.idx1-ubyte", "train-labels.idx1-ubyte.gz"] {
            let p = path.join(name);
            if p.is_file() {
                return Ok(Some(cronos_data::read_idx_labels(&p, None)?.len()));
            }
        }
        bail!("{}: no train-labels-idx1-ubyte[.gz] in this directory", path.display());
    }
    let format = opts.format.or_else(|| cronos_data::Format::from_path(path));
    Ok(match format {
        Some(cronos_data::Format::Npy) => Some(cronos_data::npy_shape(&cronos_data::read_bytes(path)?, path)?[0]),
        Some(cronos_data::Format::Idx) => Some(cronos_data::idx_shape(&cronos_data::read_bytes(path)?, path)?[0]),
        _ => None,
    })
}

/// This rank's rows of the training source.
fn load_shard(path: &Path, opts: &LoadOptions, comm: &dyn Comm) -> Result<Table> {
    if !path.exists() {
        bail!("{}: no such file", path.display());
    }
    let (rank, size) = (comm.rank(), comm.size());
    let range = |n: usize| if n < size { Err(anyhow!("{}: {n} rows for {size} ranks", path.display())) } else { Ok(shard_rows(n, size)[rank].clone()) };
    match header_rows(path, opts)? {
        Some(n) if path.is_dir() => Ok(cronos_data::load_idx_dir_rows(path, Split::Train, Some(range(n)?))?),
        Some(n) => Ok(cronos_data::load(path, &LoadOptions { row_range: Some(range(n)?), ..opts.clone() })?),
        None => {
            let t = data::load(path, opts, Split::Train)?;
            let r = range(t.n)?;
            t.slice_rows(r).ok_or_else(|| anyhow!("{}: bad row range", path.display()))
        }
    }
}
