//! The bundled Fashion-MNIST and MNIST subsets load with the expected shapes.

use cronos_data::*;
use std::path::PathBuf;

fn data_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

#[test]
fn fashion_mnist() {
    let dir = data_dir("fashion-mnist");
    let train = load_idx_dir(&dir, Split::Train).unwrap();
    assert_eq!((train.n, train.d), (60000, 784));
    let labels = train.labels.as_ref().unwrap();
    assert_eq!(labels.len(), 60000);
    // The bundled copy is shuffled: its first training label is 4 (not the
    // 9 of the original ordering); every class has exactly 6000 images.
    assert_eq!(labels[..6], [4.0, 7.0, 8.0, 4.0, 3.0, 9.0]);
    for c in 0..10 {
        assert_eq!(
            labels.iter().filter(|&&l| l == c as f64).count(),
            6000,
            "class {c}"
        );
    }
    assert_eq!(train.row(0).iter().map(|&v| v as u64).sum::<u64>(), 100123);
    assert!(labels
        .iter()
        .all(|&l| l.fract() == 0.0 && (0.0..=9.0).contains(&l)));
    assert!(train
        .x
        .iter()
        .all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0));
    assert_eq!(train.x.iter().cloned().fold(0f32, f32::max), 255.0);
    let test = load_idx_dir(&dir, Split::Test).unwrap();
    assert_eq!((test.n, test.d), (10000, 784));
    let tl = test.labels.as_ref().unwrap();
    assert_eq!(tl[0], 9.0);
    for c in 0..10 {
        assert_eq!(
            tl.iter().filter(|&&l| l == c as f64).count(),
            1000,
            "class {c}"
        );
    }
    // A shard equals the same rows of the full load.
    let shard = load_idx_dir_rows(&dir, Split::Test, Some(2500..5000)).unwrap();
    assert_eq!(shard, test.slice_rows(2500..5000).unwrap());
    // `load` on the directory is the training split.
    let o = LoadOptions {
        row_range: Some(0..100),
        ..Default::default()
    };
    assert_eq!(load(&dir, &o).unwrap(), train.slice_rows(0..100).unwrap());
    assert_eq!(fingerprint(&train), fingerprint(&train.clone()));
}

#[test]
fn mnist_subset() {
    let dir = data_dir("mnist-10k");
    for split in [Split::Train, Split::Test] {
        let t = load_idx_dir(&dir, split).unwrap();
        assert_eq!(t.d, 784);
        assert!(t.n > 0);
        assert_eq!(t.labels.as_ref().unwrap().len(), t.n);
        assert!(t.labels.unwrap().iter().all(|&l| (0.0..=9.0).contains(&l)));
    }
}
