//! Publication-quality charts for sweep results, rendered to PNG and SVG.
//!
//! This module owns the public entry point [`render`], the error type
//! [`PlotError`], the colour-blind-safe category palette and the embedded
//! font. Every chart kind lives in its own file as a plain data struct whose
//! strings the caller has already formatted (units included, e.g.
//! `"Throughput (tok/s)"`); the chart files only turn that data into pixels.
//!
//! Each chart is drawn by one generic function over plotters'
//! [`DrawingBackend`], so the PNG and the SVG always come from the same
//! drawing code. Text uses DejaVu Sans compiled into the binary, so rendering
//! works on a headless machine without any system fonts.

mod cells;
mod common;
mod distribution;
mod forest;
mod heatmap;
mod pareto;
mod timeline;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, RGBColor, register_font};

pub use cells::{CellIntervals, IntervalSeries, PointInterval};
pub use distribution::{BoxSummary, Distributions};
pub use forest::{Forest, ForestRow};
pub use heatmap::{Heatmap, HeatmapPanel};
pub use pareto::{Pareto, ParetoPoint};
pub use timeline::{MAX_POINTS_PER_SERIES, MAX_RELOAD_LINES, Timeline, TimelineSeries};

use common::DrawFailure;

/// Okabe–Ito palette: distinguishable under the common colour-vision
/// deficiencies, so series (agents) stay apart in print and on screen.
pub const OKABE_ITO: [RGBColor; 8] = [
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xF0, 0xE4, 0x42),
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x00, 0x00, 0x00),
];

/// Colour of series `index`; wraps around after the eighth series (marker
/// shapes still differ, see the chart files).
pub fn series_color(index: usize) -> RGBColor {
    OKABE_ITO[index % OKABE_ITO.len()]
}

/// The only font family the charts use; registered from the embedded file.
pub const FONT_FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));

/// Registers the embedded font once per process; later calls reuse the outcome.
fn ensure_font_registered() -> Result<(), PlotError> {
    static REGISTRATION: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTRATION
        .get_or_init(|| {
            register_font(FONT_FAMILY, FontStyle::Normal, DEJAVU_SANS)
                .map_err(|_| "embedded DejaVuSans.ttf is not a valid font".to_string())
        })
        .clone()
        .map_err(|message| PlotError::Font { message })
}

/// Everything that can go wrong while rendering a chart.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The output directory could not be created.
    #[error("cannot create plot directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The chart has nothing to draw; no file was written. `path` is the
    /// output path without extension.
    #[error("nothing to plot for {path}: {reason}")]
    NoData { path: PathBuf, reason: &'static str },
    /// plotters failed while drawing or writing the file at `path`.
    #[error("drawing {path} failed: {message}")]
    Draw { path: PathBuf, message: String },
    /// The embedded font could not be registered (a build problem).
    #[error("cannot load the embedded font: {message}")]
    Font { message: String },
}

/// The two files written by [`render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFiles {
    pub png: PathBuf,
    pub svg: PathBuf,
}

