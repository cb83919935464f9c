//! Delimited text: CSV, TSV, `;`-separated and whitespace-separated files.
//!
//! * The delimiter is sniffed from the first data line: the most frequent of
//!   `,` `;` tab outside quotes; if none occurs, runs of whitespace.
//! * The first line is a header if any of its fields is not a number.
//! * Fields may be quoted with `"` (`""` is an escaped quote); quoted fields
//!   cannot span lines. Blank lines and lines starting with `#` are skipped.
//! * Every row must have as many fields as the first; every cell must be a
//!   finite number.
//! * With a row range, rows outside it are counted but not parsed.

use std::borrow::Cow;
use std::path::Path;

use crate::table::{dense_len, resolve_rows};
use crate::{read_bytes, DataError, LabelColumn, LoadOptions, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delim {
    Char(char),
    Whitespace,
}

/// Non-blank, non-comment lines as (1-based line number, text without EOL).
fn data_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            let t = l.trim_ascii_start();
            (!t.is_empty() && t[0] != b'#').then_some((i + 1, l))
        })
}

fn sniff(line: &str) -> Delim {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    if counts[best] > 0 {
        Delim::Char([',', ';', '\t'][best])
    } else if line.split_whitespace().nth(1).is_some() {
        Delim::Whitespace
    } else {
        Delim::Char(',')
    }
}

/// Splits one line into trimmed, unquoted fields; `Err((col, msg))` on a bad quote.
fn split(line: &str, delim: Delim) -> Result<Vec<Cow<'_, str>>, (usize, String)> {
    let Delim::Char(d) = delim else {
        return Ok(line.split_whitespace().map(Cow::Borrowed).collect());
    };
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        let t = rest.trim_start_matches(|c: char| c != d && (c == ' ' || c == '\t'));
        if let Some(q) = t.strip_prefix('"') {
            let mut field = String::new();
            let mut chars = q.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err((out.len() + 1, "unterminated quoted field".into())),
                    Some((i, '"')) => {
                        if q[i + 1..].starts_with('"') {
                            field.push('"');
                            chars.next();
                        } else {
                            break i + 1;
                        }
                    }
                    Some((_, c)) => field.push(c),
                }
            };
            out.push(Cow::Owned(field));
            let after = q[end..].trim_start_matches(|c: char| c != d && c.is_whitespace());
            match after.strip_prefix(d) {
                Some(r) => rest = r,
                None if after.is_empty() => return Ok(out),
                None => return Err((out.len(), "unexpected text after a closing quote".into())),
            }
        } else {
            match t.split_once(d) {
                Some((f, r)) => {
                    out.push(Cow::Borrowed(f.trim()));
                    rest = r;
                }
                None => {
                    out.push(Cow::Borrowed(t.trim()));
                    return Ok(out);
                }
            }
        }
    }
}

fn utf8<'a>(source: &Path, line: usize, bytes: &'a [u8]) -> Result<&'a str, DataError> {
    std::str::from_utf8(bytes).map_err(|e| {
        DataError::parse(
            source,
            line,
            1,
            format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1),
        )
    })
}

/// Parses delimited text into a table (see the module docs). Uses
/// `opts.label_column` (default: last column), `opts.row_range` and
/// `opts.max_elements`; other options are ignored.
pub fn parse_csv_bytes(
    bytes: &[u8],
    source: &Path,
    opts: &LoadOptions,
) -> Result<Table, DataError> {
    let label = opts.label_column.clone().unwrap_or_default();
    let t = parse_inner(bytes, source, &label, opts)?;
    if t.d == 0 {
        return Err(DataError::shape(
            source,
            "no feature columns (only a label column)",
        ));
    }
    Ok(t)
}

/// Parses delimited text holding labels: the label column (default: the
/// last) of each row in `opts.row_range`.
pub fn parse_csv_labels_bytes(
    bytes: &[u8],
    source: &Path,
    opts: &LoadOptions,
) -> Result<Vec<f64>, DataError> {
    let label = match opts.label_column.clone().unwrap_or_default() {
        LabelColumn::None => LabelColumn::Last,
        l => l,
    };
    let t = parse_inner(
        bytes,
        source,
        &label,
        &LoadOptions {
            max_elements: usize::MAX,
            ..opts.clone()
        },
    )?;
    Ok(t.labels.unwrap_or_default())
}

