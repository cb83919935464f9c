//! Where the training data come from: the data-source flags that `cronos train` and
//! `cronos compare` share (one declaration, flattened into both), and the resolution of the
//! training and test paths (a file pair, an IDX directory, or the bundled Fashion-MNIST).

use crate::{DataOpts, BUNDLED_DATA};
use clap::Args;
use std::path::PathBuf;

/// The data-source flags of the training commands.
#[derive(Args, Debug, Clone)]
pub struct DataSourceArgs {
    /// Directory of MNIST-style IDX files (train-images-idx3-ubyte[.gz], t10k-...). Default: the bundled Fashion-MNIST
    #[arg(value_name = "DIR", conflicts_with = "train")]
    pub dir: Option<PathBuf>,
    /// Training data file (any supported format) instead of DIR
    #[arg(long, value_name = "FILE")]
    pub train: Option<PathBuf>,
    /// Test data file, evaluated at every certificate (optional)
    #[arg(long, value_name = "FILE", requires = "train")]
    pub test: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataOpts,
    /// Keep only these classes (comma-separated labels); two classes make a binary task
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub classes: Option<Vec<f64>>,
    /// Use only the first N training rows (after --classes)
    #[arg(long, value_name = "N")]
    pub n_train: Option<usize>,
    /// Use only the first N test rows (after --classes)
    #[arg(long, value_name = "N")]
    pub n_test: Option<usize>,
}

impl DataSourceArgs {
    /// The training source and the test source: `--train`/`--test`, else both splits of DIR,
    /// else of the bundled Fashion-MNIST.
    pub fn paths(&self) -> (PathBuf, Option<PathBuf>) {
        match (&self.train, &self.dir) {
            (Some(t), _) => (t.clone(), self.test.clone()),
            (None, Some(d)) => (d.clone(), Some(d.clone())),
            (None, None) => (PathBuf::from(BUNDLED_DATA), Some(PathBuf::from(BUNDLED_DATA))),
        }
    }

    /// The model file's `data_source`: the file's name, or the bundled set's.
    pub fn source_name(&self, train_path: &std::path::Path) -> String {
        match (&self.train, &self.dir) {
            (None, None) => "bundled fashion-mnist".into(),
            _ => crate::data::source_name(train_path),
        }
    }
}
