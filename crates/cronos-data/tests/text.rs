//! Text formats (CSV/TSV/whitespace and LIBSVM): write, read back, compare.

mod common;

use common::*;
use cronos_data::*;

fn assert_matrix(t: &Table, n: usize, d: usize, f: impl Fn(usize, usize) -> f64) {
    assert_eq!((t.n, t.d, t.x.len()), (n, d, n * d));
    for i in 0..n {
        for j in 0..d {
            assert_eq!(t.get(i, j) as f64, f(i, j), "at ({i}, {j})");
        }
    }
}

#[test]
fn csv_variants() {
    let dir = tempfile::tempdir().unwrap();
    let o = LoadOptions::default();
    // Header, label by default in the last column, CRLF, blank and comment lines.
    let p = put(
        dir.path(),
        "a.csv",
        b"\xef\xbb\xbf# comment\r\nf1,f2,label\r\n1,2.5,0\r\n\r\n-3,4e2,1\r\n",
    );
    let t = load(&p, &o).unwrap();
    assert_matrix(&t, 2, 2, |i, j| [[1.0, 2.5], [-3.0, 400.0]][i][j]);
    assert_eq!(t.labels, Some(vec![0.0, 1.0]));
    assert_eq!(
        t.feature_names,
        Some(vec!["f1".to_string(), "f2".to_string()])
    );
    // Label by name and by index; no labels.
    let by_name = LoadOptions {
        label_column: Some(LabelColumn::Name("f1".into())),
        ..o.clone()
    };
    let t = load(&p, &by_name).unwrap();
    assert_eq!(t.labels, Some(vec![1.0, -3.0]));
    assert_matrix(&t, 2, 2, |i, j| [[2.5, 0.0], [400.0, 1.0]][i][j]);
    let by_idx = LoadOptions {
        label_column: Some(LabelColumn::Index(1)),
        ..o.clone()
    };
    assert_eq!(load(&p, &by_idx).unwrap().labels, Some(vec![2.5, 400.0]));
    let none = LoadOptions {
        label_column: Some(LabelColumn::None),
        ..o.clone()
    };
    let t = load(&p, &none).unwrap();
    assert_eq!((t.d, t.labels.clone()), (3, None));
    // No header, quoted fields, semicolons.
    let p = put(dir.path(), "b.csv", b"\"1\";\" 2\";3\n4;5;\"6\"\n");
    let t = load(&p, &o).unwrap();
    assert_matrix(&t, 2, 2, |i, j| [[1.0, 2.0], [4.0, 5.0]][i][j]);
    assert_eq!((t.labels, t.feature_names), (Some(vec![3.0, 6.0]), None));
    // TSV and whitespace-separated text (np.savetxt style).
    let p = put(dir.path(), "c.tsv", b"a\tb\n1\t2\n");
    assert_eq!(load(&p, &o).unwrap().row(0), vec![1.0]);
    let p = put(dir.path(), "d.txt", b"# x y\n1.0e+00 2.0e+00 5\n3 4 6\n");
    let t = load(&p, &o).unwrap();
    assert_matrix(&t, 2, 2, |i, j| [[1.0, 2.0], [3.0, 4.0]][i][j]);
    assert_eq!(t.labels, Some(vec![5.0, 6.0]));
}

#[test]
fn csv_writer_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = [0.1, -2.5e-7, 3.0, 1e30, -0.0, 123456.789];
    let p = dir.path().join("w.csv");
    write_csv(&p, Some(&["a,b", "label"]), &data, 3, false).unwrap();
    let t = load(&p, &LoadOptions::default()).unwrap();
    assert_eq!(t.feature_names, Some(vec!["a,b".to_string()]));
    assert_matrix(&t, 3, 1, |i, _| data[2 * i] as f32 as f64);
    assert_eq!(t.labels, Some(vec![data[1], data[3], data[5]]));
    let p2 = dir.path().join("w2.csv");
    write_csv(&p2, None, &data, 2, false).unwrap();
    let o = LoadOptions {
        label_column: Some(LabelColumn::None),
        ..Default::default()
    };
    let t = load(&p2, &o).unwrap();
    assert_matrix(&t, 2, 3, |i, j| data[3 * i + j] as f32 as f64);
    assert_eq!(read_labels(&p2, None, None).unwrap(), vec![3.0, 123456.789]);
}

#[test]
fn libsvm_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = put(
        dir.path(),
        "a.libsvm",
        b"1 1:0.5 4:-1\n-1 qid:2 2:3 # note\n\n0.5\n",
    );
    let t = load(&p, &LoadOptions::default()).unwrap();
    assert_matrix(&t, 3, 4, |i, j| {
        [[0.5, 0.0, 0.0, -1.0], [0.0, 3.0, 0.0, 0.0], [0.0; 4]][i][j]
    });
    assert_eq!(t.labels, Some(vec![1.0, -1.0, 0.5]));
    let o = LoadOptions {
        format: Some(Format::Libsvm),
        n_features: Some(6),
        ..Default::default()
    };
    let q = put(dir.path(), "a.data", b"1 1:0.5 4:-1\n");
    assert_eq!(load(&q, &o).unwrap().d, 6);
}
