//! The report's tables (cells, main effects, comparisons, best configurations, Pareto
//! front), each built once in two forms: machine records (JSON and CSV, one flat object per
//! row: the documented contract) and human sections (Markdown and LaTeX, one section per
//! metric, numbers rounded per metric, CIs inline, units in the headers).

use serde_json::{Map, Value, json};

use super::analysis::{Analysis, CellStat, ComparisonStat};
use super::design::{Design, FactorKind, Group};
use super::format;
use super::metrics::Metric;
use crate::stats::{Interval, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One block of a human table: a metric, its header and rows.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    pub headers: Vec<String>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ReportTable {
    /// File stem: `cells` → `report/cells.md`, `cells.csv`, ...
    pub name: &'static str,
    pub title: String,
    pub records: Vec<Map<String, Value>>,
    pub sections: Vec<Section>,
    /// Footnotes: conventions and tests that could not run, in plain words.
    pub notes: Vec<String>,
}

pub fn all_tables(analysis: &Analysis, design: &Design) -> Vec<ReportTable> {
    let mut tables = vec![
        cells_table(analysis, design),
        effects_table(analysis, design),
    ];
    if design.groups_by_agent() {
        tables.push(comparisons_table(analysis, design));
    }
    tables.push(best_table(analysis, design));
    if !analysis.pareto.is_empty() {
        tables.push(pareto_table(analysis, design));
    }
    tables
}

/// The identity part of a record: `cell_id`, `agent`, then one key per `by` factor.
fn identity(design: &Design, group: &Group) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("cell_id".into(), json!(group.id));
    record.insert(
        "agent".into(),
        group.agent.as_ref().map_or(Value::Null, |a| json!(a)),
    );
    for (position, factor) in design.by.iter().enumerate() {
        let factor = &design.factors[*factor];
        if factor.kind == FactorKind::Agent {
            continue;
        }
        let level = &factor.levels[group.levels[position]];
        record.insert(factor.name.clone(), level.value.clone());
    }
    record
}

fn factor_headers(design: &Design) -> Vec<String> {
    design
        .point_factors()
        .map(|(f, _)| design.factors[f].name.clone())
        .collect()
}

fn factor_cells(design: &Design, group: &Group) -> Vec<String> {
    design
        .point_factors()
        .map(|(f, position)| {
            design.factors[f].levels[group.levels[position]]
                .label
                .clone()
        })
        .collect()
}

fn ci_fields(record: &mut Map<String, Value>, prefix: &str, ci: Option<&Interval>) {
    record.insert(
        format!("{prefix}_low"),
        ci.map_or(Value::Null, |c| json!(c.low)),
    );
    record.insert(
        format!("{prefix}_high"),
        ci.map_or(Value::Null, |c| json!(c.high)),
    );
}

fn summary_fields(record: &mut Map<String, Value>, summary: Option<&Summary>) {
    let get = |f: fn(&Summary) -> f64| summary.map_or(Value::Null, |s| json!(f(s)));
    record.insert("n".into(), json!(summary.map_or(0, |s| s.n)));
    record.insert("mean".into(), get(|s| s.mean));
    record.insert(
        "sd".into(),
        summary.and_then(|s| s.sd).map_or(Value::Null, |v| json!(v)),
    );
    record.insert("median".into(), get(|s| s.median));
    record.insert("p5".into(), get(|s| s.p5));
    record.insert("p95".into(), get(|s| s.p95));
    record.insert("min".into(), get(|s| s.min));
    record.insert("max".into(), get(|s| s.max));
    ci_fields(record, "ci", summary.and_then(|s| s.boot_ci.as_ref()));
    ci_fields(record, "t_ci", summary.and_then(|s| s.t_ci.as_ref()));
    record.insert(
        "resamples".into(),
        summary.map_or(Value::Null, |s| json!(s.resamples)),
    );
    record.insert(
        "ci_method".into(),
        ci_method(summary.and_then(|s| s.boot_ci.map(|_| s.resamples))),
    );
}

/// How a CI was computed: a percentile bootstrap, or (above `stats::LARGE_SAMPLE`
/// observations, `resamples = 0`) its large-sample normal limit.
fn ci_method(resamples: Option<usize>) -> Value {
    match resamples {
        None => Value::Null,
        Some(0) => json!("normal"),
        Some(_) => json!("bootstrap"),
    }
}

