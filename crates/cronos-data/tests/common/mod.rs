//! Helpers shared by the integration tests: builders for raw file bytes.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// IDX bytes with the given type code, dims and (already big-endian) data.
pub fn idx(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

/// Gzip-compresses bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `.npy` bytes of the given format version with a hand-written header.
pub fn npy(version: u8, descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims = match shape {
        [one] => format!("{one},"),
        _ => shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let f = if fortran { "True" } else { "False" };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': ({dims}), }}");
    let pre = if version == 1 { 10 } else { 12 };
    while (pre + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.push(version);
    out.push(0);
    if version == 1 {
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Encodes integer-valued `vals` in the given numpy dtype.
pub fn encode(descr: &str, vals: &[f64]) -> Vec<u8> {
    let mut out = Vec::new();
    for &v in vals {
        let b: Vec<u8> = match descr {
            "<f4" => (v as f32).to_le_bytes().to_vec(),
            ">f4" => (v as f32).to_be_bytes().to_vec(),
            "<f8" => v.to_le_bytes().to_vec(),
            ">f8" => v.to_be_bytes().to_vec(),
            "|u1" => vec![v as u8],
            "|i1" => vec![v as i8 as u8],
            "|b1" => vec![(v != 0.0) as u8],
            "<i2" => (v as i16).to_le_bytes().to_vec(),
            ">i2" => (v as i16).to_be_bytes().to_vec(),
            "<i4" => (v as i32).to_le_bytes().to_vec(),
            ">i4" => (v as i32).to_be_bytes().to_vec(),
            "<i8" => (v as i64).to_le_bytes().to_vec(),
            "<u2" => (v as u16).to_le_bytes().to_vec(),
            "<u4" => (v as u32).to_le_bytes().to_vec(),
            "<u8" => (v as u64).to_le_bytes().to_vec(),
            ">u8" => (v as u64).to_be_bytes().to_vec(),
            other => panic!("no encoder for {other}"),
        };
        out.extend(b);
    }
    out
}

/// A zip archive of (entry name, bytes, deflate?) items.
pub fn zip(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes, deflate) in entries {
        let method = if *deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Writes bytes to `dir/name` and returns the path.
pub fn put(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}
