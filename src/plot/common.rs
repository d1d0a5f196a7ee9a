//! Drawing helpers shared by the chart files: the internal drawing error,
//! font sizes and neutral colours, titles, legends, category labels that never
//! overlap, series markers, and number formatting for ticks and annotations.
//!
//! Everything here draws in pixel coordinates on the root drawing area, so
//! the charts keep full control over layout instead of relying on plotters'
//! built-in legend and label placement (which overlaps data on small canvases).

use std::cmp::Ordering;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontDesc, FontFamily, FontStyle, FontTransform, RGBAColor, TextStyle};

/// A plotters failure, reduced to its message so it can cross the generic
/// backend boundary; `render` attaches the file path.
#[derive(Debug)]
pub struct DrawFailure(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for DrawFailure {
    fn from(error: DrawingAreaErrorKind<E>) -> Self {
        DrawFailure(error.to_string())
    }
}

pub type DrawResult<T = ()> = Result<T, DrawFailure>;

pub const TITLE_SIZE: f64 = 27.0;
pub const AXIS_LABEL_SIZE: f64 = 23.0;
pub const TICK_SIZE: f64 = 20.0;
pub const LEGEND_SIZE: f64 = 21.0;
pub const ANNOTATION_SIZE: f64 = 18.0;

/// Outer whitespace around every chart, in pixels.
pub const OUTER_MARGIN: i32 = 14;
/// Horizontal grid lines: visible enough to read values, faint enough not to
/// compete with the data.
pub const GRID_COLOR: RGBColor = RGBColor(0xE0, 0xE0, 0xE0);
/// Secondary text (captions, "n/a") and reference lines.
pub const MUTED_COLOR: RGBColor = RGBColor(0x55, 0x55, 0x55);

pub fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal)
}

pub fn text_style(size: f64, h_pos: HPos, v_pos: VPos) -> TextStyle<'static> {
    colored_text_style(size, h_pos, v_pos, &BLACK)
}

pub fn colored_text_style<C: Color>(
    size: f64,
    h_pos: HPos,
    v_pos: VPos,
    color: &C,
) -> TextStyle<'static> {
    TextStyle {
        font: font(size),
        color: color.to_backend_color(),
        pos: Pos::new(h_pos, v_pos),
    }
}

pub fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
) -> DrawResult<i32> {
    let (width, _) = area.estimate_text_size(text, style)?;
    Ok(i32::try_from(width).unwrap_or(i32::MAX))
}

pub fn draw_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    at: (i32, i32),
    style: &TextStyle,
) -> DrawResult {
    area.draw(&Text::new(text.to_string(), at, style.clone()))?;
    Ok(())
}

/// Draws the centred title and returns the y coordinate below it.
pub fn draw_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> DrawResult<i32> {
    if title.is_empty() {
        return Ok(OUTER_MARGIN);
    }
    let (width, _) = area.dim_in_pixel();
    let style = text_style(TITLE_SIZE, HPos::Center, VPos::Top);
    let max_width = width as i32 - 2 * OUTER_MARGIN;
    let shown = truncate_to_width(area, title, &style, max_width)?;
    draw_text(area, &shown, (width as i32 / 2, OUTER_MARGIN), &style)?;
    Ok(OUTER_MARGIN + (TITLE_SIZE * 1.35) as i32)
}

/// Shortens `text` with a trailing ellipsis until it fits in `max_width` px.
pub fn truncate_to_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_width: i32,
) -> DrawResult<String> {
    if text_width(area, text, style)? <= max_width {
        return Ok(text.to_string());
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>() + "…";
        if text_width(area, &candidate, style)? <= max_width {
            return Ok(candidate);
        }
    }
    Ok(String::new())
}

/// What a legend entry shows next to its label.
#[derive(Debug, Clone, Copy)]
pub enum LegendSymbol {
    Marker {
        shape: usize,
        color: RGBColor,
        filled: bool,
    },
    Line {
        color: RGBAColor,
        width: u32,
    },
    /// A short vertical stroke, for vertical reference lines in the plot.
    VerticalLine {
        color: RGBAColor,
        width: u32,
    },
    Swatch {
        fill: RGBAColor,
        edge: RGBColor,
    },
}

#[derive(Debug, Clone)]
pub struct LegendEntry {
    pub symbol: LegendSymbol,
    pub label: String,
}