fn parse_inner(
    bytes: &[u8],
    source: &Path,
    label: &LabelColumn,
    opts: &LoadOptions,
) -> Result<Table, DataError> {
    let mut lines = data_lines(bytes);
    let Some((first_no, first)) = lines.next() else {
        return Err(DataError::invalid(source, "contains no data rows"));
    };
    let first = utf8(source, first_no, first)?;
    let delim = sniff(first);
    let fields = split(first, delim).map_err(|(c, m)| DataError::parse(source, first_no, c, m))?;
    let ncols = fields.len();
    let header = fields.iter().any(|f| f.trim().parse::<f64>().is_err());
    let names: Option<Vec<String>> = header.then(|| fields.iter().map(|f| f.to_string()).collect());
    let label_idx = match label {
        LabelColumn::None => None,
        LabelColumn::Last => Some(ncols - 1),
        LabelColumn::Index(k) if *k < ncols => Some(*k),
        LabelColumn::Index(k) => {
            return Err(DataError::shape(
                source,
                format!("label column {k} is out of range for {ncols} columns"),
            ))
        }
        LabelColumn::Name(name) => match names
            .as_ref()
            .and_then(|n| n.iter().position(|h| h == name))
        {
            Some(k) => Some(k),
            None if header => {
                return Err(DataError::invalid(
                    source,
                    format!(
                        "no column named {name:?} (columns: {})",
                        names.unwrap_or_default().join(", ")
                    ),
                ))
            }
            None => {
                return Err(DataError::invalid(
                    source,
                    format!("no header line, so no column named {name:?}"),
                ))
            }
        },
    };
    let d = ncols - label_idx.is_some() as usize;

    // Pass 1: count data rows.
    let n_total = data_lines(bytes).count() - header as usize;
    let range = resolve_rows(source, opts.row_range.as_ref(), n_total)?;
    let m = range.len();
    let len = dense_len(source, m, d, opts.max_elements)?;
    let mut x = vec![0f32; len];
    let mut labels = label_idx.map(|_| Vec::with_capacity(m));

    // Pass 2: parse the selected rows.
    let rows = data_lines(bytes)
        .skip(header as usize)
        .enumerate()
        .skip(range.start)
        .take(m);
    for (r, (line_no, raw)) in rows {
        let line = utf8(source, line_no, raw)?;
        let fields =
            split(line, delim).map_err(|(c, msg)| DataError::parse(source, line_no, c, msg))?;
        if fields.len() != ncols {
            return Err(DataError::parse(
                source,
                line_no,
                fields.len().min(ncols) + 1,
                format!(
                    "expected {ncols} fields (as in line {first_no}), found {}",
                    fields.len()
                ),
            ));
        }
        let mut j = 0;
        for (c, f) in fields.iter().enumerate() {
            let v: f64 = f.trim().parse().map_err(|_| {
                DataError::parse(
                    source,
                    line_no,
                    c + 1,
                    format!("cannot parse {f:?} as a number"),
                )
            })?;
            let non_finite = || DataError::NonFinite {
                path: source.to_path_buf(),
                row: r,
                col: c,
                line: Some(line_no),
                value: f.to_string(),
            };
            if Some(c) == label_idx {
                if !v.is_finite() {
                    return Err(non_finite());
                }
                if let Some(l) = labels.as_mut() {
                    l.push(v);
                }
            } else {
                let v32 = v as f32;
                if !v32.is_finite() {
                    return Err(non_finite());
                }
                x[j * m + (r - range.start)] = v32;
                j += 1;
            }
        }
    }
    let feature_names = names.map(|mut n| {
        if let Some(k) = label_idx {
            n.remove(k);
        }
        n
    });
    Ok(Table {
        x,
        n: m,
        d,
        labels,
        feature_names,
    })
}

/// Reads a delimited text file (see [`parse_csv_bytes`]).
pub fn read_csv(path: &Path, opts: &LoadOptions) -> Result<Table, DataError> {
    parse_csv_bytes(&read_bytes(path)?, path, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_and_splitting() {
        assert_eq!(sniff("a,b,c"), Delim::Char(','));
        assert_eq!(sniff("a;b;c"), Delim::Char(';'));
        assert_eq!(sniff("1\t2\t3"), Delim::Char('\t'));
        assert_eq!(sniff("\"a,b\";c"), Delim::Char(';'));
        assert_eq!(sniff("1 2  3"), Delim::Whitespace);
        assert_eq!(sniff("42"), Delim::Char(','));
        let f = split(r#" 1 , "x, ""y""" ,3"#, Delim::Char(',')).unwrap();
        assert_eq!(f, vec!["1", "x, \"y\"", "3"]);
        assert_eq!(
            split("1\t\t2", Delim::Char('\t')).unwrap(),
            vec!["1", "", "2"]
        );
        assert_eq!(split("a,", Delim::Char(',')).unwrap(), vec!["a", ""]);
        assert!(split("\"abc", Delim::Char(',')).is_err());
        assert!(split("\"a\"b,c", Delim::Char(',')).is_err());
        assert_eq!(split(" 1  2 ", Delim::Whitespace).unwrap(), vec!["1", "2"]);
    }
}
