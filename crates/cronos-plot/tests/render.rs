//! Renders reports and comparisons to real files and checks the results.

use std::path::Path;

use cronos_plot::{write_comparison, write_report, CompareCurve, PlotError, ReportInfo, Series};

const TITLE: &str = "cronos: convex ReLU, Fashion-MNIST, P=64, β=1e-3";

fn info() -> ReportInfo {
    ReportInfo {
        title: TITLE.to_string(),
    }
}

/// 50 ADMM iterations: geometric gap decay, accuracy every 5th iteration.
fn synthetic(n: usize) -> Series {
    let mut s = Series::default();
    for k in 0..n {
        let t = 0.05 * k as f64 + 0.01 * (k as f64).sqrt();
        s.seconds.push(t);
        s.objective.push(0.3 + 0.7 * 0.85_f64.powi(k as i32));
        s.relative_gap.push(0.8_f64.powi(k as i32));
        let every = k % 5 == 0 || k + 1 == n;
        let acc = 0.6 + 0.3 * (1.0 - 0.9_f64.powi(k as i32));
        s.train_accuracy.push(every.then_some(acc));
        s.test_accuracy.push(every.then_some(acc - 0.02));
        s.cg_iterations
            .push((25.0 - 0.3 * k as f64).max(3.0).round());
        s.primal_residual.push(0.9_f64.powi(k as i32));
        s.dual_residual.push(0.92_f64.powi(k as i32));
    }
    s
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn png_and_svg_reports_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let s = synthetic(50);

    let png = dir.path().join("report.png");
    write_report(&png, &info(), &s).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.len() > 20_000, "PNG only {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");

    let svg = dir.path().join("report.svg");
    write_report(&svg, &info(), &s).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.len() > 5_000, "SVG only {} bytes", text.len());
    assert!(text.contains("<svg"));
    assert!(text.contains(TITLE), "title missing from SVG");
    for label in [
        "certified relative gap",
        "test accuracy",
        "CG iterations",
        "time (s)",
    ] {
        assert!(text.contains(label), "{label:?} missing from SVG");
    }
    // No temporary files are left behind.
    assert_eq!(entries(dir.path()), ["report.png", "report.svg"]);
}

#[test]
fn extension_is_case_insensitive_and_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("REPORT.SVG");
    std::fs::write(&path, "old").unwrap();
    write_report(&path, &info(), &synthetic(5)).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("<svg"));
}

#[test]
fn unsupported_extension_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["report.pdf", "report", "report.png.txt"] {
        let err = write_report(&dir.path().join(name), &info(), &synthetic(5)).unwrap_err();
        assert!(
            matches!(err, PlotError::UnsupportedFormat { .. }),
            "{name}: {err}"
        );
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn missing_directory_is_an_error_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["report.png", "report.svg"] {
        let path = dir.path().join("does-not-exist").join(name);
        let err = write_report(&path, &info(), &synthetic(10)).unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }), "{err}");
        assert!(!path.exists());
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn edge_cases_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    let cases: Vec<(&str, Series)> = vec![
        ("empty", Series::default()),
        ("single", synthetic(1)),
        ("two", synthetic(2)),
        (
            "constant",
            Series {
                seconds: vec![1.0; 4],
                objective: vec![2.0; 4],
                relative_gap: vec![0.0; 4],
                train_accuracy: vec![Some(1.0); 4],
                test_accuracy: vec![Some(1.0); 4],
                cg_iterations: vec![0.0; 4],
                ..Series::default()
            },
        ),
        (
            "nan-inf",
            Series {
                seconds: vec![0.0, 1.0, nan, 3.0, inf, 5.0],
                objective: vec![nan, -1.0, 2.0, inf, 0.5, -inf],
                relative_gap: vec![inf, nan, -0.5, 1e-300, 1e-30, 1e300],
                train_accuracy: vec![None, Some(nan), Some(0.5), Some(inf), None, Some(0.7)],
                test_accuracy: vec![None; 6],
                cg_iterations: vec![nan, inf, -inf, 4.0, 1e308, 2.0],
                ..Series::default()
            },
        ),
        (
            "huge",
            Series {
                seconds: vec![-1e300, 1e300],
                objective: vec![1e300, 1e-300],
                relative_gap: vec![1e300, 0.0],
                train_accuracy: vec![Some(1e300), Some(-1e300)],
                test_accuracy: vec![Some(0.5), None],
                cg_iterations: vec![1e300, -1e300],
                ..Series::default()
            },
        ),
        (
            "tiny-spread",
            Series {
                seconds: vec![1.0, 1.0 + 1e-15, 1.0 + 2e-15],
                objective: vec![1.0, 1.0 + 1e-15, 1.0],
                relative_gap: vec![1e-3, 1e-3 * (1.0 + 1e-15), 1e-3],
                train_accuracy: vec![Some(0.5), Some(0.5 + 1e-16), None],
                test_accuracy: vec![None; 3],
                cg_iterations: vec![3.0, 3.0 + 1e-14, 3.0],
                ..Series::default()
            },
        ),
        (
            "all-none-accuracy",
            Series {
                train_accuracy: vec![None; 50],
                test_accuracy: vec![None; 50],
                ..synthetic(50)
            },
        ),
        (
            "mismatched-lengths",
            Series {
                objective: vec![1.0],
                cg_iterations: vec![],
                ..synthetic(30)
            },
        ),
    ];
    for (name, s) in &cases {
        for ext in ["png", "svg"] {
            let path = dir.path().join(format!("{name}.{ext}"));
            write_report(&path, &info(), s).unwrap_or_else(|e| panic!("{name}.{ext}: {e}"));
            assert!(
                std::fs::metadata(&path).unwrap().len() > 1000,
                "{name}.{ext}"
            );
        }
    }
    let all_none = std::fs::read_to_string(dir.path().join("all-none-accuracy.svg")).unwrap();
    assert!(all_none.contains("no accuracy recorded"));
    let empty = std::fs::read_to_string(dir.path().join("empty.svg")).unwrap();
    assert!(empty.contains("no CG iterations recorded"));
}

