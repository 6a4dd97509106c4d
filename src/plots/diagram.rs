//! The (η, B) stability diagram as a figure: `η*_k(B)` per order on log–log axes (solid, with
//! markers), the Theorem 2 (dashed) and Corollary 1 (dotted) implied limits in the order's
//! colour, and for `k = 2` the two necessary bounds of Mulayoff & Michaeli (grey, dashed /
//! dash-dotted); one marker shape per order, ticks over the plotted range
//! ([`super::ticks`]), the input named in the title, and optionally the training point (a star).

use super::{ticks, Figure};
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

/// The `(η, B)` a network was trained with, marked on the diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingPoint {
    /// Learning rate `η`.
    pub lr: f64,
    /// Batch size `B`.
    pub batch: usize,
}

/// A [`DiagramReport`] with the training point marked (a black star, in the legend).
#[derive(Debug, Clone)]
pub struct MarkedDiagramFigure<'a> {
    /// The table.
    pub report: &'a DiagramReport,
    /// The point to mark.
    pub training: TrainingPoint,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// Text sizes in pixels (the figure is 1000 px wide; at a column width of about 500 px the tick
/// labels are 11 px high).
const TITLE_PX: u32 = 28;
const SUBTITLE_PX: u32 = 20;
const LABEL_PX: u32 = 22;
const AXIS_PX: u32 = 24;
const LEGEND_PX: u32 = 20;
const LEGEND_ROW: i32 = 30;

/// Marker shape of the `idx`-th order: circle, triangle, square, diamond, then again.
#[derive(Debug, Clone, Copy)]
enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
}

fn marker(idx: usize) -> Marker {
    [
        Marker::Circle,
        Marker::Triangle,
        Marker::Square,
        Marker::Diamond,
    ][idx % 4]
}

/// A legend line: label, colour, stroke width, dash `(size, gap)` (`None`: solid), marker.
type LegendEntry = (String, RGBColor, u32, Option<(u32, u32)>, Option<Marker>);

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

/// Draws `m` of size `s` at pixel `(x, y)` of `area`.
fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    m: Marker,
    (x, y): (i32, i32),
    s: i32,
    color: RGBColor,
) -> Result<(), String> {
    match m {
        Marker::Circle => area.draw(&Circle::new((x, y), s, color.filled())),
        Marker::Triangle => area.draw(&Polygon::new(
            vec![(x, y - s - 1), (x - s - 1, y + s), (x + s + 1, y + s)],
            color.filled(),
        )),
        Marker::Square => area.draw(&Rectangle::new(
            [(x - s, y - s), (x + s, y + s)],
            color.filled(),
        )),
        Marker::Diamond => area.draw(&Polygon::new(
            vec![
                (x, y - s - 2),
                (x + s + 2, y),
                (x, y + s + 2),
                (x - s - 2, y),
            ],
            color.filled(),
        )),
    }
    .map_err(e)
}

/// A five-pointed star of outer radius `r` at pixel `(x, y)`.
fn star(x: i32, y: i32, r: f64) -> Vec<(i32, i32)> {
    (0..10)
        .map(|i| {
            let rad = if i % 2 == 0 { r } else { 0.45 * r };
            let a = std::f64::consts::PI * (i as f64 / 5.0 - 0.5);
            (
                x + (rad * a.cos()).round() as i32,
                y + (rad * a.sin()).round() as i32,
            )
        })
        .collect()
}

impl Figure for DiagramFigure<'_> {
    fn size(&self) -> (u32, u32) {
        FIGURE_SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw_diagram(self.report, None, root)
    }
}

impl Figure for MarkedDiagramFigure<'_> {
    fn size(&self) -> (u32, u32) {
        FIGURE_SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw_diagram(self.report, Some(self.training), root)
    }
}

const FIGURE_SIZE: (u32, u32) = (1000, 860);

