//! Box plots of per-call distributions, e.g. TTFT per grid point and agent.
//!
//! The caller computes the summaries; whiskers are the 5th and 95th
//! percentiles (not Tukey's 1.5 IQR), which a caption under the plot states
//! so the figure is self-describing. Boxes with the same label form one
//! category on the x axis and are dodged by series (agent), so one agent
//! always sits at the same offset. The mean, when given, is a hollow diamond.

use std::collections::BTreeSet;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::common::{
    ANNOTATION_SIZE, Axes, DrawResult, LegendEntry, LegendSymbol, MUTED_COLOR, OUTER_MARGIN,
    colored_text_style, draw_axes, draw_category_labels, draw_legend, draw_marker, draw_text,
    draw_title, finite_extent, fit_category_labels, layout_legend, padded_range,
    y_label_area_width,
};
use super::series_color;

/// Box plots, one per (label, series) summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distributions {
    pub title: String,
    /// With unit, e.g. "TTFT (ms)".
    pub y_label: String,
    /// Category order on the x axis is the order labels first appear here.
    pub boxes: Vec<BoxSummary>,
    /// Legend names, indexed by `BoxSummary::series`.
    pub series_names: Vec<String>,
}

/// Five-number summary (whiskers at the 5th/95th percentile) plus mean.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoxSummary {
    /// Category on the x axis, e.g. "ctx=2048 gpu=40".
    pub label: String,
    /// Colour index (e.g. agent), also the index into `series_names`.
    pub series: usize,
    pub whisker_low: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub whisker_high: f64,
    pub mean: Option<f64>,
}

impl BoxSummary {
    fn is_finite(&self) -> bool {
        [
            self.whisker_low,
            self.q1,
            self.median,
            self.q3,
            self.whisker_high,
        ]
        .iter()
        .all(|value| value.is_finite())
    }
}

/// What the whiskers mean; stated on the figure because conventions vary.
pub const CAPTION: &str = "box: 25th–75th percentile, line: median, whiskers: 5th–95th percentile";

/// Share of a category's width taken by its dodged boxes.
const GROUP_WIDTH: f64 = 0.75;
const MEAN_COLOR: RGBColor = RGBColor(0x00, 0x00, 0x00);

impl Distributions {
    fn finite_boxes(&self) -> impl Iterator<Item = &BoxSummary> {
        self.boxes.iter().filter(|summary| summary.is_finite())
    }

