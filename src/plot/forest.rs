//! Forest plot of paired differences (agent B − agent A), one row per grid
//! point.
//!
//! Each row shows the estimated difference as a point with its confidence
//! interval as a horizontal line, against a dashed vertical line at zero.
//! Significant rows are emphasised (filled marker, thicker blue interval);
//! the others are hollow and grey, so the eye goes to what matters. Row
//! labels sit on the left and the numeric estimate `diff [low, high]` on the
//! right, so the figure can be read without a separate table.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::common::{
    AXIS_LABEL_SIZE, Axes, DrawResult, LegendEntry, LegendSymbol, MUTED_COLOR, OUTER_MARGIN,
    TICK_SIZE, colored_text_style, draw_axes, draw_legend, draw_marker, draw_text, draw_title,
    finite_extent, format_sig3, layout_legend, padded_range, text_style, text_width,
    truncate_to_width,
};

/// Differences B − A with confidence intervals, e.g. throughput per grid point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forest {
    pub title: String,
    /// With unit and direction, e.g. "Δ throughput, B − A (tok/s)".
    pub x_label: String,
    /// Drawn top to bottom in this order.
    pub rows: Vec<ForestRow>,
    /// Legend text for filled markers, naming the caller's test, e.g. "significant after
    /// Holm (α = 0.05)"; empty means "significant".
    pub significant_label: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ForestRow {
    pub label: String,
    pub diff: f64,
    pub low: f64,
    pub high: f64,
    /// Whether the caller's test rejected "no difference" for this row.
    pub significant: bool,
}

impl ForestRow {
    fn is_finite(&self) -> bool {
        self.diff.is_finite() && self.low.is_finite() && self.high.is_finite()
    }
}

const SIGNIFICANT_COLOR: RGBColor = RGBColor(0x00, 0x72, 0xB2);
const NOT_SIGNIFICANT_COLOR: RGBColor = RGBColor(0x80, 0x80, 0x80);
const MARKER_RADIUS: i32 = 7;
/// Longest row label, in pixels; longer ones are shortened with "…".
const MAX_ROW_LABEL_WIDTH: i32 = 300;