#[test]
fn comparison_plots_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let curve = |label: &str, rate: f64, top: f64| CompareCurve {
        label: label.to_string(),
        seconds: (0..40).map(|k| 0.25 * k as f64).collect(),
        accuracy: (0..40)
            .map(|k| top * (1.0 - (-rate * k as f64).exp()))
            .collect(),
    };
    let curves = vec![
        curve("cronos (ADMM)", 0.3, 0.86),
        curve("SGD", 0.1, 0.84),
        curve("Adam", 0.2, 0.85),
        CompareCurve {
            label: "empty".into(),
            ..CompareCurve::default()
        },
    ];
    for ext in ["png", "svg"] {
        let path = dir.path().join(format!("compare.{ext}"));
        write_comparison(&path, "Fashion-MNIST: validation accuracy", &curves).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 5_000);
    }
    let svg = std::fs::read_to_string(dir.path().join("compare.svg")).unwrap();
    assert!(svg.contains("Fashion-MNIST: validation accuracy") && svg.contains("SGD"));

    let path = dir.path().join("none.png");
    write_comparison(&path, "nothing", &[]).unwrap();
    let err = write_comparison(&dir.path().join("x.jpg"), "t", &curves).unwrap_err();
    assert!(matches!(err, PlotError::UnsupportedFormat { .. }));
}

/// Writes sample plots to `$CRONOS_PLOT_SAMPLES` (if set) for visual review.
#[test]
fn write_samples_for_review() {
    let Some(dir) = std::env::var_os("CRONOS_PLOT_SAMPLES") else {
        return;
    };
    let dir = Path::new(&dir);
    write_report(&dir.join("report.png"), &info(), &synthetic(50)).unwrap();
    write_report(&dir.join("report.svg"), &info(), &synthetic(50)).unwrap();
    write_report(&dir.join("empty.png"), &info(), &Series::default()).unwrap();
    write_report(&dir.join("single.png"), &info(), &synthetic(1)).unwrap();
    let curves: Vec<CompareCurve> = [("cronos (ADMM)", 0.3_f64, 0.86), ("SGD", 0.1, 0.84)]
        .iter()
        .map(|(label, rate, top)| CompareCurve {
            label: label.to_string(),
            seconds: (0..40).map(|k| 0.25 * k as f64).collect(),
            accuracy: (0..40)
                .map(|k| top * (1.0 - (-rate * k as f64).exp()))
                .collect(),
        })
        .collect();
    write_comparison(&dir.join("compare.png"), "Fashion-MNIST", &curves).unwrap();
}