fn metric_decimals<'a>(stats: impl Iterator<Item = &'a CellStat>) -> usize {
    format::decimals_for(stats.filter_map(|c| c.summary.as_ref().map(|s| s.mean)))
}

pub fn cells_table(analysis: &Analysis, design: &Design) -> ReportTable {
    let mut records = Vec::new();
    let mut sections = Vec::new();
    for metric in &analysis.metrics {
        let stats: Vec<&CellStat> = analysis.cells_of(metric);
        let decimals = metric_decimals(stats.iter().copied());
        let mut headers = vec!["cell".to_owned(), "agent".to_owned()];
        headers.extend(factor_headers(design));
        let unit = metric.unit_suffix();
        headers.extend([
            "n".to_owned(),
            "failed".to_owned(),
            format!("mean{unit} [95% CI]"),
            format!("sd{unit}"),
            format!("median{unit}"),
            format!("p5–p95{unit}"),
        ]);
        let mut rows = Vec::new();
        for stat in stats {
            let group = &design.groups[stat.group];
            let mut record = identity(design, group);
            record.insert("metric".into(), json!(metric.name));
            summary_fields(&mut record, stat.summary.as_ref());
            record.insert("n_failed".into(), json!(stat.n_failed));
            record.insert("unit".into(), json!(metric.unit));
            records.push(order_cells_record(record));

            let mut row = vec![group.id.clone(), group.agent.clone().unwrap_or_default()];
            row.extend(factor_cells(design, group));
            match &stat.summary {
                Some(s) => row.extend([
                    s.n.to_string(),
                    stat.n_failed.to_string(),
                    format::with_ci(s.mean, s.boot_ci.as_ref(), decimals),
                    format::optional(s.sd, decimals),
                    format::number(s.median, decimals),
                    format!(
                        "{}–{}",
                        format::number(s.p5, decimals),
                        format::number(s.p95, decimals)
                    ),
                ]),
                None => row.extend([
                    "0".to_owned(),
                    stat.n_failed.to_string(),
                    "no data".to_owned(),
                    "–".to_owned(),
                    "–".to_owned(),
                    "–".to_owned(),
                ]),
            }
            rows.push(row);
        }
        let align = align_for(&headers, 2 + design.point_factors().count());
        sections.push(Section {
            title: metric.axis_label(),
            headers,
            align,
            rows,
        });
    }
    ReportTable {
        name: "cells",
        title: "Per-cell statistics".to_owned(),
        records,
        sections,
        notes: vec![
            "CI: 95% percentile bootstrap of the mean (seeded; resamples and ci_method in the JSON/CSV: above 10,000 observations the bootstrap's normal limit), t-interval in t_ci_*.".to_owned(),
            "Failed calls are counted in `failed` and never averaged.".to_owned(),
        ],
    }
}

/// Puts the contract's keys first, in the documented order.
fn order_cells_record(record: Map<String, Value>) -> Map<String, Value> {
    const FRONT_TAIL: &[&str] = &[
        "metric", "n", "n_failed", "mean", "sd", "median", "p5", "p95", "ci_low", "ci_high",
    ];
    let mut ordered = Map::new();
    for (key, value) in &record {
        if !FRONT_TAIL.contains(&key.as_str()) && !is_extra(key) {
            ordered.insert(key.clone(), value.clone());
        }
    }
    for key in FRONT_TAIL {
        if let Some(value) = record.get(*key) {
            ordered.insert((*key).to_owned(), value.clone());
        }
    }
    for (key, value) in &record {
        if is_extra(key) {
            ordered.insert(key.clone(), value.clone());
        }
    }
    ordered
}

fn is_extra(key: &str) -> bool {
    matches!(
        key,
        "min" | "max" | "t_ci_low" | "t_ci_high" | "resamples" | "ci_method" | "unit"
    )
}

fn align_for(headers: &[String], left: usize) -> Vec<Align> {
    (0..headers.len())
        .map(|i| if i < left { Align::Left } else { Align::Right })
        .collect()
}

