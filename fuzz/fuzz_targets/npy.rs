//! `.npy` bytes as features and as labels (the header literal parser, dtypes,
//! C and Fortran order, N-D flattening), plus `.npz` archives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let src = Path::new("fuzz.npy");
    let _ = cronos_data::parse_npy_bytes(data, src, None, 1 << 22);
    let _ = cronos_data::parse_npy_bytes(data, src, Some(&(1..3)), 1 << 22);
    let _ = cronos_data::parse_npy_labels_bytes(data, src, None);
    let opts = cronos_data::LoadOptions { max_elements: 1 << 22, ..Default::default() };
    let _ = cronos_data::parse_npz_bytes(data, Path::new("fuzz.npz"), &opts);
});
