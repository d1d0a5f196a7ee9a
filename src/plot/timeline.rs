//! Drift check: a measured value per call in execution order, with the
//! positions where the model was reloaded as thin vertical lines.
//!
//! Runs can have millions of calls, so the chart downsamples before drawing.
//! A series with at most [`MAX_POINTS_PER_SERIES`] points is drawn as small
//! markers. A longer one is split (in the given order) into
//! `MAX_POINTS_PER_SERIES / 2` buckets of consecutive calls, and each
//! bucket's minimum, maximum and mean are kept: the chart draws the min–max
//! envelope as a translucent band and the means as a line. Unlike a stride,
//! this keeps every spike and the global extremes, which is what a drift
//! check looks for, and unlike plotting the kept extremes as markers it does
//! not fake two bands at the edges of the noise. A caption on the chart
//! says when the envelope is used. Reload lines are merged per pixel
//! column and then capped at [`MAX_RELOAD_LINES`] by an even stride.

use std::borrow::Cow;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::common::{
    ANNOTATION_SIZE, AXIS_LABEL_SIZE, Axes, DrawResult, LegendEntry, LegendSymbol, MUTED_COLOR,
    OUTER_MARGIN, colored_text_style, draw_axes, draw_legend, draw_text, draw_title, finite_extent,
    layout_legend, padded_range, y_label_area_width,
};
use super::series_color;

/// Points kept per series after downsampling (min/max per bucket).
pub const MAX_POINTS_PER_SERIES: usize = 5_000;
/// Reload lines drawn at most, after merging lines in the same pixel column.
pub const MAX_RELOAD_LINES: usize = 500;

/// Values per call in execution order, one series per agent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub title: String,
    /// With unit, e.g. "Throughput (tok/s)".
    pub y_label: String,
    /// E.g. "call (execution order)".
    pub x_label: String,
    pub series: Vec<TimelineSeries>,
    /// Order indices at which the model was reloaded.
    pub reloads: Vec<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineSeries {
    pub name: String,
    /// `(order index, value)`, in execution order.
    pub points: Vec<(f64, f64)>,
}

const MARKER_RADIUS: i32 = 2;
const ENVELOPE_ALPHA: f64 = 0.35;
const RELOAD_COLOR: RGBColor = RGBColor(0x70, 0x70, 0x70);

fn is_finite_point(point: &(f64, f64)) -> bool {
    point.0.is_finite() && point.1.is_finite()
}

/// Summary of one bucket of consecutive points.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    /// Order index of the bucket's first and last point, so the band
    /// covers the whole run, first and last call included.
    span: (f64, f64),
    min: (f64, f64),
    max: (f64, f64),
    /// Mean order index and mean value: where the centre line passes.
    mean: (f64, f64),
}

/// Splits `points` into `bucket_count` runs of (nearly) equal length.
fn summarize_buckets(points: &[(f64, f64)], bucket_count: usize) -> Vec<Bucket> {
    let bucket_count = bucket_count.clamp(1, points.len().max(1));
    let mut buckets = Vec::with_capacity(bucket_count);
    for bucket in 0..bucket_count {
        let start = bucket * points.len() / bucket_count;
        let end = (bucket + 1) * points.len() / bucket_count;
        let chunk = &points[start..end];
        let (Some(&first), Some(&last)) = (chunk.first(), chunk.last()) else {
            continue;
        };
        let mut summary = Bucket {
            span: (first.0, last.0),
            min: first,
            max: first,
            mean: (0.0, 0.0),
        };
        let (mut x_sum, mut y_sum) = (0.0, 0.0);
        for &point in chunk {
            if point.1 < summary.min.1 {
                summary.min = point;
            }
            if point.1 > summary.max.1 {
                summary.max = point;
            }
            x_sum += point.0;
            y_sum += point.1;
        }
        let count = chunk.len().max(1) as f64;
        summary.mean = (x_sum / count, y_sum / count);
        buckets.push(summary);
    }
    buckets
}

fn finite_points(points: &[(f64, f64)]) -> Cow<'_, [(f64, f64)]> {
    if points.iter().all(is_finite_point) {
        Cow::Borrowed(points)
    } else {
        Cow::Owned(points.iter().copied().filter(is_finite_point).collect())
    }
}

/// How one series is drawn.
enum SeriesView {
    /// Few enough points: every point as a small marker.
    Points(Vec<(f64, f64)>),
    /// Too many points: a min–max band per bucket with the bucket means as
    /// a line. Plotting only the kept extremes as markers would draw two
    /// false "bands" at the noise edges, so the envelope is shown instead.
    Envelope(Vec<Bucket>),
}

impl SeriesView {
    fn of(points: &[(f64, f64)]) -> Self {
        let finite = finite_points(points);
        if finite.len() <= MAX_POINTS_PER_SERIES {
            SeriesView::Points(finite.into_owned())
        } else {
            SeriesView::Envelope(summarize_buckets(&finite, MAX_POINTS_PER_SERIES / 2))
        }
    }

