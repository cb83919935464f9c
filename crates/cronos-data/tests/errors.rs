//! Every kind of bad input gives the right typed error, naming the file.

mod common;

use common::*;
use cronos_data::*;
use std::path::{Path, PathBuf};

/// Loads `name` (written with `bytes`) and returns the error, checking that
/// its one-line message names the file.
fn err_of(name: &str, bytes: &[u8], opts: &LoadOptions) -> DataError {
    let dir = tempfile::tempdir().unwrap();
    let p = put(dir.path(), name, bytes);
    let e = load(&p, opts).expect_err(name);
    check_msg(&e, name);
    e
}

fn check_msg(e: &DataError, name: &str) {
    let msg = e.to_string();
    assert!(msg.contains(name), "message {msg:?} does not name {name}");
    assert!(!msg.contains('\n'), "message {msg:?} is not one line");
}

fn opts() -> LoadOptions {
    LoadOptions::default()
}

#[test]
fn idx_errors() {
    let e = err_of("bad-ubyte", &[1, 2, 8, 1, 0, 0, 0, 1, 5], &opts());
    assert!(matches!(e, DataError::BadMagic { .. }), "{e}");
    let good = idx(8, &[4, 2, 2], &[7; 16]);
    let gz = gzip(&good);
    let e = err_of("trunc-gz-ubyte.gz", &gz[..gz.len() / 2], &opts());
    assert!(matches!(e, DataError::Truncated { .. }), "{e}");
    let e = err_of("trunc-body-ubyte", &good[..good.len() - 3], &opts());
    assert!(matches!(e, DataError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("found 13"), "{e}");
    let e = err_of(
        "overflow-ubyte",
        &idx(8, &[u32::MAX, u32::MAX, u32::MAX], &[]),
        &opts(),
    );
    assert!(matches!(e, DataError::Shape { .. }), "{e}");
    let e = err_of("odd-ubyte", &idx(0x0A, &[1], &[0]), &opts());
    assert!(matches!(e, DataError::UnsupportedDtype { .. }), "{e}");
}

#[test]
fn idx_label_count_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        "train-images-idx3-ubyte",
        &idx(8, &[3, 1, 2], &[0; 6]),
    );
    put(
        dir.path(),
        "train-labels-idx1-ubyte.gz",
        &gzip(&idx(8, &[2], &[1, 2])),
    );
    let e = load_idx_dir(dir.path(), Split::Train).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::Mismatch {
                labels: 2,
                rows: 3,
                ..
            }
        ),
        "{e}"
    );
    check_msg(&e, "train-labels-idx1-ubyte.gz");
    check_msg(&e, "train-images-idx3-ubyte");
    // Also through `load` with the sibling labels, even for a row range.
    let o = LoadOptions {
        row_range: Some(0..1),
        ..opts()
    };
    let e = load(&dir.path().join("train-images-idx3-ubyte"), &o).unwrap_err();
    assert!(matches!(e, DataError::Mismatch { .. }), "{e}");
    // Missing split.
    let e = load_idx_dir(dir.path(), Split::Test).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e}");
    check_msg(&e, "t10k-images-idx3-ubyte");
    let e = load_idx_dir(&dir.path().join("nope"), Split::Test).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e}");
}

#[test]
fn labels_path_mismatch_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let x = put(dir.path(), "x.csv", b"1,2\n3,4\n");
    let y = put(
        dir.path(),
        "y.npy",
        &npy(1, "<f8", false, &[3], &encode("<f8", &[1.0, 2.0, 3.0])),
    );
    let o = LoadOptions {
        labels_path: Some(y),
        ..opts()
    };
    let e = load(&x, &o).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::Mismatch {
                labels: 3,
                rows: 2,
                ..
            }
        ),
        "{e}"
    );
    check_msg(&e, "y.npy");
    check_msg(&e, "x.csv");
    let e = load(&dir.path().join("missing.csv"), &opts()).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e}");
    check_msg(&e, "missing.csv");
    let e = load(&dir.path().join("x.bin"), &opts()).unwrap_err();
    assert!(matches!(e, DataError::UndetectedFormat { .. }), "{e}");
}