impl LegendEntry {
    pub fn new(symbol: LegendSymbol, label: impl Into<String>) -> Self {
        LegendEntry {
            symbol,
            label: label.into(),
        }
    }
}

const LEGEND_SYMBOL_WIDTH: i32 = 28;
const LEGEND_SYMBOL_GAP: i32 = 8;
const LEGEND_ENTRY_GAP: i32 = 30;
const LEGEND_ROW_HEIGHT: i32 = 30;

/// A horizontal legend wrapped into centred rows.
pub struct LegendLayout {
    /// Per row: (entry index, label width in px).
    rows: Vec<Vec<(usize, i32)>>,
}

impl LegendLayout {
    pub fn height(&self) -> i32 {
        self.rows.len() as i32 * LEGEND_ROW_HEIGHT
    }
}

pub fn layout_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    max_width: i32,
) -> DrawResult<LegendLayout> {
    let style = text_style(LEGEND_SIZE, HPos::Left, VPos::Center);
    let mut rows: Vec<Vec<(usize, i32)>> = Vec::new();
    let mut row_width = 0;
    for (index, entry) in entries.iter().enumerate() {
        let label_width = text_width(area, &entry.label, &style)?;
        let entry_width = LEGEND_SYMBOL_WIDTH + LEGEND_SYMBOL_GAP + label_width;
        match rows.last_mut() {
            Some(row) if row_width + LEGEND_ENTRY_GAP + entry_width <= max_width => {
                row.push((index, label_width));
                row_width += LEGEND_ENTRY_GAP + entry_width;
            }
            _ => {
                rows.push(vec![(index, label_width)]);
                row_width = entry_width;
            }
        }
    }
    Ok(LegendLayout { rows })
}

/// Draws the legend centred on `center_x`, starting at `top`.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    layout: &LegendLayout,
    center_x: i32,
    top: i32,
) -> DrawResult {
    let style = text_style(LEGEND_SIZE, HPos::Left, VPos::Center);
    for (row_index, row) in layout.rows.iter().enumerate() {
        let row_width: i32 = row
            .iter()
            .map(|(_, label_width)| LEGEND_SYMBOL_WIDTH + LEGEND_SYMBOL_GAP + label_width)
            .sum::<i32>()
            + LEGEND_ENTRY_GAP * (row.len() as i32 - 1);
        let y = top + row_index as i32 * LEGEND_ROW_HEIGHT + LEGEND_ROW_HEIGHT / 2;
        let mut x = center_x - row_width / 2;
        for &(index, label_width) in row {
            let entry = &entries[index];
            draw_legend_symbol(area, entry.symbol, x, y)?;
            let label_x = x + LEGEND_SYMBOL_WIDTH + LEGEND_SYMBOL_GAP;
            draw_text(area, &entry.label, (label_x, y), &style)?;
            x = label_x + label_width + LEGEND_ENTRY_GAP;
        }
    }
    Ok(())
}

fn draw_legend_symbol<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    symbol: LegendSymbol,
    left: i32,
    center_y: i32,
) -> DrawResult {
    let center = (left + LEGEND_SYMBOL_WIDTH / 2, center_y);
    match symbol {
        LegendSymbol::Marker {
            shape,
            color,
            filled,
        } => draw_marker(area, center, shape, 7, color, filled),
        LegendSymbol::Line { color, width } => {
            if width == 0 {
                return Ok(());
            }
            area.draw(&PathElement::new(
                vec![
                    (left + 2, center_y),
                    (left + LEGEND_SYMBOL_WIDTH - 2, center_y),
                ],
                color.stroke_width(width),
            ))?;
            Ok(())
        }
        LegendSymbol::VerticalLine { color, width } => {
            let x = left + LEGEND_SYMBOL_WIDTH / 2;
            area.draw(&PathElement::new(
                vec![(x, center_y - 10), (x, center_y + 10)],
                color.stroke_width(width),
            ))?;
            Ok(())
        }
        LegendSymbol::Swatch { fill, edge } => {
            let corners = [
                (left + 4, center_y - 8),
                (left + LEGEND_SYMBOL_WIDTH - 4, center_y + 8),
            ];
            area.draw(&Rectangle::new(corners, fill.filled()))?;
            area.draw(&Rectangle::new(corners, edge.stroke_width(2)))?;
            Ok(())
        }
    }
}

