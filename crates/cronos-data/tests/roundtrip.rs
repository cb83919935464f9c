//! Write small files in every format, read them back, compare exactly.

mod common;

use common::*;
use cronos_data::*;
use std::path::Path;

/// The 3×4 matrix used throughout: value(i, j) = 4i + j (+ offset).
fn val(i: usize, j: usize) -> f64 {
    (4 * i + j) as f64
}

fn c_order(n: usize, d: usize) -> Vec<f64> {
    (0..n)
        .flat_map(|i| (0..d).map(move |j| val(i, j)))
        .collect()
}

fn f_order(n: usize, d: usize) -> Vec<f64> {
    (0..d)
        .flat_map(|j| (0..n).map(move |i| val(i, j)))
        .collect()
}

fn assert_matrix(t: &Table, n: usize, d: usize, f: impl Fn(usize, usize) -> f64) {
    assert_eq!((t.n, t.d, t.x.len()), (n, d, n * d));
    for i in 0..n {
        for j in 0..d {
            assert_eq!(t.get(i, j) as f64, f(i, j), "at ({i}, {j})");
        }
    }
}

#[test]
fn idx_raw_and_gzip_directory() {
    let dir = tempfile::tempdir().unwrap();
    // 5 images of 3×2 pixels; pixel value = 10*i + k.
    let px: Vec<u8> = (0..5)
        .flat_map(|i| (0..6).map(move |k| (10 * i + k) as u8))
        .collect();
    let labels = [3u8, 1, 4, 1, 5];
    put(
        dir.path(),
        "train-images-idx3-ubyte.gz",
        &gzip(&idx(8, &[5, 3, 2], &px)),
    );
    put(
        dir.path(),
        "train-labels-idx1-ubyte",
        &idx(8, &[5], &labels),
    );
    put(
        dir.path(),
        "t10k-images-idx3-ubyte",
        &idx(8, &[2, 3, 2], &px[..12]),
    );
    put(
        dir.path(),
        "t10k-labels-idx1-ubyte.gz",
        &gzip(&idx(8, &[2], &labels[..2])),
    );

    let t = load_idx_dir(dir.path(), Split::Train).unwrap();
    assert_matrix(&t, 5, 6, |i, k| (10 * i + k) as f64);
    assert_eq!(t.labels, Some(vec![3., 1., 4., 1., 5.]));
    let t = load_idx_dir(dir.path(), Split::Test).unwrap();
    assert_matrix(&t, 2, 6, |i, k| (10 * i + k) as f64);
    assert_eq!(t.labels, Some(vec![3., 1.]));

    // `load` on the images file finds the sibling labels; on the dir, the train split.
    let t2 = load(
        &dir.path().join("train-images-idx3-ubyte.gz"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(
        t2.fingerprint(),
        load_idx_dir(dir.path(), Split::Train)
            .unwrap()
            .fingerprint()
    );
    let t3 = load(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(t3, t2);
    // Labels file on its own.
    let l = read_labels(&dir.path().join("t10k-labels-idx1-ubyte.gz"), None, None).unwrap();
    assert_eq!(l, vec![3., 1.]);
}

#[test]
fn idx_other_types() {
    let p = Path::new("x.idx");
    let vals: Vec<f64> = vec![-2.0, 0.5, 1e6, -7.25];
    let f64be: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
    let t = parse_idx_bytes(&gzip(&idx(0x0E, &[2, 2], &f64be)), p, None, 100).unwrap();
    assert_matrix(&t, 2, 2, |i, j| vals[2 * i + j]);
    let i16be: Vec<u8> = [-300i16, 7].iter().flat_map(|v| v.to_be_bytes()).collect();
    let t = parse_idx_bytes(&idx(0x0B, &[2], &i16be), p, None, 100).unwrap();
    assert_matrix(&t, 2, 1, |i, _| [-300.0, 7.0][i]);
}

const DTYPES: [&str; 17] = [
    "<f4", ">f4", "<f8", ">f8", "|u1", "|i1", "|b1", "<i2", ">i2", "<i4", ">i4", "<i8", "<u2",
    "<u4", "<u8", ">u8", "<i8",
];

#[test]
fn npy_dtypes_c_and_fortran_order() {
    let (n, d) = (3, 4);
    for descr in DTYPES {
        let expect = |i, j| {
            if descr == "|b1" {
                (val(i, j) != 0.0) as u8 as f64
            } else {
                val(i, j)
            }
        };
        for version in [1, 2, 3] {
            let c = npy(
                version,
                descr,
                false,
                &[n, d],
                &encode(descr, &c_order(n, d)),
            );
            let t = parse_npy_bytes(&c, Path::new("c.npy"), None, 1000).unwrap();
            assert_matrix(&t, n, d, expect);
            let f = npy(
                version,
                descr,
                true,
                &[n, d],
                &encode(descr, &f_order(n, d)),
            );
            let t = parse_npy_bytes(&f, Path::new("f.npy"), None, 1000).unwrap();
            assert_matrix(&t, n, d, expect);
        }
    }
}

#[test]
fn npy_negative_values_and_labels() {
    let vals = [-1.0, -128.0, 127.0, 0.0];
    for descr in ["|i1", "<i2", ">i4", "<i8", "<f4", ">f8"] {
        let b = npy(1, descr, false, &[4], &encode(descr, &vals));
        assert_eq!(
            parse_npy_labels_bytes(&b, Path::new("y.npy"), None).unwrap(),
            vals.to_vec()
        );
        // A 1-D array as features is one column.
        let t = parse_npy_bytes(&b, Path::new("y.npy"), None, 100).unwrap();
        assert_matrix(&t, 4, 1, |i, _| vals[i]);
    }
    // A (n, 1) column vector is accepted as labels too.
    let b = npy(1, "<f8", false, &[2, 1], &encode("<f8", &[5.0, 6.0]));
    assert_eq!(
        parse_npy_labels_bytes(&b, Path::new("y.npy"), None).unwrap(),
        vec![5.0, 6.0]
    );
}

#[test]
fn npy_nd_is_flattened_like_numpy_reshape() {
    // Shape (2, 2, 3): element (i, a, b) = 100i + 10a + b; features k = 3a + b.
    let v = |i: usize, a: usize, b: usize| (100 * i + 10 * a + b) as f64;
    let c: Vec<f64> = (0..2)
        .flat_map(|i| (0..2).flat_map(move |a| (0..3).map(move |b| v(i, a, b))))
        .collect();
    let f: Vec<f64> = (0..3)
        .flat_map(|b| (0..2).flat_map(move |a| (0..2).map(move |i| v(i, a, b))))
        .collect();
    for (fortran, data) in [(false, c), (true, f)] {
        let bytes = npy(1, "<f8", fortran, &[2, 2, 3], &encode("<f8", &data));
        let t = parse_npy_bytes(&bytes, Path::new("a.npy"), None, 100).unwrap();
        assert_matrix(&t, 2, 6, |i, k| v(i, k / 3, k % 3));
    }
}

#[test]
fn npy_writers_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w.npy");
    let data: Vec<f64> = (0..6).map(|k| k as f64 * 0.1 - 0.2).collect();
    write_npy_f64(&p, &data, &[2, 3], false).unwrap();
    let t = read_npy(&p, None).unwrap();
    assert_matrix(&t, 2, 3, |i, j| data[3 * i + j] as f32 as f64);
    write_npy_i64(&p, &[-5, 0, 1 << 40], &[3], true).unwrap();
    assert_eq!(
        read_npy_labels(&p, None).unwrap(),
        vec![-5.0, 0.0, (1u64 << 40) as f64]
    );
    write_npy_f32(&p, &[1.5, -2.5], &[2, 1], true).unwrap();
    assert_matrix(&read_npy(&p, None).unwrap(), 2, 1, |i, _| [1.5, -2.5][i]);
    write_npy_f64(&p, &[7.0], &[], true).unwrap();
    assert_matrix(&read_npy(&p, None).unwrap(), 1, 1, |_, _| 7.0);
    assert!(matches!(
        write_npy_f64(&p, &[1.0, 2.0], &[3], true),
        Err(DataError::Shape { .. })
    ));
}

#[test]
fn npz_archives() {
    let dir = tempfile::tempdir().unwrap();
    let x = npy(1, "<f4", false, &[3, 4], &encode("<f4", &c_order(3, 4)));
    let xf = npy(1, "<f8", true, &[3, 4], &encode("<f8", &f_order(3, 4)));
    let y = npy(1, "<i8", false, &[3], &encode("<i8", &[0.0, 1.0, 2.0]));
    for (xn, yn, xb, deflate) in [
        ("x.npy", "y.npy", &x, true),
        ("X.npy", "Y.npy", &xf, false),
        ("features.npy", "labels.npy", &x, true),
        ("data.npy", "target.npy", &xf, false),
    ] {
        let p = put(
            dir.path(),
            "a.npz",
            &zip(&[
                ("other.npy", &y, false),
                (xn, xb, deflate),
                (yn, &y, deflate),
            ]),
        );
        let t = load(&p, &LoadOptions::default()).unwrap();
        assert_matrix(&t, 3, 4, val);
        assert_eq!(t.labels, Some(vec![0.0, 1.0, 2.0]), "{xn}");
        assert_eq!(
            read_labels(&p, None, Some(&(1..3))).unwrap(),
            vec![1.0, 2.0]
        );
    }
    // Labels are optional.
    let p = put(dir.path(), "b.npz", &zip(&[("x.npy", &x, true)]));
    let t = load(&p, &LoadOptions::default()).unwrap();
    assert_eq!(t.labels, None);
    assert_eq!(
        npz_array_names(&std::fs::read(&p).unwrap(), &p).unwrap(),
        vec!["x"]
    );
}

#[test]
fn separate_labels_and_label_columns_in_binary_formats() {
    let dir = tempfile::tempdir().unwrap();
    let x = put(
        dir.path(),
        "x.npy",
        &npy(1, "<f8", false, &[3, 4], &encode("<f8", &c_order(3, 4))),
    );
    let y = put(dir.path(), "y.txt", b"7\n8\n9\n");
    let o = LoadOptions {
        labels_path: Some(y.clone()),
        ..Default::default()
    };
    let t = load(&x, &o).unwrap();
    assert_eq!((t.d, t.labels.clone()), (4, Some(vec![7.0, 8.0, 9.0])));
    let o = LoadOptions {
        labels_path: Some(y),
        row_range: Some(1..3),
        ..Default::default()
    };
    assert_eq!(load(&x, &o).unwrap().labels, Some(vec![8.0, 9.0]));
    let o = LoadOptions {
        label_column: Some(LabelColumn::Last),
        ..Default::default()
    };
    let t = load(&x, &o).unwrap();
    assert_eq!((t.d, t.labels.clone()), (3, Some(vec![3.0, 7.0, 11.0])));
    let o = LoadOptions {
        label_column: Some(LabelColumn::Index(0)),
        ..Default::default()
    };
    assert_eq!(load(&x, &o).unwrap().labels, Some(vec![0.0, 4.0, 8.0]));
}

#[test]
fn row_range_matches_slicing_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (7, 3);
    let rows = c_order(n, d);
    let labels: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
    let mut csv = String::from("a,b,c,y\n");
    let mut svm = String::new();
    for (i, label) in labels.iter().enumerate() {
        let r: Vec<String> = (0..d).map(|j| val(i, j).to_string()).collect();
        csv += &format!("{},{}\n", r.join(","), label);
        let s: Vec<String> = (0..d)
            .filter(|&j| val(i, j) != 0.0)
            .map(|j| format!("{}:{}", j + 1, val(i, j)))
            .collect();
        svm += &format!("{} {}\n", label, s.join(" "));
    }
    let xb = npy(1, "<f8", false, &[n, d], &encode("<f8", &rows));
    let yb = npy(1, "<f8", false, &[n], &encode("<f8", &labels));
    let files = [
        put(dir.path(), "r.csv", csv.as_bytes()),
        put(dir.path(), "r.svm", svm.as_bytes()),
        put(
            dir.path(),
            "r.npz",
            &zip(&[("x.npy", &xb, true), ("y.npy", &yb, false)]),
        ),
        put(
            dir.path(),
            "r.npy",
            &npy(1, "<f8", true, &[n, d], &encode("<f8", &f_order(n, d))),
        ),
        put(
            dir.path(),
            "r-images-idx3-ubyte",
            &idx(0x0D, &[n as u32, 1, d as u32], &{
                rows.iter()
                    .flat_map(|v| (*v as f32).to_be_bytes())
                    .collect::<Vec<u8>>()
            }),
        ),
    ];
    for f in &files {
        let full = load(f, &LoadOptions::default()).unwrap();
        assert_eq!((full.n, full.d), (n, d), "{f:?}");
        for r in [0..n, 0..0, 2..5, 6..7, 3..3] {
            let o = LoadOptions {
                row_range: Some(r.clone()),
                ..Default::default()
            };
            let part = load(f, &o).unwrap();
            assert_eq!(part, full.slice_rows(r.clone()).unwrap(), "{f:?} {r:?}");
        }
        let o = LoadOptions {
            row_range: Some(5..8),
            ..Default::default()
        };
        let e = load(f, &o).unwrap_err();
        assert!(matches!(e, DataError::Shape { .. }), "{e}");
    }
}

#[test]
fn same_data_same_fingerprint_across_formats() {
    let dir = tempfile::tempdir().unwrap();
    let a = put(dir.path(), "a.csv", b"1,2,0\n3,4,1\n");
    let xb = npy(
        1,
        "<i4",
        true,
        &[2, 2],
        &encode("<i4", &[1.0, 3.0, 2.0, 4.0]),
    );
    let yb = npy(1, "|u1", false, &[2], &[0, 1]);
    let b = put(
        dir.path(),
        "b.npz",
        &zip(&[("x.npy", &xb, false), ("y.npy", &yb, true)]),
    );
    let ta = load(&a, &LoadOptions::default()).unwrap();
    let tb = load(&b, &LoadOptions::default()).unwrap();
    assert_eq!(fingerprint(&ta), fingerprint(&tb));
}

/// scipy.sparse `.npz` (save_npz layout: data, indices, indptr, shape, format) stays sparse
/// through `load_sparse`, CSC is turned into rows, and the dense `load` of the same file
/// gives the densified table with the same fingerprint.
#[test]
fn scipy_sparse_npz_archives() {
    let dir = tempfile::tempdir().unwrap();
    // [[0, 2, 0], [1, 0, 3]] as CSR and as CSC
    let fmt = |s: &str| {
        let mut body: Vec<u8> = Vec::new();
        for c in s.chars() {
            body.extend_from_slice(&(c as u32).to_le_bytes());
        }
        npy(1, "<U3", false, &[], &body)
    };
    let shape = npy(1, "<i8", false, &[2], &encode("<i8", &[2.0, 3.0]));
    let y = npy(1, "<i8", false, &[2], &encode("<i8", &[0.0, 1.0]));
    let csr = [
        ("data.npy", npy(1, "<f8", false, &[3], &encode("<f8", &[2.0, 1.0, 3.0]))),
        ("indices.npy", npy(1, "<i4", false, &[3], &encode("<i4", &[1.0, 0.0, 2.0]))),
        ("indptr.npy", npy(1, "<i4", false, &[3], &encode("<i4", &[0.0, 1.0, 3.0]))),
        ("format.npy", fmt("csr")),
    ];
    let csc = [
        ("data.npy", npy(1, "<f4", false, &[3], &encode("<f4", &[1.0, 2.0, 3.0]))),
        ("indices.npy", npy(1, "<i8", false, &[3], &encode("<i8", &[1.0, 0.0, 1.0]))),
        ("indptr.npy", npy(1, "<i8", false, &[4], &encode("<i8", &[0.0, 1.0, 2.0, 3.0]))),
        ("format.npy", fmt("csc")),
    ];
    for (name, parts) in [("csr.npz", &csr), ("csc.npz", &csc)] {
        let mut entries: Vec<(&str, &[u8], bool)> = parts.iter().map(|(n, b)| (*n, b.as_slice(), true)).collect();
        entries.push(("shape.npy", &shape, false));
        entries.push(("y.npy", &y, true));
        let p = put(dir.path(), name, &zip(&entries));
        let s = cronos_data::load_sparse(&p, &LoadOptions::default()).unwrap().expect("sparse");
        assert_eq!((s.n, s.d, s.nnz()), (2, 3, 3), "{name}");
        assert_eq!(s.indptr, vec![0, 1, 3]);
        assert_eq!(s.indices, vec![1, 0, 2]);
        assert_eq!(s.values, vec![2.0, 1.0, 3.0]);
        assert_eq!(s.labels, Some(vec![0.0, 1.0]));
        let t = load(&p, &LoadOptions::default()).unwrap();
        assert_eq!(t.row(0), vec![0.0, 2.0, 0.0]);
        assert_eq!(t.row(1), vec![1.0, 0.0, 3.0]);
        assert_eq!(t.fingerprint(), s.fingerprint(), "{name}");
    }
    // a bad index names the array
    let bad = npy(1, "<i4", false, &[3], &encode("<i4", &[1.0, 0.0, 7.0]));
    let entries: Vec<(&str, &[u8], bool)> = vec![("data.npy", &csr[0].1, true), ("indices.npy", &bad, true), ("indptr.npy", &csr[2].1, true), ("shape.npy", &shape, true)];
    let p = put(dir.path(), "bad.npz", &zip(&entries));
    let e = cronos_data::load_sparse(&p, &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("indices.npy") && e.contains('7'), "{e}");
    // a dense .npz is not sparse
    let x = npy(1, "<f4", false, &[3, 4], &encode("<f4", &c_order(3, 4)));
    let p = put(dir.path(), "dense.npz", &zip(&[("x.npy", &x, true)]));
    assert!(cronos_data::load_sparse(&p, &LoadOptions::default()).unwrap().is_none());
}

#[test]
fn libsvm_sparse_equals_dense() {
    let dir = tempfile::tempdir().unwrap();
    let p = put(dir.path(), "a.svm", b"1 2:0.5 4:-1\n-1 1:2\n0\n");
    let s = cronos_data::load_sparse(&p, &LoadOptions::default()).unwrap().expect("sparse");
    let t = load(&p, &LoadOptions::default()).unwrap();
    assert_eq!((s.n, s.d, s.nnz()), (3, 4, 3));
    assert_eq!(s.to_dense(&p, usize::MAX).unwrap(), t);
    assert_eq!(s.fingerprint(), t.fingerprint());
    assert_eq!(s.select_rows(&[1]).values, vec![2.0]);
}
