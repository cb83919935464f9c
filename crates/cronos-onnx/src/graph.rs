//! The ONNX graph of a cronos model file, op by op as `cronos predict` computes it:
//!
//! ```text
//! xs     = (X − offset) / scale                  Sub, Div      (skipped for the identity)
//! h      = xs · W1 + b1                          MatMul, Add
//! hidden = Relu(h)                               ReLU network
//!        = h · Cast(xs · Wg + bg ≥ 0)            gated ReLU: MatMul, Add, GreaterOrEqual, Cast, Mul
//! scores = hidden · W2                           MatMul                      → "scores" [N, k]
//! ```
//!
//! Classifiers add, as `cronos predict` and the Python estimators decode:
//! - two classes (k = 1): `label_index = scores > 0`; `probabilities = Softmax([z, s])` with
//!   z = 0 for the logistic loss ([1 − σ(s), σ(s)]) and z = −s for the squared loss;
//! - more classes: `label_index = ArgMax(scores)` (first maximum wins, as in
//!   `Classes::decode_index`); `probabilities = Softmax(scores)`;
//! - `label = classes[label_index]` (f64 class values, or strings when given).
//!
//! The logits are divided by the model file's calibration temperature T before the Softmax
//! (a `Div` node, absent when T = 1): the probabilities are those of `cronos predict --proba`
//! and of the Python estimators' `predict_proba`.

use crate::builder::{attr_int, tensor_info, Dim, GraphBuilder};
use crate::proto::{data_type, GraphProto};
use crate::{ExportOptions, OnnxError, INPUT, LABEL, LABEL_INDEX, PROBABILITIES, SCORES};
use cronos::{Activation, Loss, Network};
use cronos_model::{ModelFile, Task};
use faer::MatRef;

/// Row-major copy of a matrix (ONNX tensors are row-major).
fn row_major(m: MatRef<'_, f32>) -> Vec<f32> {
    (0..m.nrows()).flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)])).collect()
}

/// The network's weights as row-major arrays, with one all-zero neuron when no neuron is
/// active (its output is 0, like the empty network, and the graph keeps non-empty shapes).
struct Weights {
    m: usize,
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    gates: Option<(Vec<f32>, Vec<f32>)>,
}

fn weights(net: &Network<f32>, d: usize, k: usize) -> Weights {
    let m = net.width();
    if m == 0 {
        let gates = net.gates.as_ref().map(|_| (vec![0.0; d], vec![0.0]));
        return Weights { m: 1, w1: vec![0.0; d], b1: vec![0.0], w2: vec![0.0; k], gates };
    }
    Weights {
        m,
        w1: row_major(net.w1.as_ref()),
        b1: net.b1.clone(),
        w2: row_major(net.w2.as_ref()),
        gates: net.gates.as_ref().map(|(gw, gb)| (row_major(gw.as_ref()), gb.clone())),
    }
}

/// Builds the graph of `mf` (see the module documentation).
pub fn build(mf: &ModelFile, opts: &ExportOptions) -> Result<GraphProto, OnnxError> {
    let model = &mf.model;
    let (d, k) = (model.n_features, model.n_outputs);
    let pre = &mf.preprocessing;
    if pre.offset.len() != d || pre.scale.len() != d {
        return Err(OnnxError::invalid("preprocessing", format!("{} offsets and {} scales for {d} features", pre.offset.len(), pre.scale.len())));
    }
    let net = model.network();
    let w = weights(&net, d, k);
    let mut g = GraphBuilder::default();

    let identity = pre.offset.iter().all(|&o| o == 0.0) && pre.scale.iter().all(|&s| s == 1.0);
    let xs = if identity {
        INPUT.to_string()
    } else {
        let off = g.const_f32("preprocess_offset", &[d], &pre.offset);
        let scale = g.const_f32("preprocess_scale", &[d], &pre.scale);
        let centered = g.node("Sub", &[INPUT, &off], "x_centered", vec![]);
        g.node("Div", &[&centered, &scale], "x_preprocessed", vec![])
    };

    let w1 = g.const_f32("w1", &[d, w.m], &w.w1);
    let b1 = g.const_f32("b1", &[w.m], &w.b1);
    let w2 = g.const_f32("w2", &[w.m, k], &w.w2);
    let h0 = g.node("MatMul", &[&xs, &w1], "h_matmul", vec![]);
    let h = g.node("Add", &[&h0, &b1], "h", vec![]);
    let hidden = match (&w.gates, model.activation) {
        (Some((gw, gb)), Activation::GatedRelu) => {
            let gw = g.const_f32("gate_w", &[d, w.m], gw);
            let gb = g.const_f32("gate_b", &[w.m], gb);
            let zero = g.const_f32("zero", &[], &[0.0]);
            let g0 = g.node("MatMul", &[&xs, &gw], "gate_matmul", vec![]);
            let gate = g.node("Add", &[&g0, &gb], "gate", vec![]);
            // the gate is on where xsᵀh_j + b ≥ 0 (`Network::predict`: `>=`, not `>`)
            let on = g.node("GreaterOrEqual", &[&gate, &zero], "gate_on", vec![]);
            let mask = g.node("Cast", &[&on], "gate_mask", vec![attr_int("to", data_type::FLOAT as i64)]);
            g.node("Mul", &[&h, &mask], "hidden", vec![])
        }
        _ => g.node("Relu", &[&h], "hidden", vec![]),
    };
    g.node("MatMul", &[&hidden, &w2], SCORES, vec![]);

    let n = Dim::Symbolic("N");
    let inputs = vec![tensor_info(INPUT, data_type::FLOAT, &[n, Dim::Fixed(d)], "raw features (the preprocessing is part of the graph)")];
    let mut outputs = Vec::new();
    if let Task::Classification(classes) = &mf.task {
        outputs = classifier_outputs(&mut g, &classes.labels, k, model.loss, mf.temperature(), opts)?;
    }
    outputs.push(tensor_info(SCORES, data_type::FLOAT, &[n, Dim::Fixed(k)], "network outputs, as `cronos predict --scores`"));
    let doc = format!(
        "cronos {} network: {d} features -> {} hidden -> {k} outputs",
        if model.activation == Activation::Relu { "ReLU" } else { "gated-ReLU" },
        net.width()
    );
    Ok(g.finish("cronos", &doc, inputs, outputs))
}