impl Forest {
    pub(crate) fn missing_data(&self) -> Option<&'static str> {
        if !self.rows.iter().any(ForestRow::is_finite) {
            return Some("forest plot has no row with a finite estimate");
        }
        None
    }

    pub(crate) fn size(&self) -> (u32, u32) {
        let height = 200 + self.rows.len() as u32 * 42;
        (900, height.clamp(600, 2400))
    }

    fn estimate_text(row: &ForestRow) -> String {
        if row.is_finite() {
            format!(
                "{} [{}, {}]",
                format_sig3(row.diff),
                format_sig3(row.low),
                format_sig3(row.high)
            )
        } else {
            "n/a".to_string()
        }
    }

    pub(crate) fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let Some((low, high)) = finite_extent(
            self.rows
                .iter()
                .filter(|row| row.is_finite())
                .flat_map(|row| [row.low, row.high, row.diff])
                // Zero is the reference, so it must always be on the axis.
                .chain([0.0]),
        ) else {
            return Ok(());
        };
        let (x_low, x_high) = padded_range(low, high, 0.06);
        let width = root.dim_in_pixel().0 as i32;
        let mut top = draw_title(root, &self.title)?;

        let legend_entries = [
            LegendEntry::new(
                LegendSymbol::Marker {
                    shape: 0,
                    color: SIGNIFICANT_COLOR,
                    filled: true,
                },
                if self.significant_label.is_empty() {
                    "significant"
                } else {
                    self.significant_label.as_str()
                },
            ),
            LegendEntry::new(
                LegendSymbol::Marker {
                    shape: 0,
                    color: NOT_SIGNIFICANT_COLOR,
                    filled: false,
                },
                "not significant",
            ),
        ];
        let legend = layout_legend(root, &legend_entries, width - 2 * OUTER_MARGIN)?;
        draw_legend(root, &legend_entries, &legend, width / 2, top)?;
        top += legend.height() + 8;

        let label_style = text_style(TICK_SIZE, HPos::Right, VPos::Center);
        let mut labels = Vec::with_capacity(self.rows.len());
        let mut label_width = 0;
        for row in &self.rows {
            let shown = truncate_to_width(root, &row.label, &label_style, MAX_ROW_LABEL_WIDTH)?;
            label_width = label_width.max(text_width(root, &shown, &label_style)?);
            labels.push(shown);
        }
        let estimate_style = text_style(TICK_SIZE - 2.0, HPos::Left, VPos::Center);
        let mut estimate_width = 0;
        for row in &self.rows {
            let text = Self::estimate_text(row);
            estimate_width = estimate_width.max(text_width(root, &text, &estimate_style)?);
        }

        let row_count = self.rows.len() as f64;
        let plot_region = root.margin(
            top,
            OUTER_MARGIN,
            OUTER_MARGIN,
            OUTER_MARGIN + estimate_width + 16,
        );
        let mut chart = ChartBuilder::on(&plot_region)
            .x_label_area_size(34 + (AXIS_LABEL_SIZE * 1.3) as i32)
            .y_label_area_size(label_width + 16)
            .build_cartesian_2d(x_low..x_high, -0.6..(row_count - 0.4))?;
        draw_axes(
            &mut chart,
            Axes {
                x_title: Some(&self.x_label),
                y_title: None,
                x_grid: true,
                y_grid: false,
            },
        )?;

        // Dashed zero line: the "no difference" reference.
        let (zero_x, plot_top) = chart.backend_coord(&(0.0, row_count - 0.4));
        let plot_bottom = chart.backend_coord(&(0.0, -0.6)).1;
        let mut dash_start = plot_top;
        while dash_start < plot_bottom {
            let dash_end = (dash_start + 6).min(plot_bottom);
            root.draw(&PathElement::new(
                vec![(zero_x, dash_start), (zero_x, dash_end)],
                BLACK.stroke_width(1),
            ))?;
            dash_start += 11;
        }

        let (_, plot_right) = {
            let range = chart.plotting_area().get_pixel_range();
            (range.0.start, range.0.end)
        };
        for (index, (row, label)) in self.rows.iter().zip(&labels).enumerate() {
            // The first row is drawn at the top.
            let y_value = row_count - 1.0 - index as f64;
            let label_anchor = chart.backend_coord(&(x_low, y_value));
            draw_text(
                root,
                label,
                (label_anchor.0 - 10, label_anchor.1),
                &label_style,
            )?;
            let estimate = Self::estimate_text(row);
            let estimate_color = if row.significant { BLACK } else { MUTED_COLOR };
            let estimate_style =
                colored_text_style(TICK_SIZE - 2.0, HPos::Left, VPos::Center, &estimate_color);
            draw_text(
                root,
                &estimate,
                (plot_right + 14, label_anchor.1),
                &estimate_style,
            )?;
            if !row.is_finite() {
                continue;
            }
            let (low_x, y) = chart.backend_coord(&(row.low, y_value));
            let (high_x, _) = chart.backend_coord(&(row.high, y_value));
            let (diff_x, _) = chart.backend_coord(&(row.diff, y_value));
            let (color, stroke) = if row.significant {
                (SIGNIFICANT_COLOR, 3)
            } else {
                (NOT_SIGNIFICANT_COLOR, 2)
            };
            root.draw(&PathElement::new(
                vec![(low_x, y), (high_x, y)],
                color.stroke_width(stroke),
            ))?;
            for cap_x in [low_x, high_x] {
                root.draw(&PathElement::new(
                    vec![(cap_x, y - 6), (cap_x, y + 6)],
                    color.stroke_width(stroke),
                ))?;
            }
            draw_marker(root, (diff_x, y), 0, MARKER_RADIUS, color, row.significant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_no_data, render_and_check};
    use super::*;

    fn sample() -> Forest {
        Forest {
            title: "chimera vs baseline".into(),
            x_label: "Δ throughput, B − A (tok/s)".into(),
            rows: (0..9)
                .map(|index| {
                    let diff = index as f64 - 3.0;
                    ForestRow {
                        label: format!("ctx={} gpu={}", 1024 << (index / 3), (index % 3) * 40),
                        diff,
                        low: diff - 2.0,
                        high: diff + 2.0,
                        significant: diff.abs() > 2.0,
                    }
                })
                .collect(),
            significant_label: String::new(),
        }
    }

    #[test]
    fn renders_rows_labels_and_estimates() {
        let chart = sample();
        render_and_check(
            &chart,
            &[
                &chart.title,
                "Δ throughput, B − A (tok/s)",
                "ctx=4096 gpu=80",
                "significant",
                "5.00 [3.00, 7.00]",
            ],
        );
    }

    #[test]
    fn rows_without_estimates_are_rejected() {
        assert_no_data(&Forest::default());
        let mut chart = sample();
        for row in &mut chart.rows {
            row.diff = f64::NAN;
        }
        assert_no_data(&chart);
    }
}