pub fn effects_table(analysis: &Analysis, design: &Design) -> ReportTable {
    let mut records = Vec::new();
    let mut sections = Vec::new();
    for metric in &analysis.metrics {
        let stats: Vec<_> = analysis.effects_of(metric);
        if stats.is_empty() {
            continue;
        }
        let decimals = format::decimals_for(
            stats
                .iter()
                .filter_map(|e| e.summary.as_ref().map(|s| s.mean)),
        );
        let unit = metric.unit_suffix();
        let headers = vec![
            "factor".to_owned(),
            "level".to_owned(),
            "n".to_owned(),
            format!("mean{unit} [95% CI]"),
            format!("t-interval{unit}"),
        ];
        let mut rows = Vec::new();
        for effect in stats {
            let factor = &design.factors[effect.factor];
            let level = &factor.levels[effect.level];
            let mut record = Map::new();
            record.insert("factor".into(), json!(factor.name));
            record.insert("level".into(), level.value.clone());
            record.insert("metric".into(), json!(metric.name));
            summary_fields(&mut record, effect.summary.as_ref());
            records.push(record);
            rows.push(match &effect.summary {
                Some(s) => vec![
                    factor.name.clone(),
                    level.label.clone(),
                    s.n.to_string(),
                    format::with_ci(s.mean, s.boot_ci.as_ref(), decimals),
                    s.t_ci.as_ref().map_or("–".to_owned(), |ci| {
                        format!(
                            "[{}, {}]",
                            format::number(ci.low, decimals),
                            format::number(ci.high, decimals)
                        )
                    }),
                ],
                None => vec![
                    factor.name.clone(),
                    level.label.clone(),
                    "0".to_owned(),
                    "no data".to_owned(),
                    "–".to_owned(),
                ],
            });
        }
        sections.push(Section {
            title: metric.axis_label(),
            align: align_for(&headers, 2),
            headers,
            rows,
        });
    }
    ReportTable {
        name: "effects",
        title: "Main effects (marginal means per level, pooled over the other factors)".to_owned(),
        records,
        sections,
        notes: vec![
            "A marginal mean pools every observation at that level; with unbalanced data (failures, a partial sweep) it also reflects the other factors' mix.".to_owned(),
        ],
    }
}

fn test_p(test: &Result<crate::stats::TestResult, crate::stats::NotApplicable>) -> Option<f64> {
    test.as_ref().ok().map(|t| t.p_value)
}

