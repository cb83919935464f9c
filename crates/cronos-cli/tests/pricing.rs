//! `cronos train --pricing-rounds N [--pricing-swap]`: the summary's `pricing` rounds through
//! the command line. Growing adds patterns; swapping keeps their count, and neither raises
//! the objective from one round to the next.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cronos");

/// A CSV of three classes on concentric rings (radius 1, 2, 3, seeded): few random gates
/// cannot separate them, so priced gates pay.
fn write_rings(path: &Path, n: usize) {
    let mut s = 11u64;
    let mut r = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = String::from("a,b,c,label\n");
    for _ in 0..n {
        let class = (r() * 3.0) as usize % 3;
        let (angle, radius) = (r() * std::f64::consts::TAU, 1.0 + class as f64 + 0.3 * (r() - 0.5));
        out += &format!("{},{},{},{class}\n", radius * angle.cos(), radius * angle.sin(), r() - 0.5);
    }
    std::fs::write(path, out).unwrap();
}

/// The summary's pricing rounds and the text on stderr.
fn rounds(dir: &Path, extra: &[&str]) -> (Vec<serde_json::Value>, String) {
    let mut args = vec!["train", "--train", "rings.csv", "--label-column", "label", "--patterns", "6", "--beta-fraction", "5e-3"];
    args.extend_from_slice(&["--pricing-rounds", "3", "--pricing-add", "2", "--json", "--force", "--out", "m.safetensors"]);
    args.extend_from_slice(extra);
    let o = Command::new(BIN).args(&args).current_dir(dir).output().expect("run cronos");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (v["pricing"]["rounds"].as_array().expect("pricing.rounds").clone(), err)
}

fn objectives_never_rise(rs: &[serde_json::Value]) {
    let obj: Vec<f64> = rs.iter().map(|r| r["objective"].as_f64().unwrap()).collect();
    assert!(obj.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-9)), "{obj:?}");
    assert!(obj.last() < obj.first(), "pricing lowered nothing: {obj:?}");
}

#[test]
fn swapping_keeps_the_pattern_count_and_growing_adds_patterns() {
    let dir = tempfile::tempdir().unwrap();
    write_rings(&dir.path().join("rings.csv"), 300);
    let (swap, err) = rounds(dir.path(), &["--pricing-swap"]);
    let patterns: Vec<u64> = swap.iter().map(|r| r["patterns"].as_u64().unwrap()).collect();
    assert!(patterns.iter().all(|&p| p <= 6), "{patterns:?}");
    assert!(swap.iter().any(|r| r["added"].as_u64() > Some(0)), "nothing swapped: {swap:?}");
    assert!(swap.iter().all(|r| r["undone"].is_boolean()), "{swap:?}");
    objectives_never_rise(&swap);
    // the status line says the status is the priced model's, the iterations the first solve's
    assert!(err.lines().any(|l| l.starts_with("status: ") && l.contains("round(s) of pattern pricing") && l.contains("the solve before it")), "{err}");
    let (grow, _) = rounds(dir.path(), &[]);
    assert!(grow.last().unwrap()["patterns"].as_u64() > Some(6), "{grow:?}");
    objectives_never_rise(&grow);
}