/// Draws series marker `shape` (circle, square, triangle, diamond, cycling)
/// so series stay distinguishable in greyscale print, not only by colour.
pub fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    shape: usize,
    radius: i32,
    color: RGBColor,
    filled: bool,
) -> DrawResult {
    let outline: Vec<(i32, i32)> = match shape % 4 {
        0 => {
            if filled {
                area.draw(&Circle::new((x, y), radius, color.filled()))?;
            } else {
                area.draw(&Circle::new((x, y), radius, WHITE.filled()))?;
                area.draw(&Circle::new((x, y), radius, color.stroke_width(2)))?;
            }
            return Ok(());
        }
        1 => {
            let half = radius * 90 / 100;
            vec![
                (x - half, y - half),
                (x + half, y - half),
                (x + half, y + half),
                (x - half, y + half),
            ]
        }
        2 => {
            let r = radius * 115 / 100;
            vec![(x, y - r), (x + r, y + r * 3 / 4), (x - r, y + r * 3 / 4)]
        }
        _ => {
            let r = radius * 120 / 100;
            vec![(x, y - r), (x + r, y), (x, y + r), (x - r, y)]
        }
    };
    if filled {
        area.draw(&Polygon::new(outline, color.filled()))?;
    } else {
        area.draw(&Polygon::new(outline.clone(), WHITE.filled()))?;
        let mut closed = outline;
        if let Some(&first) = closed.first() {
            closed.push(first);
        }
        area.draw(&PathElement::new(closed, color.stroke_width(2)))?;
    }
    Ok(())
}

/// Category labels fitted under an axis: wrapped horizontally at word
/// boundaries when every word fits its slot, otherwise rotated to vertical.
pub struct FittedLabels {
    size: f64,
    lines: Vec<Vec<String>>,
    rotated: bool,
    /// Vertical space the labels need below the axis, in pixels.
    pub height: i32,
}

const LABEL_GAP: i32 = 8;

/// Longest rotated label, in pixels; longer ones are shortened with "…".
const MAX_ROTATED_LABEL: i32 = 190;

pub fn fit_category_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[String],
    slot_width: i32,
) -> DrawResult<FittedLabels> {
    // Keep a visible gap between neighbouring labels.
    let usable = slot_width - 14;
    for size in [TICK_SIZE, TICK_SIZE - 2.0, TICK_SIZE - 4.0] {
        let style = text_style(size, HPos::Center, VPos::Top);
        let mut all_lines = Vec::with_capacity(labels.len());
        let mut fits = true;
        for label in labels {
            match wrap_words(area, label, &style, usable)? {
                Some(lines) if lines.len() <= 3 => all_lines.push(lines),
                _ => {
                    fits = false;
                    break;
                }
            }
        }
        if fits {
            let max_lines = all_lines.iter().map(Vec::len).max().unwrap_or(1) as i32;
            return Ok(FittedLabels {
                size,
                lines: all_lines,
                rotated: false,
                height: LABEL_GAP + max_lines * line_height(size) + 4,
            });
        }
    }
    // Rotated: words wrap into as many side-by-side vertical lines as the
    // slot has room for; whatever still does not fit is shortened with "…".
    let size = TICK_SIZE - 2.0;
    let style = text_style(size, HPos::Right, VPos::Center);
    let max_lines = (slot_width / line_height(size)).max(1) as usize;
    let mut all_lines = Vec::with_capacity(labels.len());
    let mut longest = 0;
    for label in labels {
        let mut lines = wrap_words(area, label, &style, MAX_ROTATED_LABEL)?
            .unwrap_or_else(|| vec![label.clone()]);
        if lines.len() > max_lines {
            let overflow = lines.split_off(max_lines - 1).join(" ");
            lines.push(overflow);
        }
        let mut shown_lines = Vec::with_capacity(lines.len());
        for line in &lines {
            let shown = truncate_to_width(area, line, &style, MAX_ROTATED_LABEL)?;
            longest = longest.max(text_width(area, &shown, &style)?);
            shown_lines.push(shown);
        }
        all_lines.push(shown_lines);
    }
    Ok(FittedLabels {
        size,
        lines: all_lines,
        rotated: true,
        height: LABEL_GAP + longest + 6,
    })
}

