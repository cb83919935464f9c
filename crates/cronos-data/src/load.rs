//! Format-independent loading: [`load`], [`read_labels`], [`load_idx_dir`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::idx::parse_idx_with_shape;
use crate::{
    csv, libsvm, npy, npz, parse_idx_labels_bytes, read_bytes, DataError, Format, Table,
    DEFAULT_MAX_ELEMENTS,
};

/// Which column of a text table holds the labels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LabelColumn {
    /// The last column (the default).
    #[default]
    Last,
    /// The column at this 0-based index.
    Index(usize),
    /// The column with this header name (CSV with a header only).
    Name(String),
    /// No label column: every column is a feature.
    None,
}

/// Which half of an MNIST-style IDX directory to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `train-images-idx3-ubyte` + `train-labels-idx1-ubyte`.
    Train,
    /// `t10k-images-idx3-ubyte` + `t10k-labels-idx1-ubyte`.
    Test,
}

/// Options for [`load`]. `LoadOptions::default()` infers everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// The format; `None` infers it with [`Format::from_path`].
    pub format: Option<Format>,
    /// CSV: the label column (`None` means [`LabelColumn::Last`]). Other
    /// formats: when set, that feature column becomes the labels
    /// ([`LabelColumn::None`] drops labels the file itself carries).
    pub label_column: Option<LabelColumn>,
    /// Read the labels from this separate file (any format; replaces labels
    /// found in the features file). Its row count must match.
    pub labels_path: Option<PathBuf>,
    /// LIBSVM: the number of features (default: the largest index).
    pub n_features: Option<usize>,
    /// Read only these rows (0-based data rows, end exclusive), e.g. one
    /// MPI shard. Headers are still validated.
    pub row_range: Option<Range<usize>>,
    /// Refuse tables with more values than this (default [`DEFAULT_MAX_ELEMENTS`]).
    pub max_elements: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            format: None,
            label_column: None,
            labels_path: None,
            n_features: None,
            row_range: None,
            max_elements: DEFAULT_MAX_ELEMENTS,
        }
    }
}

/// Loads a data file into a [`Table`].
///
/// The format is `opts.format` or inferred from the name. A directory is
/// loaded as the training split of an MNIST-style IDX directory
/// ([`load_idx_dir`]). For an IDX images file `*-images-idx3-ubyte[.gz]`
/// without `labels_path`, a sibling `*-labels-idx1-ubyte[.gz]` is used if
/// present. Labels from `labels_path` must match the number of rows.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Table, DataError> {
    if path.is_dir() && matches!(opts.format, None | Some(Format::Idx)) {
        let mut t = load_idx_dir_rows(path, Split::Train, opts.row_range.clone())?;
        if let Some(lp) = &opts.labels_path {
            attach_labels(&mut t, path, lp, opts)?;
        }
        return Ok(t);
    }
    let format = match opts.format {
        Some(f) => f,
        None => Format::from_path(path).ok_or_else(|| DataError::UndetectedFormat {
            path: path.to_path_buf(),
        })?,
    };
    let rows = opts.row_range.as_ref();
    // the binary arrays are converted as they are read: their bytes are never held whole
    let mut table = match format {
        Format::Npy => crate::stream::read_npy_file(path, rows, opts.max_elements)?,
        Format::Npz if crate::npz::is_sparse_npz_file(path)? => {
            crate::sparse::parse_sparse_npz_bytes(&read_bytes(path)?, path, opts)?.to_dense(path, opts.max_elements)?
        }
        Format::Npz => npz::read_npz(path, opts)?,
        Format::Idx => load_idx_file(path, opts)?,
        Format::Csv => csv::parse_csv_bytes(&read_bytes(path)?, path, opts)?,
        Format::Libsvm => libsvm::parse_libsvm_bytes(&read_bytes(path)?, path, opts)?,
    };
    if format != Format::Csv {
        match &opts.label_column {
            None => {}
            Some(LabelColumn::None) => table.labels = None,
            Some(LabelColumn::Last) | Some(LabelColumn::Index(_)) if table.d == 0 => {
                return Err(DataError::shape(path, "no column to take labels from"));
            }
            Some(LabelColumn::Last) => {
                table.take_label_column(table.d - 1);
            }
            Some(LabelColumn::Index(k)) => {
                let d = table.d;
                table.take_label_column(*k).ok_or_else(|| {
                    DataError::shape(
                        path,
                        format!("label column {k} is out of range for {d} columns"),
                    )
                })?;
            }
            Some(LabelColumn::Name(n)) => {
                return Err(DataError::invalid(
                    path,
                    format!("no column names in this format, so no column {n:?}"),
                ));
            }
        }
    }
    if let Some(lp) = &opts.labels_path {
        attach_labels(&mut table, path, lp, opts)?;
    }
    Ok(table)
}

fn check_count(
    labels_path: &Path,
    features: &Path,
    labels: usize,
    rows: usize,
) -> Result<(), DataError> {
    if labels != rows {
        return Err(DataError::Mismatch {
            path: labels_path.to_path_buf(),
            features: features.to_path_buf(),
            labels,
            rows,
        });
    }
    Ok(())
}

