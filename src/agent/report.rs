//! The report file of one agent run, in the seed report's sections and order. Pure: the
//! caller supplies every value (dates and timings included), so it is snapshot-tested.

use std::fmt::Write;

use chrono::NaiveDate;

use crate::experiment::OptionValue;

/// Options always shown on the `Configuration:` line (`default` where not sent), as the
/// seed does; any other option sent is appended.
const CONFIGURATION_KEYS: &[(&str, &str)] = &[
    ("num_gpu", "num_gpu"),
    ("num_ctx", "num_ctx"),
    ("temperature", "temp"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
    ("repeat_penalty", "repeat_penalty"),
];

/// The seven seed metrics of a run, aggregated over its calls as the seed does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunMetrics {
    /// tokens_generated / eval time.
    pub tokens_per_s: Option<f64>,
    /// Mean TTFT over the calls (the seed's figure).
    pub ttft_mean_ms: Option<f64>,
    /// TTFT of the first call.
    pub ttft_first_ms: Option<f64>,
    pub total_ms: Option<f64>,
    pub tokens_generated: Option<i64>,
    pub prompt_eval_ms: Option<f64>,
    pub eval_ms: Option<f64>,
    pub load_ms: Option<f64>,
}

pub struct ReportInput<'a> {
    pub display_name: &'a str,
    pub date: NaiveDate,
    pub model: &'a str,
    pub options: &'a [(String, OptionValue)],
    pub report_text: &'a str,
    pub files_analyzed: usize,
    pub ingest_ms: f64,
    pub analysis_ms: f64,
    pub report_ms: f64,
    pub data_summary: &'a str,
    pub metrics: &'a RunMetrics,
    pub findings: &'a [String],
    pub recommendations: &'a [String],
    pub persona: &'a str,
}

/// `num_gpu=120, num_ctx=512, temp=0.8, top_p=default, ...`
pub fn configuration_line(options: &[(String, OptionValue)]) -> String {
    let value = |key: &str| {
        options
            .iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| "default".to_owned(), |(_, v)| v.to_string())
    };
    let mut parts: Vec<String> = CONFIGURATION_KEYS
        .iter()
        .map(|(key, label)| format!("{label}={}", value(key)))
        .collect();
    for (key, v) in options {
        if !CONFIGURATION_KEYS.iter().any(|(k, _)| k == key) {
            parts.push(format!("{key}={v}"));
        }
    }
    parts.join(", ")
}

pub fn render(input: &ReportInput) -> String {
    let m = input.metrics;
    let ms = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2} ms"));
    let workflow_s = (input.ingest_ms + input.analysis_ms + input.report_ms) / 1000.0;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", input.display_name);
    let _ = writeln!(out, "# Technical Report: {} Analysis\n", input.display_name);
    let _ = writeln!(out, "**Date:** {}", input.date.format("%Y-%m-%d"));
    let _ = writeln!(out, "**Agent Type:** {}", input.display_name);
    let _ = writeln!(out, "**Model:** {}", input.model);
    let _ = writeln!(
        out,
        "**Configuration:** {}\n",
        configuration_line(input.options)
    );
    let _ = writeln!(out, "---\n");
    let _ = writeln!(out, "{}\n", input.report_text.trim());
    let _ = writeln!(out, "---\n");
    let _ = writeln!(out, "## Workflow Summary");
    let _ = writeln!(out, "- Files analyzed: {}", input.files_analyzed);
    let _ = writeln!(
        out,
        "- Execution time: {workflow_s:.2}s (ingest {:.2}s | analysis {:.2}s | report {:.2}s)",
        input.ingest_ms / 1000.0,
        input.analysis_ms / 1000.0,
        input.report_ms / 1000.0
    );
    let _ = writeln!(
        out,
        "- Data summary:\n```\n{}\n```\n",
        input.data_summary.trim_end()
    );
    let _ = writeln!(out, "## Metrics");
    let _ = writeln!(
        out,
        "- Throughput: {}",
        m.tokens_per_s
            .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2} tok/s"))
    );
    let _ = writeln!(out, "- TTFT: {}", ms(m.ttft_mean_ms));
    let _ = writeln!(out, "- Total Duration: {}", ms(m.total_ms));
    let _ = writeln!(
        out,
        "- Tokens Generated: {}",
        m.tokens_generated
            .map_or_else(|| "n/a".to_owned(), |v| v.to_string())
    );
    let _ = writeln!(out, "- Prompt Eval: {}", ms(m.prompt_eval_ms));
    let _ = writeln!(out, "- Eval Duration: {}", ms(m.eval_ms));
    let _ = writeln!(out, "- Load Duration: {}\n", ms(m.load_ms));
    for (title, items) in [
        ("Key Findings", input.findings),
        ("Recommendations", input.recommendations),
    ] {
        let _ = writeln!(out, "## {title}");
        if items.is_empty() {
            let _ = writeln!(out, "- (none found in the analysis)");
        }
        for item in items {
            let _ = writeln!(out, "- {item}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "## Persona Prompt\n```\n{}\n```",
        input.persona.trim_end()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_line_shows_defaults_and_extra_options() {
        let options = vec![
            ("num_gpu".to_owned(), OptionValue::Int(120)),
            ("num_ctx".to_owned(), OptionValue::Int(512)),
            ("temperature".to_owned(), OptionValue::Float(0.8)),
            ("seed".to_owned(), OptionValue::Int(42)),
        ];
        assert_eq!(
            configuration_line(&options),
            "num_gpu=120, num_ctx=512, temp=0.8, top_p=default, top_k=default, repeat_penalty=default, seed=42"
        );
    }

    #[test]
    fn the_report_keeps_the_seed_sections_in_order() {
        let options = vec![
            ("num_gpu".to_owned(), OptionValue::Int(120)),
            ("num_ctx".to_owned(), OptionValue::Int(512)),
            ("temperature".to_owned(), OptionValue::Float(0.8)),
        ];
        let metrics = RunMetrics {
            tokens_per_s: Some(40.99),
            ttft_mean_ms: Some(661.87),
            ttft_first_ms: Some(600.0),
            total_ms: Some(44993.85),
            tokens_generated: Some(1762),
            prompt_eval_ms: Some(801.82),
            eval_ms: Some(42981.32),
            load_ms: Some(503.32),
        };
        let input = ReportInput {
            display_name: "Chimera Agent B",
            date: NaiveDate::from_ymd_opt(2025, 11, 14).unwrap(),
            model: "gemma3:latest",
            options: &options,
            report_text: "## 1. Executive Summary\nThroughput is **40.99 tok/s**.\n",
            files_analyzed: 101,
            ingest_ms: 30.0,
            analysis_ms: 23130.0,
            report_ms: 21870.0,
            data_summary: "Total files analyzed: 101\n\nCSV Files (28)\n  - a.csv",
            metrics: &metrics,
            findings: &["**CUDA Benchmarking is Significant:** many files.".to_owned()],
            recommendations: &[],
            persona: crate::agent::persona::INSIGHT,
        };
        insta::assert_snapshot!(render(&input));
    }
}
