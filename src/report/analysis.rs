//! From stored rows to every number a report shows: per-group summaries, main effects,
//! A vs B comparisons with Holm-adjusted p-values, rankings and the Pareto front.
//!
//! This is the only place that decides *which* observations enter a statistic (failed
//! calls are counted, never averaged; pairs are matched by block); the statistics
//! themselves live in `stats` and are pure. Estimates run in parallel, each with its own
//! bootstrap stream derived from what it estimates, so results do not depend on scheduling.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::PlHashMap;
use rayon::prelude::*;

use super::design::Design;
use super::load::{RowFilter, Rows, Source};
use super::metrics::{Better, Metric, Table};
use crate::stats::{
    Bootstrap, Comparison, Sample, Summary, compare, holm, pareto_front, summarize,
    welch_t_from_moments,
};

/// Significance level for "tied with the best" and verdicts (after Holm adjustment).
pub const ALPHA: f64 = 0.05;
/// Best-configuration rows shown per metric beyond the ties.
const RANKED_SHOWN: usize = 5;

/// The stored rows of one folder, both tables.
#[derive(Debug)]
pub struct SourceRows {
    pub calls: Rows,
    pub runs: Rows,
}

/// The rows of one cell in one table of one folder (row indices into that folder's rows).
#[derive(Debug, Default, Clone)]
struct Unit {
    source: usize,
    /// Successful rows.
    ok: Vec<u32>,
    failed: usize,
}

