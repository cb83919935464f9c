//! Too little memory is a clear error, never an abort: `cronos train` under a range of
//! address-space limits (`ulimit -v`) either trains or stops with exit 2 and one error line
//! that says memory is short and names the file, whichever allocation (reading the file,
//! the feature matrix, the solve) is the first not to fit.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cronos");

/// An `.npz` (stored) of `n × d` f32 features and 0/1 labels from a seeded generator.
fn write_npz(path: &Path, n: usize, d: usize) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opt = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut s = 7u64;
    let mut r = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let x: Vec<f32> = (0..n * d).map(|_| r()).collect();
    z.start_file("x.npy", opt).unwrap();
    z.write_all(&cronos_data::npy_header("<f4", &[n, d])).unwrap();
    x.iter().for_each(|v| z.write_all(&v.to_le_bytes()).unwrap());
    z.start_file("y.npy", opt).unwrap();
    z.write_all(&cronos_data::npy_header("<i8", &[n])).unwrap();
    (0..n).for_each(|i| z.write_all(&((x[i * d] > 0.0) as i64).to_le_bytes()).unwrap());
    z.finish().unwrap();
}

#[test]
fn every_address_space_limit_gives_a_model_or_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    write_npz(&dir.path().join("x.npz"), 6000, 1000); // 24 MB of features
    let mut refused = 0;
    for mb in [24, 48, 96, 192, 384, 768, 1536, 3072, 6144] {
        let cmd = format!(
            "ulimit -v {} && exec \"$0\" train --train x.npz --patterns 8 --max-iter 2 --threads 2 --json --quiet --force --out m.safetensors",
            mb * 1024
        );
        let o = Command::new("sh").args(["-c", &cmd, BIN]).current_dir(dir.path()).output().expect("run sh");
        let err = String::from_utf8_lossy(&o.stderr);
        if o.status.success() {
            continue;
        }
        refused += 1;
        assert_eq!(o.status.code(), Some(2), "limit {mb} MB: exit {:?} (an abort or a panic?): {err}", o.status);
        assert!(!err.contains("panicked") && !err.contains("memory allocation"), "limit {mb} MB: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "limit {mb} MB: want one line: {err}");
        assert!(lines[0].starts_with("error: x.npz") && lines[0].contains("memory"), "limit {mb} MB: {err}");
    }
    assert!(refused > 0, "24 MB of address space cannot hold 24 MB of features and a program");
}
