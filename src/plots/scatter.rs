//! A scatter plot of `(g_W, g_x)` pairs (Figure 1 of the paper in kind), one colour per value of
//! the varied hyper-parameter (a viridis ramp in increasing order), with a legend.

use super::Figure;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Points sharing one value of the varied parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Legend text, e.g. `"η = 0.1"`.
    pub label: String,
    /// The value (orders the colours).
    pub value: f64,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

/// The figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    /// First title line.
    pub title: String,
    /// Lines under the title (separated by `\n`), e.g. the data, the runs and the Pearson
    /// correlation.
    pub subtitle: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Groups in colour order (increasing value).
    pub groups: Vec<Group>,
}

/// The viridis colour map at `t ∈ [0, 1]` (linear interpolation between five anchors).
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 5] = [
        (68, 1, 84),
        (59, 82, 139),
        (33, 145, 140),
        (94, 201, 98),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

fn padded_range(vals: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi > lo {
        0.08 * (hi - lo)
    } else {
        0.5 * lo.abs().max(1.0)
    };
    (lo - pad)..(hi + pad)
}

/// Pixel sizes of the text (the figure is 1000 px wide: at a column width of about 500 px the
/// tick labels are still 10 px high).
const TITLE_PX: u32 = 30;
const SUBTITLE_PX: u32 = 20;
const LABEL_PX: u32 = 22;
const AXIS_PX: u32 = 24;
const LEGEND_PX: u32 = 22;

impl Figure for Scatter {
    fn size(&self) -> (u32, u32) {
        (1000, 820)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let sub_lines: Vec<&str> = self.subtitle.lines().collect();
        let top_h = 16 + TITLE_PX + 10 + (SUBTITLE_PX + 6) * sub_lines.len() as u32;
        let (top, main) = root.split_vertically(top_h);
        top.draw_text(
            &self.title,
            &("sans-serif", TITLE_PX).into_font().color(&BLACK),
            (20, 10),
        )
        .map_err(e)?;
        for (i, line) in sub_lines.iter().enumerate() {
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
        let xr = padded_range(
            self.groups
                .iter()
                .flat_map(|g| g.points.iter().map(|p| p.0)),
        );
        let yr = padded_range(
            self.groups
                .iter()
                .flat_map(|g| g.points.iter().map(|p| p.1)),
        );
        let mut chart = ChartBuilder::on(&main)
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(90)
            .build_cartesian_2d(xr, yr)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_labels(8)
            .y_labels(8)
            .label_style(("sans-serif", LABEL_PX))
            .axis_desc_style(("sans-serif", AXIS_PX))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(WHITE)
            .draw()
            .map_err(e)?;
        let count = self.groups.len();
        for (gi, g) in self.groups.iter().enumerate() {
            let t = if count > 1 {
                gi as f64 / (count - 1) as f64
            } else {
                0.5
            };
            let color = viridis(t);
            let edge = RGBColor(30, 30, 30);
            chart
                .draw_series(g.points.iter().map(move |&(x, y)| {
                    EmptyElement::at((x, y))
                        + Circle::new((0, 0), 8, color.filled())
                        + Circle::new((0, 0), 8, edge.stroke_width(1))
                }))
                .map_err(e)?
                .label(g.label.as_str())
                .legend(move |(x, y)| {
                    EmptyElement::at((x + 10, y))
                        + Circle::new((0, 0), 8, color.filled())
                        + Circle::new((0, 0), 8, edge.stroke_width(1))
                });
        }
        if count > 0 {
            chart
                .configure_series_labels()
                .label_font(("sans-serif", LEGEND_PX))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(e)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_middle() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(0.5), RGBColor(33, 145, 140));
        assert_eq!(viridis(f64::NAN), RGBColor(68, 1, 84));
    }

    #[test]
    fn renders_both_formats_with_legend_text() {
        let s = Scatter {
            title: "t".into(),
            subtitle: "Pearson r = 0.9".into(),
            x_label: "g_W".into(),
            y_label: "g_x".into(),
            groups: vec![
                Group {
                    label: "η = 0.1".into(),
                    value: 0.1,
                    points: vec![(1.0, 2.0), (1.5, 2.5)],
                },
                Group {
                    label: "η = 0.2".into(),
                    value: 0.2,
                    points: vec![(0.5, 1.0)],
                },
            ],
        };
        let svg = crate::plots::render_svg(&s).unwrap();
        assert!(svg.contains("Pearson r = 0.9") && svg.contains("η = 0.2"));
        // two groups: the first and last viridis colours appear
        assert!(
            svg.contains("#440154") && svg.contains("#FDE725"),
            "colours missing"
        );
        let png = crate::plots::render_png(&s).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }
}
