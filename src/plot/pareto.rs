//! Pareto chart of two competing objectives, e.g. TTFT (lower is better)
//! against throughput (higher is better).
//!
//! Every configuration is a marker in its series' colour and shape: hollow
//! and small when dominated, filled and large when on the front. The front
//! points (as flagged by the caller) are joined by a staircase, which is the
//! boundary of what is achievable, and labelled; labels are placed at the
//! first free spot around their point so they neither overlap each other
//! nor leave the plot.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::common::{
    ANNOTATION_SIZE, AXIS_LABEL_SIZE, Axes, DrawResult, LegendEntry, LegendSymbol, MUTED_COLOR,
    OUTER_MARGIN, draw_axes, draw_legend, draw_marker, draw_text, draw_title, finite_extent,
    layout_legend, padded_range, text_style, text_width, y_label_area_width,
};
use super::series_color;

/// Two objectives per configuration, with the caller's front flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pareto {
    pub title: String,
    /// With unit and direction, e.g. "TTFT (ms), lower is better".
    pub x_label: String,
    /// With unit and direction, e.g. "Throughput (tok/s), higher is better".
    pub y_label: String,
    pub points: Vec<ParetoPoint>,
    /// Legend names, indexed by `ParetoPoint::series`.
    pub series_names: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParetoPoint {
    /// Shown next to front points, e.g. "ctx=2048 gpu=80".
    pub label: String,
    pub series: usize,
    pub x: f64,
    pub y: f64,
    pub on_front: bool,
}

impl ParetoPoint {
    fn is_finite(&self) -> bool {
        self.x.is_finite() && self.y.is_finite()
    }
}

const FRONT_RADIUS: i32 = 8;
const DOMINATED_RADIUS: i32 = 5;
const LABEL_OFFSET: i32 = 12;

/// Pixel rectangle `(left, top, right, bottom)`.
type PixelRect = (i32, i32, i32, i32);

