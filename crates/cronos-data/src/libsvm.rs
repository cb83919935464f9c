//! LIBSVM / svmlight sparse text: `label idx:val idx:val ... # comment`.
//!
//! Indices are 1-based and must strictly increase within a line; `qid:N`
//! tokens are ignored; text after `#` is a comment; blank lines are skipped.
//! The number of features is the largest index in the whole file unless
//! given. With a row range every line is still validated (to find the
//! number of features), but only rows in the range are stored.

use std::path::Path;

use crate::table::resolve_rows;
use crate::{read_bytes, DataError, LoadOptions, SparseTable, Table};

/// One parsed line: label and (0-based feature, value) pairs.
struct Row {
    label: f64,
    entries: Vec<(usize, f32)>,
}

fn parse_line(
    source: &Path,
    line_no: usize,
    row: usize,
    text: &str,
) -> Result<Option<Row>, DataError> {
    let text = text.split('#').next().unwrap_or("");
    let mut tokens = text.split_ascii_whitespace();
    let Some(label_tok) = tokens.next() else {
        return Ok(None);
    };
    let label: f64 = label_tok.parse().map_err(|_| {
        DataError::parse(
            source,
            line_no,
            1,
            format!("cannot parse label {label_tok:?} as a number"),
        )
    })?;
    if !label.is_finite() {
        return Err(DataError::NonFinite {
            path: source.to_path_buf(),
            row,
            col: 0,
            line: Some(line_no),
            value: label_tok.to_string(),
        });
    }
    let mut entries = Vec::new();
    let mut prev = 0usize;
    for (t, tok) in tokens.enumerate() {
        let col = t + 2;
        let err = |msg: String| DataError::parse(source, line_no, col, msg);
        let Some((key, val)) = tok.split_once(':') else {
            return Err(err(format!("expected index:value, found {tok:?}")));
        };
        if key == "qid" {
            continue;
        }
        let idx: usize = key
            .parse()
            .map_err(|_| err(format!("cannot parse feature index {key:?}")))?;
        if idx == 0 {
            return Err(err("feature indices are 1-based; found 0".into()));
        }
        if idx <= prev {
            return Err(err(format!(
                "feature indices must increase; found {idx} after {prev}"
            )));
        }
        prev = idx;
        let v: f64 = val
            .parse()
            .map_err(|_| err(format!("cannot parse value {val:?} as a number")))?;
        let v32 = v as f32;
        if !v32.is_finite() {
            return Err(DataError::NonFinite {
                path: source.to_path_buf(),
                row,
                col: idx - 1,
                line: Some(line_no),
                value: val.to_string(),
            });
        }
        entries.push((idx - 1, v32));
    }
    Ok(Some(Row { label, entries }))
}

/// Parses LIBSVM text (see the module docs) into a dense table with labels.
/// Uses `opts.n_features`, `opts.row_range` and `opts.max_elements`.
pub fn parse_libsvm_bytes(
    bytes: &[u8],
    source: &Path,
    opts: &LoadOptions,
) -> Result<Table, DataError> {
    parse_libsvm_sparse_bytes(bytes, source, opts)?.to_dense(source, opts.max_elements)
}

