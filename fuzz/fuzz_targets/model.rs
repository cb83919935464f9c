//! Model files: arbitrary bytes into the safetensors + JSON-metadata loader (header length,
//! JSON header, tensor offsets, shapes, metadata and version checks).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = cronos_model::ModelFile::from_bytes(data, Path::new("fuzz.safetensors"));
});