/// The diagram of `r`: title naming the input, log–log axes with ticks over the plotted range,
/// one colour and marker per order, the legend under the plot, the training point if given.
fn draw_diagram<DB: DrawingBackend>(
    r: &DiagramReport,
    training: Option<TrainingPoint>,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let mut all: Vec<f64> = r
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
    let mut bs: Vec<f64> = r.batches.iter().map(|&b| b as f64).collect();
    if let Some(t) = training {
        if t.lr.is_finite() && t.lr > 0.0 {
            all.push(t.lr);
        }
        bs.push(t.batch as f64);
    }
    let (ymin, ymax) = if all.is_empty() {
        (0.1, 10.0)
    } else {
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = all.iter().copied().fold(0.0f64, f64::max);
        (lo / 1.25, hi * 1.25)
    };
    let bmin = bs.iter().copied().fold(f64::INFINITY, f64::min).max(1.0);
    let bmax = bs.iter().copied().fold(1.0f64, f64::max);
    let (xmin, xmax) = if bmax > bmin {
        (bmin / 1.15, bmax * 1.15)
    } else {
        (bmin / 2.0, bmin * 2.0)
    };
    let mut legend: Vec<LegendEntry> = Vec::new();
    for (idx, &k) in r.orders.iter().enumerate() {
        let color = PALETTE[idx % PALETTE.len()];
        legend.push((
            format!("η*_{k}, exact (k = {k})"),
            color,
            3,
            None,
            Some(marker(idx)),
        ));
        legend.push((
            format!("Theorem 2 limit, k = {k}"),
            color,
            2,
            Some((10, 6)),
            None,
        ));
        legend.push((
            format!("Corollary 1 limit, k = {k}"),
            color,
            2,
            Some((3, 5)),
            None,
        ));
        if k == 2 {
            let grey = RGBColor(90, 90, 90);
            legend.push((
                "Mulayoff–Michaeli trace bound (k = 2)".into(),
                grey,
                2,
                Some((14, 7)),
                None,
            ));
            legend.push((
                "top-eigenvector bound (k = 2)".into(),
                grey,
                2,
                Some((5, 4)),
                None,
            ));
        }
    }
    let legend_rows = (legend.len() + usize::from(training.is_some())).div_ceil(2) as u32;
    let (w, h) = FIGURE_SIZE;
    let top_h = 16 + TITLE_PX + 8 + 2 * (SUBTITLE_PX + 6);
    let legend_h = 16 + LEGEND_ROW as u32 * legend_rows;
    let (top, rest) = root.split_vertically(top_h);
    let (plot_area, legend_area) = rest.split_vertically(h - top_h - legend_h);
    let input = r.input.as_deref().unwrap_or("the gradients");
    top.draw_text(
        &format!("Stable learning rates η*_k(B) of {input}"),
        &("sans-serif", TITLE_PX).into_font().color(&BLACK),
        (20, 10),
    )
    .map_err(e)?;
    let sub1 = format!(
        "n = {}, w = {}, rank r = {}, batches drawn {}; stable below each solid curve",
        r.n,
        r.w,
        r.rank,
        r.sampling.to_string().replace('-', " ")
    );
    let sub2 = match training {
        Some(t) => format!(
            "★ the network's training point η = {}, B = {}",
            t.lr, t.batch
        ),
        None => "dashed/dotted: the implied limits of Theorem 2 and Corollary 1".to_string(),
    };
    for (i, line) in [sub1, sub2].iter().enumerate() {
        top.draw_text(
            line,
            &("sans-serif", SUBTITLE_PX)
                .into_font()
                .color(&RGBColor(50, 50, 50)),
            (
                20,
                (16 + TITLE_PX + 6 + (SUBTITLE_PX + 6) * i as u32) as i32,
            ),
        )
        .map_err(e)?;
    }
    let xt = ticks::log_ticks(xmin, xmax, 12);
    let yt = ticks::log_ticks(ymin, ymax, 16);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin(20)
        .x_label_area_size(66)
        .y_label_area_size(100)
        .build_cartesian_2d(
            (xmin..xmax).log_scale().with_key_points(xt.values()),
            (ymin..ymax).log_scale().with_key_points(yt.values()),
        )
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("batch size B")
        .y_desc("learning rate η")
        .label_style(("sans-serif", LABEL_PX))
        .x_label_formatter(&|x| xt.label(*x))
        .y_label_formatter(&|y| yt.label(*y))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(WHITE)
        .axis_desc_style(("sans-serif", AXIS_PX))
        .draw()
        .map_err(e)?;
    for (idx, &k) in r.orders.iter().enumerate() {
        let color = PALETTE[idx % PALETTE.len()];
        let rows: Vec<&DiagramRow> = r.rows.iter().filter(|row| row.k == k).collect();
        let exact = series(&rows, |row| row.lr_threshold);
        chart
            .draw_series(LineSeries::new(exact.clone(), color.stroke_width(3)))
            .map_err(e)?;
        let t2 = series(&rows, |row| row.theorem2_limit);
        chart
            .draw_series(DashedLineSeries::new(t2, 10, 6, color.stroke_width(2)))
            .map_err(e)?;
        let c1 = series(&rows, |row| row.corollary1_limit);
        chart
            .draw_series(DashedLineSeries::new(c1, 3, 5, color.stroke_width(2)))
            .map_err(e)?;
        if k == 2 {
            let grey = RGBColor(90, 90, 90);
            let tr = series(&rows, |row| row.mm_trace_bound);
            chart
                .draw_series(DashedLineSeries::new(tr, 14, 7, grey.stroke_width(2)))
                .map_err(e)?;
            let top = series(&rows, |row| row.mm_top_eigenvector_bound);
            chart
                .draw_series(DashedLineSeries::new(top, 5, 4, grey.stroke_width(2)))
                .map_err(e)?;
        }
        let area = chart.plotting_area().strip_coord_spec();
        for p in &exact {
            let (x, y) = chart.backend_coord(p);
            let (ox, oy) = area.get_base_pixel();
            draw_marker(&area, marker(idx), (x - ox, y - oy), 6, color)?;
        }
    }
    if let Some(t) = training {
        if t.lr.is_finite() && t.lr > 0.0 {
            let (x, y) = chart.backend_coord(&(t.batch as f64, t.lr));
            let area = chart.plotting_area().strip_coord_spec();
            let (ox, oy) = area.get_base_pixel();
            let pts = star(x - ox, y - oy, 15.0);
            area.draw(&Polygon::new(pts.clone(), BLACK.filled()))
                .map_err(e)?;
            area.draw(&PathElement::new(
                pts.iter()
                    .copied()
                    .chain(pts.first().copied())
                    .collect::<Vec<_>>(),
                WHITE.stroke_width(1),
            ))
            .map_err(e)?;
        }
    }
    // the legend, in two columns under the plot
    let col_w = (w / 2) as i32;
    let mut entries: Vec<(Option<LegendEntry>, String)> = legend
        .into_iter()
        .map(|l| {
            let s = l.0.clone();
            (Some(l), s)
        })
        .collect();
    if let Some(t) = training {
        entries.push((
            None,
            format!("training point (η = {}, B = {})", t.lr, t.batch),
        ));
    }
    for (i, (entry, label)) in entries.iter().enumerate() {
        let (col, row) = (
            (i as u32 / legend_rows) as i32,
            (i as u32 % legend_rows) as i32,
        );
        let (x0, y) = (24 + col * col_w, 12 + LEGEND_ROW * row + LEGEND_ROW / 2);
        match entry {
            Some((_, color, width, dash, mk)) => {
                let style = color.stroke_width(*width);
                match dash {
                    None => legend_area
                        .draw(&PathElement::new(vec![(x0, y), (x0 + 56, y)], style))
                        .map_err(e)?,
                    Some((size, gap)) => legend_area
                        .draw(&DashedPathElement::new(
                            vec![(x0, y), (x0 + 56, y)],
                            *size,
                            *gap,
                            style,
                        ))
                        .map_err(e)?,
                }
                if let Some(m) = mk {
                    draw_marker(&legend_area, *m, (x0 + 28, y), 6, *color)?;
                }
            }
            None => {
                legend_area
                    .draw(&Polygon::new(star(x0 + 28, y, 13.0), BLACK.filled()))
                    .map_err(e)?;
            }
        }
        legend_area
            .draw(&Text::new(
                label.clone(),
                (x0 + 68, y - LEGEND_PX as i32 / 2 - 1),
                ("sans-serif", LEGEND_PX).into_font(),
            ))
            .map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_has_ten_corners_around_the_centre() {
        let s = star(100, 50, 10.0);
        assert_eq!(s.len(), 10);
        assert_eq!(s[0], (100, 40));
        assert!(s
            .iter()
            .all(|&(x, y)| ((x - 100).pow(2) + (y - 50).pow(2)) <= 121));
    }
}