fn line_height(size: f64) -> i32 {
    (size * 1.1).ceil() as i32
}

/// Greedy word wrap; `None` when a single word is wider than `max_width`.
fn wrap_words<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_width: i32,
) -> DrawResult<Option<Vec<String>>> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        if text_width(area, word, style)? > max_width {
            return Ok(None);
        }
        if let Some(line) = lines.last_mut() {
            let joined = format!("{line} {word}");
            if text_width(area, &joined, style)? <= max_width {
                *line = joined;
                continue;
            }
        }
        lines.push(word.to_string());
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    Ok(Some(lines))
}

/// Draws fitted labels centred on `centers_x`, hanging below `top`.
pub fn draw_category_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fitted: &FittedLabels,
    centers_x: &[i32],
    top: i32,
) -> DrawResult {
    for (lines, &x) in fitted.lines.iter().zip(centers_x) {
        if fitted.rotated {
            // Rotated by 270° the text's right end sits at the anchor, so
            // the label reads bottom-to-top and ends right under its tick.
            let style = text_style(fitted.size, HPos::Right, VPos::Center)
                .transform(FontTransform::Rotate270);
            // Read with the head tilted left, the first line is leftmost.
            let spacing = line_height(fitted.size);
            let first_x = x - spacing * (lines.len() as i32 - 1) / 2;
            for (index, line) in lines.iter().enumerate() {
                let line_x = first_x + index as i32 * spacing;
                draw_text(area, line, (line_x, top + LABEL_GAP), &style)?;
            }
        } else {
            let style = text_style(fitted.size, HPos::Center, VPos::Top);
            for (index, line) in lines.iter().enumerate() {
                let y = top + LABEL_GAP + index as i32 * line_height(fitted.size);
                draw_text(area, line, (x, y), &style)?;
            }
        }
    }
    Ok(())
}

/// Draws an axis title rotated to read bottom-to-top, centred on `center`.
pub fn draw_vertical_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    center: (i32, i32),
    size: f64,
) -> DrawResult {
    let style = text_style(size, HPos::Center, VPos::Center).transform(FontTransform::Rotate270);
    draw_text(area, text, center, &style)
}

/// Formats `value` with three significant digits (cell annotations), with
/// a typographic minus sign.
pub fn format_sig3(value: f64) -> String {
    with_minus_sign(format_sig3_ascii(value))
}

fn format_sig3_ascii(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs().log10().floor() as i32;
    if !(-3..6).contains(&magnitude) {
        return format!("{value:.2e}");
    }
    if magnitude >= 2 {
        let unit = 10f64.powi(magnitude - 2);
        return format!("{:.0}", (value / unit).round() * unit);
    }
    let decimals = (2 - magnitude) as usize;
    format!("{value:.decimals$}")
}

/// Formats an axis tick: no float noise, a typographic minus sign, and
/// "k"/"M" suffixes past 10 000 so long execution-order axes stay short.
pub fn format_tick(value: f64) -> String {
    let text = if value.abs() >= 1e6 && (value / 1e5).fract().abs() < 1e-9 {
        format!("{}M", trim_decimal(value / 1e6, 1))
    } else if value.abs() >= 10_000.0 && (value / 1000.0).fract().abs() < 1e-9 {
        format!("{}k", trim_decimal(value / 1000.0, 0))
    } else {
        trim_decimal(value, 4)
    };
    with_minus_sign(text)
}

/// U+2212 instead of the hyphen: the proper minus sign, as in typeset papers.
fn with_minus_sign(text: String) -> String {
    if text.starts_with('-') && !text.contains('e') {
        text.replacen('-', "\u{2212}", 1)
    } else {
        text
    }
}

fn trim_decimal(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" { "0".to_string() } else { text }
}

/// `(low, high)` widened by `fraction` of the span on both sides; a
/// degenerate span gets a unit-sized window so the axis can still be drawn.
pub fn padded_range(low: f64, high: f64, fraction: f64) -> (f64, f64) {
    // Also true for NaN bounds, which must not reach plotters.
    if high.partial_cmp(&low) != Some(Ordering::Greater) {
        let half = if low.abs() > 0.0 {
            low.abs() * 0.1
        } else {
            1.0
        };
        return (low - half, low + half);
    }
    let pad = (high - low) * fraction;
    (low - pad, high + pad)
}

