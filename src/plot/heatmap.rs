//! Heatmap of one value over a two-factor grid, one panel per agent.
//!
//! Panels sit side by side and share one colour scale (viridis, readable in
//! greyscale and by colour-blind readers) with a colour bar labelled by the
//! caller's `value_label`. Every cell is annotated with its value to three
//! significant digits in black or white, whichever contrasts with the cell.
//! Missing cells are light grey with hatching and "n/a", so they can never
//! be mistaken for a low value. `y_levels[0]` is the bottom row, as on an axis.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::common::{
    ANNOTATION_SIZE, AXIS_LABEL_SIZE, DrawResult, LEGEND_SIZE, MUTED_COLOR, OUTER_MARGIN,
    TICK_SIZE, colored_text_style, draw_category_labels, draw_text, draw_title,
    draw_vertical_label, finite_extent, fit_category_labels, format_sig3, format_tick, nice_ticks,
    padded_range, text_style, text_width, truncate_to_width,
};

/// A grid of values per agent, e.g. throughput over `num_ctx` × `num_gpu`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Heatmap {
    pub title: String,
    /// Colour bar label with unit, e.g. "Throughput (tok/s)".
    pub value_label: String,
    pub x_label: String,
    pub y_label: String,
    pub x_levels: Vec<String>,
    /// Bottom row first.
    pub y_levels: Vec<String>,
    pub panels: Vec<HeatmapPanel>,
}

/// One agent's grid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeatmapPanel {
    pub title: String,
    /// Indexed `[y][x]`; `None` (or a short row, or a non-finite value) is a
    /// missing cell.
    pub values: Vec<Vec<Option<f64>>>,
}

const PANEL_GAP: i32 = 28;
const COLOR_BAR_WIDTH: i32 = 24;
const COLOR_BAR_GAP: i32 = 24;
const MISSING_FILL: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
const MISSING_HATCH: RGBColor = RGBColor(0xB8, 0xB8, 0xB8);
const HATCH_SPACING: i32 = 10;
/// Longest y level label, in pixels; longer ones are shortened with "…".
const MAX_Y_LEVEL_WIDTH: i32 = 220;

/// Viridis sampled at 11 evenly spaced stops; linear interpolation between
/// them is visually indistinguishable from the full 256-entry table.
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x24, 0x75),
    (0x41, 0x44, 0x87),
    (0x35, 0x5F, 0x8D),
    (0x2A, 0x78, 0x8E),
    (0x21, 0x91, 0x8C),
    (0x22, 0xA8, 0x84),
    (0x44, 0xBF, 0x70),
    (0x7A, 0xD1, 0x51),
    (0xBD, 0xDF, 0x26),
    (0xFD, 0xE7, 0x25),
];

/// Viridis colour at `fraction` in `[0, 1]` (clamped).
fn viridis(fraction: f64) -> RGBColor {
    let position = fraction.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let index = (position.floor() as usize).min(VIRIDIS.len() - 2);
    let weight = position - index as f64;
    let (low, high) = (VIRIDIS[index], VIRIDIS[index + 1]);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * weight).round() as u8;
    RGBColor(mix(low.0, high.0), mix(low.1, high.1), mix(low.2, high.2))
}

