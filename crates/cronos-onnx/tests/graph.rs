//! The exported graph: structure, declared shapes and types, protobuf round trip, and its
//! values, computed by a small reference interpreter of the ONNX ops used, against
//! `ModelFile::predict` (so the graph's meaning is tested without onnxruntime; the CLI test
//! `crates/cronos-cli/tests/onnx.rs` runs onnxruntime itself).

use cronos::{Activation, Loss, Model, Settings};
use cronos_model::{Classes, Metadata, ModelFile, PreprocessKind, Preprocessing, Task};
use cronos_onnx::proto::{data_type, DimValue, ModelProto, TensorProto, ValueInfoProto};
use cronos_onnx::{decode, export, save, to_bytes, ExportOptions, OnnxError, IR_VERSION, OPSET};
use faer::Mat;
use std::collections::HashMap;

/// Deterministic pseudo-random values in [-1, 1).
fn lcg(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A model with d features, P patterns and `labels` classes (empty: regression with k = 1).
fn model(act: Activation, loss: Loss, d: usize, p: usize, labels: &[f64]) -> ModelFile {
    let k = match labels.len() {
        0 | 2 => 1,
        c => c,
    };
    let nb = if act == Activation::Relu { 2 * p } else { p };
    let g = lcg(1, (d + 1) * p);
    let mut w = lcg(2, (d + 1) * nb * k);
    // some blocks inactive: the network keeps only the others
    for col in (0..nb * k).step_by(3) {
        (0..=d).for_each(|i| w[i * nb * k + col] = 0.0);
    }
    let gates = Mat::from_fn(d + 1, p, |i, j| g[i * p + j]);
    let weights = Mat::from_fn(d + 1, nb * k, |i, j| w[i * nb * k + j]);
    let m = Model::from_parts(act, true, d, k, gates, weights, vec![0.1; k]).with_loss(loss);
    let pre = Preprocessing { kind: PreprocessKind::Standardize, offset: lcg(3, d), scale: lcg(4, d).iter().map(|v| 0.5 + v.abs()).collect() };
    let task = if labels.is_empty() { Task::Regression } else { Task::Classification(Classes { labels: labels.to_vec() }) };
    ModelFile::new(m, pre, task, Metadata::new(Settings::default()))
}

// ---- a reference interpreter of the ops the exporter uses (f64, row-major) ----

#[derive(Clone, Debug)]
struct T {
    shape: Vec<usize>,
    v: Vec<f64>,
    s: Vec<String>,
}

fn tensor(t: &TensorProto) -> T {
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let v = match t.data_type {
        data_type::FLOAT => t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        data_type::DOUBLE => t.raw_data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
        data_type::INT64 => t.raw_data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        data_type::STRING => vec![],
        other => panic!("unexpected initializer type {other}"),
    };
    let s = t.string_data.iter().map(|b| String::from_utf8(b.clone()).unwrap()).collect();
    T { shape, v, s }
}

/// Elementwise op with numpy broadcasting of a [c] or scalar right operand over [n, c].
fn zip(a: &T, b: &T, f: impl Fn(f64, f64) -> f64) -> T {
    let cols = *a.shape.last().unwrap();
    let v = (0..a.v.len())
        .map(|i| {
            let bv = match b.v.len() {
                1 => b.v[0],
                n if n == a.v.len() => b.v[i],
                n if n == cols => b.v[i % cols],
                n => panic!("cannot broadcast {n} values over {:?}", a.shape),
            };
            f(a.v[i], bv)
        })
        .collect();
    T { shape: a.shape.clone(), v, s: vec![] }
}

fn attr(node: &cronos_onnx::proto::NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

/// Runs the graph on x (n × d, row-major); returns every output by name.
fn interpret(m: &ModelProto, x: &[f64], n: usize) -> HashMap<String, T> {
    let g = m.graph.as_ref().unwrap();
    let d = x.len() / n;
    let mut env: HashMap<String, T> = g.initializer.iter().map(|t| (t.name.clone(), tensor(t))).collect();
    env.insert("X".into(), T { shape: vec![n, d], v: x.to_vec(), s: vec![] });
    for node in &g.node {
        let i: Vec<&T> = node.input.iter().map(|s| env.get(s).unwrap_or_else(|| panic!("{} reads undefined {s}", node.name))).collect();
        let out = match node.op_type.as_str() {
            "Sub" => zip(i[0], i[1], |a, b| (a as f32 - b as f32) as f64),
            "Div" => zip(i[0], i[1], |a, b| (a as f32 / b as f32) as f64),
            "Add" => zip(i[0], i[1], |a, b| a + b),
            "Mul" => zip(i[0], i[1], |a, b| a * b),
            "GreaterOrEqual" => zip(i[0], i[1], |a, b| (a >= b) as u8 as f64),
            "Greater" => zip(i[0], i[1], |a, b| (a > b) as u8 as f64),
            "Relu" => zip(i[0], i[0], |a, _| a.max(0.0)),
            "Neg" => zip(i[0], i[0], |a, _| -a),
            "Cast" => i[0].clone(),
            "MatMul" => {
                let (r, inner, c) = (i[0].shape[0], i[0].shape[1], i[1].shape[1]);
                assert_eq!(i[1].shape[0], inner, "{}: inner dimensions", node.name);
                let v = (0..r * c).map(|rc| (0..inner).map(|t| i[0].v[rc / c * inner + t] * i[1].v[t * c + rc % c]).sum()).collect();
                T { shape: vec![r, c], v, s: vec![] }
            }
            "Concat" => {
                assert_eq!(attr(node, "axis"), Some(1));
                let r = i[0].shape[0];
                let widths: Vec<usize> = i.iter().map(|t| t.shape[1]).collect();
                let v = (0..r).flat_map(|row| i.iter().zip(&widths).flat_map(move |(t, &w)| t.v[row * w..(row + 1) * w].to_vec())).collect();
                T { shape: vec![r, widths.iter().sum()], v, s: vec![] }
            }
            "Softmax" => {
                assert_eq!(attr(node, "axis"), Some(1));
                let c = i[0].shape[1];
                let v = i[0].v.chunks(c).flat_map(|row| {
                    let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = row.iter().map(|z| (z - mx).exp()).collect();
                    let s: f64 = e.iter().sum();
                    e.into_iter().map(move |v| v / s)
                });
                T { shape: i[0].shape.clone(), v: v.collect(), s: vec![] }
            }
            "ArgMax" => {
                assert_eq!((attr(node, "axis"), attr(node, "keepdims"), attr(node, "select_last_index")), (Some(1), Some(0), Some(0)));
                let c = i[0].shape[1];
                // first maximum wins
                let v = i[0].v.chunks(c).map(|row| (0..c).fold(0, |b, j| if row[j] > row[b] { j } else { b }) as f64).collect();
                T { shape: vec![i[0].shape[0]], v, s: vec![] }
            }
            "Reshape" => {
                assert_eq!(i[1].v, vec![-1.0]);
                T { shape: vec![i[0].v.len()], v: i[0].v.clone(), s: vec![] }
            }
            "Gather" => {
                let idx: Vec<usize> = i[1].v.iter().map(|&v| v as usize).collect();
                let s = if i[0].s.is_empty() { vec![] } else { idx.iter().map(|&k| i[0].s[k].clone()).collect() };
                let v = if i[0].v.is_empty() { vec![] } else { idx.iter().map(|&k| i[0].v[k]).collect() };
                T { shape: vec![idx.len()], v, s }
            }
            op => panic!("the exporter emitted {op}, which this interpreter (and the docs) do not list"),
        };
        env.insert(node.output[0].clone(), out);
    }
    g.output.iter().map(|o| (o.name.clone(), env.remove(&o.name).unwrap())).collect()
}

fn shape_of(v: &ValueInfoProto) -> (i32, Vec<String>) {
    let t = v.r#type.as_ref().unwrap().tensor_type.as_ref().unwrap();
    let dims = t.shape.as_ref().unwrap().dim.iter().map(|d| match d.value.as_ref().unwrap() {
        DimValue::DimValue(n) => n.to_string(),
        DimValue::DimParam(s) => s.clone(),
    });
    (t.elem_type, dims.collect())
}

/// Checks the graph against `ModelFile::predict` on random rows; returns the max abs diff.
fn check_values(mf: &ModelFile, opts: &ExportOptions) -> f64 {
    let onnx = decode(&to_bytes(&export(mf, opts).unwrap())).unwrap();
    let (n, d) = (50, mf.model.n_features);
    let x: Vec<f32> = lcg(9, n * d).iter().map(|v| 3.0 * v).collect();
    let xm = Mat::from_fn(n, d, |i, j| x[i * d + j]);
    let want = mf.predict(xm.as_ref()).unwrap();
    let got = interpret(&onnx, &x.iter().map(|&v| v as f64).collect::<Vec<_>>(), n);
    let scores = &got["scores"];
    let k = want.ncols();
    assert_eq!(scores.shape, vec![n, k]);
    let mut diff = 0.0f64;
    for i in 0..n {
        for j in 0..k {
            diff = diff.max((scores.v[i * k + j] - want[(i, j)] as f64).abs());
        }
    }
    if let Task::Classification(c) = &mf.task {
        let labels = c.decode(want.as_ref());
        let idx = &got["label_index"];
        let probs = &got["probabilities"];
        assert_eq!(probs.shape, vec![n, c.len()]);
        // the probabilities of `cronos predict --proba` (the calibration temperature included)
        let proba = mf.predict_proba(xm.as_ref()).unwrap();
        for i in 0..n {
            for j in 0..c.len() {
                assert!((probs.v[i * c.len() + j] - proba[(i, j)]).abs() < 1e-4, "row {i} class {j}");
            }
        }
        for i in 0..n {
            let row = &probs.v[i * c.len()..(i + 1) * c.len()];
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let best = (0..c.len()).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            // the label is the most probable class (the softmax is monotone in the scores)
            assert_eq!(best, idx.v[i] as usize, "row {i}");
            if c.len() == 2 && mf.model.loss == Loss::Logistic {
                let s = 1.0 / (1.0 + (-scores.v[i]).exp());
                assert!((row[1] - s).abs() < 1e-12, "logistic probability is σ(score)");
            }
            let margin = if k == 1 { (want[(i, 0)] as f64).abs() } else { 1.0 };
            if margin > 1e-4 {
                assert_eq!(c.labels[idx.v[i] as usize], labels[i], "row {i}");
                match &opts.labels {
                    Some(names) => assert_eq!(got["label"].s[i], names[idx.v[i] as usize]),
                    None => assert_eq!(got["label"].v[i], labels[i]),
                }
            }
        }
    }
    diff
}

#[test]
fn values_match_predict_for_every_kind_of_model() {
    let cases: Vec<(Activation, Loss, Vec<f64>)> = vec![
        (Activation::GatedRelu, Loss::Squared, vec![0.0, 6.0]),
        (Activation::Relu, Loss::Squared, vec![-1.0, 1.0]),
        (Activation::GatedRelu, Loss::Logistic, vec![3.0, 5.0]),
        (Activation::Relu, Loss::Softmax, vec![0.0, 1.0, 2.0]),
        (Activation::GatedRelu, Loss::Squared, vec![1.0, 2.0, 7.0, 9.0]),
        (Activation::Relu, Loss::Squared, vec![]),
        (Activation::GatedRelu, Loss::Squared, vec![]),
    ];
    for (act, loss, labels) in cases {
        let mf = model(act, loss, 7, 5, &labels);
        let diff = check_values(&mf, &ExportOptions::default());
        // f64 interpretation of f32 weights vs faer's f32 products: rounding only
        assert!(diff < 1e-4, "{act:?} {loss:?} {labels:?}: max abs diff {diff:e}");
    }
}

#[test]
fn calibrated_probabilities_divide_the_logits_by_the_temperature() {
    for labels in [vec![0.0, 6.0], vec![1.0, 2.0, 7.0]] {
        let mut mf = model(Activation::GatedRelu, Loss::Squared, 5, 4, &labels);
        mf.metadata.calibration = Some(cronos::Calibration { temperature: 0.2, rows: 10, log_loss_before: 1.0, log_loss_after: 0.5 });
        assert!(check_values(&mf, &ExportOptions::default()) < 1e-4);
        let g = export(&mf, &ExportOptions::default()).unwrap().graph.unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        let softmax = ops.iter().position(|&o| o == "Softmax").unwrap();
        assert_eq!(ops[softmax - 1], "Div", "{ops:?}");
        assert!(g.initializer.iter().any(|t| t.name == "temperature"));
    }
}

#[test]
fn structure_shapes_and_types() {
    let (d, p) = (6, 4);
    let gated = export(&model(Activation::GatedRelu, Loss::Squared, d, p, &[0.0, 1.0, 2.0]), &ExportOptions::default()).unwrap();
    assert_eq!((gated.ir_version, gated.opset_import[0].version, gated.opset_import[0].domain.as_str()), (IR_VERSION, OPSET, ""));
    assert_eq!(gated.producer_name, "cronos");
    let g = gated.graph.as_ref().unwrap();
    let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(ops, ["Sub", "Div", "MatMul", "Add", "MatMul", "Add", "GreaterOrEqual", "Cast", "Mul", "MatMul", "ArgMax", "Softmax", "Gather"]);
    assert_eq!(g.input.len(), 1);
    assert_eq!(shape_of(&g.input[0]), (data_type::FLOAT, vec!["N".into(), d.to_string()]));
    let outs: Vec<(&str, (i32, Vec<String>))> = g.output.iter().map(|o| (o.name.as_str(), shape_of(o))).collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        outs,
        vec![
            ("label", (data_type::DOUBLE, s(&["N"]))),
            ("label_index", (data_type::INT64, s(&["N"]))),
            ("probabilities", (data_type::FLOAT, s(&["N", "3"]))),
            ("scores", (data_type::FLOAT, s(&["N", "3"]))),
        ]
    );
    // initializer shapes follow the recovered network (m active neurons)
    let mf = model(Activation::GatedRelu, Loss::Squared, d, p, &[0.0, 1.0, 2.0]);
    let m = mf.model.network().width() as i64;
    assert!(m > 0 && m < (p * 3) as i64, "some blocks are inactive: m = {m}");
    let dims: HashMap<&str, Vec<i64>> = g.initializer.iter().map(|t| (t.name.as_str(), t.dims.clone())).collect();
    assert_eq!(dims["w1"], vec![d as i64, m]);
    assert_eq!(dims["gate_w"], vec![d as i64, m]);
    assert_eq!(dims["b1"], vec![m]);
    assert_eq!(dims["w2"], vec![m, 3]);
    assert_eq!(dims["preprocess_offset"], vec![d as i64]);
    assert_eq!(dims["classes"], vec![3]);
    // every node reads defined values only (topological order), names are unique
    let mut defined: Vec<String> = g.initializer.iter().map(|t| t.name.clone()).chain(["X".to_string()]).collect();
    for n in &g.node {
        assert!(n.input.iter().all(|i| defined.contains(i)), "{} reads an undefined value", n.name);
        assert!(!defined.contains(&n.output[0]), "{} redefines {}", n.name, n.output[0]);
        defined.push(n.output[0].clone());
    }
    let mut names: Vec<&str> = g.node.iter().map(|n| n.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), g.node.len());

    // ReLU, binary: Relu instead of the gate; the label from the sign of the score
    let relu = export(&model(Activation::Relu, Loss::Squared, d, p, &[0.0, 1.0]), &ExportOptions::default()).unwrap();
    let ops: Vec<String> = relu.graph.unwrap().node.iter().map(|n| n.op_type.clone()).collect();
    assert_eq!(ops, ["Sub", "Div", "MatMul", "Add", "Relu", "MatMul", "Greater", "Cast", "Reshape", "Neg", "Concat", "Softmax", "Gather"]);
    // regression: scores only; identity preprocessing adds no nodes
    let mut reg = model(Activation::Relu, Loss::Squared, d, p, &[]);
    reg.preprocessing = Preprocessing::identity(d);
    let r = export(&reg, &ExportOptions::default()).unwrap().graph.unwrap();
    assert_eq!(r.node.iter().map(|n| n.op_type.as_str()).collect::<Vec<_>>(), ["MatMul", "Add", "Relu", "MatMul"]);
    assert_eq!(r.output.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["scores"]);
    assert!(check_values(&reg, &ExportOptions::default()) < 1e-4);
}

