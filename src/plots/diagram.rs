//! The (η, B) stability diagram as a figure: `η*_k(B)` per order on log–log axes (solid, with
//! markers), the Theorem 2 (dashed) and Corollary 1 (dotted) implied limits in the order's
//! colour, and for `k = 2` the two necessary bounds of Mulayoff & Michaeli (grey, dashed /
//! dash-dotted).

use super::Figure;
use crate::threshold::diagram::{DiagramReport, DiagramRow};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// A [`DiagramReport`] ready to draw.
#[derive(Debug, Clone)]
pub struct DiagramFigure<'a> {
    /// The table.
    pub report: &'a DiagramReport,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// A legend line: label, colour, stroke width, dash `(size, gap)` (`None`: solid).
type LegendEntry = (String, RGBColor, u32, Option<(u32, u32)>);

fn series(rows: &[&DiagramRow], f: impl Fn(&DiagramRow) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| {
            f(r).filter(|v| v.is_finite() && *v > 0.0)
                .map(|v| (r.batch as f64, v))
        })
        .collect()
}

fn e<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

impl Figure for DiagramFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1300, 720)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let r = self.report;
        let all: Vec<f64> = r
            .rows
            .iter()
            .flat_map(|row| {
                [
                    row.lr_threshold,
                    row.theorem2_limit,
                    row.corollary1_limit,
                    row.mm_trace_bound,
                    row.mm_top_eigenvector_bound,
                ]
            })
            .flatten()
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        let (ymin, ymax) = if all.is_empty() {
            (0.1, 10.0)
        } else {
            let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = all.iter().copied().fold(0.0f64, f64::max);
            (lo / 1.25, hi * 1.25)
        };
        let bmin = *r.batches.first().unwrap_or(&1) as f64;
        let bmax = *r.batches.last().unwrap_or(&1) as f64;
        let (xmin, xmax) = if bmax > bmin {
            (bmin / 1.1, bmax * 1.1)
        } else {
            (bmin / 2.0, bmin * 2.0)
        };
        let title = format!(
            "Stable learning rates η*_k(B): n = {}, w = {}, r = {}, sampling {}",
            r.n, r.w, r.rank, r.sampling
        );
        let (plot_area, legend_area) = root.split_horizontally(self.size().0 - 300);
        let mut legend: Vec<LegendEntry> = Vec::new();
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d((xmin..xmax).log_scale(), (ymin..ymax).log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("batch size B")
            .y_desc("learning rate η")
            .label_style(("sans-serif", 15))
            .x_labels(12)
            .y_labels(12)
            .x_label_formatter(&|x| format!("{}", x.round()))
            .y_label_formatter(&|y| format!("{y:.3}"))
            .light_line_style(WHITE.mix(0.0))
            .axis_desc_style(("sans-serif", 17))
            .draw()
            .map_err(e)?;
        for (idx, &k) in r.orders.iter().enumerate() {
            let color = PALETTE[idx % PALETTE.len()];
            let rows: Vec<&DiagramRow> = r.rows.iter().filter(|row| row.k == k).collect();
            let exact = series(&rows, |row| row.lr_threshold);
            chart
                .draw_series(LineSeries::new(exact.clone(), color.stroke_width(2)))
                .map_err(e)?;
            legend.push((format!("η*_{k} (exact)"), color, 2, None));
            chart
                .draw_series(exact.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(e)?;
            let t2 = series(&rows, |row| row.theorem2_limit);
            chart
                .draw_series(DashedLineSeries::new(t2, 8, 5, color.stroke_width(1)))
                .map_err(e)?;
            legend.push((format!("Theorem 2 limit, k = {k}"), color, 1, Some((8, 5))));
            let c1 = series(&rows, |row| row.corollary1_limit);
            chart
                .draw_series(DashedLineSeries::new(c1, 2, 4, color.stroke_width(1)))
                .map_err(e)?;
            legend.push((
                format!("Corollary 1 limit, k = {k}"),
                color,
                1,
                Some((2, 4)),
            ));
            if k == 2 {
                let grey = RGBColor(90, 90, 90);
                let tr = series(&rows, |row| row.mm_trace_bound);
                chart
                    .draw_series(DashedLineSeries::new(tr, 12, 6, grey.stroke_width(2)))
                    .map_err(e)?;
                legend.push((
                    "Mulayoff–Michaeli trace bound (k = 2)".into(),
                    grey,
                    2,
                    Some((12, 6)),
                ));
                let top = series(&rows, |row| row.mm_top_eigenvector_bound);
                chart
                    .draw_series(DashedLineSeries::new(top, 4, 3, grey.stroke_width(2)))
                    .map_err(e)?;
                legend.push((
                    "top-eigenvector bound (k = 2)".into(),
                    grey,
                    2,
                    Some((4, 3)),
                ));
            }
        }
        // the legend, in its own panel to the right of the plot
        let top = 60i32;
        for (i, (label, color, width, dash)) in legend.iter().enumerate() {
            let y = top + 24 * i as i32;
            let style = color.stroke_width(*width);
            match dash {
                None => {
                    legend_area
                        .draw(&PathElement::new(vec![(8, y), (48, y)], style))
                        .map_err(e)?;
                }
                Some((size, gap)) => {
                    legend_area
                        .draw(&DashedPathElement::new(
                            vec![(8, y), (48, y)],
                            *size,
                            *gap,
                            style,
                        ))
                        .map_err(e)?;
                }
            }
            legend_area
                .draw(&Text::new(
                    label.clone(),
                    (56, y - 8),
                    ("sans-serif", 14).into_font(),
                ))
                .map_err(e)?;
        }
        Ok(())
    }
}