fn overlaps(a: PixelRect, b: PixelRect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

fn contains(outer: PixelRect, inner: PixelRect) -> bool {
    inner.0 >= outer.0 && inner.1 >= outer.1 && inner.2 <= outer.2 && inner.3 <= outer.3
}

impl Pareto {
    fn finite_points(&self) -> impl Iterator<Item = &ParetoPoint> {
        self.points.iter().filter(|point| point.is_finite())
    }

    pub(crate) fn missing_data(&self) -> Option<&'static str> {
        if self.finite_points().next().is_none() {
            return Some("no point has finite coordinates");
        }
        None
    }

    pub(crate) fn size(&self) -> (u32, u32) {
        (900, 650)
    }

    pub(crate) fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let (Some((x_min, x_max)), Some((y_min, y_max))) = (
            finite_extent(self.finite_points().map(|point| point.x)),
            finite_extent(self.finite_points().map(|point| point.y)),
        ) else {
            return Ok(());
        };
        // Extra room on the right and top leaves space for front labels.
        let (x_low, x_high) = padded_range(x_min, x_max, 0.08);
        let (y_low, y_high) = padded_range(y_min, y_max, 0.1);
        let width = root.dim_in_pixel().0 as i32;
        let mut top = draw_title(root, &self.title)?;

        let mut used_series: Vec<usize> = self.finite_points().map(|point| point.series).collect();
        used_series.sort_unstable();
        used_series.dedup();
        let mut legend_entries: Vec<LegendEntry> = used_series
            .iter()
            .map(|&series| {
                let name = self
                    .series_names
                    .get(series)
                    .cloned()
                    .unwrap_or_else(|| format!("series {series}"));
                LegendEntry::new(
                    LegendSymbol::Marker {
                        shape: series,
                        color: series_color(series),
                        filled: true,
                    },
                    name,
                )
            })
            .collect();
        legend_entries.push(LegendEntry::new(
            LegendSymbol::Line {
                color: BLACK.into(),
                width: 2,
            },
            "Pareto front",
        ));
        legend_entries.push(LegendEntry::new(
            LegendSymbol::Marker {
                shape: 0,
                color: MUTED_COLOR,
                filled: false,
            },
            "dominated",
        ));
        let legend = layout_legend(root, &legend_entries, width - 2 * OUTER_MARGIN)?;
        draw_legend(root, &legend_entries, &legend, width / 2, top)?;
        top += legend.height() + 8;

        let plot_region = root.margin(top, OUTER_MARGIN, OUTER_MARGIN, OUTER_MARGIN + 14);
        let mut chart = ChartBuilder::on(&plot_region)
            .x_label_area_size(34 + (AXIS_LABEL_SIZE * 1.3) as i32)
            .y_label_area_size(y_label_area_width(root, y_low, y_high)?)
            .build_cartesian_2d(x_low..x_high, y_low..y_high)?;
        draw_axes(
            &mut chart,
            Axes {
                x_title: Some(&self.x_label),
                y_title: Some(&self.y_label),
                x_grid: true,
                y_grid: true,
            },
        )?;
        let (x_pixels, y_pixels) = chart.plotting_area().get_pixel_range();
        let plot_rect: PixelRect = (x_pixels.start, y_pixels.start, x_pixels.end, y_pixels.end);
        let to_pixel = |point: &ParetoPoint| chart.backend_coord(&(point.x, point.y));

        for point in self.finite_points().filter(|point| !point.on_front) {
            let color = series_color(point.series);
            draw_marker(
                root,
                to_pixel(point),
                point.series,
                DOMINATED_RADIUS,
                color,
                false,
            )?;
        }

        let mut front: Vec<&ParetoPoint> = self
            .finite_points()
            .filter(|point| point.on_front)
            .collect();
        front.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
        // Staircase: from each front point go right at its height, then to
        // the next point, so the line is the boundary of what is attainable.
        let mut staircase: Vec<(i32, i32)> = Vec::with_capacity(front.len() * 2);
        for (index, point) in front.iter().enumerate() {
            let pixel = to_pixel(point);
            if index > 0 {
                let previous_y = staircase.last().map_or(pixel.1, |last| last.1);
                staircase.push((pixel.0, previous_y));
            }
            staircase.push(pixel);
        }
        // Labels must not cover the staircase or any marker.
        let mut obstacles: Vec<PixelRect> = staircase
            .windows(2)
            .map(|segment| {
                let (a, b) = (segment[0], segment[1]);
                (
                    a.0.min(b.0) - 2,
                    a.1.min(b.1) - 2,
                    a.0.max(b.0) + 2,
                    a.1.max(b.1) + 2,
                )
            })
            .collect();
        if staircase.len() > 1 {
            root.draw(&PathElement::new(staircase, BLACK.stroke_width(2)))?;
        }
        obstacles.extend(self.finite_points().map(|point| {
            let (x, y) = to_pixel(point);
            let radius = if point.on_front {
                FRONT_RADIUS
            } else {
                DOMINATED_RADIUS
            } + 1;
            (x - radius, y - radius, x + radius, y + radius)
        }));
        for point in &front {
            let color = series_color(point.series);
            draw_marker(
                root,
                to_pixel(point),
                point.series,
                FRONT_RADIUS,
                color,
                true,
            )?;
        }

        let mut placed: Vec<PixelRect> = Vec::new();
        for point in &front {
            if point.label.is_empty() {
                continue;
            }
            let probe = text_style(ANNOTATION_SIZE, HPos::Left, VPos::Top);
            let label_width = text_width(root, &point.label, &probe)?;
            let label_height = (ANNOTATION_SIZE * 1.05) as i32;
            let (x, y) = to_pixel(point);
            let half_height = label_height / 2;
            let candidates = [
                (HPos::Left, VPos::Center, x + LABEL_OFFSET, y),
                (HPos::Right, VPos::Center, x - LABEL_OFFSET, y),
                (HPos::Center, VPos::Bottom, x, y - LABEL_OFFSET),
                (HPos::Center, VPos::Top, x, y + LABEL_OFFSET),
                (
                    HPos::Left,
                    VPos::Bottom,
                    x + LABEL_OFFSET / 2,
                    y - LABEL_OFFSET,
                ),
                (
                    HPos::Left,
                    VPos::Top,
                    x + LABEL_OFFSET / 2,
                    y + LABEL_OFFSET,
                ),
                (
                    HPos::Right,
                    VPos::Bottom,
                    x - LABEL_OFFSET / 2,
                    y - LABEL_OFFSET,
                ),
                (
                    HPos::Right,
                    VPos::Top,
                    x - LABEL_OFFSET / 2,
                    y + LABEL_OFFSET,
                ),
            ];
            let rect_of = |(h_pos, v_pos, ax, ay): (HPos, VPos, i32, i32)| -> PixelRect {
                let left = match h_pos {
                    HPos::Left => ax,
                    HPos::Center => ax - label_width / 2,
                    HPos::Right => ax - label_width,
                };
                let top = match v_pos {
                    VPos::Top => ay,
                    VPos::Center => ay - half_height,
                    VPos::Bottom => ay - label_height,
                };
                (left, top, left + label_width, top + label_height)
            };
            let fits = |candidate: &(HPos, VPos, i32, i32)| {
                let rect = rect_of(*candidate);
                contains(plot_rect, rect)
                    && !placed.iter().any(|other| overlaps(*other, rect))
                    && !obstacles.iter().any(|obstacle| overlaps(*obstacle, rect))
            };
            let chosen = candidates
                .iter()
                .find(|candidate| fits(candidate))
                .or_else(|| {
                    candidates
                        .iter()
                        .find(|candidate| contains(plot_rect, rect_of(**candidate)))
                })
                .copied()
                .unwrap_or(candidates[0]);
            placed.push(rect_of(chosen));
            let (h_pos, v_pos, ax, ay) = chosen;
            draw_text(
                root,
                &point.label,
                (ax, ay),
                &text_style(ANNOTATION_SIZE, h_pos, v_pos),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_no_data, render_and_check};
    use super::*;

    fn sample() -> Pareto {
        let mut points = Vec::new();
        for series in 0..2 {
            for index in 0..9 {
                let x = 150.0 + 80.0 * index as f64 + 20.0 * series as f64;
                let y = 30.0 + 6.0 * index as f64 - 3.0 * (index % 3) as f64;
                points.push(ParetoPoint {
                    label: format!("cfg {series}/{index}"),
                    series,
                    x,
                    y,
                    on_front: index % 3 == 0,
                });
            }
        }
        Pareto {
            title: "Latency vs throughput".into(),
            x_label: "TTFT (ms), lower is better".into(),
            y_label: "Throughput (tok/s), higher is better".into(),
            points,
            series_names: vec!["baseline".into(), "chimera".into()],
        }
    }

    #[test]
    fn renders_points_front_and_labels() {
        let chart = sample();
        render_and_check(
            &chart,
            &[
                &chart.title,
                "TTFT (ms), lower is better",
                "Throughput (tok/s), higher is better",
                "Pareto front",
                "cfg 0/3",
            ],
        );
    }

    #[test]
    fn single_point_renders() {
        let mut chart = sample();
        chart.points.truncate(1);
        render_and_check(&chart, &["cfg 0/0"]);
    }

    #[test]
    fn empty_input_is_rejected() {
        assert_no_data(&Pareto::default());
    }

    #[test]
    fn rectangles_overlap_only_when_sharing_area() {
        assert!(overlaps((0, 0, 10, 10), (5, 5, 15, 15)));
        assert!(!overlaps((0, 0, 10, 10), (10, 0, 20, 10)));
    }
}
