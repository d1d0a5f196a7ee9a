//! Per-cell estimates with confidence intervals, grouped by agent.
//!
//! One x position per grid point (category); within a category the agents'
//! points are dodged side by side so their error bars never overlap. Points
//! (not bars) are used because the y axis need not start at zero and a bar
//! would suggest it does. Category labels are wrapped at spaces or, when a
//! word is too wide for its slot, rotated, so they never overlap.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::common::{
    Axes, DrawResult, LegendEntry, LegendSymbol, OUTER_MARGIN, draw_axes, draw_category_labels,
    draw_legend, draw_marker, draw_title, finite_extent, fit_category_labels, layout_legend,
    padded_range, y_label_area_width,
};
use super::series_color;

/// Estimates with intervals per category and series, e.g. mean throughput
/// with a 95 % CI per grid point and agent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellIntervals {
    pub title: String,
    /// With unit, e.g. "Throughput (tok/s)".
    pub y_label: String,
    /// Grid points along the x axis, e.g. "ctx=2048 temp=0.2".
    pub categories: Vec<String>,
    pub series: Vec<IntervalSeries>,
}

/// One agent: one optional interval per category.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntervalSeries {
    pub name: String,
    /// Same order as `CellIntervals::categories`; `None` = no data there.
    pub points: Vec<Option<PointInterval>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PointInterval {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

impl PointInterval {
    fn is_finite(&self) -> bool {
        self.mean.is_finite() && self.low.is_finite() && self.high.is_finite()
    }
}

/// Share of a category's width taken by the dodged group of points.
const DODGE_WIDTH: f64 = 0.6;
const MARKER_RADIUS: i32 = 6;
const CAP_HALF_WIDTH: i32 = 6;

impl CellIntervals {
    fn intervals(&self) -> impl Iterator<Item = (usize, usize, PointInterval)> + '_ {
        let category_count = self.categories.len();
        self.series
            .iter()
            .enumerate()
            .flat_map(move |(series, line)| {
                line.points
                    .iter()
                    .take(category_count)
                    .enumerate()
                    .filter_map(move |(category, point)| {
                        point
                            .filter(PointInterval::is_finite)
                            .map(|point| (series, category, point))
                    })
            })
    }

    pub(crate) fn missing_data(&self) -> Option<&'static str> {
        if self.intervals().next().is_none() {
            return Some("no category has a finite interval");
        }
        None
    }

    pub(crate) fn size(&self) -> (u32, u32) {
        let width = 220 + self.categories.len() as u32 * 90;
        (width.clamp(900, 1800), 600)
    }

    pub(crate) fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let Some((low, high)) = finite_extent(
            self.intervals()
                .flat_map(|(_, _, point)| [point.low, point.high, point.mean]),
        ) else {
            return Ok(());
        };
        let (y_low, y_high) = padded_range(low, high, 0.08);
        let width = root.dim_in_pixel().0 as i32;
        let mut top = draw_title(root, &self.title)?;

        let legend_entries: Vec<LegendEntry> = self
            .series
            .iter()
            .enumerate()
            .map(|(index, series)| {
                LegendEntry::new(
                    LegendSymbol::Marker {
                        shape: index,
                        color: series_color(index),
                        filled: true,
                    },
                    series.name.clone(),
                )
            })
            .collect();
        let legend = layout_legend(root, &legend_entries, width - 2 * OUTER_MARGIN)?;
        draw_legend(root, &legend_entries, &legend, width / 2, top)?;
        top += legend.height() + 8;

        let category_count = self.categories.len() as i32;
        let y_label_area = y_label_area_width(root, y_low, y_high)?;
        let plot_width = width - 2 * OUTER_MARGIN - y_label_area - 10;
        let slot_width = plot_width / category_count.max(1);
        let fitted = fit_category_labels(root, &self.categories, slot_width)?;

        let plot_region = root.margin(top, OUTER_MARGIN, OUTER_MARGIN, OUTER_MARGIN + 10);
        let mut chart = ChartBuilder::on(&plot_region)
            .x_label_area_size(fitted.height)
            .y_label_area_size(y_label_area)
            .build_cartesian_2d(-0.5..(category_count as f64 - 0.5), y_low..y_high)?;
        draw_axes(
            &mut chart,
            Axes {
                x_title: None,
                y_title: Some(&self.y_label),
                x_grid: false,
                y_grid: true,
            },
        )?;

        let series_count = self.series.len().max(1);
        let dodge_step = DODGE_WIDTH / series_count as f64;
        let offset_of =
            |series: usize| (series as f64 - (series_count as f64 - 1.0) / 2.0) * dodge_step;
        for (series, category, point) in self.intervals() {
            let x = category as f64 + offset_of(series);
            let color = series_color(series);
            let (px, low_y) = chart.backend_coord(&(x, point.low));
            let (_, high_y) = chart.backend_coord(&(x, point.high));
            let (_, mean_y) = chart.backend_coord(&(x, point.mean));
            let stroke = color.stroke_width(2);
            root.draw(&PathElement::new(vec![(px, low_y), (px, high_y)], stroke))?;
            for cap_y in [low_y, high_y] {
                root.draw(&PathElement::new(
                    vec![(px - CAP_HALF_WIDTH, cap_y), (px + CAP_HALF_WIDTH, cap_y)],
                    stroke,
                ))?;
            }
            draw_marker(root, (px, mean_y), series, MARKER_RADIUS, color, true)?;
        }

        let centers: Vec<i32> = (0..category_count)
            .map(|category| chart.backend_coord(&(f64::from(category), y_low)).0)
            .collect();
        let axis_y = chart.backend_coord(&(0.0, y_low)).1;
        draw_category_labels(root, &fitted, &centers, axis_y)?;
        // Category tick marks show which label belongs to which group.
        for &x in &centers {
            root.draw(&PathElement::new(
                vec![(x, axis_y), (x, axis_y + 5)],
                BLACK.stroke_width(1),
            ))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_no_data, render_and_check};
    use super::*;

    fn interval(mean: f64) -> Option<PointInterval> {
        Some(PointInterval {
            mean,
            low: mean - 3.0,
            high: mean + 4.0,
        })
    }

    fn sample(categories: usize) -> CellIntervals {
        CellIntervals {
            title: "Throughput per grid point".into(),
            y_label: "Throughput (tok/s)".into(),
            categories: (0..categories)
                .map(|index| format!("ctx={} temperature={}", 1024 << (index % 3), index))
                .collect(),
            series: vec![
                IntervalSeries {
                    name: "baseline".into(),
                    points: (0..categories).map(|i| interval(40.0 + i as f64)).collect(),
                },
                IntervalSeries {
                    name: "chimera".into(),
                    points: (0..categories)
                        .map(|i| {
                            if i == 1 {
                                None
                            } else {
                                interval(50.0 + i as f64)
                            }
                        })
                        .collect(),
                },
            ],
        }
    }

    #[test]
    fn renders_with_legend_and_labels() {
        let chart = sample(6);
        render_and_check(
            &chart,
            &[
                &chart.title,
                "Throughput (tok/s)",
                "baseline",
                "chimera",
                "ctx=1024",
            ],
        );
    }

    #[test]
    fn many_long_categories_render() {
        render_and_check(&sample(40), &["chimera"]);
    }

    #[test]
    fn empty_input_is_rejected() {
        assert_no_data(&CellIntervals::default());
        let mut all_missing = sample(3);
        for series in &mut all_missing.series {
            series.points = vec![None; 3];
        }
        assert_no_data(&all_missing);
    }
}
