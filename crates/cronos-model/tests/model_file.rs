use cronos::{Activation, Settings, Solver};
use cronos_model::*;
use faer::Mat;

fn data(n: usize, d: usize) -> (Mat<f32>, Vec<f64>) {
    let mut s = 12345u64;
    let mut r = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 33) as f64 / (1u64 << 31) as f64) as f32 * 4.0 + 1.0
    };
    let x = Mat::<f32>::from_fn(n, d, |_, _| r());
    let labels = (0..n).map(|i| if x[(i, 0)] + x[(i, 1)] > 6.0 { 7.0 } else { 3.0 }).collect();
    (x, labels)
}

fn trained(activation: Activation) -> (ModelFile, Mat<f32>) {
    let (x, labels) = data(80, 3);
    let pre = Preprocessing::fit(x.as_ref(), PreprocessKind::Standardize);
    let mut xs = x.clone();
    pre.apply(xs.as_mut());
    let classes = Classes::from_labels(&labels);
    let y = classes.encode(&labels).unwrap();
    let settings = Settings { n_patterns: 8, max_iter: 40, activation, threads: 1, ..Settings::default() };
    let mut solver = Solver::new(xs.as_ref(), y.as_ref(), settings.clone()).unwrap();
    let sol = solver.solve();
    let mut meta = Metadata::new(settings);
    meta.certificate = sol.certificate;
    meta.n_train = 80;
    (ModelFile::new(solver.model(), pre, Task::Classification(classes), meta), x)
}

#[test]
fn preprocessing_fit_apply() {
    let x = Mat::<f32>::from_fn(4, 3, |i, j| if j == 2 { 5.0 } else { (i * (j + 1)) as f32 });
    let s = Preprocessing::fit(x.as_ref(), PreprocessKind::Standardize);
    let mut z = x.clone();
    s.apply(z.as_mut());
    for j in 0..2 {
        let m: f32 = (0..4).map(|i| z[(i, j)]).sum::<f32>() / 4.0;
        let v: f32 = (0..4).map(|i| (z[(i, j)] - m).powi(2)).sum::<f32>() / 4.0;
        assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5);
    }
    assert_eq!(s.scale[2], 1.0);
    assert!((0..4).all(|i| z[(i, 2)] == 0.0));
    let s = Preprocessing::fit(x.as_ref(), PreprocessKind::Scale01);
    let mut z = x.clone();
    s.apply(z.as_mut());
    assert_eq!(z[(0, 1)], 0.0);
    assert_eq!(z[(3, 1)], 1.0);
    assert_eq!(s.scale[2], 1.0);
}

#[test]
fn classes_encode_decode() {
    let c = Classes::from_labels(&[3.0, 1.0, 3.0, 2.0]);
    assert_eq!(c.labels, vec![1.0, 2.0, 3.0]);
    let y = c.encode(&[2.0, 3.0]).unwrap();
    assert_eq!((y.nrows(), y.ncols()), (2, 3));
    assert_eq!(y[(0, 1)], 1.0);
    assert_eq!(y[(0, 0)], -1.0);
    assert_eq!(c.decode(y.as_ref()), vec![2.0, 3.0]);
    assert!(c.encode(&[5.0]).is_err());
    let b = Classes::from_labels(&[0.0, 6.0]);
    let y = b.encode(&[0.0, 6.0]).unwrap();
    assert_eq!(y.ncols(), 1);
    assert_eq!((y[(0, 0)], y[(1, 0)]), (-1.0, 1.0));
    assert_eq!(b.decode(y.as_ref()), vec![0.0, 6.0]);
}

