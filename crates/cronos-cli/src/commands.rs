//! `cronos predict`, `cronos evaluate`, `cronos inspect`.

use crate::data::{self, accuracy, check_output, mse, r2, to_mat};
use crate::{EvaluateArgs, InspectArgs, PredictArgs};
use anyhow::{anyhow, bail, Context, Result};
use cronos_data::{LabelColumn, Split, Table};
use cronos_model::{ModelFile, Task};
use faer::Mat;
use serde_json::json;
use std::path::Path;

fn load_model(p: &Path) -> Result<ModelFile> {
    Ok(ModelFile::load(p)?)
}

fn predict_table(mf: &ModelFile, t: &Table, path: &Path) -> Result<Mat<f32>> {
    let d = mf.model.n_features;
    if t.d != d {
        bail!("{}: {} features but the model was trained on {d}", path.display(), t.d);
    }
    mf.predict(to_mat(t).as_ref()).map_err(|e| anyhow!("{}: {e}", path.display()))
}

pub fn predict(a: PredictArgs) -> Result<i32> {
    let ext = a.out.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
    let csv = match ext.as_deref() {
        Some("npy") => false,
        Some("csv") => true,
        _ => bail!("{}: the output must be a .npy or .csv file", a.out.display()),
    };
    check_output(&a.out, a.force, "the predictions")?;
    let mf = load_model(&a.model)?;
    let mut opts = data::load_options(&a.data);
    // LIBSVM rows have as many features as the model (a file may not use the last ones)
    opts.n_features = Some(mf.model.n_features);
    let mut t = data::load(&a.input, &opts, Split::Test)?;
    // a CSV (or other) file whose last column was taken as labels but that is really all features
    if t.d + 1 == mf.model.n_features && t.labels.is_some() && opts.label_column.is_none() {
        opts.label_column = Some(LabelColumn::None);
        t = data::load(&a.input, &opts, Split::Test)?;
    }
    let pred = predict_table(&mf, &t, &a.input)?;
    let (n, k) = (pred.nrows(), pred.ncols());
    let (values, cols, header): (Vec<f64>, usize, Vec<String>) = match (&mf.task, a.scores) {
        (Task::Regression, _) if a.proba => bail!("{}: --proba needs a classification model; this one is a regressor", a.model.display()),
        (Task::Classification(c), _) if a.proba => {
            let p = mf.predict_proba(to_mat(&t).as_ref()).map_err(|e| anyhow!("{}: {e}", a.input.display()))?;
            let values = (0..n).flat_map(|i| (0..c.len()).map(move |j| (i, j))).map(|(i, j)| p[(i, j)]).collect();
            (values, c.len(), c.labels.iter().map(|l| format!("p_{l}")).collect())
        }
        (Task::Classification(c), false) => (c.decode(pred.as_ref()), 1, vec!["label".into()]),
        _ => {
            let mut v = Vec::with_capacity(n * k);
            for i in 0..n {
                for j in 0..k {
                    v.push(pred[(i, j)] as f64);
                }
            }
            let h = if k == 1 { vec![if a.scores { "score".into() } else { "prediction".into() }] } else { (0..k).map(|j| format!("output_{j}")).collect() };
            (v, k, h)
        }
    };
    if csv {
        let h: Vec<&str> = header.iter().map(|s| s.as_str()).collect();
        cronos_data::write_csv(&a.out, Some(&h), &values, n, a.force)?;
    } else {
        let shape: Vec<usize> = if cols == 1 && !a.proba { vec![n] } else { vec![n, cols] };
        cronos_data::write_npy_f64(&a.out, &values, &shape, a.force)?;
    }
    eprintln!("wrote {n} predictions to {}", a.out.display());
    Ok(0)
}