/// Round tick values ("1, 2, 2.5, 5 × 10^k" steps) inside `[low, high]`,
/// aiming at about `target` ticks.
pub fn nice_ticks(low: f64, high: f64, target: usize) -> Vec<f64> {
    if high.partial_cmp(&low) != Some(Ordering::Greater) || target == 0 {
        return vec![low];
    }
    let rough_step = (high - low) / target as f64;
    let power = 10f64.powf(rough_step.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|factor| factor * power)
        .find(|step| *step >= rough_step)
        .unwrap_or(10.0 * power);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Width of the y label area: widest tick label plus room for the rotated
/// axis title, so the title sits close to the ticks.
pub fn y_label_area_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    low: f64,
    high: f64,
) -> DrawResult<i32> {
    let style = text_style(TICK_SIZE, HPos::Right, VPos::Center);
    let mut widest = 0;
    for tick in nice_ticks(low, high, 8) {
        widest = widest.max(text_width(area, &format_tick(tick), &style)?);
    }
    Ok(widest + 16 + (AXIS_LABEL_SIZE * 1.5) as i32)
}

/// Minimum and maximum of the finite values, if any.
pub fn finite_extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|value| value.is_finite())
        .fold(None, |extent, value| match extent {
            None => Some((value, value)),
            Some((low, high)) => Some((low.min(value), high.max(value))),
        })
}

/// Which axes of a numeric chart carry ticks and a title (the other one, if any, is drawn
/// by the chart itself: category labels, forest rows) and which draw grid lines.
pub struct Axes<'a> {
    pub x_title: Option<&'a str>,
    pub y_title: Option<&'a str>,
    pub x_grid: bool,
    pub y_grid: bool,
}

/// The one axis style of every chart: tick labels, titles, light grid, thin black axes.
pub fn draw_axes<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    axes: Axes<'_>,
) -> DrawResult {
    let tick = |value: &f64| format_tick(*value);
    let mut mesh = chart.configure_mesh();
    mesh.label_style(font(TICK_SIZE))
        .axis_desc_style(font(AXIS_LABEL_SIZE))
        .bold_line_style(GRID_COLOR.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK.stroke_width(1));
    match axes.x_title {
        Some(title) => mesh.x_labels(8).x_label_formatter(&tick).x_desc(title),
        None => mesh.x_labels(0),
    };
    match axes.y_title {
        Some(title) => mesh.y_labels(10).y_label_formatter(&tick).y_desc(title),
        None => mesh.y_labels(0),
    };
    if !axes.x_grid {
        mesh.disable_x_mesh();
    }
    if !axes.y_grid {
        mesh.disable_y_mesh();
    }
    mesh.draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig3_formats() {
        assert_eq!(format_sig3(45.678), "45.7");
        assert_eq!(format_sig3(5.0), "5.00");
        assert_eq!(format_sig3(0.12345), "0.123");
        assert_eq!(format_sig3(123.4), "123");
        assert_eq!(format_sig3(1234.5), "1230");
        assert_eq!(format_sig3(-87.26), "\u{2212}87.3");
        assert_eq!(format_sig3(0.0), "0");
    }

    #[test]
    fn ticks_have_no_float_noise() {
        assert_eq!(format_tick(0.30000000000000004), "0.3");
        assert_eq!(format_tick(40.0), "40");
        assert_eq!(format_tick(200_000.0), "200k");
        assert_eq!(format_tick(1_000_000.0), "1M");
        assert_eq!(format_tick(1_500_000.0), "1.5M");
        assert_eq!(format_tick(-2.0), "\u{2212}2");
        assert_eq!(format_tick(-0.0), "0");
    }

    #[test]
    fn nice_ticks_are_round_and_inside() {
        assert_eq!(
            nice_ticks(31.0, 89.0, 6),
            vec![40.0, 50.0, 60.0, 70.0, 80.0]
        );
        assert_eq!(nice_ticks(31.0, 89.0, 5), vec![40.0, 60.0, 80.0]);
        assert_eq!(nice_ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    }

    #[test]
    fn degenerate_range_is_widened() {
        let (low, high) = padded_range(5.0, 5.0, 0.05);
        assert!(low < 5.0 && high > 5.0);
        assert_eq!(padded_range(0.0, 10.0, 0.1), (-1.0, 11.0));
    }
}