    pub(crate) fn missing_data(&self) -> Option<&'static str> {
        if self.finite_boxes().next().is_none() {
            return Some("no box has a finite summary");
        }
        None
    }

    /// Labels in order of first appearance.
    fn categories(&self) -> Vec<String> {
        let mut categories: Vec<String> = Vec::new();
        for summary in self.finite_boxes() {
            if !categories.contains(&summary.label) {
                categories.push(summary.label.clone());
            }
        }
        categories
    }

    pub(crate) fn size(&self) -> (u32, u32) {
        let width = 220 + self.categories().len() as u32 * 90;
        (width.clamp(900, 1800), 600)
    }

    pub(crate) fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let Some((low, high)) = finite_extent(self.finite_boxes().flat_map(|summary| {
            [summary.whisker_low, summary.whisker_high]
                .into_iter()
                .chain(summary.mean)
        })) else {
            return Ok(());
        };
        let (y_low, y_high) = padded_range(low, high, 0.06);
        let (width, height) = root.dim_in_pixel();
        let (width, height) = (width as i32, height as i32);
        let mut top = draw_title(root, &self.title)?;

        // Dodge slots: only the series that actually occur take space.
        let used_series: Vec<usize> = self
            .finite_boxes()
            .map(|summary| summary.series)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut legend_entries: Vec<LegendEntry> = used_series
            .iter()
            .map(|&series| {
                let name = self
                    .series_names
                    .get(series)
                    .cloned()
                    .unwrap_or_else(|| format!("series {series}"));
                let color = series_color(series);
                LegendEntry::new(
                    LegendSymbol::Swatch {
                        fill: color.mix(0.45),
                        edge: color,
                    },
                    name,
                )
            })
            .collect();
        if self.finite_boxes().any(|summary| summary.mean.is_some()) {
            legend_entries.push(LegendEntry::new(
                LegendSymbol::Marker {
                    shape: 3,
                    color: MEAN_COLOR,
                    filled: false,
                },
                "mean",
            ));
        }
        let legend = layout_legend(root, &legend_entries, width - 2 * OUTER_MARGIN)?;
        draw_legend(root, &legend_entries, &legend, width / 2, top)?;
        top += legend.height() + 8;

        let categories = self.categories();
        let category_count = categories.len() as i32;
        let y_label_area = y_label_area_width(root, y_low, y_high)?;
        let plot_width = width - 2 * OUTER_MARGIN - y_label_area - 10;
        let fitted = fit_category_labels(root, &categories, plot_width / category_count.max(1))?;
        let caption_height = (ANNOTATION_SIZE * 1.6) as i32;

        let plot_region = root.margin(
            top,
            OUTER_MARGIN + caption_height,
            OUTER_MARGIN,
            OUTER_MARGIN + 10,
        );
        let mut chart = ChartBuilder::on(&plot_region)
            .x_label_area_size(fitted.height)
            .y_label_area_size(y_label_area)
            .build_cartesian_2d(-0.5..(f64::from(category_count) - 0.5), y_low..y_high)?;
        draw_axes(
            &mut chart,
            Axes {
                x_title: None,
                y_title: Some(&self.y_label),
                x_grid: false,
                y_grid: true,
            },
        )?;

        let slot_count = used_series.len().max(1) as f64;
        let slot_width = GROUP_WIDTH / slot_count;
        let box_half_width = slot_width * 0.4;
        for summary in self.finite_boxes() {
            let Some(category) = categories.iter().position(|label| *label == summary.label) else {
                continue;
            };
            let slot = used_series
                .iter()
                .position(|&series| series == summary.series)
                .unwrap_or(0) as f64;
            let center = category as f64 + (slot - (slot_count - 1.0) / 2.0) * slot_width;
            let to_pixel = |x: f64, y: f64| chart.backend_coord(&(x, y));
            let color = series_color(summary.series);
            let (left, q3_y) = to_pixel(center - box_half_width, summary.q3);
            let (right, q1_y) = to_pixel(center + box_half_width, summary.q1);
            let (middle, median_y) = to_pixel(center, summary.median);
            let (_, whisker_low_y) = to_pixel(center, summary.whisker_low);
            let (_, whisker_high_y) = to_pixel(center, summary.whisker_high);
            let cap_half = ((right - left) / 4).max(3);

            let whisker = color.stroke_width(2);
            for (from, to) in [(q3_y, whisker_high_y), (q1_y, whisker_low_y)] {
                root.draw(&PathElement::new(
                    vec![(middle, from), (middle, to)],
                    whisker,
                ))?;
                root.draw(&PathElement::new(
                    vec![(middle - cap_half, to), (middle + cap_half, to)],
                    whisker,
                ))?;
            }
            root.draw(&Rectangle::new(
                [(left, q3_y), (right, q1_y)],
                WHITE.filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(left, q3_y), (right, q1_y)],
                color.mix(0.45).filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(left, q3_y), (right, q1_y)],
                color.stroke_width(2),
            ))?;
            root.draw(&PathElement::new(
                vec![(left, median_y), (right, median_y)],
                BLACK.stroke_width(3),
            ))?;
            if let Some(mean) = summary.mean.filter(|mean| mean.is_finite()) {
                let (_, mean_y) = to_pixel(center, mean);
                draw_marker(root, (middle, mean_y), 3, 5, MEAN_COLOR, false)?;
            }
        }

        let centers: Vec<i32> = (0..category_count)
            .map(|category| chart.backend_coord(&(f64::from(category), y_low)).0)
            .collect();
        let axis_y = chart.backend_coord(&(0.0, y_low)).1;
        draw_category_labels(root, &fitted, &centers, axis_y)?;

        let caption_style =
            colored_text_style(ANNOTATION_SIZE, HPos::Right, VPos::Bottom, &MUTED_COLOR);
        draw_text(
            root,
            CAPTION,
            (width - OUTER_MARGIN, height - OUTER_MARGIN + 4),
            &caption_style,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_no_data, render_and_check};
    use super::*;

    fn summary(label: &str, series: usize, center: f64) -> BoxSummary {
        BoxSummary {
            label: label.into(),
            series,
            whisker_low: center - 100.0,
            q1: center - 40.0,
            median: center,
            q3: center + 50.0,
            whisker_high: center + 150.0,
            mean: Some(center + 10.0),
        }
    }

    #[test]
    fn renders_boxes_caption_and_legend() {
        let chart = Distributions {
            title: "Time to first token".into(),
            y_label: "TTFT (ms)".into(),
            boxes: vec![
                summary("ctx=1024", 0, 300.0),
                summary("ctx=1024", 1, 250.0),
                summary("ctx=2048", 0, 500.0),
                summary("ctx=2048", 1, 420.0),
            ],
            series_names: vec!["baseline".into(), "chimera".into()],
        };
        render_and_check(
            &chart,
            &[
                &chart.title,
                "TTFT (ms)",
                "baseline",
                "mean",
                "ctx=2048",
                CAPTION,
            ],
        );
    }

    #[test]
    fn missing_series_name_falls_back() {
        let chart = Distributions {
            title: "t".into(),
            y_label: "y".into(),
            boxes: vec![summary("a", 5, 10.0)],
            series_names: vec![],
        };
        render_and_check(&chart, &["series 5"]);
    }

    #[test]
    fn empty_input_is_rejected() {
        assert_no_data(&Distributions::default());
        let mut broken = summary("a", 0, 1.0);
        broken.median = f64::NAN;
        assert_no_data(&Distributions {
            boxes: vec![broken],
            ..Distributions::default()
        });
    }
}
