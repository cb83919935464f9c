//! The supported on-disk formats and their detection from file names.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::DataError;

/// An on-disk data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// IDX (MNIST-style), raw or gzip-compressed.
    Idx,
    /// A single NumPy `.npy` array.
    Npy,
    /// A NumPy `.npz` archive holding features and labels.
    Npz,
    /// Delimited text: CSV, TSV, `;`- or whitespace-separated.
    Csv,
    /// LIBSVM / svmlight sparse text.
    Libsvm,
}

impl Format {
    /// All formats, in a fixed order.
    pub const ALL: [Format; 5] = [
        Format::Idx,
        Format::Npy,
        Format::Npz,
        Format::Csv,
        Format::Libsvm,
    ];

    /// Guesses the format from a file name (case-insensitive):
    /// `*ubyte`, `*.idx`, `*.idxN` (optionally followed by `.gz`) → Idx;
    /// `.npy` → Npy; `.npz` → Npz; `.csv`, `.tsv`, `.txt`, `.dat` → Csv;
    /// `.svm`, `.libsvm`, `.svmlight` → Libsvm. Returns `None` otherwise.
    pub fn from_path(p: &Path) -> Option<Format> {
        let name = p.file_name()?.to_str()?.to_ascii_lowercase();
        let stem = name.strip_suffix(".gz").unwrap_or(&name);
        if stem.ends_with("ubyte") || stem.ends_with(".idx") || is_idx_n(stem) {
            return Some(Format::Idx);
        }
        if stem.len() != name.len() {
            // Other gzip'ed files are not supported.
            return None;
        }
        let ext = stem.rsplit_once('.')?.1;
        match ext {
            "npy" => Some(Format::Npy),
            "npz" => Some(Format::Npz),
            "csv" | "tsv" | "txt" | "dat" => Some(Format::Csv),
            "svm" | "libsvm" | "svmlight" => Some(Format::Libsvm),
            _ => None,
        }
    }

    /// Parses a format name: `idx`, `npy`, `npz`, `csv` (also `tsv`, `txt`),
    /// `libsvm` (also `svm`, `svmlight`), case-insensitive.
    pub fn parse(s: &str) -> Result<Format, DataError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "idx" | "ubyte" => Ok(Format::Idx),
            "npy" => Ok(Format::Npy),
            "npz" => Ok(Format::Npz),
            "csv" | "tsv" | "txt" => Ok(Format::Csv),
            "libsvm" | "svm" | "svmlight" => Ok(Format::Libsvm),
            _ => Err(DataError::UnknownFormat {
                name: s.to_string(),
            }),
        }
    }

    /// The canonical lower-case name (accepted by [`Format::parse`]).
    pub fn name(self) -> &'static str {
        match self {
            Format::Idx => "idx",
            Format::Npy => "npy",
            Format::Npz => "npz",
            Format::Csv => "csv",
            Format::Libsvm => "libsvm",
        }
    }
}

/// `foo.idx3`, `foo.idx1`, ...
fn is_idx_n(stem: &str) -> bool {
    match stem.rsplit_once(".idx") {
        Some((_, rest)) => !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Format, DataError> {
        Format::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_by_name() {
        let f = |s: &str| Format::from_path(Path::new(s));
        assert_eq!(f("train-images-idx3-ubyte"), Some(Format::Idx));
        assert_eq!(f("dir/t10k-labels-idx1-ubyte.gz"), Some(Format::Idx));
        assert_eq!(f("x.idx"), Some(Format::Idx));
        assert_eq!(f("x.IDX3.gz"), Some(Format::Idx));
        assert_eq!(f("x.npy"), Some(Format::Npy));
        assert_eq!(f("x.npz"), Some(Format::Npz));
        assert_eq!(f("x.csv"), Some(Format::Csv));
        assert_eq!(f("x.TSV"), Some(Format::Csv));
        assert_eq!(f("x.txt"), Some(Format::Csv));
        assert_eq!(f("a9a.libsvm"), Some(Format::Libsvm));
        assert_eq!(f("a.svmlight"), Some(Format::Libsvm));
        assert_eq!(f("a.svm"), Some(Format::Libsvm));
        assert_eq!(f("a.csv.gz"), None);
        assert_eq!(f("a.bin"), None);
        assert_eq!(f("noext"), None);
    }

    #[test]
    fn parse_names() {
        for fmt in Format::ALL {
            assert_eq!(Format::parse(fmt.name()).unwrap(), fmt);
            assert_eq!(fmt.to_string().parse::<Format>().unwrap(), fmt);
        }
        assert_eq!(Format::parse("SVMLight").unwrap(), Format::Libsvm);
        let e = Format::parse("parquet").unwrap_err();
        assert!(matches!(e, DataError::UnknownFormat { .. }));
        assert!(e.to_string().contains("parquet"));
    }
}
