//! One CRONOS-AM or baseline run on the bundled Fashion-MNIST, for tuning by hand.
//!
//! `cargo run --release -p cronos-deep --example am_run -- am|am-adamw|adam|adamw|sgd EPOCHS [c1 c2 P max_iter head_rows lr dense]`

use cronos_deep::head::HeadConfig;
use cronos_deep::{train_am, train_baseline, AmConfig, Arch, BaselineConfig, Dataset, EvalSets, Loss, OptimizerKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: f64| a.get(i).map(|s| s.parse::<f64>().expect("number")).unwrap_or(d);
    let method = a.first().map(String::as_str).unwrap_or("am").to_string();
    let epochs = num(1, 2.0) as usize;
    let arch = Arch::Cnn { c1: num(2, 16.0) as usize, c2: num(3, 32.0) as usize, dense: num(8, 128.0) as usize };
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/fashion-mnist"));
    let classes: Vec<f64> = (0..10).map(|c| c as f64).collect();
    let all = Dataset::from_table(&cronos_data::load_idx_dir(dir, cronos_data::Split::Train)?, &classes, &[28, 28, 1], 1.0 / 255.0)?;
    let test = Dataset::from_table(&cronos_data::load_idx_dir(dir, cronos_data::Split::Test)?, &classes, &[28, 28, 1], 1.0 / 255.0)?;
    let train = all.subset(&(0..55000).collect::<Vec<_>>());
    let val = all.subset(&(55000..60000).collect::<Vec<_>>());
    let sets = EvalSets { val: Some(&val), test: Some(&test) };
    let show = |p: &cronos_deep::Point| {
        eprintln!(
            "t={:7.1}s ep={:5.2} loss={:?} val={:.4} test={:.4} head={}",
            p.seconds,
            p.epochs,
            p.train_loss.map(|l| (l * 1e4).round() / 1e4),
            p.val_accuracy.unwrap_or(0.0),
            p.test_accuracy.unwrap_or(0.0),
            p.head.as_ref().map(|h| format!("obj {:.4e} gap {:.2e} its {} {:.1}s m={} warm={}", h.objective, h.relative_gap, h.admm_iterations, h.seconds, h.active_neurons, h.warm_started)).unwrap_or_default()
        )
    };
    let lr = num(7, 1e-3) as f32;
    if method == "am" || method == "am-adamw" {
        let head = HeadConfig { n_patterns: num(4, 16.0) as usize, max_iter: num(5, 20.0) as usize, rows: Some(num(6, 20000.0) as usize), ..HeadConfig::default() };
        let optimizer = if method == "am" { OptimizerKind::DAdaptAdamW { weight_decay: 1e-4 } } else { OptimizerKind::AdamW { lr, weight_decay: 1e-2 } };
        let cfg = AmConfig { arch, epochs, head, optimizer, ..AmConfig::default() };
        let (_, r, _) = train_am(&cfg, &train, sets, show)?;
        println!("{} total {:.1}s", r.method, r.seconds);
    } else {
        let optimizer = match method.as_str() {
            "adam" => OptimizerKind::Adam { lr, weight_decay: 0.0 },
            "adamw" => OptimizerKind::AdamW { lr, weight_decay: 1e-2 },
            _ => OptimizerKind::Sgd { lr, momentum: 0.9, weight_decay: 5e-4 },
        };
        let cfg = BaselineConfig { arch, hidden: 128, epochs, batch_size: 128, optimizer, cosine: true, loss: Loss::CrossEntropy, evals_per_epoch: 1, seed: 0 };
        let (_, r) = train_baseline(&cfg, &train, sets, show)?;
        println!("{} total {:.1}s", r.method, r.seconds);
    }
    Ok(())
}
