//! NumPy `.npy` arrays (format versions 1, 2 and 3).
//!
//! The header is a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`; it is parsed
//! by the small literal parser below. 1-D arrays are labels (or one feature),
//! 2-D arrays are rows × features, N-D arrays are flattened to rows × rest in
//! C order. Supported dtypes: `f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1`, either
//! byte order.

use std::ops::Range;
use std::path::Path;

use crate::array::{Dtype, Kind, RawArray};
use crate::{read_bytes, DataError, Table, DEFAULT_MAX_ELEMENTS};

/// The magic string that starts every `.npy` file.
pub const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// A Python literal, as much as `.npy` headers need.
#[derive(Debug, Clone, PartialEq)]
enum Py {
    Str(String),
    Bool(bool),
    Int(usize),
    None,
    Seq(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

const MAX_DEPTH: usize = 16;

struct Lit<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lit<'_> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Py, String> {
        if depth > MAX_DEPTH {
            return Err("header nests too deeply".into());
        }
        match self.peek().ok_or("header ends unexpectedly")? {
            b'{' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        return Ok(Py::Dict(items));
                    }
                    let k = self.value(depth + 1)?;
                    if self.peek() != Some(b':') {
                        return Err(format!("expected ':' at byte {}", self.pos));
                    }
                    self.pos += 1;
                    let v = self.value(depth + 1)?;
                    items.push((k, v));
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {}
                        _ => return Err(format!("expected ',' or '}}' at byte {}", self.pos)),
                    }
                }
            }
            open @ (b'(' | b'[') => {
                let close = if open == b'(' { b')' } else { b']' };
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(Py::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => {
                            return Err(format!(
                                "expected ',' or '{}' at byte {}",
                                close as char, self.pos
                            ))
                        }
                    }
                }
            }
            q @ (b'\'' | b'"') => {
                self.pos += 1;
                let mut out = Vec::new();
                loop {
                    let c = *self
                        .s
                        .get(self.pos)
                        .ok_or("unterminated string in header")?;
                    self.pos += 1;
                    if c == q {
                        return Ok(Py::Str(String::from_utf8_lossy(&out).into_owned()));
                    }
                    if c == b'\\' {
                        let e = *self
                            .s
                            .get(self.pos)
                            .ok_or("unterminated string in header")?;
                        self.pos += 1;
                        out.push(e);
                    } else {
                        out.push(c);
                    }
                }
            }
            c if c.is_ascii_digit() => {
                let start = self.pos;
                while self.pos < self.s.len() && self.s[self.pos].is_ascii_digit() {
                    self.pos += 1;
                }
                let digits = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                if self.s.get(self.pos) == Some(&b'L') {
                    self.pos += 1; // Python 2 long suffix
                }
                digits
                    .parse()
                    .map(Py::Int)
                    .map_err(|_| format!("integer {digits} is too large"))
            }
            c if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.pos < self.s.len() && self.s[self.pos].is_ascii_alphanumeric() {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    b"True" => Ok(Py::Bool(true)),
                    b"False" => Ok(Py::Bool(false)),
                    b"None" => Ok(Py::None),
                    w => Err(format!(
                        "unexpected word {:?} in header",
                        String::from_utf8_lossy(w)
                    )),
                }
            }
            c => Err(format!(
                "unexpected character {:?} at byte {}",
                c as char, self.pos
            )),
        }
    }
}

/// Parses a dtype string such as `<f4`, `|u1`, `>i8`, `|b1`.
fn parse_descr(descr: &str) -> Option<Dtype> {
    let (big_endian, rest) = match descr.as_bytes().first()? {
        b'<' | b'=' | b'|' => (false, &descr[1..]),
        b'>' => (true, &descr[1..]),
        _ => (false, descr),
    };
    let kind = match rest.as_bytes().first()? {
        b'f' => Kind::Float,
        b'i' => Kind::Int,
        b'u' => Kind::Uint,
        b'b' | b'?' => Kind::Bool,
        _ => return None,
    };
    let size = if rest.len() == 1 && kind == Kind::Bool {
        1
    } else {
        rest[1..].parse().ok()?
    };
    let dt = Dtype {
        kind,
        size,
        big_endian,
    };
    dt.supported().then_some(dt)
}

/// A parsed `.npy` header: what the data that follows it must hold.
pub(crate) struct Header {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub fortran: bool,
    /// Bytes from the file's start to the first data byte.
    pub data_start: usize,
}

/// Validates `.npy` bytes and returns a view of the array.
fn parse<'a>(bytes: &'a [u8], source: &Path) -> Result<RawArray<'a>, DataError> {
    let h = parse_header(bytes, source)?;
    RawArray::new(source, h.shape, h.dtype, h.fortran, &bytes[h.data_start..])
}

