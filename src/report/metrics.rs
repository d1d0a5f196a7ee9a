//! The metrics a report can analyse: where each one is stored, its unit, which direction
//! is better, and how it is labelled in tables and charts.
//!
//! Call metrics come from the calls table (one observation per LLM call); run metrics from
//! the agent workload's runs table (one observation per agent run). A run metric that shares
//! a column name with a call metric is prefixed `run_`.

use std::fmt;

/// Which stored table a metric is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Calls,
    Runs,
}

/// Whether a larger value is the better one (ranking, Pareto front, verdicts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// The name users pass to `--metric` and that tables and JSON carry.
    pub name: &'static str,
    pub table: Table,
    /// The Parquet column it is read from.
    pub column: &'static str,
    /// Human label, without unit: "Throughput".
    pub label: &'static str,
    /// Unit for headers and axes ("tok/s", "ms"); empty for unitless scores and counts.
    pub unit: &'static str,
    pub better: Better,
}

impl Metric {
    /// "Throughput (tok/s)", or just the label when unitless.
    pub fn axis_label(&self) -> String {
        if self.unit.is_empty() {
            self.label.to_owned()
        } else {
            format!("{} ({})", self.label, self.unit)
        }
    }

    /// The unit in brackets for a table header, or nothing.
    pub fn unit_suffix(&self) -> String {
        if self.unit.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.unit)
        }
    }
}

/// "Agent mean TTFT" → "agent mean TTFT": lower-cases the first letter for use inside a
/// sentence, unless it starts an acronym.
pub fn in_sentence(label: &str) -> String {
    let mut chars = label.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if second.is_lowercase() => first
            .to_lowercase()
            .chain(label[first.len_utf8()..].chars())
            .collect(),
        _ => label.to_owned(),
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

const fn call(
    name: &'static str,
    label: &'static str,
    unit: &'static str,
    better: Better,
) -> Metric {
    Metric {
        name,
        table: Table::Calls,
        column: name,
        label,
        unit,
        better,
    }
}

const fn run(
    name: &'static str,
    column: &'static str,
    label: &'static str,
    unit: &'static str,
    better: Better,
) -> Metric {
    Metric {
        name,
        table: Table::Runs,
        column,
        label,
        unit,
        better,
    }
}

/// Every metric, in the order tables list them.
pub const METRICS: &[Metric] = &[
    call("tokens_per_s", "Throughput", "tok/s", Better::Higher),
    call("ttft_ms", "Time to first token", "ms", Better::Lower),
    call("e2e_ms", "End-to-end latency", "ms", Better::Lower),
    call("total_ms", "Total duration", "ms", Better::Lower),
    call("load_ms", "Load duration", "ms", Better::Lower),
    call("prompt_eval_ms", "Prompt evaluation", "ms", Better::Lower),
    call("eval_ms", "Generation", "ms", Better::Lower),
    call("prompt_tokens", "Prompt tokens", "tokens", Better::Lower),
    call("eval_tokens", "Generated tokens", "tokens", Better::Higher),
    run(
        "quality_score",
        "quality_score",
        "Report quality score",
        "",
        Better::Higher,
    ),
    run(
        "word_count",
        "word_count",
        "Report words",
        "words",
        Better::Higher,
    ),
    run(
        "workflow_ms",
        "workflow_ms",
        "Agent workflow time",
        "ms",
        Better::Lower,
    ),
    run(
        "run_tokens_per_s",
        "tokens_per_s",
        "Agent throughput",
        "tok/s",
        Better::Higher,
    ),
    run(
        "run_ttft_ms",
        "ttft_ms",
        "Agent mean TTFT",
        "ms",
        Better::Lower,
    ),
    run(
        "run_total_ms",
        "total_ms",
        "Agent total LLM time",
        "ms",
        Better::Lower,
    ),
    run(
        "tokens_generated",
        "tokens_generated",
        "Agent generated tokens",
        "tokens",
        Better::Higher,
    ),
];

/// Reported when `--metric` is not given: throughput, TTFT, e2e, load, prompt-eval, eval
/// and tokens per call, plus, when the agent workload stored runs, its quality score,
/// workflow time and per-run throughput and TTFT.
pub const DEFAULT_METRICS: &[&str] = &[
    "tokens_per_s",
    "ttft_ms",
    "e2e_ms",
    "load_ms",
    "prompt_eval_ms",
    "eval_ms",
    "eval_tokens",
    "run_tokens_per_s",
    "run_ttft_ms",
    "quality_score",
    "workflow_ms",
];

pub fn lookup(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|metric| metric.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    METRICS.iter().map(|metric| metric.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_defaults_exist() {
        let mut seen = std::collections::HashSet::new();
        for metric in METRICS {
            assert!(seen.insert(metric.name), "duplicate metric {}", metric.name);
        }
        for name in DEFAULT_METRICS {
            assert!(
                lookup(name).is_some(),
                "default metric {name} is not defined"
            );
        }
    }

    #[test]
    fn labels_read_inside_sentences() {
        assert_eq!(in_sentence("Agent mean TTFT"), "agent mean TTFT");
        assert_eq!(in_sentence("TTFT"), "TTFT");
        assert_eq!(in_sentence(""), "");
    }

    #[test]
    fn labels_carry_units() {
        assert_eq!(
            lookup("tokens_per_s").map(Metric::axis_label).as_deref(),
            Some("Throughput (tok/s)")
        );
        assert_eq!(
            lookup("quality_score").map(Metric::axis_label).as_deref(),
            Some("Report quality score")
        );
    }
}
