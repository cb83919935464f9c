//! Drawing of the report panels and the comparison plot on any backend.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::data::{self, LOG_FLOOR};
use crate::{draw_err, CompareCurve, PlotError, ReportInfo, Series};

const FONT: &str = "sans-serif";
const TITLE_SIZE: u32 = 30;
const CAPTION_SIZE: u32 = 22;
const DESC_SIZE: u32 = 18;
const LABEL_SIZE: u32 = 15;
const LEGEND_SIZE: u32 = 16;
/// Series with at most this many points also get a marker per point.
const MARKER_LIMIT: usize = 80;

const OBJECTIVE_COLOR: RGBColor = RGBColor(31, 119, 180);
const GAP_COLOR: RGBColor = RGBColor(214, 39, 40);
const TRAIN_COLOR: RGBColor = RGBColor(44, 160, 44);
const TEST_COLOR: RGBColor = RGBColor(255, 127, 14);
const CG_COLOR: RGBColor = RGBColor(148, 103, 189);
const PALETTE: [RGBColor; 8] = [
    OBJECTIVE_COLOR,
    GAP_COLOR,
    TRAIN_COLOR,
    TEST_COLOR,
    CG_COLOR,
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

/// Draws the full three-panel report on `root`.
pub(crate) fn draw_report<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    info: &ReportInfo,
    s: &Series,
) -> Result<(), PlotError> {
    root.fill(&WHITE).map_err(draw_err)?;
    let body = root
        .titled(&info.title, (FONT, TITLE_SIZE))
        .map_err(draw_err)?;
    let (_, h) = body.dim_in_pixel();
    let (top, rest) = body.split_vertically(h * 2 / 5);
    let (middle, bottom) = rest.split_vertically(h * 3 / 10);
    let time = data::time_range(s.seconds.iter().copied());
    convergence_panel(&top, s, time.clone())?;
    accuracy_panel(&middle, s, time)?;
    cg_panel(&bottom, s)
}