pub fn evaluate(a: EvaluateArgs) -> Result<i32> {
    let mf = load_model(&a.model)?;
    let mut opts = data::load_options(&a.data_opts);
    opts.n_features = Some(mf.model.n_features);
    let t = data::load(&a.data, &opts, Split::Test)?;
    let labels = data::labels(&t, &a.data)?.to_vec();
    let mut out = serde_json::Map::new();
    out.insert("model".into(), json!(a.model.display().to_string()));
    out.insert("data".into(), json!(a.data.display().to_string()));
    match &mf.task {
        Task::Classification(c) => {
            // rows of classes the model does not know (e.g. a --classes subset) are skipped
            let keep: Vec<usize> = (0..t.n).filter(|&i| c.index_of(labels[i]).is_some()).collect();
            let skipped = t.n - keep.len();
            if keep.is_empty() {
                bail!("{}: no row has one of the model's classes ({:?})", a.data.display(), c.labels);
            }
            let t = data::select_rows(&t, &keep);
            let labels = t.labels.clone().unwrap();
            let pred = predict_table(&mf, &t, &a.data)?;
            let y = c.encode(&labels).map_err(|e| anyhow!("{}: {e}", a.data.display()))?;
            let decoded = c.decode(pred.as_ref());
            let acc = accuracy(&decoded, &labels);
            let loss = 0.5 * mse(pred.as_ref(), y.as_ref());
            let m = c.len();
            let mut conf = vec![vec![0usize; m]; m];
            for (p, l) in decoded.iter().zip(&labels) {
                conf[c.index_of(*l).unwrap()][c.index_of(*p).unwrap()] += 1;
            }
            out.insert("task".into(), json!("classification"));
            out.insert("n".into(), json!(t.n));
            out.insert("skipped_rows".into(), json!(skipped));
            out.insert("accuracy".into(), json!(acc));
            out.insert("loss".into(), json!(loss));
            out.insert("classes".into(), json!(c.labels));
            out.insert("confusion_matrix".into(), json!(conf));
            if !a.json {
                println!("{}: {} rows{}", a.data.display(), t.n, if skipped > 0 { format!(" ({skipped} rows of other classes skipped)") } else { String::new() });
                println!("accuracy: {:.4} ({:.2}%)", acc, 100.0 * acc);
                println!("loss (½ mean squared error on ±1 targets): {loss:.6}");
                println!("confusion matrix (rows: true class, columns: predicted):");
                let w = conf.iter().flatten().map(|v| v.to_string().len()).max().unwrap_or(1).max(c.labels.iter().map(|l| l.to_string().len()).max().unwrap_or(1));
                print!("{:>w$} |", "");
                for l in &c.labels {
                    print!(" {:>w$}", l.to_string());
                }
                println!();
                for (r, l) in conf.iter().zip(&c.labels) {
                    print!("{:>w$} |", l.to_string());
                    for v in r {
                        print!(" {v:>w$}");
                    }
                    println!();
                }
            }
        }
        Task::Regression => {
            let pred = predict_table(&mf, &t, &a.data)?;
            let y = data::targets(&labels);
            if pred.ncols() != 1 {
                bail!("{}: the model has {} outputs but the data has one target", a.data.display(), pred.ncols());
            }
            let (m, r) = (mse(pred.as_ref(), y.as_ref()), r2(pred.as_ref(), y.as_ref()));
            out.insert("task".into(), json!("regression"));
            out.insert("n".into(), json!(t.n));
            out.insert("mse".into(), json!(m));
            out.insert("r2".into(), json!(r));
            if !a.json {
                println!("{}: {} rows", a.data.display(), t.n);
                println!("MSE: {m:.6e}");
                println!("R²:  {r:.6}");
            }
        }
    }
    if a.json {
        println!("{}", serde_json::Value::Object(out));
    }
    Ok(0)
}

pub fn inspect(a: InspectArgs) -> Result<i32> {
    let mf = load_model(&a.file)?;
    let m = &mf.model;
    let net = m.network();
    let meta = &mf.metadata;
    let mut shapes = serde_json::Map::new();
    shapes.insert("gates".into(), json!([m.gates.nrows(), m.gates.ncols()]));
    shapes.insert("weights".into(), json!([m.weights.nrows(), m.weights.ncols()]));
    shapes.insert("w1".into(), json!([net.w1.nrows(), net.w1.ncols()]));
    shapes.insert("b1".into(), json!([net.b1.len()]));
    shapes.insert("w2".into(), json!([net.w2.nrows(), net.w2.ncols()]));
    if let Some((gw, gb)) = &net.gates {
        shapes.insert("gate_w".into(), json!([gw.nrows(), gw.ncols()]));
        shapes.insert("gate_b".into(), json!([gb.len()]));
    }
    shapes.insert("preprocess_offset".into(), json!([mf.preprocessing.offset.len()]));
    shapes.insert("preprocess_scale".into(), json!([mf.preprocessing.scale.len()]));
    if let Task::Classification(c) = &mf.task {
        shapes.insert("classes".into(), json!([c.len()]));
    }
    let size = std::fs::metadata(&a.file).map(|m| m.len()).with_context(|| a.file.display().to_string())?;
    if a.json {
        let v = json!({
            "file": a.file.display().to_string(),
            "bytes": size,
            "metadata": meta,
            "tensors": shapes,
            "active_neurons": mf.active_neurons(),
            "hidden_width": net.width(),
        });
        println!("{v}");
        return Ok(0);
    }
    let s = &meta.settings;
    println!("file:            {} ({} bytes, format version {}, cronos {})", a.file.display(), size, meta.format_version, meta.cronos_version);
    println!("task:            {}", match &mf.task {
        Task::Classification(c) => format!("classification, classes {:?}", c.labels),
        Task::Regression => "regression".into(),
    });
    println!("network:         {} → {} hidden ({}) → {}", m.n_features, net.width(), if s.activation == cronos::Activation::Relu { "ReLU" } else { "gated ReLU" }, m.n_outputs);
    println!("active neurons:  {} of {} convex blocks; {} patterns", mf.active_neurons(), m.weights.ncols(), m.n_patterns());
    println!("preprocessing:   {:?}", mf.preprocessing.kind);
    println!("training data:   {} ({} rows × {} features), fingerprint {}", meta.data_source, meta.n_train, meta.n_features, meta.data_fingerprint);
    println!("beta:            {:?} (setting {:?})", meta.beta, s.beta);
    println!(
        "settings:        max_iter {}, tol_gap {:e}, preconditioner {:?}, seed {}, threads {}, bias {}",
        s.max_iter, s.tol_gap, s.preconditioner, s.seed, s.threads, s.bias
    );
    let c = &meta.certificate;
    println!("certificate:     objective {:.6e}, lower bound {:.6e}, relative gap {:.3e}", c.objective, c.lower_bound, c.relative_gap);
    println!("status:          {}", meta.status);
    if let Some(c) = &meta.calibration {
        println!(
            "probabilities:   temperature {:.4} (fitted on {} held-out rows: log-loss {:.4} at T = 1, {:.4} after)",
            c.temperature, c.rows, c.log_loss_before, c.log_loss_after
        );
    }
    println!("tensors:");
    for (k, v) in &shapes {
        println!("  {k:<18} {v}");
    }
    println!("metrics:");
    for (k, v) in &meta.metrics {
        if !v.is_null() {
            println!("  {k:<20} {v}");
        }
    }
    Ok(0)
}