pub fn comparisons_table(analysis: &Analysis, design: &Design) -> ReportTable {
    let mut records = Vec::new();
    let mut sections = Vec::new();
    let mut notes = vec![
        "diff = mean(B) − mean(A) and ratio = mean(B) / mean(A), with A the agent listed first in the experiment; CIs are 95% bootstrap.".to_owned(),
        "p: paired t on block-matched runs when the order is blocked, else Welch's t; p (rank): Wilcoxon signed-rank when paired, else Mann–Whitney U; p Holm: Holm–Bonferroni over every comparison in this report.".to_owned(),
        "g: Hedges' g (B − A, pooled SD, small-sample corrected); δ: Cliff's delta, P(B > A) − P(B < A).".to_owned(),
    ];
    for metric in &analysis.metrics {
        let stats: Vec<&ComparisonStat> = analysis.comparisons_of(metric);
        if stats.is_empty() {
            continue;
        }
        let decimals = format::decimals_for(
            stats
                .iter()
                .flat_map(|c| [c.result.mean_a, c.result.mean_b]),
        );
        let unit = metric.unit_suffix();
        let headers = vec![
            "grid point".to_owned(),
            "A".to_owned(),
            "B".to_owned(),
            "n A/B".to_owned(),
            format!("mean A{unit}"),
            format!("mean B{unit}"),
            format!("diff B−A{unit} [95% CI]"),
            "ratio B/A [95% CI]".to_owned(),
            "p".to_owned(),
            "p (rank)".to_owned(),
            "p Holm".to_owned(),
            "g".to_owned(),
            "δ".to_owned(),
        ];
        let mut rows = Vec::new();
        for stat in stats {
            let (a, b) = (&design.groups[stat.a], &design.groups[stat.b]);
            let result = &stat.result;
            let agent_a = a.agent.clone().unwrap_or_default();
            let agent_b = b.agent.clone().unwrap_or_default();
            let mut record = Map::new();
            record.insert("metric".into(), json!(metric.name));
            record.insert("a".into(), json!(agent_a));
            record.insert("b".into(), json!(agent_b));
            for (factor, level) in &stat.point {
                let factor = &design.factors[*factor];
                record.insert(
                    factor.name.clone(),
                    level.map_or(Value::Null, |l| factor.levels[l].value.clone()),
                );
            }
            record.insert("n_a".into(), json!(result.n_a));
            record.insert("n_b".into(), json!(result.n_b));
            record.insert("diff".into(), json!(result.diff));
            ci_fields(&mut record, "diff_ci", result.diff_ci.as_ref());
            record.insert(
                "ratio".into(),
                result.ratio.map_or(Value::Null, |r| json!(r)),
            );
            record.insert("welch_p".into(), opt(test_p(&result.welch)));
            record.insert("mwu_p".into(), opt(test_p(&result.mann_whitney)));
            record.insert("paired".into(), json!(result.paired.is_some()));
            record.insert(
                "paired_p".into(),
                opt(result.paired.as_ref().and_then(|p| test_p(&p.t))),
            );
            record.insert("p_holm".into(), opt(stat.p_holm));
            record.insert("hedges_g".into(), opt(result.hedges_g));
            record.insert("cliffs_delta".into(), json!(result.cliffs_delta));
            // Beyond the contract: what a reader may want to re-check.
            record.insert("cell_a".into(), json!(a.id));
            record.insert("cell_b".into(), json!(b.id));
            record.insert("mean_a".into(), json!(result.mean_a));
            record.insert("mean_b".into(), json!(result.mean_b));
            ci_fields(&mut record, "ratio_ci", result.ratio_ci.as_ref());
            record.insert(
                "wilcoxon_p".into(),
                opt(result.paired.as_ref().and_then(|p| test_p(&p.wilcoxon))),
            );
            record.insert(
                "n_pairs".into(),
                result
                    .paired
                    .as_ref()
                    .map_or(Value::Null, |p| json!(p.n_pairs)),
            );
            record.insert("resamples".into(), json!(result.resamples));
            record.insert(
                "ci_method".into(),
                ci_method(result.diff_ci.map(|_| result.resamples)),
            );
            record.insert("significant".into(), json!(stat.significant()));
            records.push(record);

            let point = design.point_text(&stat.point);
            let (p, p_rank) = match &result.paired {
                Some(paired) => (
                    format!("{} (paired t)", format::p_value(test_p(&paired.t))),
                    format!("{} (Wilcoxon)", format::p_value(test_p(&paired.wilcoxon))),
                ),
                None => (
                    format!("{} (Welch)", format::p_value(test_p(&result.welch))),
                    format!("{} (MWU)", format::p_value(test_p(&result.mann_whitney))),
                ),
            };
            for reason in [&result.welch, &result.mann_whitney]
                .into_iter()
                .filter_map(|t| t.as_ref().err())
            {
                let note = format!("{agent_b} vs {agent_a}: {reason}");
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
            rows.push(vec![
                if point.is_empty() {
                    "–".to_owned()
                } else {
                    point
                },
                agent_a,
                agent_b,
                format!("{}/{}", result.n_a, result.n_b),
                format::number(result.mean_a, decimals),
                format::number(result.mean_b, decimals),
                format::with_ci(result.diff, result.diff_ci.as_ref(), decimals),
                match (result.ratio, &result.ratio_ci) {
                    (Some(r), Some(ci)) => format!(
                        "{} [{}, {}]",
                        format::ratio(r),
                        format::ratio(ci.low),
                        format::ratio(ci.high)
                    ),
                    (Some(r), None) => format::ratio(r),
                    (None, _) => "–".to_owned(),
                },
                p,
                p_rank,
                format::p_value(stat.p_holm),
                result
                    .hedges_g
                    .map_or("–".to_owned(), |g| format!("{g:.2}")),
                format!("{:.2}", result.cliffs_delta),
            ]);
        }
        sections.push(Section {
            title: metric.axis_label(),
            align: align_for(&headers, 3),
            headers,
            rows,
        });
    }
    ReportTable {
        name: "comparisons",
        title: "A vs B at every grid point".to_owned(),
        records,
        sections,
        notes,
    }
}

fn opt(value: Option<f64>) -> Value {
    value.map_or(Value::Null, |v| json!(v))
}

pub fn best_table(analysis: &Analysis, design: &Design) -> ReportTable {
    let mut records = Vec::new();
    let mut sections = Vec::new();
    for metric in &analysis.metrics {
        let ranked: Vec<_> = analysis.ranking_of(metric);
        if ranked.is_empty() {
            continue;
        }
        let decimals = format::decimals_for(ranked.iter().map(|r| r.summary.mean));
        let unit = metric.unit_suffix();
        let mut headers = vec!["rank".to_owned(), "cell".to_owned(), "agent".to_owned()];
        headers.extend(factor_headers(design));
        headers.extend([
            "n".to_owned(),
            format!("mean{unit} [95% CI]"),
            "p vs best".to_owned(),
            "tied with best".to_owned(),
        ]);
        let mut rows = Vec::new();
        for ranked in ranked {
            let group = &design.groups[ranked.group];
            let mut record = Map::new();
            record.insert("metric".into(), json!(metric.name));
            record.insert("rank".into(), json!(ranked.rank));
            record.extend(identity(design, group));
            record.insert("n".into(), json!(ranked.summary.n));
            record.insert("mean".into(), json!(ranked.summary.mean));
            ci_fields(&mut record, "ci", ranked.summary.boot_ci.as_ref());
            record.insert("p_vs_best".into(), opt(ranked.p_vs_best));
            record.insert("tied_with_best".into(), json!(ranked.tied_with_best));
            records.push(record);
            let mut row = vec![
                ranked.rank.to_string(),
                group.id.clone(),
                group.agent.clone().unwrap_or_default(),
            ];
            row.extend(factor_cells(design, group));
            row.extend([
                ranked.summary.n.to_string(),
                format::with_ci(
                    ranked.summary.mean,
                    ranked.summary.boot_ci.as_ref(),
                    decimals,
                ),
                if ranked.rank == 1 {
                    "best".to_owned()
                } else {
                    format::p_value(ranked.p_vs_best)
                },
                if ranked.tied_with_best { "yes" } else { "no" }.to_owned(),
            ]);
            rows.push(row);
        }
        let better = match metric.better {
            super::metrics::Better::Higher => "higher is better",
            super::metrics::Better::Lower => "lower is better",
        };
        sections.push(Section {
            title: format!("{} — {better}", metric.axis_label()),
            align: align_for(&headers, 3 + design.point_factors().count()),
            headers,
            rows,
        });
    }
    ReportTable {
        name: "best",
        title: "Best configurations".to_owned(),
        records,
        sections,
        notes: vec![format!(
            "Ranked by mean; the top {} are listed, plus every cell tied with the best (Welch's t against the best, p ≥ {}, unadjusted).",
            5,
            super::analysis::ALPHA
        )],
    }
}

pub fn pareto_table(analysis: &Analysis, design: &Design) -> ReportTable {
    let (throughput_name, ttft_name) = analysis.headline_pair();
    let mut points: Vec<_> = analysis.pareto.iter().collect();
    points.sort_by(|a, b| {
        b.on_front
            .cmp(&a.on_front)
            .then(a.ttft_ms.total_cmp(&b.ttft_ms))
    });
    let throughput = format::decimals_for(points.iter().map(|p| p.tokens_per_s));
    let ttft = format::decimals_for(points.iter().map(|p| p.ttft_ms));
    let mut headers = vec!["cell".to_owned(), "agent".to_owned()];
    headers.extend(factor_headers(design));
    headers.extend([
        "throughput (tok/s)".to_owned(),
        "TTFT (ms)".to_owned(),
        "on front".to_owned(),
    ]);
    let mut records = Vec::new();
    let mut rows = Vec::new();
    for point in points {
        let group = &design.groups[point.group];
        let mut record = identity(design, group);
        record.insert(throughput_name.into(), json!(point.tokens_per_s));
        record.insert(ttft_name.into(), json!(point.ttft_ms));
        record.insert("on_front".into(), json!(point.on_front));
        records.push(record);
        let mut row = vec![group.id.clone(), group.agent.clone().unwrap_or_default()];
        row.extend(factor_cells(design, group));
        row.extend([
            format::number(point.tokens_per_s, throughput),
            format::number(point.ttft_ms, ttft),
            if point.on_front { "yes" } else { "" }.to_owned(),
        ]);
        rows.push(row);
    }
    let align = align_for(&headers, 2 + design.point_factors().count());
    ReportTable {
        name: "pareto",
        title: "Pareto front: throughput (higher) vs TTFT (lower)".to_owned(),
        records,
        sections: vec![Section {
            title: "Cell means".to_owned(),
            headers,
            align,
            rows,
        }],
        notes: vec![
            "A cell is on the front when no other cell has both higher throughput and lower TTFT."
                .to_owned(),
        ],
    }
}

/// Label of a metric for prose ("Throughput (tok/s)").
pub fn metric_label(metric: &Metric) -> String {
    metric.axis_label()
}