/// Adds the label and probability nodes; returns the declared outputs (label, label_index,
/// probabilities).
fn classifier_outputs(
    g: &mut GraphBuilder,
    labels: &[f64],
    k: usize,
    loss: Loss,
    temperature: f64,
    opts: &ExportOptions,
) -> Result<Vec<crate::proto::ValueInfoProto>, OnnxError> {
    let c = labels.len();
    let expected = if c == 2 { 1 } else { c };
    if c < 2 || expected != k {
        return Err(OnnxError::invalid("classes", format!("{c} classes do not match {k} outputs")));
    }
    let n = Dim::Symbolic("N");
    let logits = if k == 1 {
        let flat_shape = g.const_i64("flat_shape", &[1], &[-1]);
        let zero = g.const_f32("score_threshold", &[], &[0.0]);
        let positive = g.node("Greater", &[SCORES, &zero], "score_positive", vec![]);
        let idx = g.node("Cast", &[&positive], "label_index_2d", vec![attr_int("to", data_type::INT64 as i64)]);
        g.node("Reshape", &[&idx, &flat_shape], LABEL_INDEX, vec![]);
        // the first class's logit: 0 (logistic: softmax gives [1 − σ(s), σ(s)]) or −s (squared)
        let other = if loss == Loss::Logistic {
            let zero_f = g.const_f32("zero_logit", &[], &[0.0]);
            g.node("Mul", &[SCORES, &zero_f], "first_logit", vec![])
        } else {
            g.node("Neg", &[SCORES], "first_logit", vec![])
        };
        g.node("Concat", &[&other, SCORES], "class_logits", vec![attr_int("axis", 1)])
    } else {
        g.node(
            "ArgMax",
            &[SCORES],
            LABEL_INDEX,
            vec![attr_int("axis", 1), attr_int("keepdims", 0), attr_int("select_last_index", 0)],
        );
        SCORES.to_string()
    };
    // the calibration temperature (model files without one: T = 1, no node)
    let logits = if temperature != 1.0 {
        let t = g.const_f32("temperature", &[], &[temperature as f32]);
        g.node("Div", &[&logits, &t], "calibrated_logits", vec![])
    } else {
        logits
    };
    g.node("Softmax", &[&logits], PROBABILITIES, vec![attr_int("axis", 1)]);
    let label_type = match &opts.labels {
        Some(names) => {
            if names.len() != c {
                return Err(OnnxError::invalid("labels", format!("{} label names for {c} classes", names.len())));
            }
            g.const_strings("classes", &[c], names);
            data_type::STRING
        }
        None => {
            g.const_f64("classes", &[c], labels);
            data_type::DOUBLE
        }
    };
    g.node("Gather", &["classes", LABEL_INDEX], LABEL, vec![attr_int("axis", 0)]);
    Ok(vec![
        tensor_info(LABEL, label_type, &[n], "predicted class label, as `cronos predict`"),
        tensor_info(LABEL_INDEX, data_type::INT64, &[n], "index of the predicted class in the sorted classes"),
        tensor_info(PROBABILITIES, data_type::FLOAT, &[n, Dim::Fixed(c)], "class probabilities, columns in class order"),
    ])
}
