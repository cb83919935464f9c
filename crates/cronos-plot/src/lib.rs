//! Training-report plots for cronos.
//!
//! Renders a three-panel training report ([`write_report`]) and a
//! method-comparison plot ([`write_comparison`]) as SVG or PNG, chosen by the
//! output file's extension. Rendering uses `plotters` without its default
//! features: text is drawn with an embedded copy of DejaVu Sans (see
//! `assets/DejaVuSans-LICENSE.txt`), so no system fonts or fontconfig are
//! needed.
//!
//! Files are written atomically: the plot is rendered into a temporary file in
//! the target directory and then renamed over the target, so a failed call
//! never leaves a partial file behind.
//!
//! The functions never panic on odd data: empty series, a single point,
//! constant values, NaN and infinities are all drawn (or skipped) gracefully.

mod data;
mod panels;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// Per-iteration history of one training run, as recorded by the solver.
///
/// All vectors are indexed by ADMM iteration; they may have different lengths
/// (each panel uses the common prefix of the vectors it needs). Non-finite
/// values are skipped, never fatal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Wall-clock time since the start of training, in seconds.
    pub seconds: Vec<f64>,
    /// Primal objective value.
    pub objective: Vec<f64>,
    /// Certified relative duality gap (dimensionless).
    pub relative_gap: Vec<f64>,
    /// Training accuracy as a fraction in `[0, 1]` (values above 1 mean the
    /// series is already in percent); `None` where it was not evaluated.
    pub train_accuracy: Vec<Option<f64>>,
    /// Test accuracy, same convention as `train_accuracy`.
    pub test_accuracy: Vec<Option<f64>>,
    /// Conjugate-gradient iterations spent in each ADMM step.
    pub cg_iterations: Vec<f64>,
    /// ADMM primal residual norm (kept for callers; not plotted yet).
    pub primal_residual: Vec<f64>,
    /// ADMM dual residual norm (kept for callers; not plotted yet).
    pub dual_residual: Vec<f64>,
}

/// Descriptive information drawn on a report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportInfo {
    /// Figure title, e.g. `"cronos: convex ReLU, Fashion-MNIST, P=64, β=1e-3"`.
    pub title: String,
}

/// One method's validation-accuracy curve for [`write_comparison`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareCurve {
    /// Legend label (method name).
    pub label: String,
    /// Wall-clock time in seconds.
    pub seconds: Vec<f64>,
    /// Validation accuracy, fraction in `[0, 1]` (or percent if any value > 1).
    pub accuracy: Vec<f64>,
}

/// Errors from writing a plot.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The output path does not end in `.svg` or `.png`.
    #[error("unsupported plot format for {path:?}: expected a .svg or .png file name")]
    UnsupportedFormat {
        /// The offending path.
        path: PathBuf,
    },
    /// Reading or writing a file failed (including a missing output directory).
    #[error("I/O error on {path:?}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The embedded font could not be registered with plotters.
    #[error("could not register the embedded font: {0}")]
    Font(String),
    /// plotters reported an error while drawing or encoding.
    #[error("drawing failed: {0}")]
    Draw(String),
}

/// Size of the training report in pixels (SVG user units for SVG output).
pub const REPORT_SIZE: (u32, u32) = (1200, 1000);
/// Size of the comparison plot in pixels.
pub const COMPARISON_SIZE: (u32, u32) = (1100, 650);

/// Writes the three-panel training report to `path`.
///
/// The format is chosen by extension (`.svg` or `.png`, case-insensitive);
/// anything else is [`PlotError::UnsupportedFormat`]. Panels: objective and
/// certified relative gap vs time (log scale), train/test accuracy (%) vs
/// time, and CG iterations per ADMM step. Writes atomically: on error no
/// file (partial or temporary) remains.
pub fn write_report(path: &Path, info: &ReportInfo, s: &Series) -> Result<(), PlotError> {
    render_to_file(path, REPORT_SIZE, &Report { info, series: s })
}

/// Writes validation accuracy vs time for several methods on one axis.
///
/// Same format and atomicity rules as [`write_report`]. Curves with no
/// finite points are listed in the legend but draw nothing.
pub fn write_comparison(
    path: &Path,
    title: &str,
    curves: &[CompareCurve],
) -> Result<(), PlotError> {
    render_to_file(path, COMPARISON_SIZE, &Comparison { title, curves })
}

/// Output formats, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Svg,
    Png,
}

fn format_of(path: &Path) -> Result<Format, PlotError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => Ok(Format::Svg),
        Some("png") => Ok(Format::Png),
        _ => Err(PlotError::UnsupportedFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// Registers the embedded font with plotters exactly once per process.
fn ensure_font() -> Result<(), PlotError> {
    static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        ["sans-serif", "serif", "monospace"]
            .iter()
            .all(|family| register_font(family, FontStyle::Normal, FONT).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font("DejaVuSans.ttf is not a valid font".into()))
    }
}

/// Converts a plotters drawing error into a [`PlotError`].
pub(crate) fn draw_err<E: std::error::Error + Send + Sync>(
    e: plotters::drawing::DrawingAreaErrorKind<E>,
) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// A figure that can be drawn on any plotters backend.
trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// The three-panel training report.
struct Report<'a> {
    info: &'a ReportInfo,
    series: &'a Series,
}

impl Figure for Report<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        panels::draw_report(root, self.info, self.series)
    }
}

/// The method-comparison plot.
struct Comparison<'a> {
    title: &'a str,
    curves: &'a [CompareCurve],
}

impl Figure for Comparison<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        panels::draw_comparison(root, self.title, self.curves)
    }
}

fn render_to_file<F: Figure>(path: &Path, size: (u32, u32), fig: &F) -> Result<(), PlotError> {
    let format = format_of(path)?;
    ensure_font()?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| PlotError::Io { path: p, source }
    };
    if !std::fs::metadata(&dir).map_err(io_err(&dir))?.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory");
        return Err(PlotError::Io { path: dir, source });
    }
    let tmp = temp_path(&dir, path, format);
    let result = render_into(&tmp, size, format, fig)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(io_err(path)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Renders into `tmp` and syncs it to disk. Panics inside plotters are
/// caught and reported as [`PlotError::Draw`].
fn render_into<F: Figure>(
    tmp: &Path,
    size: (u32, u32),
    format: Format,
    fig: &F,
) -> Result<(), PlotError> {
    let io_err = |source| PlotError::Io {
        path: tmp.to_path_buf(),
        source,
    };
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match format {
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                fig.draw(&root)?;
                root.present().map_err(draw_err)?;
            }
            let mut f = std::fs::File::create(tmp).map_err(io_err)?;
            f.write_all(svg.as_bytes()).map_err(io_err)?;
            f.sync_all().map_err(io_err)
        }
        Format::Png => {
            {
                let root = BitMapBackend::new(tmp, size).into_drawing_area();
                fig.draw(&root)?;
                root.present().map_err(draw_err)?;
            }
            std::fs::File::open(tmp)
                .and_then(|f| f.sync_all())
                .map_err(io_err)
        }
    }));
    match attempt {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic in plotters".into());
            Err(PlotError::Draw(msg))
        }
    }
}

/// A unique hidden temporary name next to `target`, keeping the extension
/// (the PNG encoder picks its format from it).
fn temp_path(dir: &Path, target: &Path, format: Format) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let stem = target
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plot");
    let ext = match format {
        Format::Svg => "svg",
        Format::Png => "png",
    };
    dir.join(format!(".{stem}.tmp-{}-{n}.{ext}", std::process::id()))
}