/// Parses LIBSVM text into a sparse table (never densified). Uses `opts.n_features` and
/// `opts.row_range`.
pub fn parse_libsvm_sparse_bytes(
    bytes: &[u8],
    source: &Path,
    opts: &LoadOptions,
) -> Result<SparseTable, DataError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let want = opts.row_range.as_ref();
    let mut kept: Vec<Row> = Vec::new();
    let mut first_kept = None;
    let mut n_total = 0usize;
    let mut max_idx = 0usize;
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let text = std::str::from_utf8(raw).map_err(|e| {
            DataError::parse(
                source,
                line_no,
                1,
                format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1),
            )
        })?;
        let Some(row) = parse_line(source, line_no, n_total, text)? else {
            continue;
        };
        if let Some(&(last, _)) = row.entries.last() {
            if last >= u32::MAX as usize {
                return Err(DataError::parse(source, line_no, row.entries.len() + 1, format!("feature index {} is too large", last + 1)));
            }
            if let Some(nf) = opts.n_features {
                if last >= nf {
                    return Err(DataError::parse(
                        source,
                        line_no,
                        row.entries.len() + 1,
                        format!(
                            "feature index {} exceeds the given number of features {nf}",
                            last + 1
                        ),
                    ));
                }
            }
            max_idx = max_idx.max(last + 1);
        }
        if want.map_or(true, |r| r.contains(&n_total)) {
            first_kept.get_or_insert(n_total);
            kept.push(row);
        }
        n_total += 1;
    }
    if n_total == 0 {
        return Err(DataError::invalid(source, "contains no data rows"));
    }
    let range = resolve_rows(source, want, n_total)?;
    let m = range.len();
    debug_assert_eq!(m, kept.len());
    let d = opts.n_features.unwrap_or(max_idx);
    let mut t = SparseTable { n: m, d, indptr: Vec::with_capacity(m + 1), labels: Some(Vec::with_capacity(m)), ..Default::default() };
    t.indptr.push(0);
    for row in kept {
        for (j, v) in row.entries {
            t.indices.push(j as u32);
            t.values.push(v);
        }
        t.indptr.push(t.values.len());
        t.labels.as_mut().unwrap().push(row.label);
    }
    Ok(t)
}

/// Reads a LIBSVM file as a sparse table (see [`parse_libsvm_sparse_bytes`]).
pub fn read_libsvm_sparse(path: &Path, opts: &LoadOptions) -> Result<SparseTable, DataError> {
    parse_libsvm_sparse_bytes(&read_bytes(path)?, path, opts)
}

/// Reads a LIBSVM file (see [`parse_libsvm_bytes`]).
pub fn read_libsvm(path: &Path, opts: &LoadOptions) -> Result<Table, DataError> {
    parse_libsvm_bytes(&read_bytes(path)?, path, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sparse_rows() {
        let src = b"# header comment\n+1 qid:3 1:0.5 3:2 # tail\n\n-1\n0 2:-1e3\n";
        let t = parse_libsvm_bytes(src, Path::new("a.svm"), &LoadOptions::default()).unwrap();
        assert_eq!((t.n, t.d), (3, 3));
        assert_eq!(t.labels, Some(vec![1., -1., 0.]));
        assert_eq!(t.row(0), vec![0.5, 0., 2.]);
        assert_eq!(t.row(1), vec![0., 0., 0.]);
        assert_eq!(t.row(2), vec![0., -1000., 0.]);
        let opts = LoadOptions {
            n_features: Some(5),
            ..Default::default()
        };
        assert_eq!(
            parse_libsvm_bytes(src, Path::new("a.svm"), &opts)
                .unwrap()
                .d,
            5
        );
        let opts = LoadOptions {
            n_features: Some(2),
            ..Default::default()
        };
        let e = parse_libsvm_bytes(src, Path::new("a.svm"), &opts).unwrap_err();
        assert!(matches!(e, DataError::Parse { line: 2, .. }), "{e}");
    }

    #[test]
    fn rejects_bad_lines() {
        let p = Path::new("bad.svm");
        let o = LoadOptions::default();
        for (src, line, col) in [
            (&b"1 1:1\n1 0:2\n"[..], 2, 2),
            (b"1 2:1 1:1\n", 1, 3),
            (b"1 2:1 2:1\n", 1, 3),
            (b"1 x:1\n", 1, 2),
            (b"1 1:y\n", 1, 2),
            (b"1 1\n", 1, 2),
            (b"abc 1:1\n", 1, 1),
        ] {
            match parse_libsvm_bytes(src, p, &o) {
                Err(DataError::Parse {
                    line: l, col: c, ..
                }) => assert_eq!((l, c), (line, col)),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            parse_libsvm_bytes(b"1 1:nan", p, &o),
            Err(DataError::NonFinite { .. })
        ));
        assert!(matches!(
            parse_libsvm_bytes(b"inf 1:1", p, &o),
            Err(DataError::NonFinite { .. })
        ));
        assert!(matches!(
            parse_libsvm_bytes(b"\n# only\n", p, &o),
            Err(DataError::Invalid { .. })
        ));
    }
}