#[test]
fn csv_errors() {
    let e = err_of("nan.csv", b"a,b,y\n1,2,0\n3,nan,1\n", &opts());
    assert!(
        matches!(
            e,
            DataError::NonFinite {
                row: 1,
                col: 1,
                line: Some(3),
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("line 3, column 2"), "{e}");
    let e = err_of("inf.csv", b"1,2,0\n3,1e39,1\n", &opts());
    assert!(
        matches!(e, DataError::NonFinite { line: Some(2), .. }),
        "{e}"
    );
    let e = err_of("inflabel.csv", b"1,2,-inf\n", &opts());
    assert!(matches!(e, DataError::NonFinite { col: 2, .. }), "{e}");
    let e = err_of("ragged.csv", b"1,2,3\n\n4,5\n", &opts());
    assert!(matches!(e, DataError::Parse { line: 3, .. }), "{e}");
    let e = err_of("ragged2.csv", b"1,2,3\n4,5,6,7\n", &opts());
    assert!(
        matches!(
            e,
            DataError::Parse {
                line: 2,
                col: 4,
                ..
            }
        ),
        "{e}"
    );
    let e = err_of("train.csv", b"x,y,z\n1,2,3\n4,5,abc\n", &opts());
    assert_eq!(
        e.to_string(),
        format!(
            "{}: line 3, column 3: cannot parse \"abc\" as a number",
            e.path().unwrap().display()
        )
    );
    let e = err_of("quote.csv", b"1,\"2,3\n", &opts());
    assert!(matches!(e, DataError::Parse { line: 1, .. }), "{e}");
    let e = err_of("empty.csv", b"\n\n# nothing\n", &opts());
    assert!(matches!(e, DataError::Invalid { .. }), "{e}");
    let e = err_of("onecol.csv", b"1\n2\n", &opts());
    assert!(matches!(e, DataError::Shape { .. }), "{e}");
    let e = err_of("utf8.csv", b"1,2\n\xff,3\n", &opts());
    assert!(matches!(e, DataError::Parse { line: 2, .. }), "{e}");
    let by_name = LoadOptions {
        label_column: Some(LabelColumn::Name("q".into())),
        ..opts()
    };
    let e = err_of("names.csv", b"a,b\n1,2\n", &by_name);
    assert!(
        matches!(e, DataError::Invalid { .. }) && e.to_string().contains("a, b"),
        "{e}"
    );
    let by_idx = LoadOptions {
        label_column: Some(LabelColumn::Index(5)),
        ..opts()
    };
    let e = err_of("index.csv", b"1,2\n", &by_idx);
    assert!(matches!(e, DataError::Shape { .. }), "{e}");
}

#[test]
fn libsvm_errors() {
    let e = err_of("bad.svm", b"1 1:2 3:4\n-1 2:x\n", &opts());
    assert!(
        matches!(
            e,
            DataError::Parse {
                line: 2,
                col: 2,
                ..
            }
        ),
        "{e}"
    );
    let e = err_of("order.svm", b"1 3:2 2:4\n", &opts());
    assert!(
        matches!(
            e,
            DataError::Parse {
                line: 1,
                col: 3,
                ..
            }
        ),
        "{e}"
    );
    let e = err_of("token.libsvm", b"1 1:2 junk\n", &opts());
    assert!(matches!(e, DataError::Parse { .. }), "{e}");
    let e = err_of("nan.svm", b"1 1:NaN\n", &opts());
    assert!(matches!(e, DataError::NonFinite { .. }), "{e}");
    let big = LoadOptions {
        max_elements: 1000,
        ..opts()
    };
    let e = err_of("huge.svm", b"1 4000000000:1\n", &big);
    assert!(matches!(e, DataError::Shape { .. }), "{e}");
}

#[test]
fn npy_and_npz_errors() {
    let x = npy(
        1,
        "<f4",
        false,
        &[2, 2],
        &encode("<f4", &[1.0, 2.0, 3.0, 4.0]),
    );
    let e = err_of("magic.npy", b"\x93NUMPX\x01\x00", &opts());
    assert!(matches!(e, DataError::BadMagic { .. }), "{e}");
    let e = err_of("short.npy", &x[..x.len() - 1], &opts());
    assert!(matches!(e, DataError::Truncated { .. }), "{e}");
    let e = err_of("header.npy", &x[..40], &opts());
    assert!(matches!(e, DataError::Truncated { .. }), "{e}");
    let e = err_of("c8.npy", &npy(1, "<c8", false, &[1], &[0; 8]), &opts());
    assert!(matches!(e, DataError::UnsupportedDtype { .. }), "{e}");
    let e = err_of(
        "nan.npy",
        &npy(1, "<f8", false, &[1, 2], &encode("<f8", &[0.0, f64::NAN])),
        &opts(),
    );
    assert!(
        matches!(
            e,
            DataError::NonFinite {
                row: 0,
                col: 1,
                line: None,
                ..
            }
        ),
        "{e}"
    );
    let e = err_of(
        "big.npy",
        &npy(1, "<f8", false, &[1, 1], &encode("<f8", &[1e300])),
        &opts(),
    );
    assert!(matches!(e, DataError::NonFinite { .. }), "{e}");
    let mut garbled = x.clone();
    garbled[12] = b'[';
    let e = err_of("garbled.npy", &garbled, &opts());
    assert!(matches!(e, DataError::Invalid { .. }), "{e}");

    let y = npy(1, "<f8", false, &[3], &encode("<f8", &[1.0, 2.0, 3.0]));
    let e = err_of(
        "missing.npz",
        &zip(&[("a.npy", &x, true), ("b.npy", &y, false)]),
        &opts(),
    );
    match &e {
        DataError::MissingArray { available, .. } => {
            assert_eq!(available, &vec!["a".to_string(), "b".to_string()])
        }
        _ => panic!("{e}"),
    }
    assert!(e.to_string().contains("available: a, b"), "{e}");
    let e = err_of(
        "count.npz",
        &zip(&[("x.npy", &x, true), ("y.npy", &y, false)]),
        &opts(),
    );
    assert!(
        matches!(
            e,
            DataError::Mismatch {
                labels: 3,
                rows: 2,
                ..
            }
        ),
        "{e}"
    );
    let e = err_of("inner.npz", &zip(&[("x.npy", &x[..30], true)]), &opts());
    assert!(matches!(e, DataError::Truncated { .. }), "{e}");
    check_msg(&e, "x.npy");
    let e = err_of("notzip.npz", b"hello world", &opts());
    assert!(matches!(e, DataError::BadMagic { .. }), "{e}");
    let z = zip(&[("x.npy", &x, true)]);
    let e = err_of("cut.npz", &z[..z.len() - 10], &opts());
    assert!(matches!(e, DataError::Invalid { .. }), "{e}");
}

#[test]
fn atomic_write_refuses_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let p: PathBuf = dir.path().join("out.npy");
    write_npy_f64(&p, &[1.0], &[1], false).unwrap();
    let e = write_npy_f64(&p, &[2.0], &[1], false).unwrap_err();
    assert!(matches!(e, DataError::Exists { .. }), "{e}");
    check_msg(&e, "out.npy");
    assert_eq!(read_npy_labels(&p, None).unwrap(), vec![1.0]);
    write_npy_f64(&p, &[2.0], &[1], true).unwrap();
    assert_eq!(read_npy_labels(&p, None).unwrap(), vec![2.0]);
    let e = write_csv(&p, None, &[1.0], 1, false).unwrap_err();
    assert!(matches!(e, DataError::Exists { .. }), "{e}");

    // A failing writer leaves neither the target nor a temporary file.
    let q = dir.path().join("fail.csv");
    let e = atomic_write(&q, false, |w| {
        w.write_all(b"partial")?;
        Err(std::io::Error::other("boom"))
    })
    .unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e}");
    check_msg(&e, "fail.csv");
    assert!(!q.exists());
    // Also when forcing over an existing file: the old content survives.
    let e = atomic_write(&p, true, |_| Err(std::io::Error::other("boom")));
    assert!(e.is_err());
    assert_eq!(read_npy_labels(&p, None).unwrap(), vec![2.0]);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.npy")]);
    // Missing directory.
    let e = write_npy_i64(&dir.path().join("no/such/dir.npy"), &[1], &[1], false).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e}");
    let _ = Path::new("");
}