/// Panel 1: objective and certified relative gap vs time, log-scale y.
fn convergence_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Series,
    time: std::ops::Range<f64>,
) -> Result<(), PlotError> {
    let x_span = time.end - time.start;
    // The convex objective is normally positive and is then plotted as is;
    // otherwise its distance to the best value seen is plotted instead.
    let finite_obj = || s.objective.iter().copied().filter(|v| v.is_finite());
    let (objective, obj_label) = if finite_obj().all(|v| v > 0.0) {
        (s.objective.clone(), "objective")
    } else {
        let min = finite_obj().fold(f64::INFINITY, f64::min);
        (
            s.objective.iter().map(|v| v - min).collect(),
            "objective − min(objective)",
        )
    };
    let obj = data::log_points(&s.seconds, &objective);
    let gap = data::log_points(&s.seconds, &s.relative_gap);
    let y = data::log_range(obj.iter().chain(&gap).map(|p| p.1));

    let mut chart = ChartBuilder::on(area)
        .caption(
            "Objective and certified relative duality gap",
            (FONT, CAPTION_SIZE),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(time, y.log_scale())
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("wall-clock time (s)")
        .x_label_formatter(&|v| tick(*v, x_span))
        .y_desc("value (log scale)")
        .axis_desc_style((FONT, DESC_SIZE))
        .label_style((FONT, LABEL_SIZE))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(draw_err)?;
    if obj.is_empty() && gap.is_empty() {
        return note(
            &chart.plotting_area().strip_coord_spec(),
            "no objective or gap recorded",
        );
    }
    let gap_label = if data::clips_to_floor(&s.relative_gap) {
        format!("certified relative gap (values < {LOG_FLOOR:.0e} drawn at {LOG_FLOOR:.0e})")
    } else {
        "certified relative gap".to_string()
    };
    line(&mut chart, &obj, OBJECTIVE_COLOR, obj_label)?;
    line(&mut chart, &gap, GAP_COLOR, &gap_label)?;
    // The gap decays towards the lower right, so the lower left is free.
    legend(&mut chart, SeriesLabelPosition::LowerLeft)
}

/// Panel 2: train and test accuracy (%) vs time.
fn accuracy_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Series,
    time: std::ops::Range<f64>,
) -> Result<(), PlotError> {
    let x_span = time.end - time.start;
    let all = s.train_accuracy.iter().chain(&s.test_accuracy).flatten();
    let scale = data::percent_scale(all);
    let train = data::option_points(&s.seconds, &s.train_accuracy, scale);
    let test = data::option_points(&s.seconds, &s.test_accuracy, scale);
    let y = data::percent_range(train.iter().chain(&test).map(|p| p.1));
    let y_span = y.end - y.start;

    let mut chart = ChartBuilder::on(area)
        .caption("Classification accuracy", (FONT, CAPTION_SIZE))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(time, y)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("wall-clock time (s)")
        .x_label_formatter(&|v| tick(*v, x_span))
        .y_desc("accuracy (%)")
        .axis_desc_style((FONT, DESC_SIZE))
        .label_style((FONT, LABEL_SIZE))
        .y_label_formatter(&|v| tick(*v, y_span))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(draw_err)?;
    if train.is_empty() && test.is_empty() {
        return note(
            &chart.plotting_area().strip_coord_spec(),
            "no accuracy recorded",
        );
    }
    line(&mut chart, &train, TRAIN_COLOR, "train accuracy")?;
    line(&mut chart, &test, TEST_COLOR, "test accuracy")?;
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

/// Panel 3: CG iterations per ADMM step vs iteration index.
fn cg_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Series,
) -> Result<(), PlotError> {
    let idx: Vec<f64> = (1..=s.cg_iterations.len()).map(|i| i as f64).collect();
    let pts: Vec<(i64, f64)> = data::linear_points(&idx, &s.cg_iterations)
        .into_iter()
        .map(|(i, v)| (i as i64, v))
        .collect();
    let max = pts.iter().map(|p| p.1).fold(0.0_f64, f64::max);
    let min = pts.iter().map(|p| p.1).fold(0.0_f64, f64::min);
    let y = if max > min { min..max * 1.1 } else { 0.0..1.0 };
    let y_span = y.end - y.start;
    let x = 0..(s.cg_iterations.len() as i64 + 1);
    let total: f64 = pts.iter().map(|p| p.1).sum();
    let caption = if pts.is_empty() {
        "CG iterations per ADMM step".to_string()
    } else {
        format!(
            "CG iterations per ADMM step (total {total:.0}, mean {:.1})",
            total / pts.len() as f64
        )
    };

    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, CAPTION_SIZE))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(x, y)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("ADMM iteration")
        .y_desc("CG iterations")
        .axis_desc_style((FONT, DESC_SIZE))
        .label_style((FONT, LABEL_SIZE))
        .y_label_formatter(&|v| tick(*v, y_span))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(draw_err)?;
    if pts.is_empty() {
        return note(
            &chart.plotting_area().strip_coord_spec(),
            "no CG iterations recorded",
        );
    }
    let style = CG_COLOR.stroke_width(2);
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), style))
        .map_err(draw_err)?;
    if pts.len() <= MARKER_LIMIT {
        let marks = pts.iter().map(|p| Circle::new(*p, 3, CG_COLOR.filled()));
        chart.draw_series(marks).map_err(draw_err)?;
    }
    Ok(())
}

