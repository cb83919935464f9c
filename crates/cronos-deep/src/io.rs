//! The deep-model file: a safetensors file with every parameter (`features.{layer}.{name}`,
//! `head.{layer}.{name}`, f32, row-major) and JSON metadata under the key `cronos_deep`
//! (format version, input shape, layer specs, [`ModelInfo`]). Written atomically.

use crate::error::{DeepError, Result};
use crate::layer::LayerSpec;
use crate::model::{DeepModel, ModelInfo};
use crate::sequential::Sequential;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Metadata key of the deep-model JSON.
pub const METADATA_KEY: &str = "cronos_deep";
/// Current format version.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    format_version: u32,
    input_shape: Vec<usize>,
    features: Vec<LayerSpec>,
    head: Vec<LayerSpec>,
    info: ModelInfo,
    #[serde(default)]
    extra: serde_json::Value,
}

fn file_err(path: &Path, reason: impl Into<String>) -> DeepError {
    DeepError::File { path: path.to_path_buf(), reason: reason.into() }
}

/// True when `bytes` look like a deep-model file (safetensors with the `cronos_deep` key).
pub fn is_deep_model(bytes: &[u8]) -> bool {
    SafeTensors::read_metadata(bytes).ok().and_then(|(_, m)| m.metadata().as_ref().map(|m| m.contains_key(METADATA_KEY))).unwrap_or(false)
}

/// Serialises a model; `extra` is stored verbatim in the metadata (training summary).
///
/// # Errors
/// When safetensors refuses a tensor (cannot happen for consistent layers).
pub fn to_bytes(model: &DeepModel, extra: &serde_json::Value) -> Result<Vec<u8>> {
    let header = Header {
        format_version: FORMAT_VERSION,
        input_shape: model.features.input_shape.clone(),
        features: model.features.specs(),
        head: model.head.specs(),
        info: model.info.clone(),
        extra: extra.clone(),
    };
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (part, seq) in [("features", &model.features), ("head", &model.head)] {
        for (i, l) in seq.layers.iter().enumerate() {
            for p in l.params() {
                tensors.push((format!("{part}.{i}.{}", p.name), p.shape.clone(), p.value.iter().flat_map(|v| v.to_le_bytes()).collect()));
            }
        }
    }
    let views = tensors
        .iter()
        .map(|(n, s, b)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (n.as_str(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| file_err(Path::new("<memory>"), e.to_string()))?;
    let mut meta = HashMap::new();
    meta.insert(METADATA_KEY.to_string(), serde_json::to_string(&header).expect("metadata serialises"));
    safetensors::serialize(views, Some(meta)).map_err(|e| file_err(Path::new("<memory>"), e.to_string()))
}

/// Saves atomically (temporary file + rename); an existing file is refused unless `force`.
///
/// # Errors
/// I/O errors or an existing file.
pub fn save(model: &DeepModel, path: &Path, force: bool, extra: &serde_json::Value) -> Result<()> {
    let bytes = to_bytes(model, extra)?;
    cronos_data::atomic_write(path, force, |w| w.write_all(&bytes)).map_err(|e| file_err(path, e.to_string()))
}

/// Loads a model and the `extra` metadata it was saved with.
///
/// # Errors
/// Unreadable or corrupt files, a newer format, tensors of the wrong shape or dtype.
pub fn load(path: &Path) -> Result<(DeepModel, serde_json::Value)> {
    let bytes = std::fs::read(path).map_err(|e| file_err(path, e.to_string()))?;
    from_bytes(&bytes, path)
}

/// Parses model-file bytes (`path` names the file in errors).
///
/// # Errors
/// As [`load`].
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<(DeepModel, serde_json::Value)> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| file_err(path, format!("not a safetensors file: {e}")))?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| file_err(path, e.to_string()))?;
    let json = meta.metadata().as_ref().and_then(|m| m.get(METADATA_KEY)).ok_or_else(|| file_err(path, format!("no `{METADATA_KEY}` metadata: not a deep cronos model")))?;
    let header: Header = serde_json::from_str(json).map_err(|e| file_err(path, format!("bad metadata: {e}")))?;
    if header.format_version > FORMAT_VERSION {
        return Err(file_err(path, format!("format version {} is newer than this build's {FORMAT_VERSION}", header.format_version)));
    }
    let mut features = Sequential::from_specs(&header.input_shape, &header.features)?;
    let mut head = Sequential::from_specs(&features.output_shape(), &header.head)?;
    for (part, seq) in [("features", &mut features), ("head", &mut head)] {
        for (i, l) in seq.layers.iter_mut().enumerate() {
            for p in l.params_mut() {
                let name = format!("{part}.{i}.{}", p.name);
                let t = st.tensor(&name).map_err(|_| file_err(path, format!("missing tensor {name}")))?;
                if t.dtype() != Dtype::F32 || t.shape() != p.shape.as_slice() {
                    return Err(file_err(path, format!("tensor {name}: {:?} {:?}, expected F32 {:?}", t.dtype(), t.shape(), p.shape)));
                }
                p.value = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                if p.value.iter().any(|v| !v.is_finite()) {
                    return Err(file_err(path, format!("tensor {name} holds non-finite values")));
                }
            }
        }
    }
    Ok((DeepModel { features, head, info: header.info }, header.extra))
}
