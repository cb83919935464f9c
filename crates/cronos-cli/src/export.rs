//! `cronos export --onnx MODEL OUT.onnx`: the model as an ONNX graph for serving stacks.

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write ONNX (opset 17): input `X` (float32 [N, d], raw features); outputs `scores`, and
    /// for classifiers `label`, `label_index` and `probabilities`
    #[arg(long, required = true)]
    pub onnx: bool,
    /// Model file written by `cronos train`
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// Output file (.onnx)
    #[arg(value_name = "OUT.onnx")]
    pub out: PathBuf,
    /// Overwrite an existing output file
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: ExportArgs) -> Result<i32> {
    if !a.onnx {
        bail!("choose an export format (--onnx)");
    }
    let model = cronos_onnx::export_file(&a.model, &a.out, a.force, &cronos_onnx::ExportOptions::default())?;
    let graph = model.graph.as_ref();
    let outputs: Vec<&str> = graph.map(|g| g.output.iter().map(|o| o.name.as_str()).collect()).unwrap_or_default();
    let nodes = graph.map_or(0, |g| g.node.len());
    eprintln!("wrote {} (ONNX opset {}, {nodes} nodes; input X, outputs {})", a.out.display(), cronos_onnx::OPSET, outputs.join(", "));
    Ok(0)
}
