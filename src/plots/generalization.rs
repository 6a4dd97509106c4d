//! Theorems 6 and 7 against the measurements, as a figure on log–log axes. Left: the eq. (26)
//! bound vs `δ` per order (solid), its smoothness term (dashed, the order's colour), the
//! uncovered term `4M₁²ε₂(δ)` (grey, dotted), the measured test MSE (black horizontal line) and
//! the `δ → 0` limit `4M₁²ε₂(0+)` (grey horizontal line) and the test target variance (ochre,
//! dashed: the error of the best constant predictor). Right: the eq. (27) bound per order (solid)
//! and the measured sensitivity `max |f(x) − f(x_i)|` (black, with markers).

use super::Figure;
use crate::generalization::GeneralizationReport;
use plotters::coord::Shift;
use plotters::prelude::*;

/// A [`GeneralizationReport`] ready to draw.
#[derive(Debug, Clone)]
pub struct GeneralizationFigure<'a> {
    /// The report.
    pub report: &'a GeneralizationReport,
    /// First title line (e.g. the data set).
    pub title: String,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn e<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn positive(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    points
        .into_iter()
        .filter(|(x, y)| x.is_finite() && *x > 0.0 && y.is_finite() && *y > 0.0)
        .collect()
}

fn range(values: impl Iterator<Item = f64>, pad: f64) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 0.1..10.0;
    }
    if hi <= lo {
        return (lo / 10.0)..(hi * 10.0);
    }
    (lo / pad)..(hi * pad)
}

impl Figure for GeneralizationFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1500, 720)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let r = self.report;
        let (top, main) = root.split_vertically(70);
        top.draw_text(
            &self.title,
            &("sans-serif", 22).into_font().color(&BLACK),
            (20, 8),
        )
        .map_err(e)?;
        let sub = format!(
            "n = {}, d = {}, w = {}, η = {}, B = {}; test MSE {:.3e} on {} test points; C, K, sensitivity are lower estimates; ‖W_1ᵀ‖_2k at its upper bracket",
            r.n, r.d, r.w, r.lr, r.batch, r.measured.test_mse, r.n_test
        );
        top.draw_text(
            &sub,
            &("sans-serif", 15).into_font().color(&RGBColor(60, 60, 60)),
            (20, 40),
        )
        .map_err(e)?;
        let (left, right) = main.split_horizontally(750);
        let deltas: Vec<f64> = r.covering.rows.iter().map(|c| c.delta).collect();
        let xr = range(deltas.iter().copied(), 1.15);
        let grey = RGBColor(120, 120, 120);

        // eq. (26)
        let y26 = range(
            r.orders
                .iter()
                .flat_map(|o| {
                    o.rows
                        .iter()
                        .flat_map(|row| [row.eq26.total, row.eq26.uncovered_term])
                })
                .chain([
                    r.measured.test_mse,
                    r.eq26_small_delta_limit,
                    r.measured.test_target_variance,
                ]),
            2.0,
        );
        let mut chart = ChartBuilder::on(&left)
            .caption(
                "Theorem 6, eq. (26): bound on E(f − f*)²",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(xr.clone().log_scale(), y26.clone().log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("δ")
            .y_desc("mean squared error")
            .label_style(("sans-serif", 14))
            .x_label_formatter(&|x| format!("{x:.1e}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .light_line_style(WHITE.mix(0.0))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(e)?;
        for (idx, o) in r.orders.iter().enumerate() {
            let color = PALETTE[idx % PALETTE.len()];
            let total = positive(o.rows.iter().map(|row| (row.delta, row.eq26.total)));
            chart
                .draw_series(LineSeries::new(total, color.stroke_width(2)))
                .map_err(e)?
                .label(format!("eq. (26) bound, k = {}", o.k))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 30, y)], color.stroke_width(2))
                });
            let smooth = positive(
                o.rows
                    .iter()
                    .map(|row| (row.delta, row.eq26.smoothness_term)),
            );
            chart
                .draw_series(DashedLineSeries::new(smooth, 8, 5, color.stroke_width(1)))
                .map_err(e)?
                .label(format!("smoothness term, k = {}", o.k))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 12, y)], color.stroke_width(1))
                });
        }
        if let Some(o) = r.orders.first() {
            let unc = positive(
                o.rows
                    .iter()
                    .map(|row| (row.delta, row.eq26.uncovered_term)),
            );
            chart
                .draw_series(DashedLineSeries::new(unc, 2, 4, grey.stroke_width(2)))
                .map_err(e)?
                .label("uncovered term 4M₁²ε₂(δ)")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 6, y)], grey.stroke_width(2))
                });
        }
        let hline = |v: f64| positive([(xr.start, v), (xr.end, v)]);
        chart
            .draw_series(LineSeries::new(
                hline(r.eq26_small_delta_limit),
                grey.stroke_width(1),
            ))
            .map_err(e)?
            .label("δ → 0 limit 4M₁²ε₂(0+)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 30, y)], grey.stroke_width(1))
            });
        let var_color = RGBColor(184, 134, 11);
        chart
            .draw_series(DashedLineSeries::new(
                hline(r.measured.test_target_variance),
                10,
                6,
                var_color.stroke_width(2),
            ))
            .map_err(e)?
            .label("test target variance (constant predictor)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 30, y)], var_color.stroke_width(2))
            });
        chart
            .draw_series(LineSeries::new(
                hline(r.measured.test_mse),
                BLACK.stroke_width(3),
            ))
            .map_err(e)?
            .label("measured test MSE")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], BLACK.stroke_width(3)));
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(e)?;

        // eq. (27)
        let y27 = range(
            r.orders
                .iter()
                .flat_map(|o| o.rows.iter().map(|row| row.eq27.bound))
                .chain(r.sensitivity.iter().map(|s| s.measured)),
            2.0,
        );
        let mut chart = ChartBuilder::on(&right)
            .caption(
                "Theorem 7, eq. (27): |f(x) − f(x_i)| for ‖x − x_i‖ ≤ δ",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(xr.clone().log_scale(), y27.log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("δ")
            .y_desc("change of f")
            .label_style(("sans-serif", 14))
            .x_label_formatter(&|x| format!("{x:.1e}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .light_line_style(WHITE.mix(0.0))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(e)?;
        for (idx, o) in r.orders.iter().enumerate() {
            let color = PALETTE[idx % PALETTE.len()];
            let bound = positive(o.rows.iter().map(|row| (row.delta, row.eq27.bound)));
            chart
                .draw_series(LineSeries::new(bound, color.stroke_width(2)))
                .map_err(e)?
                .label(format!("eq. (27) bound, k = {}", o.k))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 30, y)], color.stroke_width(2))
                });
        }
        let measured = positive(r.sensitivity.iter().map(|s| (s.delta, s.measured)));
        chart
            .draw_series(LineSeries::new(measured.clone(), BLACK.stroke_width(2)))
            .map_err(e)?
            .label("measured sensitivity")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], BLACK.stroke_width(2)));
        chart
            .draw_series(measured.iter().map(|&p| Circle::new(p, 3, BLACK.filled())))
            .map_err(e)?;
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(e)?;
        Ok(())
    }
}
