//! A small builder for ONNX graphs: nodes with generated unique names, constant initializers
//! and typed graph inputs/outputs. It knows nothing about cronos.

use crate::proto::{
    attribute_type, data_type, AttributeProto, DimValue, Dimension, GraphProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor,
    ValueInfoProto,
};

/// One dimension of a declared graph input or output.
#[derive(Clone, Copy, Debug)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A symbolic size (e.g. the batch "N"), bound at run time.
    Symbolic(&'static str),
}

/// Accumulates nodes and initializers in topological order (each node is added after the
/// values it reads), which is the order ONNX requires.
#[derive(Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl GraphBuilder {
    /// Adds `op(inputs) -> output` with `attrs`; returns the output name.
    pub fn node(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> String {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            // node names only need to be unique; the output name is
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.to_string(),
            attribute: attrs,
            ..Default::default()
        });
        output.to_string()
    }

    fn push(&mut self, name: &str, dims: &[usize], data_type: i32, raw: Vec<u8>, strings: Vec<Vec<u8>>) -> String {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type,
            string_data: strings,
            name: name.to_string(),
            raw_data: raw,
            ..Default::default()
        });
        name.to_string()
    }

    /// A constant f32 tensor (row-major `data`); returns its name.
    pub fn const_f32(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        self.push(name, dims, data_type::FLOAT, data.iter().flat_map(|v| v.to_le_bytes()).collect(), Vec::new())
    }

    /// A constant f64 tensor; returns its name.
    pub fn const_f64(&mut self, name: &str, dims: &[usize], data: &[f64]) -> String {
        self.push(name, dims, data_type::DOUBLE, data.iter().flat_map(|v| v.to_le_bytes()).collect(), Vec::new())
    }

    /// A constant i64 tensor; returns its name.
    pub fn const_i64(&mut self, name: &str, dims: &[usize], data: &[i64]) -> String {
        self.push(name, dims, data_type::INT64, data.iter().flat_map(|v| v.to_le_bytes()).collect(), Vec::new())
    }

    /// A constant string tensor (UTF-8); returns its name.
    pub fn const_strings(&mut self, name: &str, dims: &[usize], data: &[String]) -> String {
        self.push(name, dims, data_type::STRING, Vec::new(), data.iter().map(|s| s.as_bytes().to_vec()).collect())
    }

    /// The finished graph.
    pub fn finish(self, name: &str, doc: &str, inputs: Vec<ValueInfoProto>, outputs: Vec<ValueInfoProto>) -> GraphProto {
        GraphProto {
            node: self.nodes,
            name: name.to_string(),
            initializer: self.initializers,
            doc_string: doc.to_string(),
            input: inputs,
            output: outputs,
            value_info: Vec::new(),
        }
    }
}

/// An integer attribute.
pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::INT, i: v, ..Default::default() }
}

/// A typed tensor declaration for a graph input or output.
pub fn tensor_info(name: &str, elem_type: i32, dims: &[Dim], doc: &str) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => DimValue::DimValue(*n as i64),
                Dim::Symbolic(s) => DimValue::DimParam(s.to_string()),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type, shape: Some(TensorShapeProto { dim }) }) }),
        doc_string: doc.into(),
    }
}