#[test]
fn round_trip_and_determinism() {
    let mf = model(Activation::GatedRelu, Loss::Logistic, 5, 3, &[0.0, 1.0]);
    let a = export(&mf, &ExportOptions::default()).unwrap();
    let bytes = to_bytes(&a);
    assert_eq!(decode(&bytes).unwrap(), a);
    assert_eq!(to_bytes(&export(&mf, &ExportOptions::default()).unwrap()), bytes, "equal models give equal bytes");
    let meta: HashMap<&str, &str> = a.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
    assert_eq!(meta["task"], "classification");
    assert_eq!(meta["classes"], "[0.0,1.0]");
    assert_eq!(meta["loss"], "Logistic");
    assert_eq!(meta["activation"], "GatedRelu");
    assert!(matches!(decode(b"\xff\xff\xff garbage"), Err(OnnxError::Decode(_))));
}

#[test]
fn string_labels_and_their_errors() {
    let mf = model(Activation::Relu, Loss::Softmax, 4, 3, &[0.0, 1.0, 2.0]);
    let names: Vec<String> = ["cat", "dog", "émeu"].iter().map(|s| s.to_string()).collect();
    let opts = ExportOptions { labels: Some(names.clone()) };
    let g = export(&mf, &opts).unwrap().graph.unwrap();
    assert_eq!(shape_of(&g.output[0]).0, data_type::STRING);
    let classes = g.initializer.iter().find(|t| t.name == "classes").unwrap();
    assert_eq!(classes.string_data, names.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>());
    assert!(check_values(&mf, &opts) < 1e-4);
    let bad = ExportOptions { labels: Some(names[..2].to_vec()) };
    let e = export(&mf, &bad).unwrap_err();
    assert!(matches!(e, OnnxError::Invalid { ref field, .. } if field == "labels"), "{e}");
    assert!(e.to_string().contains("2 label names for 3 classes"), "{e}");
}

