//! LIBSVM text with inferred and fixed feature counts and a row range.
#![no_main]

use cronos_data::{parse_libsvm_bytes, LoadOptions};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let src = Path::new("fuzz.svm");
    let opts = LoadOptions { max_elements: 1 << 22, ..Default::default() };
    let _ = parse_libsvm_bytes(data, src, &opts);
    let fixed = LoadOptions { n_features: Some(64), row_range: Some(1..3), ..opts };
    let _ = parse_libsvm_bytes(data, src, &fixed);
});