    fn values(&self) -> Box<dyn Iterator<Item = f64> + '_> {
        match self {
            SeriesView::Points(points) => Box::new(points.iter().map(|point| point.1)),
            SeriesView::Envelope(buckets) => Box::new(
                buckets
                    .iter()
                    .flat_map(|bucket| [bucket.min.1, bucket.max.1]),
            ),
        }
    }
}

/// Merges reload positions that land in the same pixel column, then keeps
/// at most `max_lines` of them by an even stride.
fn reload_columns(pixel_columns: impl Iterator<Item = i32>, max_lines: usize) -> Vec<i32> {
    let mut columns: Vec<i32> = pixel_columns.collect();
    columns.sort_unstable();
    columns.dedup();
    if columns.len() <= max_lines || max_lines == 0 {
        return columns;
    }
    let stride = columns.len().div_ceil(max_lines);
    columns.into_iter().step_by(stride).collect()
}

impl Timeline {
    pub(crate) fn missing_data(&self) -> Option<&'static str> {
        let has_point = self
            .series
            .iter()
            .any(|series| series.points.iter().any(is_finite_point));
        if !has_point {
            return Some("timeline has no finite point");
        }
        None
    }

    pub(crate) fn size(&self) -> (u32, u32) {
        (1000, 600)
    }

    pub(crate) fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let views: Vec<SeriesView> = self
            .series
            .iter()
            .map(|series| SeriesView::of(&series.points))
            .collect();
        let downsampled = views
            .iter()
            .any(|view| matches!(view, SeriesView::Envelope(_)));
        // The x extent comes from all points: the order index need not be
        // sorted, so the kept points may not span it.
        let x_extent = finite_extent(
            self.series
                .iter()
                .flat_map(|series| series.points.iter().filter(|p| is_finite_point(p)))
                .map(|point| point.0),
        );
        let y_extent = finite_extent(views.iter().flat_map(SeriesView::values));
        let (Some((x_min, x_max)), Some((y_min, y_max))) = (x_extent, y_extent) else {
            return Ok(());
        };
        let (x_low, x_high) = padded_range(x_min, x_max, 0.01);
        let (y_low, y_high) = padded_range(y_min, y_max, 0.06);
        let (width, height) = root.dim_in_pixel();
        let (width, height) = (width as i32, height as i32);
        let mut top = draw_title(root, &self.title)?;

        let mut legend_entries: Vec<LegendEntry> = self
            .series
            .iter()
            .enumerate()
            .zip(&views)
            .map(|((index, series), view)| {
                let color = series_color(index);
                let symbol = match view {
                    SeriesView::Points(_) => LegendSymbol::Marker {
                        shape: 0,
                        color,
                        filled: true,
                    },
                    SeriesView::Envelope(_) => LegendSymbol::Swatch {
                        fill: color.mix(ENVELOPE_ALPHA),
                        edge: color,
                    },
                };
                LegendEntry::new(symbol, series.name.clone())
            })
            .collect();
        let visible_reloads: Vec<f64> = self
            .reloads
            .iter()
            .copied()
            .filter(|reload| reload.is_finite() && (x_low..=x_high).contains(reload))
            .collect();
        if !visible_reloads.is_empty() {
            legend_entries.push(LegendEntry::new(
                LegendSymbol::VerticalLine {
                    color: RELOAD_COLOR.into(),
                    width: 1,
                },
                "model reload",
            ));
        }
        let legend = layout_legend(root, &legend_entries, width - 2 * OUTER_MARGIN)?;
        draw_legend(root, &legend_entries, &legend, width / 2, top)?;
        top += legend.height() + 8;

        let caption_height = if downsampled {
            (ANNOTATION_SIZE * 1.5) as i32
        } else {
            0
        };
        let plot_region = root.margin(
            top,
            OUTER_MARGIN + caption_height,
            OUTER_MARGIN,
            OUTER_MARGIN + 14,
        );
        let mut chart = ChartBuilder::on(&plot_region)
            .x_label_area_size(34 + (AXIS_LABEL_SIZE * 1.3) as i32)
            .y_label_area_size(y_label_area_width(root, y_low, y_high)?)
            .build_cartesian_2d(x_low..x_high, y_low..y_high)?;
        draw_axes(
            &mut chart,
            Axes {
                x_title: Some(&self.x_label),
                y_title: Some(&self.y_label),
                x_grid: false,
                y_grid: true,
            },
        )?;

        let (_, y_pixels) = chart.plotting_area().get_pixel_range();
        let columns = reload_columns(
            visible_reloads
                .iter()
                .map(|reload| chart.backend_coord(&(*reload, y_low)).0),
            MAX_RELOAD_LINES,
        );
        for x in columns {
            root.draw(&PathElement::new(
                vec![(x, y_pixels.start), (x, y_pixels.end)],
                RELOAD_COLOR.mix(0.8).stroke_width(1),
            ))?;
        }

        for (index, view) in views.iter().enumerate() {
            let color = series_color(index);
            match view {
                SeriesView::Points(points) => {
                    let style = color.mix(0.85).filled();
                    for point in points {
                        let pixel = chart.backend_coord(point);
                        root.draw(&Circle::new(pixel, MARKER_RADIUS, style))?;
                    }
                }
                SeriesView::Envelope(buckets) => {
                    // Upper edge left to right, lower edge back: one polygon.
                    let upper = buckets.iter().flat_map(|bucket| {
                        [(bucket.span.0, bucket.max.1), (bucket.span.1, bucket.max.1)]
                    });
                    let lower = buckets.iter().rev().flat_map(|bucket| {
                        [(bucket.span.1, bucket.min.1), (bucket.span.0, bucket.min.1)]
                    });
                    let band: Vec<(i32, i32)> = upper
                        .chain(lower)
                        .map(|point| chart.backend_coord(&point))
                        .collect();
                    root.draw(&Polygon::new(band, color.mix(ENVELOPE_ALPHA).filled()))?;
                    let centre: Vec<(i32, i32)> = buckets
                        .iter()
                        .map(|bucket| chart.backend_coord(&bucket.mean))
                        .collect();
                    root.draw(&PathElement::new(centre, color.stroke_width(2)))?;
                }
            }
        }

        if downsampled {
            let caption = format!(
                "series over {MAX_POINTS_PER_SERIES} calls: band = min–max, line = mean, per bucket of consecutive calls"
            );
            let style =
                colored_text_style(ANNOTATION_SIZE, HPos::Right, VPos::Bottom, &MUTED_COLOR);
            draw_text(
                root,
                &caption,
                (width - OUTER_MARGIN, height - OUTER_MARGIN + 4),
                &style,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_no_data, render_and_check};
    use super::*;

    fn wave(count: usize) -> Vec<(f64, f64)> {
        (0..count)
            .map(|index| {
                let x = index as f64;
                (x, 60.0 + 10.0 * (x / 5000.0).sin() + (index % 7) as f64)
            })
            .collect()
    }

    #[test]
    fn downsampler_keeps_ends_and_extremes() {
        let mut points = wave(200_000);
        points[12_345].1 = 1_000.0;
        points[150_001].1 = -50.0;
        let SeriesView::Envelope(buckets) = SeriesView::of(&points) else {
            panic!("200k points must be downsampled");
        };
        assert!(buckets.len() * 2 <= MAX_POINTS_PER_SERIES);
        assert_eq!(buckets[0].span.0, 0.0);
        assert_eq!(buckets[buckets.len() - 1].span.1, 199_999.0);
        assert!(
            buckets
                .iter()
                .any(|bucket| bucket.max == (12_345.0, 1_000.0))
        );
        assert!(
            buckets
                .iter()
                .any(|bucket| bucket.min == (150_001.0, -50.0))
        );
        // Buckets follow execution order and tile the run without gaps.
        assert!(
            buckets
                .windows(2)
                .all(|pair| pair[1].span.0 == pair[0].span.1 + 1.0)
        );
    }

    #[test]
    fn small_series_are_kept_whole_without_nan() {
        let points = vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)];
        let SeriesView::Points(kept) = SeriesView::of(&points) else {
            panic!("3 points need no downsampling");
        };
        assert_eq!(kept, vec![(0.0, 1.0), (2.0, 3.0)]);
    }

    #[test]
    fn reload_lines_are_merged_and_capped() {
        assert_eq!(reload_columns([5, 3, 5, 3].into_iter(), 10), vec![3, 5]);
        assert!(reload_columns(0..10_000, MAX_RELOAD_LINES).len() <= MAX_RELOAD_LINES);
    }

    #[test]
    fn renders_large_timeline_with_reloads() {
        let chart = Timeline {
            title: "Throughput drift".into(),
            y_label: "Throughput (tok/s)".into(),
            x_label: "call (execution order)".into(),
            series: vec![
                TimelineSeries {
                    name: "baseline".into(),
                    points: wave(200_000),
                },
                TimelineSeries {
                    name: "chimera".into(),
                    points: wave(1_000),
                },
            ],
            reloads: (0..20_000).map(|index| f64::from(index) * 10.0).collect(),
        };
        render_and_check(
            &chart,
            &[
                &chart.title,
                "Throughput (tok/s)",
                "call (execution order)",
                "model reload",
                "band = min–max",
            ],
        );
    }

    #[test]
    fn empty_input_is_rejected() {
        assert_no_data(&Timeline::default());
        assert_no_data(&Timeline {
            series: vec![TimelineSeries {
                name: "a".into(),
                points: vec![(0.0, f64::NAN)],
            }],
            ..Timeline::default()
        });
    }
}