#[test]
fn no_active_neuron_gives_zero_scores() {
    let mut mf = model(Activation::GatedRelu, Loss::Squared, 3, 2, &[]);
    mf.model.weights = Mat::zeros(mf.model.weights.nrows(), mf.model.weights.ncols());
    assert_eq!(mf.model.network().width(), 0);
    assert_eq!(check_values(&mf, &ExportOptions::default()), 0.0);
}

#[test]
fn save_is_atomic_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    let a = export(&model(Activation::Relu, Loss::Squared, 3, 2, &[]), &ExportOptions::default()).unwrap();
    save(&a, &path, false).unwrap();
    let b = export(&model(Activation::GatedRelu, Loss::Squared, 3, 2, &[]), &ExportOptions::default()).unwrap();
    let e = save(&b, &path, false).unwrap_err();
    assert!(matches!(e, OnnxError::Exists { .. }) && e.to_string().contains("m.onnx"), "{e}");
    assert_eq!(decode(&std::fs::read(&path).unwrap()).unwrap(), a, "the refused save left the file alone");
    save(&b, &path, true).unwrap();
    assert_eq!(decode(&std::fs::read(&path).unwrap()).unwrap(), b);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    let e = cronos_onnx::export_file(&dir.path().join("none.safetensors"), &dir.path().join("x.onnx"), false, &ExportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("none.safetensors"), "{e}");
}
