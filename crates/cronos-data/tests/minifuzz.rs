//! Deterministic "mini-fuzz": every parser is run on pseudo-random mutations
//! of valid inputs (bit flips, byte overwrites, truncations, insertions,
//! deletions, duplications) and must return `Ok` or `Err`, never panic.
//! The same entry points are driven by the cargo-fuzz targets in `fuzz/`.

mod common;

use common::*;
use cronos_data::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

const ITERATIONS: usize = 20_000;

/// xorshift64* — small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] =
    b"\x00\xff\x7f\x80\x01\x08\x1f\x8b0123456789-+.eE,;\t\n\r\" :#'()[]{}NaNinfTrueFalse";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => v.truncate(rng.below(len + 1)),
            3 => {
                let i = rng.below(len + 1);
                let k = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..k)
                    .map(|_| INTERESTING[rng.below(INTERESTING.len())])
                    .collect();
                v.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(16)).min(len);
                v.drain(i..j);
            }
            5 if len > 0 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(32)).min(len);
                let chunk = v[i..j].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            _ if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

/// Runs `parse` on ITERATIONS mutations of the seeds; fails on any panic.
fn fuzz(name: &str, seed: u64, seeds: &[Vec<u8>], parse: impl Fn(&[u8], &LoadOptions)) {
    let mut rng = Rng(seed);
    let mut oks = 0usize;
    for it in 0..ITERATIONS {
        let input = mutate(&mut rng, &seeds[it % seeds.len()]);
        let opts = LoadOptions {
            max_elements: 1 << 20,
            row_range: if it % 5 == 0 { Some(1..2) } else { None },
            ..Default::default()
        };
        let r = catch_unwind(AssertUnwindSafe(|| parse(&input, &opts)));
        assert!(
            r.is_ok(),
            "{name}: panic on iteration {it}, input {input:02x?}"
        );
        oks += 1;
    }
    assert_eq!(oks, ITERATIONS);
}

fn src() -> &'static Path {
    Path::new("fuzz.bin")
}

#[test]
fn idx_never_panics() {
    let img = idx(8, &[3, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    let f = idx(
        0x0D,
        &[2, 2],
        &[0x3f, 0x80, 0, 0, 0x40, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0],
    );
    let lab = idx(8, &[3], &[1, 2, 3]);
    let seeds = vec![gzip(&img), img, f, lab.clone(), gzip(&lab)];
    fuzz("idx", 0x1d1d_1d1d, &seeds, |b, o| {
        let _ = parse_idx_bytes(b, src(), o.row_range.as_ref(), o.max_elements);
        let _ = parse_idx_labels_bytes(b, src(), o.row_range.as_ref());
    });
}

#[test]
fn npy_never_panics() {
    let c = npy(
        1,
        "<f8",
        false,
        &[2, 3],
        &encode("<f8", &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    );
    let f = npy(
        2,
        ">i4",
        true,
        &[3, 2],
        &encode(">i4", &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    );
    let n = npy(3, "|u1", false, &[2, 1, 2], &[1, 2, 3, 4]);
    let l = npy(1, "|b1", false, &[3], &[0, 1, 1]);
    fuzz("npy", 0x4e50_5900, &[c, f, n, l], |b, o| {
        let _ = parse_npy_bytes(b, src(), o.row_range.as_ref(), o.max_elements);
        let _ = parse_npy_labels_bytes(b, src(), o.row_range.as_ref());
    });
}

#[test]
fn npz_never_panics() {
    let x = npy(
        1,
        "<f4",
        false,
        &[2, 2],
        &encode("<f4", &[1.0, 2.0, 3.0, 4.0]),
    );
    let y = npy(1, "<i8", false, &[2], &encode("<i8", &[0.0, 1.0]));
    let seeds = vec![
        zip(&[("x.npy", &x, true), ("y.npy", &y, false)]),
        zip(&[("X.npy", &x, false)]),
    ];
    fuzz("npz", 0x5a1b, &seeds, |b, o| {
        let _ = parse_npz_bytes(b, src(), o);
    });
}

#[test]
fn csv_never_panics() {
    let seeds: Vec<Vec<u8>> = vec![
        b"a,b,label\n1,2.5,0\n-3,4e2,1\n\n5,6,1\n".to_vec(),
        b"\"x\";\"y\"\n\"1\";\"2,5\"\r\n3;4\r\n".to_vec(),
        b"# c\n1\t2\t3\n4\t5\t6\n".to_vec(),
        b"1 2 3\n4 5 6\n7 8 9\n".to_vec(),
    ];
    fuzz("csv", 0xc5c5, &seeds, |b, o| {
        let _ = parse_csv_bytes(b, src(), o);
        let _ = parse_csv_labels_bytes(b, src(), o);
        let by_name = LoadOptions {
            label_column: Some(LabelColumn::Name("b".into())),
            ..o.clone()
        };
        let _ = parse_csv_bytes(b, src(), &by_name);
    });
}

#[test]
fn libsvm_never_panics() {
    let seeds: Vec<Vec<u8>> = vec![
        b"+1 1:0.5 3:2 # c\n-1 qid:3 2:1e-3\n0\n".to_vec(),
        b"1 10:1 20:2 30:3\n2 5:5\n".to_vec(),
    ];
    fuzz("libsvm", 0x5f5f, &seeds, |b, o| {
        let _ = parse_libsvm_bytes(b, src(), o);
        let fixed = LoadOptions {
            n_features: Some(16),
            ..o.clone()
        };
        let _ = parse_libsvm_bytes(b, src(), &fixed);
    });
}

#[test]
fn mutator_is_deterministic_and_varied() {
    let seed = b"hello, world".to_vec();
    let a: Vec<_> = {
        let mut r = Rng(7);
        (0..50).map(|_| mutate(&mut r, &seed)).collect()
    };
    let b: Vec<_> = {
        let mut r = Rng(7);
        (0..50).map(|_| mutate(&mut r, &seed)).collect()
    };
    assert_eq!(a, b);
    assert!(a.iter().filter(|m| **m != seed).count() > 40);
}