/// Draws validation accuracy vs time for several methods on one axis.
pub(crate) fn draw_comparison<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    curves: &[CompareCurve],
) -> Result<(), PlotError> {
    root.fill(&WHITE).map_err(draw_err)?;
    let scale = data::percent_scale(curves.iter().flat_map(|c| &c.accuracy));
    let points: Vec<Vec<(f64, f64)>> = curves
        .iter()
        .map(|c| {
            let acc: Vec<f64> = c.accuracy.iter().map(|a| a * scale).collect();
            data::linear_points(&c.seconds, &acc)
        })
        .collect();
    let time = data::time_range(points.iter().flatten().map(|p| p.0));
    let x_span = time.end - time.start;
    let y = data::percent_range(points.iter().flatten().map(|p| p.1));
    let y_span = y.end - y.start;

    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, TITLE_SIZE))
        .margin(16)
        .x_label_area_size(55)
        .y_label_area_size(90)
        .build_cartesian_2d(time, y)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("wall-clock time (s)")
        .x_label_formatter(&|v| tick(*v, x_span))
        .y_desc("validation accuracy (%)")
        .axis_desc_style((FONT, DESC_SIZE))
        .label_style((FONT, LABEL_SIZE))
        .y_label_formatter(&|v| tick(*v, y_span))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(draw_err)?;
    if points.iter().all(Vec::is_empty) {
        return note(
            &chart.plotting_area().strip_coord_spec(),
            "no accuracy recorded",
        );
    }
    for (i, (curve, pts)) in curves.iter().zip(&points).enumerate() {
        line(&mut chart, pts, PALETTE[i % PALETTE.len()], &curve.label)?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

/// Draws a labelled line (plus markers for short series) into `chart`.
fn line<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    pts: &[(f64, f64)],
    color: RGBColor,
    label: &str,
) -> Result<(), PlotError>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let style = color.stroke_width(2);
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), style))
        .map_err(draw_err)?
        .label(label)
        .legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (24, 0)], style)
                + Circle::new((12, 0), 3, color.filled())
        });
    if pts.len() <= MARKER_LIMIT {
        let marks = pts.iter().map(|p| Circle::new(*p, 3, color.filled()));
        chart.draw_series(marks).map_err(draw_err)?;
    }
    Ok(())
}

/// Draws the legend box of `chart`.
fn legend<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<(), PlotError>
where
    DB: DrawingBackend + 'a,
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .margin(12)
        .legend_area_size(30)
        .label_font((FONT, LEGEND_SIZE))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.6))
        .draw()
        .map_err(draw_err)
}

/// Formats a tick label of a linear axis spanning `span` with just enough
/// decimals to tell neighbouring ticks (about ten per axis) apart.
fn tick(v: f64, span: f64) -> String {
    if !(span > 0.0 && span.is_finite()) {
        return format!("{v}");
    }
    if v.abs().max(span) >= 1e5 || span < 1e-4 {
        // Scientific notation without trailing zeros: "2.5e300", "1e-15".
        let sci = format!("{v:.3e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return if mantissa == "0" || mantissa == "-0" {
            "0".into()
        } else {
            format!("{mantissa}e{exp}")
        };
    }
    let decimals = (-(span / 10.0).log10() - 0.3).ceil().clamp(0.0, 6.0) as usize;
    let s = format!("{v:.decimals$}");
    // Avoid "-0" / "-0.0" labels.
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// Writes `msg` centred in a plotting area (used for panels without data).
fn note<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, msg: &str) -> Result<(), PlotError> {
    let (w, h) = area.dim_in_pixel();
    let style = TextStyle::from((FONT, CAPTION_SIZE).into_font())
        .color(&RGBColor(110, 110, 110))
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(msg, &style, (w as i32 / 2, h as i32 / 2))
        .map_err(draw_err)
}

#[cfg(test)]
mod tests {
    use super::tick;

    #[test]
    fn tick_labels_have_enough_decimals() {
        assert_eq!(tick(2.5, 3.3), "2.5");
        assert_eq!(tick(60.0, 40.0), "60");
        assert_eq!(tick(-0.0001, 3.0), "0.0");
        assert_eq!(tick(7.0, f64::NAN), "7");
        assert_eq!(tick(2e300, 4e300), "2e300");
        assert_eq!(tick(-2.5e299, 4e300), "-2.5e299");
        assert_eq!(tick(0.0, 4e300), "0");
        assert_eq!(tick(1.0, 1e-15), "1e0");
        assert_eq!(tick(3.0, 9.95), "3");
    }
}