#[test]
fn save_load_roundtrip_and_numpy_formula() {
    for act in [Activation::Relu, Activation::GatedRelu] {
        let (mf, x) = trained(act);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        mf.save(&p, false).unwrap();
        assert!(matches!(mf.save(&p, false), Err(ModelFileError::Exists { .. })));
        mf.save(&p, true).unwrap();
        let back = ModelFile::load(&p).unwrap();
        assert_eq!(back.model.weights, mf.model.weights);
        assert_eq!(back.model.gates, mf.model.gates);
        assert_eq!(back.preprocessing, mf.preprocessing);
        assert_eq!(back.task, mf.task);
        assert_eq!(back.metadata, { let mut m = mf.metadata.clone(); m.settings.activation = act; m });
        let want = mf.predict(x.as_ref()).unwrap();
        assert_eq!(back.predict(x.as_ref()).unwrap(), want);
        // deterministic bytes
        assert_eq!(std::fs::read(&p).unwrap(), mf.to_bytes().unwrap());
        // the documented numpy formula, from the tensors alone
        let bytes = std::fs::read(&p).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let t = |n: &str| -> (Vec<usize>, Vec<f32>) {
            let v = st.tensor(n).unwrap();
            (v.shape().to_vec(), v.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
        };
        let (off, sc, (s1, w1), b1, (s2, w2)) = (t("preprocess_offset").1, t("preprocess_scale").1, t("w1"), t("b1").1, t("w2"));
        let (d, m, k) = (s1[0], s1[1], s2[1]);
        assert!(m > 0);
        for i in 0..x.nrows() {
            let xs: Vec<f64> = (0..d).map(|j| ((x[(i, j)] - off[j]) / sc[j]) as f64).collect();
            let gate: Vec<bool> = if act == Activation::GatedRelu {
                let (gw, gb) = (t("gate_w").1, t("gate_b").1);
                (0..m).map(|h| (0..d).map(|j| xs[j] * gw[j * m + h] as f64).sum::<f64>() + gb[h] as f64 >= 0.0).collect()
            } else {
                vec![true; m]
            };
            for c in 0..k {
                let mut out = 0.0;
                for h in 0..m {
                    let pre = (0..d).map(|j| xs[j] * w1[j * m + h] as f64).sum::<f64>() + b1[h] as f64;
                    let a = if act == Activation::GatedRelu { if gate[h] { pre } else { 0.0 } } else { pre.max(0.0) };
                    out += a * w2[h * k + c] as f64;
                }
                assert!((out - want[(i, c)] as f64).abs() < 1e-3 * (1.0 + out.abs()), "{out} vs {}", want[(i, c)]);
            }
        }
    }
}

#[test]
fn bad_files_give_typed_errors() {
    let (mf, _) = trained(Activation::Relu);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    mf.save(&p, false).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    // truncated, at every length class
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        let e = ModelFile::from_bytes(&bytes[..cut], &p).unwrap_err();
        assert!(matches!(e, ModelFileError::Corrupt { .. }), "{e}");
        assert!(e.to_string().contains("m.safetensors"));
    }
    // garbage
    let e = ModelFile::from_bytes(b"hello world, not a model at all", &p).unwrap_err();
    assert!(matches!(e, ModelFileError::Corrupt { .. }));
    // newer version
    let mut newer = mf.clone();
    newer.metadata.format_version = 99;
    let mut b = mf.to_bytes().unwrap();
    let pat = b"format_version\\\":1";
    let pos = b.windows(pat.len()).position(|w| w == pat).expect("version in header");
    b[pos + pat.len() - 1] = b'9';
    let e = ModelFile::from_bytes(&b, &p).unwrap_err();
    assert!(matches!(e, ModelFileError::NewerVersion { found: 9, .. }), "{e}");
    // missing tensor / wrong shape
    let mut b = mf.to_bytes().unwrap();
    let s = String::from_utf8_lossy(&b).into_owned();
    let pos = s.find("\"preprocess_scale\"").unwrap();
    b[pos + 1] = b'q';
    let e = ModelFile::from_bytes(&b, &p).unwrap_err();
    assert!(matches!(e, ModelFileError::MissingTensor { .. }), "{e}");
    // missing file
    let e = ModelFile::load(&dir.path().join("nope.safetensors")).unwrap_err();
    assert!(matches!(e, ModelFileError::Io { .. }));
    assert!(e.to_string().contains("nope.safetensors"));
    // random byte flips never panic
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        let _ = ModelFile::from_bytes(&b, &p);
    }
}

#[test]
fn extra_metadata_round_trips_in_key_order() {
    let (mut mf, _) = trained(Activation::GatedRelu);
    let plain = mf.to_bytes().unwrap();
    for (k, v) in [("zeta", "1"), ("cronos_python_params", "{\"beta\": \"auto\"}"), ("alpha", "[\"no\", \"yes\"]")] {
        mf.extra_metadata.insert(k.into(), v.into());
    }
    let bytes = mf.to_bytes().unwrap();
    // equal models give equal bytes although safetensors keeps the metadata in a HashMap
    for _ in 0..8 {
        assert_eq!(mf.clone().to_bytes().unwrap(), bytes);
    }
    let back = ModelFile::from_bytes(&bytes, std::path::Path::new("m.safetensors")).unwrap();
    assert_eq!(back.extra_metadata, mf.extra_metadata);
    assert_eq!(back.metadata, mf.metadata);
    assert_eq!(back.model.weights, mf.model.weights);
    // without extra keys the bytes are those of before
    let plain_back = ModelFile::from_bytes(&plain, std::path::Path::new("m.safetensors")).unwrap();
    assert!(plain_back.extra_metadata.is_empty());
}
