//! Save/load of a deep model reproduces its predictions exactly; bad files give typed errors.

use cronos_deep::head::{head_layers, solve_head, HeadConfig};
use cronos_deep::init::he_normal;
use cronos_deep::loss::pm1_targets;
use cronos_deep::{io, Arch, DeepModel, ModelInfo, Tensor};

#[test]
fn save_load_reproduces_predictions() {
    let n = 60;
    let x = Tensor::from_vec(he_normal(n * 100, 4, 1), &[n, 10, 10, 1]);
    let labels: Vec<usize> = (0..n).map(|i| i % 4).collect();
    let mut features = Arch::Cnn { c1: 3, c2: 5, dense: 6 }.build(&[10, 10, 1], 2);
    let f = features.predict(&x);
    let cfg = HeadConfig { n_patterns: 6, max_iter: 50, threads: 1, ..HeadConfig::default() };
    let h = solve_head(&f, &pm1_targets(&labels, 4), &cfg, 0, None).unwrap();
    let info = ModelInfo { arch: "cnn(3,5)".into(), method: "test".into(), classes: vec![0.0, 1.0, 2.0, 3.0], input_scale: 0.5 };
    let mut model = DeepModel { features, head: head_layers(&h.model.network()), info: info.clone() };
    let before = model.predict(&x);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.safetensors");
    let extra = serde_json::json!({"test_accuracy": 0.5});
    io::save(&model, &path, false, &extra).unwrap();
    assert!(io::save(&model, &path, false, &extra).is_err(), "an existing file must be refused without force");
    let bytes = std::fs::read(&path).unwrap();
    assert!(io::is_deep_model(&bytes));
    let (mut loaded, extra2) = io::load(&path).unwrap();
    assert_eq!(extra2, extra);
    assert_eq!(loaded.info, info);
    assert_eq!(loaded.features.specs(), model.features.specs());
    assert_eq!(loaded.head.specs(), model.head.specs());
    assert_eq!(loaded.predict(&x), before, "predictions differ after a round trip");
    // a truncated file is an error, not a panic
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    assert!(io::load(&bad).is_err());
    // a cronos (convex) model file is not a deep model
    assert!(!io::is_deep_model(b"not a model"));
}