fn attach_labels(
    table: &mut Table,
    features: &Path,
    lp: &Path,
    opts: &LoadOptions,
) -> Result<(), DataError> {
    let labels = read_labels(lp, None, opts.row_range.as_ref())?;
    check_count(lp, features, labels.len(), table.n)?;
    table.labels = Some(labels);
    Ok(())
}

/// Reads a labels-only file: IDX or `.npy` 1-D array, `.npz` (`y`, ...),
/// text (last column of each row, one label per line typically) or LIBSVM
/// (the labels of its rows). `format` defaults to inference from the name.
pub fn read_labels(
    path: &Path,
    format: Option<Format>,
    rows: Option<&Range<usize>>,
) -> Result<Vec<f64>, DataError> {
    let format = match format {
        Some(f) => f,
        None => Format::from_path(path).ok_or_else(|| DataError::UndetectedFormat {
            path: path.to_path_buf(),
        })?,
    };
    let bytes = read_bytes(path)?;
    match format {
        Format::Idx => parse_idx_labels_bytes(&bytes, path, rows),
        Format::Npy => npy::parse_npy_labels_bytes(&bytes, path, rows),
        Format::Npz => npz::parse_npz_labels_bytes(&bytes, path, rows),
        Format::Csv => {
            let o = LoadOptions {
                row_range: rows.cloned(),
                ..Default::default()
            };
            csv::parse_csv_labels_bytes(&bytes, path, &o)
        }
        Format::Libsvm => {
            let o = LoadOptions {
                row_range: rows.cloned(),
                ..Default::default()
            };
            Ok(libsvm::parse_libsvm_bytes(&bytes, path, &o)?
                .labels
                .unwrap_or_default())
        }
    }
}

/// For `X-images-idx3-ubyte[.gz]` (or `X-images.idx3-ubyte`), the existing
/// sibling labels file, if any.
fn idx_labels_sibling(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let base = name.strip_suffix(".gz").unwrap_or(name);
    let labels = base
        .replace("-images-idx3-ubyte", "-labels-idx1-ubyte")
        .replace("-images.idx3-ubyte", "-labels.idx1-ubyte");
    if labels == base {
        return None;
    }
    [labels.clone(), format!("{labels}.gz")]
        .into_iter()
        .map(|n| path.with_file_name(n))
        .find(|p| p.is_file())
}

/// Finds `{prefix}-{kind}-idx{nd}-ubyte[.gz]` (or with `.idx` spelled
/// `.idx{nd}`) in `dir`.
fn find_idx(dir: &Path, prefix: &str, kind: &str, nd: u8) -> Result<PathBuf, DataError> {
    let names = [
        format!("{prefix}-{kind}-idx{nd}-ubyte"),
        format!("{prefix}-{kind}.idx{nd}-ubyte"),
    ];
    for n in &names {
        for cand in [dir.join(n), dir.join(format!("{n}.gz"))] {
            if cand.is_file() {
                return Ok(cand);
            }
        }
    }
    Err(DataError::NotFound {
        path: dir.join(format!("{}[.gz]", names[0])),
    })
}

/// Loads one split of an MNIST-style IDX directory: `train-images-idx3-ubyte`
/// and `train-labels-idx1-ubyte` (resp. `t10k-*`), each optionally `.gz`.
/// Images are flattened to `h*w` features as `f32` in `[0, 255]` (not scaled).
pub fn load_idx_dir(dir: &Path, split: Split) -> Result<Table, DataError> {
    load_idx_dir_rows(dir, split, None)
}

/// [`load_idx_dir`] restricted to the rows in `rows` (if given). The label
/// count is checked against the full image count.
pub fn load_idx_dir_rows(
    dir: &Path,
    split: Split,
    rows: Option<Range<usize>>,
) -> Result<Table, DataError> {
    if !dir.is_dir() {
        return Err(DataError::NotFound {
            path: dir.to_path_buf(),
        });
    }
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let images = find_idx(dir, prefix, "images", 3)?;
    let labels_path = find_idx(dir, prefix, "labels", 1)?;
    let labels = parse_idx_labels_bytes(&read_bytes(&labels_path)?, &labels_path, None)?;
    let (mut table, shape) = parse_idx_with_shape(
        &read_bytes(&images)?,
        &images,
        rows.as_ref(),
        DEFAULT_MAX_ELEMENTS,
    )?;
    check_count(&labels_path, &images, labels.len(), shape[0])?;
    let r = rows.unwrap_or(0..labels.len());
    table.labels = Some(labels[r].to_vec());
    Ok(table)
}

/// An IDX images file, with the labels of its `*-labels-idx1-ubyte` sibling when no labels
/// were asked for otherwise.
fn load_idx_file(path: &Path, opts: &LoadOptions) -> Result<Table, DataError> {
    let rows = opts.row_range.as_ref();
    let (mut t, shape) = parse_idx_with_shape(&read_bytes(path)?, path, rows, opts.max_elements)?;
    if opts.labels_path.is_none() && opts.label_column.is_none() {
        if let Some(lp) = idx_labels_sibling(path) {
            let labels = parse_idx_labels_bytes(&read_bytes(&lp)?, &lp, None)?;
            check_count(&lp, path, labels.len(), shape[0])?;
            let r = rows.cloned().unwrap_or(0..labels.len());
            t.labels = Some(labels[r].to_vec());
        }
    }
    Ok(t)
}
