//! From an analysis to the chart data of `plot` (which knows nothing of studies): which
//! charts a report draws, with what labels, and which numbers go in them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::analysis::{Analysis, CellStat, SourceRows};
use super::design::{Design, FactorKind};
use super::metrics::{self, Metric};
use crate::plot::{self, Chart, ChartFiles, PlotError};

/// Metrics beyond the headline throughput and TTFT that get per-cell and A vs B charts
/// (the tables cover every metric).
const ALSO_CHARTED: &[&str] = &["e2e_ms", "quality_score", "workflow_ms"];
/// More panels than this and a heatmap stops being readable.
const MAX_HEATMAP_PANELS: usize = 6;

/// One drawn chart: what it shows and where its files are.
#[derive(Debug, Clone)]
pub struct DrawnChart {
    pub stem: String,
    pub caption: String,
    pub files: ChartFiles,
}

enum Planned {
    Heatmap(plot::Heatmap),
    Cells(plot::CellIntervals),
    Forest(plot::Forest),
    Distributions(plot::Distributions),
    Pareto(plot::Pareto),
    Timeline(plot::Timeline),
}

impl Planned {
    fn chart(&self) -> Chart<'_> {
        match self {
            Planned::Heatmap(c) => c.into(),
            Planned::Cells(c) => c.into(),
            Planned::Forest(c) => c.into(),
            Planned::Distributions(c) => c.into(),
            Planned::Pareto(c) => c.into(),
            Planned::Timeline(c) => c.into(),
        }
    }
}

/// Draws every chart the data supports into `dir` (PNG and SVG each), in parallel.
pub fn draw_all(
    analysis: &Analysis,
    design: &Design,
    rows: &[SourceRows],
    dir: &Path,
) -> Result<Vec<DrawnChart>, PlotError> {
    let mut planned: Vec<(String, String, Planned)> = Vec::new();
    let (throughput, ttft) = analysis.headline_pair();
    let charted: Vec<&'static Metric> = analysis
        .metrics
        .iter()
        .copied()
        .filter(|m| m.name == throughput || m.name == ttft || ALSO_CHARTED.contains(&m.name))
        // Per-call latency pools an agent run's different calls; its runs' metrics are charted.
        .filter(|m| !(m.name == "e2e_ms" && throughput != "tokens_per_s"))
        .collect();
    for metric in &charted {
        if let Some(heatmap) = heatmap(analysis, design, metric) {
            planned.push((
                format!("heatmap-{}", metric.name),
                format!(
                    "{} over {} × {}",
                    metric.axis_label(),
                    heatmap.x_label,
                    heatmap.y_label
                ),
                Planned::Heatmap(heatmap),
            ));
        }
        planned.push((
            format!("cells-{}", metric.name),
            format!("{}: mean and 95% CI per cell", metric.axis_label()),
            Planned::Cells(cell_intervals(analysis, design, metric)),
        ));
        if let Some(forest) = forest(analysis, design, metric) {
            planned.push((
                format!("forest-{}", metric.name),
                format!(
                    "A vs B: difference in {} with 95% CI per grid point",
                    super::metrics::in_sentence(metric.label)
                ),
                Planned::Forest(forest),
            ));
        }
    }
    if let Some(ttft) = metrics::lookup(ttft).filter(|m| analysis.has_metric(m.name)) {
        planned.push((
            format!("distribution-{}", ttft.name),
            "TTFT distribution per cell (box: quartiles; whiskers: 5th–95th percentile)".to_owned(),
            Planned::Distributions(distributions(analysis, design, ttft)),
        ));
    }
    if !analysis.pareto.is_empty() {
        planned.push((
            "pareto".to_owned(),
            "Throughput vs TTFT per cell; the Pareto front highlighted".to_owned(),
            Planned::Pareto(pareto(analysis, design, throughput, ttft)),
        ));
    }
    if let Some(timeline) = timeline_chart(rows, design) {
        planned.push((
            "timeline-tokens_per_s".to_owned(),
            "Throughput per call in execution order, model reloads marked (drift check)".to_owned(),
            Planned::Timeline(timeline),
        ));
    }
    planned
        .par_iter()
        .map(|(stem, caption, chart)| {
            let files = plot::render(chart.chart(), dir, stem)?;
            Ok(DrawnChart {
                stem: stem.clone(),
                caption: caption.clone(),
                files,
            })
        })
        .collect()
}