#[derive(Debug, Clone)]
pub struct CellStat {
    pub group: usize,
    pub metric: &'static Metric,
    pub n_failed: usize,
    /// None when the group has no successful observation of this metric.
    pub summary: Option<Summary>,
    /// First and third quartiles (box plots).
    pub quartiles: Option<(f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct EffectStat {
    pub factor: usize,
    pub level: usize,
    pub metric: &'static Metric,
    pub summary: Option<Summary>,
}

#[derive(Debug, Clone)]
pub struct ComparisonStat {
    pub metric: &'static Metric,
    /// Group of the baseline agent (earlier in the file) and of the other one.
    pub a: usize,
    pub b: usize,
    /// Per grid factor: its level at this point (None when neither agent follows it).
    pub point: Vec<(usize, Option<usize>)>,
    pub result: Comparison,
    /// The p-value the family is adjusted over: paired t when paired, else Welch.
    pub p: Option<f64>,
    pub p_holm: Option<f64>,
}

impl ComparisonStat {
    pub fn significant(&self) -> bool {
        self.p_holm.is_some_and(|p| p < ALPHA)
    }
}

#[derive(Debug, Clone)]
pub struct RankedStat {
    pub metric: &'static Metric,
    pub rank: usize,
    pub group: usize,
    pub summary: Summary,
    /// Welch's p against the best (None for the best itself or when not testable).
    pub p_vs_best: Option<f64>,
    /// Not distinguishable from the best at `ALPHA` (the best itself is tied with itself).
    pub tied_with_best: bool,
}

#[derive(Debug, Clone)]
pub struct ParetoPoint {
    pub group: usize,
    /// Means of the headline throughput and TTFT metrics (see `Analysis::headline_pair`).
    pub tokens_per_s: f64,
    pub ttft_ms: f64,
    pub on_front: bool,
}

/// How much of the planned study the folders hold.
#[derive(Debug, Clone)]
pub struct Completeness {
    pub source: String,
    pub status: String,
    pub planned_runs: usize,
    pub stored_runs: usize,
    pub failed_runs: usize,
}

impl Completeness {
    pub fn missing_runs(&self) -> usize {
        self.planned_runs.saturating_sub(self.stored_runs)
    }
}

#[derive(Debug)]
pub struct Analysis {
    pub metrics: Vec<&'static Metric>,
    pub cells: Vec<CellStat>,
    pub effects: Vec<EffectStat>,
    pub comparisons: Vec<ComparisonStat>,
    pub ranking: Vec<RankedStat>,
    pub pareto: Vec<ParetoPoint>,
    pub completeness: Vec<Completeness>,
    pub bootstrap: Bootstrap,
    /// Whether A vs B used block-matched pairs where possible.
    pub blocked: bool,
}

impl Analysis {
    pub fn cell(&self, group: usize, metric: &str) -> Option<&CellStat> {
        self.cells
            .iter()
            .find(|c| c.group == group && c.metric.name == metric)
    }

    /// Per-group statistics of one metric, in group order.
    pub fn cells_of(&self, metric: &Metric) -> Vec<&CellStat> {
        self.cells
            .iter()
            .filter(|c| c.metric.name == metric.name)
            .collect()
    }

    /// Main effects of one metric, factor by factor.
    pub fn effects_of(&self, metric: &Metric) -> Vec<&EffectStat> {
        self.effects
            .iter()
            .filter(|e| e.metric.name == metric.name)
            .collect()
    }

    /// A vs B comparisons of one metric.
    pub fn comparisons_of(&self, metric: &Metric) -> Vec<&ComparisonStat> {
        self.comparisons
            .iter()
            .filter(|c| c.metric.name == metric.name)
            .collect()
    }

    /// The ranking of one metric, best first.
    pub fn ranking_of(&self, metric: &Metric) -> Vec<&RankedStat> {
        self.ranking
            .iter()
            .filter(|r| r.metric.name == metric.name)
            .collect()
    }

    pub fn has_metric(&self, name: &str) -> bool {
        self.metrics.iter().any(|m| m.name == name)
    }

    /// The throughput and TTFT metrics headlines, the Pareto front and the main charts use:
    /// per agent run when the agent workload stored runs (an agent run's analysis and
    /// report calls are different tasks, so pooling their calls mixes two distributions),
    /// else per call.
    pub fn headline_pair(&self) -> (&'static str, &'static str) {
        headline_pair(&self.metrics)
    }
}

fn headline_pair(metrics: &[&'static Metric]) -> (&'static str, &'static str) {
    let has = |name: &str| metrics.iter().any(|m| m.name == name);
    if has("run_tokens_per_s") && has("run_ttft_ms") {
        ("run_tokens_per_s", "run_ttft_ms")
    } else {
        ("tokens_per_s", "ttft_ms")
    }
}

/// Everything a report computes. `metrics` are those requested; the ones with no stored
/// observation at all are dropped (e.g. quality scores of a plain workload).
pub fn analyse(
    sources: &[Source],
    rows: &[SourceRows],
    design: &Design,
    metrics: &[&'static Metric],
    bootstrap: &Bootstrap,
    filter: RowFilter,
) -> Analysis {
    let table_rows = |source: usize, table: Table| match table {
        Table::Calls => &rows[source].calls,
        Table::Runs => &rows[source].runs,
    };
    let metrics: Vec<&'static Metric> = metrics
        .iter()
        .copied()
        .filter(|metric| {
            (0..sources.len()).any(|s| {
                column(table_rows(s, metric.table), metric)
                    .is_some_and(|values| values.iter().any(Option::is_some))
            })
        })
        .collect();

    // Rows per (table, source, cell), then per group. Ordered maps: a pooled sample must
    // list its values in the same order every time, or its bootstrap would differ.
    let mut units: BTreeMap<(Table, usize, &str), Unit> = BTreeMap::new();
    for (source_index, source_rows) in rows.iter().enumerate() {
        for (table, table_rows) in [
            (Table::Calls, &source_rows.calls),
            (Table::Runs, &source_rows.runs),
        ] {
            // Bucket by the interned cell index first: one map insert per cell, not per row.
            let mut per_cell: Vec<Unit> = vec![
                Unit {
                    source: source_index,
                    ..Unit::default()
                };
                table_rows.cells.len()
            ];
            for (row, (cell, ok)) in table_rows.cell.iter().zip(&table_rows.ok).enumerate() {
                if !filter.admits(table_rows.warmup[row], table_rows.reloaded[row]) {
                    continue;
                }
                let unit = &mut per_cell[*cell as usize];
                if *ok {
                    unit.ok.push(row as u32);
                } else {
                    unit.failed += 1;
                }
            }
            for (cell_id, unit) in table_rows.cells.iter().zip(per_cell) {
                units.insert((table, source_index, cell_id.as_str()), unit);
            }
        }
    }
    let mut group_units: Vec<HashMap<Table, Vec<&Unit>>> =
        vec![HashMap::new(); design.groups.len()];
    let mut level_units: BTreeMap<(Table, usize, usize), Vec<&Unit>> = BTreeMap::new();
    for ((table, source, cell_id), unit) in &units {
        if let Some(group) = design.group_of(*source, cell_id) {
            group_units[group].entry(*table).or_default().push(unit);
        }
        if let Some(levels) = design.levels_of(*source, cell_id) {
            for (factor, level) in levels.iter().enumerate() {
                level_units
                    .entry((*table, factor, *level))
                    .or_default()
                    .push(unit);
            }
        }
    }
    let values = |units: &[&Unit], metric: &Metric| -> Vec<f64> {
        let mut out = Vec::with_capacity(units.iter().map(|u| u.ok.len()).sum());
        for unit in units {
            let Some(column) = column(table_rows(unit.source, metric.table), metric) else {
                continue;
            };
            out.extend(unit.ok.iter().filter_map(|row| column[*row as usize]));
        }
        out
    };

    // Per group × metric.
    let jobs: Vec<(usize, &'static Metric)> = (0..design.groups.len())
        .flat_map(|g| metrics.iter().map(move |m| (g, *m)))
        .collect();
    let cells: Vec<CellStat> = jobs
        .par_iter()
        .map(|(group, metric)| {
            let units = group_units[*group]
                .get(&metric.table)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let n_failed = units.iter().map(|u| u.failed).sum();
            let sample = Sample::new(values(units, metric)).ok();
            let stream = stream_id(&["cell", &design.groups[*group].id, metric.name]);
            CellStat {
                group: *group,
                metric,
                n_failed,
                quartiles: sample
                    .as_ref()
                    .and_then(|s| match s.quantiles(&[0.25, 0.75])[..] {
                        [q1, q3] => Some((q1, q3)),
                        _ => None,
                    }),
                summary: sample.map(|s| summarize(&s, bootstrap, stream)),
            }
        })
        .collect();

    // Main effects: every level of every factor that varies.
    let effect_jobs: Vec<(usize, usize, &'static Metric)> = design
        .varying_factors()
        .flat_map(|(f, factor)| {
            let metrics = &metrics;
            (0..factor.levels.len()).flat_map(move |l| metrics.iter().map(move |m| (f, l, *m)))
        })
        .collect();
    let effects: Vec<EffectStat> = effect_jobs
        .par_iter()
        .map(|(factor, level, metric)| {
            let units = level_units
                .get(&(metric.table, *factor, *level))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let sample = Sample::new(values(units, metric)).ok();
            let stream = stream_id(&[
                "effect",
                &design.factors[*factor].name,
                &design.factors[*factor].levels[*level].label,
                metric.name,
            ]);
            EffectStat {
                factor: *factor,
                level: *level,
                metric,
                summary: sample.map(|s| summarize(&s, bootstrap, stream)),
            }
        })
        .collect();

    // A vs B at every grid point.
    let blocked = sources
        .iter()
        .all(|s| s.manifest.order == crate::experiment::OrderKind::Blocked.as_str());
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    if design.groups_by_agent() {
        let agent_rank = |g: usize| {
            design.groups[g]
                .agent
                .as_ref()
                .and_then(|a| design.agents.iter().position(|x| x == a))
        };
        for a in 0..design.groups.len() {
            for b in 0..design.groups.len() {
                let (Some(rank_a), Some(rank_b)) = (agent_rank(a), agent_rank(b)) else {
                    continue;
                };
                let (ga, gb) = (&design.groups[a], &design.groups[b]);
                if rank_a < rank_b && ga.source == gb.source && design.same_point(ga, gb) {
                    pairs.push((a, b));
                }
            }
        }
    }
    let comparison_jobs: Vec<(usize, usize, &'static Metric)> = pairs
        .iter()
        .flat_map(|(a, b)| metrics.iter().map(move |m| (*a, *b, *m)))
        .collect();
    let mut comparisons: Vec<ComparisonStat> = comparison_jobs
        .par_iter()
        .filter_map(|(a, b, metric)| {
            let side = |g: usize| {
                group_units[g]
                    .get(&metric.table)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
            };
            let sample_a = Sample::new(values(side(*a), metric)).ok()?;
            let sample_b = Sample::new(values(side(*b), metric)).ok()?;
            let matched = if blocked && design.groups[*a].cells == 1 && design.groups[*b].cells == 1
            {
                block_pairs(side(*a), side(*b), metric, &table_rows)
            } else {
                None
            };
            let stream = stream_id(&[
                "compare",
                &design.groups[*a].id,
                &design.groups[*b].id,
                metric.name,
            ]);
            let result = compare(
                &sample_a,
                &sample_b,
                matched.as_ref().map(|(x, y)| (x, y)),
                bootstrap,
                stream,
            );
            let p = match &result.paired {
                Some(paired) => paired.t.as_ref().ok().map(|t| t.p_value),
                None => result.welch.as_ref().ok().map(|t| t.p_value),
            };
            Some(ComparisonStat {
                metric,
                a: *a,
                b: *b,
                point: design.shared_point(&design.groups[*a], &design.groups[*b]),
                result,
                p,
                p_holm: None,
            })
        })
        .collect();
    let family: Vec<f64> = comparisons.iter().filter_map(|c| c.p).collect();
    let mut adjusted = holm(&family).into_iter();
    for comparison in &mut comparisons {
        if comparison.p.is_some() {
            comparison.p_holm = adjusted.next();
        }
    }

    let ranking = rank(&cells, &metrics);
    let pareto = pareto_points(&cells, design, headline_pair(&metrics));
    let completeness = sources
        .iter()
        .zip(rows)
        .map(|(source, rows)| Completeness {
            source: source.name.clone(),
            status: status_text(source),
            planned_runs: source.manifest.plan.runs,
            stored_runs: rows.calls.runs,
            failed_runs: rows.calls.failed_runs,
        })
        .collect();
    Analysis {
        metrics,
        cells,
        effects,
        comparisons,
        ranking,
        pareto,
        completeness,
        bootstrap: bootstrap.clone(),
        blocked,
    }
}

fn column<'a>(rows: &'a Rows, metric: &Metric) -> Option<&'a Vec<Option<f64>>> {
    rows.metrics
        .iter()
        .find(|(m, _)| m.name == metric.name)
        .map(|(_, values)| values)
}

/// Block-matched pairs of two single-cell groups: the same block and call position on
/// both sides. None when a key repeats (the match would be ambiguous) or fewer than two
/// pairs exist.
fn block_pairs<'a>(
    a: &[&Unit],
    b: &[&Unit],
    metric: &Metric,
    table_rows: &dyn Fn(usize, Table) -> &'a Rows,
) -> Option<(Sample, Sample)> {
    let keyed = |units: &[&Unit]| -> Option<PlHashMap<u64, f64>> {
        let mut map = PlHashMap::default();
        for unit in units {
            let rows = table_rows(unit.source, metric.table);
            let column = column(rows, metric)?;
            for row in &unit.ok {
                let row = *row as usize;
                let Some(value) = column[row] else {
                    continue;
                };
                let key = (u64::from(rows.block[row]) << 32) | u64::from(rows.call_index[row]);
                if map.insert(key, value).is_some() {
                    return None;
                }
            }
        }
        Some(map)
    };
    let (a, b) = (keyed(a)?, keyed(b)?);
    let mut keys: Vec<u64> = a.keys().filter(|k| b.contains_key(*k)).copied().collect();
    if keys.len() < 2 {
        return None;
    }
    keys.sort_unstable();
    let left = Sample::new(keys.iter().map(|k| a[k]).collect()).ok()?;
    let right = Sample::new(keys.iter().map(|k| b[k]).collect()).ok()?;
    Some((left, right))
}

fn rank(cells: &[CellStat], metrics: &[&'static Metric]) -> Vec<RankedStat> {
    let mut ranking = Vec::new();
    for metric in metrics {
        let mut candidates: Vec<&CellStat> = cells
            .iter()
            .filter(|c| c.metric.name == metric.name && c.summary.is_some())
            .collect();
        candidates.sort_by(|x, y| {
            let (mx, my) = (mean_of(x), mean_of(y));
            match metric.better {
                Better::Higher => my.total_cmp(&mx),
                Better::Lower => mx.total_cmp(&my),
            }
        });
        let Some(best) = candidates.first() else {
            continue;
        };
        // Welch needs only each side's moments, which the summaries already hold.
        let best_moments = best.summary.as_ref().map(Summary::moments);
        for (index, candidate) in candidates.iter().enumerate() {
            let p_vs_best = if index == 0 {
                None
            } else {
                match (best_moments, candidate.summary.as_ref()) {
                    (Some(best), Some(other)) => welch_t_from_moments(best, other.moments())
                        .ok()
                        .map(|t| t.p_value),
                    _ => None,
                }
            };
            // Two constant samples with the same value cannot be tested, but they are tied.
            let same_constant = p_vs_best.is_none()
                && candidate.summary.as_ref().is_some_and(|s| {
                    s.sd == Some(0.0)
                        && best
                            .summary
                            .as_ref()
                            .is_some_and(|b| b.sd == Some(0.0) && b.mean == s.mean)
                });
            let tied_with_best =
                index == 0 || p_vs_best.is_some_and(|p| p >= ALPHA) || same_constant;
            if index < RANKED_SHOWN || tied_with_best {
                let Some(summary) = candidate.summary.clone() else {
                    continue;
                };
                ranking.push(RankedStat {
                    metric,
                    rank: index + 1,
                    group: candidate.group,
                    summary,
                    p_vs_best,
                    tied_with_best,
                });
            }
        }
    }
    ranking
}

fn mean_of(cell: &CellStat) -> f64 {
    cell.summary.as_ref().map_or(f64::NAN, |s| s.mean)
}

fn pareto_points(
    cells: &[CellStat],
    design: &Design,
    (throughput, ttft): (&str, &str),
) -> Vec<ParetoPoint> {
    let mean = |group: usize, metric: &str| {
        cells
            .iter()
            .find(|c| c.group == group && c.metric.name == metric)
            .and_then(|c| c.summary.as_ref())
            .map(|s| s.mean)
    };
    let mut points: Vec<ParetoPoint> = (0..design.groups.len())
        .filter_map(|group| {
            Some(ParetoPoint {
                group,
                tokens_per_s: mean(group, throughput)?,
                ttft_ms: mean(group, ttft)?,
                on_front: false,
            })
        })
        .collect();
    let coordinates: Vec<(f64, f64)> = points.iter().map(|p| (p.tokens_per_s, p.ttft_ms)).collect();
    for index in pareto_front(&coordinates) {
        points[index].on_front = true;
    }
    points
}

fn status_text(source: &Source) -> String {
    use crate::store::SweepStatus;
    match source.manifest.status {
        SweepStatus::Running => {
            "running (or stopped without a word: rerun `chimera run` to resume)"
        }
        SweepStatus::Finished => "finished",
        SweepStatus::FinishedWithFailures => "finished with failed runs",
        SweepStatus::Interrupted => "interrupted",
        SweepStatus::BackendDown => "stopped: backend down",
    }
    .to_owned()
}

/// A stable 64-bit id for a bootstrap stream (FNV-1a over the parts): the same estimate
/// gets the same resamples in every report, whatever thread computes it.
pub fn stream_id(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}