/// Any chart kind, borrowed. Build one with `.into()` from a reference to a
/// chart struct, e.g. `render(&heatmap, dir, "throughput")`.
#[derive(Debug, Clone, Copy)]
pub enum Chart<'a> {
    Heatmap(&'a Heatmap),
    CellIntervals(&'a CellIntervals),
    Forest(&'a Forest),
    Distributions(&'a Distributions),
    Pareto(&'a Pareto),
    Timeline(&'a Timeline),
}

macro_rules! chart_from_ref {
    ($($kind:ident),*) => {
        $(impl<'a> From<&'a $kind> for Chart<'a> {
            fn from(chart: &'a $kind) -> Self {
                Chart::$kind(chart)
            }
        })*
    };
}
chart_from_ref!(
    Heatmap,
    CellIntervals,
    Forest,
    Distributions,
    Pareto,
    Timeline
);

impl Chart<'_> {
    /// Why the chart cannot be drawn, if it has nothing to show.
    fn missing_data(&self) -> Option<&'static str> {
        match self {
            Chart::Heatmap(chart) => chart.missing_data(),
            Chart::CellIntervals(chart) => chart.missing_data(),
            Chart::Forest(chart) => chart.missing_data(),
            Chart::Distributions(chart) => chart.missing_data(),
            Chart::Pareto(chart) => chart.missing_data(),
            Chart::Timeline(chart) => chart.missing_data(),
        }
    }

    /// Canvas size in pixels, chosen per chart so text stays legible at
    /// paper column width.
    fn size(&self) -> (u32, u32) {
        match self {
            Chart::Heatmap(chart) => chart.size(),
            Chart::CellIntervals(chart) => chart.size(),
            Chart::Forest(chart) => chart.size(),
            Chart::Distributions(chart) => chart.size(),
            Chart::Pareto(chart) => chart.size(),
            Chart::Timeline(chart) => chart.size(),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawFailure> {
        root.fill(&WHITE)?;
        match self {
            Chart::Heatmap(chart) => chart.draw(root),
            Chart::CellIntervals(chart) => chart.draw(root),
            Chart::Forest(chart) => chart.draw(root),
            Chart::Distributions(chart) => chart.draw(root),
            Chart::Pareto(chart) => chart.draw(root),
            Chart::Timeline(chart) => chart.draw(root),
        }
    }
}

/// Renders `chart` to `<dir>/<stem>.png` and `<dir>/<stem>.svg`, creating
/// `dir` if needed. Both files come from the same drawing code.
///
/// Returns [`PlotError::NoData`] (and writes nothing) when the chart has no
/// data to show.
pub fn render<'a>(
    chart: impl Into<Chart<'a>>,
    dir: &Path,
    stem: &str,
) -> Result<ChartFiles, PlotError> {
    let chart = chart.into();
    if let Some(reason) = chart.missing_data() {
        return Err(PlotError::NoData {
            path: dir.join(stem),
            reason,
        });
    }
    ensure_font_registered()?;
    std::fs::create_dir_all(dir).map_err(|source| PlotError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = ChartFiles {
        png: dir.join(format!("{stem}.png")),
        svg: dir.join(format!("{stem}.svg")),
    };
    let size = chart.size();

    let draw_error = |path: &Path| {
        let path = path.to_path_buf();
        move |failure: DrawFailure| PlotError::Draw {
            path,
            message: failure.0,
        }
    };

    {
        let root = BitMapBackend::new(&files.png, size).into_drawing_area();
        chart
            .draw(&root)
            .and_then(|()| root.present().map_err(DrawFailure::from))
            .map_err(draw_error(&files.png))?;
    }
    {
        let root = SVGBackend::new(&files.svg, size).into_drawing_area();
        chart
            .draw(&root)
            .and_then(|()| root.present().map_err(DrawFailure::from))
            .map_err(draw_error(&files.svg))?;
    }
    Ok(files)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Checks shared by the per-chart tests.

    use std::path::Path;

    use super::{Chart, ChartFiles, PlotError, render};

    /// Width and height from the IHDR chunk of a PNG file.
    pub fn png_dimensions(path: &Path) -> (u32, u32) {
        let bytes = std::fs::read(path).expect("png readable");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR");
        let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
        let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        (width, height)
    }

    /// Renders into a fresh temp dir and checks both files and the SVG text.
    pub fn render_and_check<'a>(chart: impl Into<Chart<'a>>, expected_texts: &[&str]) {
        let chart = chart.into();
        let dir = tempfile::tempdir().expect("tempdir");
        // A missing sub-directory must be created by `render`.
        let out = dir.path().join("nested");
        let files: ChartFiles = render(chart, &out, "chart").expect("render");
        assert_eq!(files.png, out.join("chart.png"));
        assert_eq!(png_dimensions(&files.png), chart.size());
        let svg = std::fs::read_to_string(&files.svg).expect("svg readable");
        assert!(svg.starts_with("<svg"), "svg header");
        for text in expected_texts {
            // plotters' SVG backend escapes these five characters.
            let escaped = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&apos;");
            assert!(svg.contains(&escaped), "svg lacks {text:?}");
        }
    }

    /// Asserts the chart is rejected as empty without writing files.
    pub fn assert_no_data<'a>(chart: impl Into<Chart<'a>>) {
        let dir = tempfile::tempdir().expect("tempdir");
        match render(chart, dir.path(), "empty") {
            Err(PlotError::NoData { path, .. }) => assert_eq!(path, dir.path().join("empty")),
            other => panic!("expected NoData, got {other:?}"),
        }
        assert!(!dir.path().join("empty.png").exists());
    }
}
