//! Delimited text with the default options, a row range, a named label column
//! and as a labels file.
#![no_main]

use cronos_data::{parse_csv_bytes, parse_csv_labels_bytes, LabelColumn, LoadOptions};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let src = Path::new("fuzz.csv");
    let opts = LoadOptions { max_elements: 1 << 22, ..Default::default() };
    let _ = parse_csv_bytes(data, src, &opts);
    let _ = parse_csv_labels_bytes(data, src, &opts);
    let ranged = LoadOptions { row_range: Some(1..3), ..opts.clone() };
    let _ = parse_csv_bytes(data, src, &ranged);
    let named = LoadOptions { label_column: Some(LabelColumn::Name("y".into())), ..opts };
    let _ = parse_csv_bytes(data, src, &named);
});