/// Parses the magic, preamble and header dict at the start of `bytes` (which must hold at
/// least the whole header; the data may be absent).
pub(crate) fn parse_header(bytes: &[u8], source: &Path) -> Result<Header, DataError> {
    if !bytes.starts_with(NPY_MAGIC) {
        if NPY_MAGIC.starts_with(bytes) {
            return Err(DataError::truncated(
                source,
                "file ends inside the .npy magic",
            ));
        }
        return Err(DataError::BadMagic {
            path: source.to_path_buf(),
            msg: "not a .npy file: it does not start with \\x93NUMPY".into(),
        });
    }
    let (len_bytes, start): (usize, usize) = match bytes.get(6) {
        Some(1) => (2, 10),
        Some(2 | 3) => (4, 12),
        Some(v) => {
            return Err(DataError::invalid(
                source,
                format!("unsupported .npy format version {v}"),
            ))
        }
        None => {
            return Err(DataError::truncated(
                source,
                "file ends inside the .npy preamble",
            ))
        }
    };
    let Some(lb) = bytes.get(8..8 + len_bytes) else {
        return Err(DataError::truncated(
            source,
            "file ends inside the .npy preamble",
        ));
    };
    let hlen = lb.iter().rev().fold(0usize, |a, &b| (a << 8) | b as usize);
    let Some(header) = bytes.get(start..start.saturating_add(hlen)) else {
        return Err(DataError::truncated(
            source,
            format!("header of {hlen} bytes is cut short"),
        ));
    };
    let dict = Lit { s: header, pos: 0 }
        .value(0)
        .map_err(|m| DataError::invalid(source, format!("bad .npy header: {m}")))?;
    let Py::Dict(items) = dict else {
        return Err(DataError::invalid(source, "bad .npy header: not a dict"));
    };
    let get = |k: &str| {
        items
            .iter()
            .find(|(key, _)| *key == Py::Str(k.into()))
            .map(|(_, v)| v)
    };
    let descr = match get("descr") {
        Some(Py::Str(s)) => s.clone(),
        Some(other) => {
            return Err(DataError::UnsupportedDtype {
                path: source.to_path_buf(),
                dtype: format!("{other:?}"),
            })
        }
        None => return Err(DataError::invalid(source, "bad .npy header: no 'descr'")),
    };
    let dtype = parse_descr(&descr).ok_or_else(|| DataError::UnsupportedDtype {
        path: source.to_path_buf(),
        dtype: descr.clone(),
    })?;
    let fortran = match get("fortran_order") {
        Some(Py::Bool(b)) => *b,
        _ => {
            return Err(DataError::invalid(
                source,
                "bad .npy header: 'fortran_order' must be True or False",
            ))
        }
    };
    let shape = match get("shape") {
        Some(Py::Seq(dims)) => dims
            .iter()
            .map(|d| match d {
                Py::Int(v) => Ok(*v),
                _ => Err(DataError::invalid(
                    source,
                    "bad .npy header: 'shape' must hold integers",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(DataError::invalid(
                source,
                "bad .npy header: 'shape' must be a tuple",
            ))
        }
    };
    Ok(Header { shape, dtype, fortran, data_start: start + hlen })
}

/// Parses `.npy` bytes as features (rows × product of the other dimensions),
/// converting only rows in `rows`; refuses more than `max_elements` values.
pub fn parse_npy_bytes(
    bytes: &[u8],
    source: &Path,
    rows: Option<&Range<usize>>,
    max_elements: usize,
) -> Result<Table, DataError> {
    parse(bytes, source)?.to_table(source, rows, max_elements)
}

/// Parses `.npy` bytes of a 1-D array (or one column) as labels.
pub fn parse_npy_labels_bytes(
    bytes: &[u8],
    source: &Path,
    rows: Option<&Range<usize>>,
) -> Result<Vec<f64>, DataError> {
    parse(bytes, source)?.to_labels(source, rows)
}

/// Returns the shape of validated `.npy` bytes.
pub fn npy_shape(bytes: &[u8], source: &Path) -> Result<Vec<usize>, DataError> {
    Ok(parse(bytes, source)?.shape)
}

/// Reads a `.npy` features file (see [`parse_npy_bytes`]).
pub fn read_npy(path: &Path, rows: Option<&Range<usize>>) -> Result<Table, DataError> {
    parse_npy_bytes(&read_bytes(path)?, path, rows, DEFAULT_MAX_ELEMENTS)
}

/// Reads a `.npy` labels file (see [`parse_npy_labels_bytes`]).
pub fn read_npy_labels(path: &Path, rows: Option<&Range<usize>>) -> Result<Vec<f64>, DataError> {
    parse_npy_labels_bytes(&read_bytes(path)?, path, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_parser() {
        let mut l = Lit {
            s: b"{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4), }",
            pos: 0,
        };
        let v = l.value(0).unwrap();
        let Py::Dict(items) = v else { panic!() };
        assert_eq!(items[2].1, Py::Seq(vec![Py::Int(3), Py::Int(4)]));
        assert!(Lit {
            s: &[b'('; 100],
            pos: 0
        }
        .value(0)
        .is_err());
        assert!(Lit {
            s: b"{'a' 1}",
            pos: 0
        }
        .value(0)
        .is_err());
        assert!(Lit { s: b"'abc", pos: 0 }.value(0).is_err());
        assert!(Lit {
            s: b"99999999999999999999999999",
            pos: 0
        }
        .value(0)
        .is_err());
    }

    #[test]
    fn descrs() {
        assert_eq!(
            parse_descr("<f4"),
            Some(Dtype {
                kind: Kind::Float,
                size: 4,
                big_endian: false
            })
        );
        assert_eq!(
            parse_descr(">i2"),
            Some(Dtype {
                kind: Kind::Int,
                size: 2,
                big_endian: true
            })
        );
        assert_eq!(parse_descr("|b1").map(|d| d.kind), Some(Kind::Bool));
        assert_eq!(parse_descr("u1").map(|d| d.size), Some(1));
        for bad in [
            "<f2",
            "<c8",
            "|O",
            "<U3",
            "",
            "<",
            "<i3",
            "<f99999999999999999999",
        ] {
            assert_eq!(parse_descr(bad), None, "{bad}");
        }
    }
}