fn stat<'a>(analysis: &'a Analysis, group: usize, metric: &Metric) -> Option<&'a CellStat> {
    analysis.cell(group, metric.name)
}

/// The two point factors with the most levels become the axes; the agent and any other
/// varying factor become panels.
fn heatmap(analysis: &Analysis, design: &Design, metric: &Metric) -> Option<plot::Heatmap> {
    let mut axes: Vec<(usize, usize)> = design
        .point_factors()
        .filter(|(f, _)| design.factors[*f].kind == FactorKind::Axis)
        .filter(|(f, _)| design.factors[*f].levels.len() > 1)
        .collect();
    if axes.len() < 2 {
        return None;
    }
    axes.sort_by_key(|(f, _)| std::cmp::Reverse(design.factors[*f].levels.len()));
    let (x_factor, x_pos) = axes[0];
    let (y_factor, y_pos) = axes[1];
    // Levels some group actually ran at: an agent that does not follow an axis sits at
    // "default" there, which is not a point of the grid.
    let used = |position: usize, factor: usize| -> Vec<usize> {
        (0..design.factors[factor].levels.len())
            .filter(|level| {
                design
                    .groups
                    .iter()
                    .any(|g| !g.wildcard[position] && g.levels[position] == *level)
            })
            .collect()
    };
    let x_used = used(x_pos, x_factor);
    let y_used = used(y_pos, y_factor);
    if x_used.len() < 2 || y_used.len() < 2 {
        return None;
    }
    let x_levels: Vec<&super::design::Level> = x_used
        .iter()
        .map(|l| &design.factors[x_factor].levels[*l])
        .collect();
    let y_levels: Vec<&super::design::Level> = y_used
        .iter()
        .map(|l| &design.factors[y_factor].levels[*l])
        .collect();

    // Panels: every combination of the remaining by-factors (agent included).
    let mut panels: Vec<(String, Vec<Vec<Option<f64>>>)> = Vec::new();
    let mut panel_of: HashMap<Vec<usize>, usize> = HashMap::new();
    for (index, group) in design.groups.iter().enumerate() {
        let key: Vec<usize> = (0..design.by.len())
            .filter(|p| *p != x_pos && *p != y_pos)
            .map(|p| group.levels[p])
            .collect();
        let panel = *panel_of.entry(key).or_insert_with(|| {
            let title = (0..design.by.len())
                .filter(|p| *p != x_pos && *p != y_pos)
                .map(|p| {
                    let factor = &design.factors[design.by[p]];
                    let label = &factor.levels[group.levels[p]].label;
                    if factor.kind == FactorKind::Agent {
                        label.clone()
                    } else {
                        format!("{}={label}", factor.name)
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            panels.push((title, vec![vec![None; x_levels.len()]; y_levels.len()]));
            panels.len() - 1
        });
        let Some(mean) = stat(analysis, index, metric)
            .and_then(|s| s.summary.as_ref())
            .map(|s| s.mean)
        else {
            continue;
        };
        // An agent that does not follow an axis is its own baseline along all of it.
        let xs: Vec<usize> = if group.wildcard[x_pos] {
            (0..x_levels.len()).collect()
        } else {
            x_used
                .iter()
                .position(|l| *l == group.levels[x_pos])
                .into_iter()
                .collect()
        };
        let ys: Vec<usize> = if group.wildcard[y_pos] {
            (0..y_levels.len()).collect()
        } else {
            y_used
                .iter()
                .position(|l| *l == group.levels[y_pos])
                .into_iter()
                .collect()
        };
        for y in &ys {
            for x in &xs {
                panels[panel].1[*y][*x] = Some(mean);
            }
        }
    }
    if panels.len() > MAX_HEATMAP_PANELS {
        return None;
    }
    Some(plot::Heatmap {
        title: format!(
            "{} by {} and {}",
            metric.label, design.factors[x_factor].name, design.factors[y_factor].name
        ),
        value_label: metric.axis_label(),
        x_label: design.factors[x_factor].name.clone(),
        y_label: design.factors[y_factor].name.clone(),
        x_levels: x_levels.iter().map(|l| l.label.clone()).collect(),
        y_levels: y_levels.iter().map(|l| l.label.clone()).collect(),
        panels: panels
            .into_iter()
            .map(|(title, values)| plot::HeatmapPanel { title, values })
            .collect(),
    })
}

fn series_names(design: &Design) -> Vec<String> {
    if design.groups_by_agent() {
        design.agents.clone()
    } else {
        vec!["all".to_owned()]
    }
}

fn series_of(design: &Design, group: usize) -> usize {
    design.groups[group]
        .agent
        .as_ref()
        .and_then(|a| design.agents.iter().position(|x| x == a))
        .filter(|_| design.groups_by_agent())
        .unwrap_or(0)
}

fn category_label(design: &Design, group: usize) -> String {
    let label = &design.groups[group].point_label;
    if label.is_empty() {
        design.groups[group].id.clone()
    } else {
        short_label(label)
    }
}

/// "num_ctx=2048, temperature=0.2" → "ctx=2048 temp=0.2": axis labels must stay short.
fn short_label(label: &str) -> String {
    label
        .split(", ")
        .map(|part| {
            part.replacen("num_", "", 1)
                .replacen("temperature", "temp", 1)
                .replacen("repeat_penalty", "rep", 1)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn cell_intervals(analysis: &Analysis, design: &Design, metric: &Metric) -> plot::CellIntervals {
    let names = series_names(design);
    let mut categories: Vec<String> = Vec::new();
    for group in 0..design.groups.len() {
        let label = category_label(design, group);
        if !categories.contains(&label) {
            categories.push(label);
        }
    }
    let mut series: Vec<plot::IntervalSeries> = names
        .iter()
        .map(|name| plot::IntervalSeries {
            name: name.clone(),
            points: vec![None; categories.len()],
        })
        .collect();
    for group in 0..design.groups.len() {
        let Some(summary) = stat(analysis, group, metric).and_then(|s| s.summary.as_ref()) else {
            continue;
        };
        let category = categories
            .iter()
            .position(|c| *c == category_label(design, group))
            .unwrap_or(0);
        let (low, high) = summary
            .boot_ci
            .as_ref()
            .map_or((summary.mean, summary.mean), |ci| (ci.low, ci.high));
        series[series_of(design, group)].points[category] = Some(plot::PointInterval {
            mean: summary.mean,
            low,
            high,
        });
    }
    plot::CellIntervals {
        title: format!("{} per cell (mean, 95% CI)", metric.label),
        y_label: metric.axis_label(),
        categories,
        series,
    }
}

fn forest(analysis: &Analysis, design: &Design, metric: &Metric) -> Option<plot::Forest> {
    let comparisons: Vec<_> = analysis.comparisons_of(metric);
    if comparisons.is_empty() {
        return None;
    }
    let several_pairs = design.agents.len() > 2;
    let rows = comparisons
        .iter()
        .map(|c| {
            let point = design.point_text(&c.point);
            let mut label = if point.is_empty() {
                "all".to_owned()
            } else {
                short_label(&point)
            };
            if several_pairs {
                label = format!(
                    "{label} ({} vs {})",
                    design.groups[c.b].agent.clone().unwrap_or_default(),
                    design.groups[c.a].agent.clone().unwrap_or_default()
                );
            }
            let (low, high) = c
                .result
                .diff_ci
                .as_ref()
                .map_or((c.result.diff, c.result.diff), |ci| (ci.low, ci.high));
            plot::ForestRow {
                label,
                diff: c.result.diff,
                low,
                high,
                significant: c.significant(),
            }
        })
        .collect();
    let (a, b) = match design.agents.as_slice() {
        [a, b] => (a.clone(), b.clone()),
        _ => ("A".to_owned(), "B".to_owned()),
    };
    Some(plot::Forest {
        title: format!("{b} vs {a}: {}", metric.label),
        x_label: format!(
            "Δ {}, {b} − {a}{}",
            super::metrics::in_sentence(metric.label),
            metric.unit_suffix()
        ),
        rows,
        significant_label: format!("significant after Holm (α = {})", super::analysis::ALPHA),
    })
}

fn distributions(analysis: &Analysis, design: &Design, metric: &Metric) -> plot::Distributions {
    let boxes = (0..design.groups.len())
        .filter_map(|group| {
            let stat = stat(analysis, group, metric)?;
            let summary = stat.summary.as_ref()?;
            let (q1, q3) = stat.quartiles?;
            let mut label = category_label(design, group);
            if design.groups_by_agent() {
                label = format!(
                    "{label} {}",
                    design.groups[group].agent.clone().unwrap_or_default()
                );
            }
            Some(plot::BoxSummary {
                label,
                series: series_of(design, group),
                whisker_low: summary.p5,
                q1,
                median: summary.median,
                q3,
                whisker_high: summary.p95,
                mean: Some(summary.mean),
            })
        })
        .collect();
    plot::Distributions {
        title: format!("{} per cell", metric.label),
        y_label: metric.axis_label(),
        boxes,
        series_names: series_names(design),
    }
}

fn pareto(analysis: &Analysis, design: &Design, throughput: &str, ttft: &str) -> plot::Pareto {
    let label =
        |name: &str| metrics::lookup(name).map_or_else(|| name.to_owned(), Metric::axis_label);
    plot::Pareto {
        title: format!(
            "{} vs {}",
            metrics::lookup(throughput).map_or(throughput, |m| m.label),
            metrics::in_sentence(metrics::lookup(ttft).map_or(ttft, |m| m.label))
        ),
        x_label: format!("{}, lower is better", label(ttft)),
        y_label: format!("{}, higher is better", label(throughput)),
        points: analysis
            .pareto
            .iter()
            .map(|p| plot::ParetoPoint {
                label: category_label(design, p.group),
                series: series_of(design, p.group),
                x: p.ttft_ms,
                y: p.tokens_per_s,
                on_front: p.on_front,
            })
            .collect(),
        series_names: series_names(design),
    }
}

/// Every measured call of every folder in execution order (sessions included), with the
/// positions where a call paid a model load.
fn timeline_chart(sources: &[SourceRows], design: &Design) -> Option<plot::Timeline> {
    let names = series_names(design);
    // (start time, (series, value) of a measured call, whether it paid a model load)
    type Event = (i64, Option<(usize, f64)>, bool);
    let mut events: Vec<Event> = Vec::new();
    for (source, rows) in sources.iter().enumerate() {
        let calls = &rows.calls;
        let Some((_, values)) = calls.metrics.iter().find(|(m, _)| m.name == "tokens_per_s") else {
            continue;
        };
        for (row, value) in values.iter().enumerate() {
            let group = design.group_of(source, &calls.cells[calls.cell[row] as usize]);
            let point = if calls.warmup[row] || !calls.ok[row] {
                None
            } else {
                value.zip(group).map(|(v, g)| (series_of(design, g), v))
            };
            events.push((calls.started_ms[row], point, calls.reloaded[row]));
        }
    }
    if events.iter().all(|(_, p, _)| p.is_none()) {
        return None;
    }
    events.sort_by_key(|(time, _, _)| *time);
    let mut series: Vec<plot::TimelineSeries> = names
        .iter()
        .map(|name| plot::TimelineSeries {
            name: name.clone(),
            points: Vec::new(),
        })
        .collect();
    let mut reloads = Vec::new();
    let mut position = 0usize;
    for (_, point, reloaded) in events {
        if reloaded {
            reloads.push(position as f64);
        }
        if let Some((series_index, value)) = point {
            series[series_index].points.push((position as f64, value));
            position += 1;
        }
    }
    Some(plot::Timeline {
        title: "Throughput over the sweep".to_owned(),
        y_label: "Throughput (tok/s)".to_owned(),
        x_label: "measured call (execution order)".to_owned(),
        series,
        reloads,
    })
}

/// The relative path from `from_dir` to `to` (both absolute or both relative to the same
/// base), for links in summary.md.
pub fn relative_path(from_dir: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from_dir.components().collect();
    let target: Vec<_> = to.components().collect();
    let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for component in &target[common..] {
        path.push(component);
    }
    path
}