/// Black on light cells, white on dark ones (WCAG relative luminance).
fn contrasting_text(background: RGBColor) -> RGBColor {
    let linear = |channel: u8| {
        let c = f64::from(channel) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(background.0)
        + 0.7152 * linear(background.1)
        + 0.0722 * linear(background.2);
    // 0.18 is where black and white text have equal contrast ratios.
    if luminance > 0.18 { BLACK } else { WHITE }
}

impl Heatmap {
    fn cell(&self, panel: &HeatmapPanel, y: usize, x: usize) -> Option<f64> {
        panel
            .values
            .get(y)
            .and_then(|row| row.get(x))
            .copied()
            .flatten()
            .filter(|value| value.is_finite())
    }

    fn value_extent(&self) -> Option<(f64, f64)> {
        finite_extent(self.panels.iter().flat_map(|panel| {
            (0..self.y_levels.len())
                .flat_map(move |y| (0..self.x_levels.len()).map(move |x| (y, x)))
                .filter_map(move |(y, x)| self.cell(panel, y, x))
        }))
    }

    pub(crate) fn missing_data(&self) -> Option<&'static str> {
        if self.panels.is_empty() || self.x_levels.is_empty() || self.y_levels.is_empty() {
            return Some("heatmap needs at least one panel, x level and y level");
        }
        if self.value_extent().is_none() {
            return Some("heatmap has no finite values");
        }
        None
    }

    pub(crate) fn size(&self) -> (u32, u32) {
        let columns = (self.panels.len() * self.x_levels.len()) as u32;
        let width = 330 + columns * 85 + self.panels.len().saturating_sub(1) as u32 * 28;
        let height = 260 + self.y_levels.len() as u32 * 60;
        (width.clamp(900, 2400), height.clamp(600, 1800))
    }

    pub(crate) fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let Some((low, high)) = self.value_extent() else {
            return Ok(());
        };
        // A flat grid still gets a valid scale; cells then share one colour.
        let (low, high) = if high > low {
            (low, high)
        } else {
            padded_range(low, high, 0.0)
        };
        let fraction_of = |value: f64| (value - low) / (high - low);
        let (width, height) = root.dim_in_pixel();
        let (width, height) = (width as i32, height as i32);
        let top = draw_title(root, &self.title)? + 6;

        // Horizontal layout: [y label][y levels][panels...][colour bar][value label]
        let tick_style = text_style(TICK_SIZE, HPos::Right, VPos::Center);
        let mut y_level_width = 0;
        let mut y_level_texts = Vec::with_capacity(self.y_levels.len());
        for level in &self.y_levels {
            let shown = truncate_to_width(root, level, &tick_style, MAX_Y_LEVEL_WIDTH)?;
            y_level_width = y_level_width.max(text_width(root, &shown, &tick_style)?);
            y_level_texts.push(shown);
        }
        let axis_label_band = (AXIS_LABEL_SIZE * 1.3) as i32;
        let grid_left = OUTER_MARGIN + axis_label_band + 10 + y_level_width + 10;

        let ticks = nice_ticks(low, high, 6);
        let bar_tick_style = text_style(TICK_SIZE, HPos::Left, VPos::Center);
        let mut tick_width = 0;
        for tick in &ticks {
            tick_width = tick_width.max(text_width(root, &format_tick(*tick), &bar_tick_style)?);
        }
        let bar_right_band = 8 + tick_width + 12 + axis_label_band + OUTER_MARGIN;
        let bar_left = width - bar_right_band - COLOR_BAR_WIDTH;
        let grid_right = bar_left - COLOR_BAR_GAP;

        let panel_count = self.panels.len() as i32;
        let columns = self.x_levels.len() as i32;
        let rows = self.y_levels.len() as i32;
        let panel_width = (grid_right - grid_left - PANEL_GAP * (panel_count - 1)) / panel_count;
        let cell_width = (panel_width / columns).max(1);
        let panel_width = cell_width * columns;

        // Vertical layout: [panel titles][grid][x levels][x label]
        let has_panel_titles = self.panels.iter().any(|panel| !panel.title.is_empty());
        let grid_top = top
            + if has_panel_titles {
                (LEGEND_SIZE * 1.6) as i32
            } else {
                0
            };
        let x_labels = fit_category_labels(root, &self.x_levels, cell_width)?;
        let grid_bottom_limit = height - OUTER_MARGIN - axis_label_band - x_labels.height;
        let cell_height = ((grid_bottom_limit - grid_top) / rows).max(1);
        let grid_bottom = grid_top + cell_height * rows;

        for (panel_index, panel) in self.panels.iter().enumerate() {
            let panel_left = grid_left + panel_index as i32 * (panel_width + PANEL_GAP);
            if !panel.title.is_empty() {
                let style = text_style(LEGEND_SIZE, HPos::Center, VPos::Bottom);
                let shown = truncate_to_width(root, &panel.title, &style, panel_width)?;
                draw_text(
                    root,
                    &shown,
                    (panel_left + panel_width / 2, grid_top - 8),
                    &style,
                )?;
            }
            for row in 0..rows {
                // Row 0 is the bottom row.
                let y1 = grid_bottom - row * cell_height;
                let y0 = y1 - cell_height;
                for column in 0..columns {
                    let x0 = panel_left + column * cell_width;
                    let cell_rect = (x0, y0, x0 + cell_width, y1);
                    match self.cell(panel, row as usize, column as usize) {
                        Some(value) => {
                            draw_value_cell(root, cell_rect, value, viridis(fraction_of(value)))?
                        }
                        None => draw_missing_cell(root, cell_rect)?,
                    }
                }
            }
            let centers: Vec<i32> = (0..columns)
                .map(|column| panel_left + column * cell_width + cell_width / 2)
                .collect();
            draw_category_labels(root, &x_labels, &centers, grid_bottom)?;
        }

        for (row, text) in y_level_texts.iter().enumerate() {
            let y = grid_bottom - row as i32 * cell_height - cell_height / 2;
            draw_text(root, text, (grid_left - 10, y), &tick_style)?;
        }
        let panels_right = grid_left + panel_count * panel_width + (panel_count - 1) * PANEL_GAP;
        let x_label_style = text_style(AXIS_LABEL_SIZE, HPos::Center, VPos::Top);
        draw_text(
            root,
            &self.x_label,
            (
                (grid_left + panels_right) / 2,
                grid_bottom + x_labels.height + 4,
            ),
            &x_label_style,
        )?;
        let grid_middle = (grid_top + grid_bottom) / 2;
        draw_vertical_label(
            root,
            &self.y_label,
            (OUTER_MARGIN + axis_label_band / 2, grid_middle),
            AXIS_LABEL_SIZE,
        )?;

        // Colour bar: thin horizontal strips from low (bottom) to high (top).
        let bar_height = grid_bottom - grid_top;
        for offset in 0..bar_height {
            let fraction = f64::from(offset) / f64::from((bar_height - 1).max(1));
            let y = grid_bottom - 1 - offset;
            root.draw(&Rectangle::new(
                [(bar_left, y), (bar_left + COLOR_BAR_WIDTH, y + 1)],
                viridis(fraction).filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [
                (bar_left, grid_top),
                (bar_left + COLOR_BAR_WIDTH, grid_bottom),
            ],
            BLACK.stroke_width(1),
        ))?;
        for tick in ticks {
            let y = grid_bottom - (fraction_of(tick) * f64::from(bar_height)).round() as i32;
            let right = bar_left + COLOR_BAR_WIDTH;
            root.draw(&PathElement::new(
                vec![(right, y), (right + 5, y)],
                BLACK.stroke_width(1),
            ))?;
            draw_text(root, &format_tick(tick), (right + 8, y), &bar_tick_style)?;
        }
        draw_vertical_label(
            root,
            &self.value_label,
            (width - OUTER_MARGIN - axis_label_band / 2, grid_middle),
            AXIS_LABEL_SIZE,
        )?;
        Ok(())
    }
}

