//! Timings behind the design choices of cronos-deep, on the bundled Fashion-MNIST:
//! CNN forward+backward per batch (compare with candle-core on the same shapes), one epoch of
//! feature training, and one head solve per outer step at several settings.
//!
//! `cargo run --release -p cronos-deep --example deep_bench [c1 c2 patterns max_iter rows]`

use cronos_deep::head::{solve_head, HeadConfig};
use cronos_deep::loss::pm1_targets;
use cronos_deep::{Arch, Dataset, Loss, OptimizerKind};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("integer arguments")).collect();
    let arg = |i: usize, d: usize| args.get(i).copied().unwrap_or(d);
    let (c1, c2, p, iters, rows) = (arg(0, 16), arg(1, 32), arg(2, 16), arg(3, 40), arg(4, 60000));
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/fashion-mnist");
    let t = cronos_data::load_idx_dir(std::path::Path::new(dir), cronos_data::Split::Train)?;
    let classes: Vec<f64> = (0..10).map(|c| c as f64).collect();
    let train = Dataset::from_table(&t, &classes, &[28, 28, 1], 1.0 / 255.0)?;
    let arch = Arch::Cnn { c1, c2, dense: 0 };
    let mut feats = arch.build(&[28, 28, 1], 0);
    let mut head = cronos_deep::arch::dense_head(feats.output_len(), 128, 10, 0);
    let mut opt = OptimizerKind::AdamW { lr: 1e-3, weight_decay: 1e-2 }.build();
    let idx: Vec<usize> = (0..128).collect();
    let xb = train.x.gather(&idx);
    let lb: Vec<usize> = idx.iter().map(|&i| train.labels[i]).collect();
    let mut times = Vec::new();
    for it in 0..12 {
        let t0 = Instant::now();
        let f = feats.forward(&xb, true);
        let s = head.forward(&f, true);
        let (_, g) = Loss::Squared.eval(&s, &lb);
        let gf = head.backward(&g, true);
        feats.backward(&gf, false);
        if it >= 2 {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!("{} fwd+bwd, batch 128: median {:.1} ms, min {:.1} ms", arch.name(), times[times.len() / 2], times[0]);
    let t0 = Instant::now();
    let n_ep = 60000 / 128;
    for b in 0..n_ep {
        let idx: Vec<usize> = (b * 128..(b + 1) * 128).collect();
        let xb = train.x.gather(&idx);
        let lb: Vec<usize> = idx.iter().map(|&i| train.labels[i]).collect();
        let f = feats.forward(&xb, true);
        let s = head.forward(&f, true);
        let (_, g) = Loss::CrossEntropy.eval(&s, &lb);
        let gf = head.backward(&g, true);
        feats.backward(&gf, false);
        let mut ps = feats.params_mut();
        ps.extend(head.params_mut());
        opt.step(&mut ps, 1.0);
    }
    println!("one epoch (60000 rows, batch 128, AdamW step incl.): {:.1} s", t0.elapsed().as_secs_f64());
    let sub: Vec<usize> = (0..rows.min(60000)).collect();
    let hs = train.subset(&sub);
    let t0 = Instant::now();
    let f = feats.predict(&hs.x);
    println!("features of {} rows ({} wide): {:.2} s", hs.len(), f.row_len(), t0.elapsed().as_secs_f64());
    let y = pm1_targets(&hs.labels, 10);
    {
        let act = cronos::Activation::GatedRelu;
        let cfg = HeadConfig { activation: act, n_patterns: p, max_iter: iters, ..HeadConfig::default() };
        let t0 = Instant::now();
        let h = solve_head(&f, &y, &cfg, 0, None)?;
        let net = h.model.network();
        let mut layers = cronos_deep::head::head_layers(&net);
        let acc = cronos_deep::loss::accuracy(&layers.predict(&f), &hs.labels);
        println!(
            "head solve {act:?} P={p} max_iter={iters}: {:.1} s (setup {:.1} s), {} its, gap {:.2e}, status {}, {} neurons, train acc {:.2}%",
            t0.elapsed().as_secs_f64(),
            h.solution.setup_seconds,
            h.solution.iterations,
            h.solution.certificate.relative_gap,
            h.solution.status,
            net.width(),
            100.0 * acc
        );
    }
    Ok(())
}
