//! Sparse data sets (LIBSVM text, scipy.sparse `.npz`) kept sparse: [`SparseTable`] holds
//! compressed sparse rows, so a bag-of-words file of 20,000 × 50,000 at 0.5% takes 0.5 M ×
//! 8 bytes instead of the 4 GB of its dense `f32` table.
//!
//! scipy's `save_npz` layout: arrays `data`, `indices`, `indptr`, `shape` and `format`
//! (`csr` or `csc`; other formats are refused), plus, optionally, labels under one of
//! [`crate::LABEL_ARRAYS`] (`np.savez(..., y=y)` alongside the matrix's arrays).

use std::io::{Cursor, Read};
use std::path::Path;

use crate::npy::parse_npy_labels_bytes;
use crate::table::{dense_len, fingerprint_parts};
use crate::{DataError, LoadOptions, Table, LABEL_ARRAYS};

/// A sparse data set: `n` rows, `d` features in compressed sparse rows, `f32` values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseTable {
    /// Number of rows.
    pub n: usize,
    /// Number of features.
    pub d: usize,
    /// Row offsets into `indices`/`values` (n + 1, from 0 to nnz).
    pub indptr: Vec<usize>,
    /// Feature of each stored entry (strictly increasing within a row).
    pub indices: Vec<u32>,
    /// Value of each stored entry (finite).
    pub values: Vec<f32>,
    /// One label per row, if the source had labels.
    pub labels: Option<Vec<f64>>,
}

impl SparseTable {
    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// (feature, value) of the entries of row `i`.
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let r = self.indptr[i]..self.indptr[i + 1];
        self.indices[r.clone()].iter().map(|&j| j as usize).zip(self.values[r].iter().copied())
    }

    /// The dense table (refused above `max_elements` values, naming `source`).
    ///
    /// # Errors
    /// [`DataError::Shape`] when n·d exceeds `max_elements`.
    pub fn to_dense(&self, source: &Path, max_elements: usize) -> Result<Table, DataError> {
        let len = dense_len(source, self.n, self.d, max_elements)?;
        let mut x = vec![0f32; len];
        for i in 0..self.n {
            for (j, v) in self.row(i) {
                x[j * self.n + i] = v;
            }
        }
        Ok(Table { x, n: self.n, d: self.d, labels: self.labels.clone(), feature_names: None })
    }

    /// The rows `idx`, in that order.
    pub fn select_rows(&self, idx: &[usize]) -> SparseTable {
        let mut indptr = Vec::with_capacity(idx.len() + 1);
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        indptr.push(0);
        for &i in idx {
            let r = self.indptr[i]..self.indptr[i + 1];
            indices.extend_from_slice(&self.indices[r.clone()]);
            values.extend_from_slice(&self.values[r]);
            indptr.push(values.len());
        }
        let labels = self.labels.as_ref().map(|l| idx.iter().map(|&i| l[i]).collect());
        SparseTable { n: idx.len(), d: self.d, indptr, indices, values, labels }
    }

    /// The fingerprint of the equal dense table ([`crate::fingerprint`]): the same data give
    /// the same fingerprint whichever form they were read in (streams n·d values, allocates
    /// only the transpose).
    pub fn fingerprint(&self) -> String {
        // column-major order needs the entries by column
        let mut count = vec![0usize; self.d + 1];
        for &j in &self.indices {
            count[j as usize + 1] += 1;
        }
        for j in 0..self.d {
            count[j + 1] += count[j];
        }
        let mut next = count.clone();
        let mut by_col = vec![(0u32, 0f32); self.nnz()];
        for i in 0..self.n {
            for (j, v) in self.row(i) {
                by_col[next[j]] = (i as u32, v);
                next[j] += 1;
            }
        }
        let column = |j: usize| {
            let mut it = by_col[count[j]..count[j + 1]].iter().peekable();
            (0..self.n).map(move |i| match it.peek() {
                Some(&&(r, v)) if r as usize == i => {
                    it.next();
                    v
                }
                _ => 0.0,
            })
        };
        fingerprint_parts(self.n, self.d, (0..self.d).flat_map(column), self.labels.as_deref())
    }
}

/// The entries of a scipy.sparse `.npz` (CSR/CSC).
pub(crate) const SPARSE_ENTRIES: [&str; 4] = ["indptr.npy", "indices.npy", "data.npy", "shape.npy"];

/// Whether `.npz` bytes hold a scipy.sparse matrix (`indptr`, `indices`, `data`, `shape`).
pub fn is_sparse_npz(bytes: &[u8]) -> bool {
    zip::ZipArchive::new(Cursor::new(bytes))
        .map(|ar| SPARSE_ENTRIES.iter().all(|n| ar.index_for_name(n).is_some()))
        .unwrap_or(false)
}

fn npz_entry(ar: &mut zip::ZipArchive<Cursor<&[u8]>>, source: &Path, name: &str) -> Result<Option<Vec<u8>>, DataError> {
    let file = format!("{name}.npy");
    if ar.index_for_name(&file).is_none() {
        return Ok(None);
    }
    let inner = source.join(&file);
    let mut f = ar.by_name(&file).map_err(|e| DataError::invalid(&inner, format!("cannot open archive entry: {e}")))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).map_err(|e| DataError::invalid(&inner, format!("cannot read archive entry: {e}")))?;
    Ok(Some(buf))
}

