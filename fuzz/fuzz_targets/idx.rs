//! IDX bytes (raw or gzip) as features and as labels: any input must give
//! `Ok` or a typed error, never a panic or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let src = Path::new("fuzz.idx");
    let _ = cronos_data::parse_idx_bytes(data, src, None, 1 << 22);
    let _ = cronos_data::parse_idx_bytes(data, src, Some(&(1..3)), 1 << 22);
    let _ = cronos_data::parse_idx_labels_bytes(data, src, None);
});