fn draw_value_cell<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x0, y0, x1, y1): (i32, i32, i32, i32),
    value: f64,
    fill: RGBColor,
) -> DrawResult {
    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], fill.filled()))?;
    // White seams keep neighbouring cells of similar colour apart.
    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], WHITE.stroke_width(2)))?;
    let text = format_sig3(value);
    let text_color = contrasting_text(fill);
    for size in [ANNOTATION_SIZE + 2.0, ANNOTATION_SIZE - 2.0] {
        let style = colored_text_style(size, HPos::Center, VPos::Center, &text_color);
        if text_width(root, &text, &style)? <= x1 - x0 - 6 {
            draw_text(root, &text, ((x0 + x1) / 2, (y0 + y1) / 2), &style)?;
            break;
        }
    }
    Ok(())
}

fn draw_missing_cell<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x0, y0, x1, y1): (i32, i32, i32, i32),
) -> DrawResult {
    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], MISSING_FILL.filled()))?;
    // 45° hatching: lines x − y = c, clipped to the cell by hand because
    // plotters does not clip primitives to a sub-area.
    let mut c = x0 - y1 + HATCH_SPACING;
    while c < x1 - y0 {
        let y_start = y0.max(x0 - c);
        let y_end = y1.min(x1 - c);
        if y_start < y_end {
            root.draw(&PathElement::new(
                vec![(y_start + c, y_start), (y_end + c, y_end)],
                MISSING_HATCH.stroke_width(1),
            ))?;
        }
        c += HATCH_SPACING;
    }
    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], WHITE.stroke_width(2)))?;
    let style = colored_text_style(ANNOTATION_SIZE, HPos::Center, VPos::Center, &MUTED_COLOR);
    if text_width(root, "n/a", &style)? <= x1 - x0 - 6 {
        // A white backing keeps "n/a" legible over the hatching.
        let middle = ((x0 + x1) / 2, (y0 + y1) / 2);
        root.draw(&Rectangle::new(
            [
                (middle.0 - 18, middle.1 - 11),
                (middle.0 + 18, middle.1 + 11),
            ],
            MISSING_FILL.filled(),
        ))?;
        draw_text(root, "n/a", middle, &style)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_no_data, render_and_check};
    use super::*;

    fn sample() -> Heatmap {
        Heatmap {
            title: "Throughput by context and GPU layers".into(),
            value_label: "Throughput (tok/s)".into(),
            x_label: "num_gpu".into(),
            y_label: "num_ctx".into(),
            x_levels: vec!["0".into(), "40".into(), "80".into()],
            y_levels: vec!["1024".into(), "2048".into()],
            panels: vec![
                HeatmapPanel {
                    title: "baseline".into(),
                    values: vec![
                        vec![Some(31.2), Some(55.0), None],
                        vec![Some(30.0), Some(60.1)],
                    ],
                },
                HeatmapPanel {
                    title: "chimera".into(),
                    values: vec![
                        vec![Some(40.0), Some(70.0), Some(88.8)],
                        vec![Some(f64::NAN), Some(65.0), Some(90.0)],
                    ],
                },
            ],
        }
    }

    #[test]
    fn renders_png_and_svg_with_labels() {
        let chart = sample();
        render_and_check(
            &chart,
            &[
                &chart.title,
                "Throughput (tok/s)",
                "num_gpu",
                "num_ctx",
                "baseline",
                "88.8",
                "n/a",
            ],
        );
    }

    #[test]
    fn empty_heatmap_is_rejected() {
        assert_no_data(&Heatmap::default());
        let mut all_missing = sample();
        for panel in &mut all_missing.panels {
            panel.values = vec![vec![None; 3]; 2];
        }
        assert_no_data(&all_missing);
    }

    #[test]
    fn flat_values_still_render() {
        let mut chart = sample();
        for panel in &mut chart.panels {
            panel.values = vec![vec![Some(50.0); 3]; 2];
        }
        render_and_check(&chart, &["50.0"]);
    }

    #[test]
    fn text_contrasts_with_viridis_ends() {
        assert_eq!(contrasting_text(viridis(0.0)), WHITE);
        assert_eq!(contrasting_text(viridis(1.0)), BLACK);
    }
}