/// The `format` entry's text (a 0-d numpy unicode or bytes array, e.g. `'csr'`).
fn format_text(bytes: &[u8]) -> String {
    let hlen = if bytes.len() > 10 && bytes[6] == 1 { u16::from_le_bytes([bytes[8], bytes[9]]) as usize + 10 } else { u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize + 12 };
    let body = bytes.get(hlen..).unwrap_or_default();
    body.iter().filter(|b| b.is_ascii_alphabetic()).map(|&b| b as char).collect()
}

/// Parses scipy.sparse `.npz` bytes (see the module docs) into a sparse table; CSC is
/// converted to CSR. Indices, offsets and shape are validated.
///
/// # Errors
/// [`DataError`] naming the archive entry for a missing or inconsistent array.
pub fn parse_sparse_npz_bytes(bytes: &[u8], source: &Path, _opts: &LoadOptions) -> Result<SparseTable, DataError> {
    let mut ar = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| DataError::invalid(source, format!("corrupt .npz archive: {e}")))?;
    let mut get = |name: &str| -> Result<Vec<f64>, DataError> {
        let b = npz_entry(&mut ar, source, name)?.ok_or_else(|| DataError::invalid(source, format!("sparse .npz without the array `{name}`")))?;
        parse_npy_labels_bytes(&b, &source.join(format!("{name}.npy")), None)
    };
    let (data, indices, indptr, shape) = (get("data")?, get("indices")?, get("indptr")?, get("shape")?);
    let fmt = match npz_entry(&mut ar, source, "format")? {
        Some(b) => format_text(&b),
        None => "csr".into(),
    };
    let bad = |what: &str, msg: String| DataError::invalid(&source.join(format!("{what}.npy")), msg);
    if shape.len() != 2 || shape.iter().any(|&s| s < 0.0 || s.fract() != 0.0) {
        return Err(bad("shape", format!("expected two non-negative sizes, found {shape:?}")));
    }
    let (n, d) = (shape[0] as usize, shape[1] as usize);
    let (outer, inner) = match fmt.as_str() {
        "csr" => (n, d),
        "csc" => (d, n),
        other => return Err(bad("format", format!("sparse format {other:?} is not supported (save CSR or CSC)"))),
    };
    if indptr.len() != outer + 1 || indices.len() != data.len() {
        return Err(bad("indptr", format!("{} offsets and {} indices for {} values and {outer} {}", indptr.len(), indices.len(), data.len(), if fmt == "csr" { "rows" } else { "columns" })));
    }
    let ptr: Vec<usize> = indptr.iter().map(|&v| v as usize).collect();
    if ptr[0] != 0 || ptr[outer] != data.len() || ptr.windows(2).any(|w| w[0] > w[1]) || indptr.iter().any(|&v| v < 0.0) {
        return Err(bad("indptr", format!("offsets must rise from 0 to {}", data.len())));
    }
    if let Some(p) = indices.iter().position(|&j| j < 0.0 || j.fract() != 0.0 || j as usize >= inner) {
        return Err(bad("indices", format!("index {} at entry {p} outside 0..{inner}", indices[p])));
    }
    if let Some(p) = data.iter().position(|v| !(*v as f32).is_finite()) {
        return Err(DataError::NonFinite { path: source.join("data.npy"), row: 0, col: p, line: None, value: data[p].to_string() });
    }
    // (outer, inner, value) triples sorted into rows; duplicates summed
    let mut rows: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
    for o in 0..outer {
        for e in ptr[o]..ptr[o + 1] {
            let (i, j) = if fmt == "csr" { (o, indices[e] as usize) } else { (indices[e] as usize, o) };
            rows[i].push((j as u32, data[e] as f32));
        }
    }
    let mut t = SparseTable { n, d, indptr: vec![0], ..Default::default() };
    for mut r in rows {
        r.sort_by_key(|e| e.0);
        for (j, v) in r {
            if t.indices.last() == Some(&j) && t.values.len() > *t.indptr.last().unwrap() {
                *t.values.last_mut().unwrap() += v;
            } else {
                t.indices.push(j);
                t.values.push(v);
            }
        }
        t.indptr.push(t.values.len());
    }
    for name in LABEL_ARRAYS {
        if let Some(b) = npz_entry(&mut ar, source, name)? {
            let path = source.join(format!("{name}.npy"));
            let labels = parse_npy_labels_bytes(&b, &path, None)?;
            if labels.len() != n {
                return Err(DataError::Mismatch { path, features: source.join("indptr.npy"), labels: labels.len(), rows: n });
            }
            t.labels = Some(labels);
            break;
        }
    }
    Ok(t)
}

/// The file at `path` as a sparse table when it is sparse by nature (LIBSVM, or a
/// scipy.sparse `.npz`), `None` for the dense formats (read them with [`crate::load`]).
///
/// # Errors
/// As the readers.
pub fn load_sparse(path: &Path, opts: &LoadOptions) -> Result<Option<SparseTable>, DataError> {
    let format = opts.format.or_else(|| crate::Format::from_path(path));
    let mut t = match format {
        Some(crate::Format::Libsvm) => crate::read_libsvm_sparse(path, opts)?,
        Some(crate::Format::Npz) => {
            // the central directory decides; a dense archive is never read whole here
            if !crate::npz::is_sparse_npz_file(path)? {
                return Ok(None);
            }
            parse_sparse_npz_bytes(&crate::read_bytes(path)?, path, opts)?
        }
        _ => return Ok(None),
    };
    if matches!(opts.label_column, Some(crate::LabelColumn::None)) {
        t.labels = None;
    }
    Ok(Some(t))
}
