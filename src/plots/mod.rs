//! Plots: SVG and PNG from one drawing routine, with an embedded font (no system fonts needed),
//! written atomically.
//!
//! A figure implements [`Figure`] once, generically over the plotters backend; [`save`] renders
//! it to `.svg` or `.png` by the path's extension.

pub mod diagram;
pub mod generalization;
pub mod scatter;
pub mod ticks;

use crate::error::{Error, Param, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The output image formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics.
    Png,
}

impl ImageFormat {
    /// From the extension of `path` (`.svg` or `.png`, case-insensitive).
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("svg") => Ok(ImageFormat::Svg),
            Some("png") => Ok(ImageFormat::Png),
            _ => Err(Error::parameter(
                Param::Plot,
                path.display(),
                "the image file must end in .svg or .png",
            )),
        }
    }
}

/// Something that can draw itself on any plotters backend.
pub trait Figure {
    /// Size in pixels `(width, height)`.
    fn size(&self) -> (u32, u32) {
        (960, 640)
    }
    /// Draws on `root` (already filled white).
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String>;
}

static FONT: Once = Once::new();

/// Registers the embedded DejaVu Sans as plotters' "sans-serif" (idempotent).
pub fn register_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        message: format!("drawing failed: {e}"),
    }
}

/// Renders `fig` as SVG text.
pub fn render_svg(fig: &impl Figure) -> std::result::Result<String, String> {
    register_font();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, fig.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        fig.draw(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(s)
}

/// Renders `fig` as PNG bytes.
pub fn render_png(fig: &impl Figure) -> std::result::Result<Vec<u8>, String> {
    register_font();
    let (w, h) = fig.size();
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        fig.draw(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let img = image::RgbImage::from_raw(w, h, rgb).ok_or("bad image buffer")?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageOutputFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// Renders `fig` to `path` (`.svg` or `.png`), atomically.
pub fn save(fig: &impl Figure, path: &Path) -> Result<()> {
    let bytes = match ImageFormat::from_path(path)? {
        ImageFormat::Svg => render_svg(fig).map_err(|e| plot_err(path, e))?.into_bytes(),
        ImageFormat::Png => render_png(fig).map_err(|e| plot_err(path, e))?,
    };
    crate::io::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Line;
    impl Figure for Line {
        fn size(&self) -> (u32, u32) {
            (320, 240)
        }
        fn draw<DB: DrawingBackend>(
            &self,
            root: &DrawingArea<DB, Shift>,
        ) -> std::result::Result<(), String> {
            let mut chart = ChartBuilder::on(root)
                .caption("test", ("sans-serif", 16))
                .margin(5)
                .x_label_area_size(30)
                .y_label_area_size(30)
                .build_cartesian_2d(0f64..1f64, 0f64..1f64)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc("x")
                .draw()
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], &BLUE))
                .map_err(|e| e.to_string())?;
            Ok(())
        }
    }

    #[test]
    fn svg_and_png_render_with_text() {
        let svg = render_svg(&Line).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("test"));
        let png = render_png(&Line).unwrap();
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!((img.width(), img.height()), (320, 240));
    }
}
