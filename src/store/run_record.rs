//! One row of the runs table (one agent run), and what one run commits as a whole.

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::record::{CallRecord, option_columns};
use crate::agent::quality::Quality;
use crate::agent::report::RunMetrics;
use crate::experiment::OptionValue;
use crate::plan::OptionColumn;

/// Everything one run (or one warm-up) stores, committed together.
#[derive(Debug, Clone, Default)]
pub struct RunOutput {
    pub calls: Vec<CallRecord>,
    /// The agent workload's run row.
    pub run: Option<RunRecord>,
    /// The agent workload's report file (Markdown).
    pub report: Option<String>,
}

/// One agent run: the workflow's timings, the seed's seven metrics, and quality.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub session: u32,
    pub run_id: String,
    pub cell_id: String,
    pub agent: String,
    pub display_name: String,
    pub repetition: u32,
    pub block: u32,
    pub order_index: usize,
    pub model: String,
    pub options: Vec<(String, OptionValue)>,
    pub started_at: DateTime<Utc>,
    pub files_analyzed: Option<usize>,
    pub ingest_ms: Option<f64>,
    pub analysis_ms: Option<f64>,
    pub report_ms: Option<f64>,
    pub workflow_ms: Option<f64>,
    pub metrics: RunMetrics,
    pub quality: Option<Quality>,
    /// Relative to the results folder.
    pub report_path: Option<String>,
    /// `(kind, message)` when the run failed.
    pub error: Option<(String, String)>,
}

pub fn runs_dataframe(runs: &[RunRecord], options: &[OptionColumn]) -> PolarsResult<DataFrame> {
    fn col<T, P>(name: &str, values: Vec<T>) -> Column
    where
        Series: NamedFrom<Vec<T>, P>,
        P: ?Sized,
    {
        Column::new(name.into(), values)
    }
    let r = runs;
    let q = |f: fn(&Quality) -> f64| {
        r.iter()
            .map(move |run| run.quality.as_ref().map(f))
            .collect::<Vec<_>>()
    };
    let qi = |f: fn(&Quality) -> usize| {
        r.iter()
            .map(move |run| run.quality.as_ref().map(|q| f(q) as i64))
            .collect::<Vec<_>>()
    };
    let qb = |f: fn(&Quality) -> bool| {
        r.iter()
            .map(move |run| run.quality.as_ref().map(f))
            .collect::<Vec<_>>()
    };
    let m = |f: fn(&RunMetrics) -> Option<f64>| {
        r.iter().map(move |run| f(&run.metrics)).collect::<Vec<_>>()
    };

    let mut columns = vec![
        col("session", r.iter().map(|x| i64::from(x.session)).collect()),
        col("run_id", r.iter().map(|x| x.run_id.as_str()).collect()),
        col("cell_id", r.iter().map(|x| x.cell_id.as_str()).collect()),
        col("agent", r.iter().map(|x| x.agent.as_str()).collect()),
        col(
            "display_name",
            r.iter().map(|x| x.display_name.as_str()).collect(),
        ),
        col(
            "repetition",
            r.iter().map(|x| i64::from(x.repetition)).collect(),
        ),
        col("block", r.iter().map(|x| i64::from(x.block)).collect()),
        col(
            "order_index",
            r.iter().map(|x| x.order_index as i64).collect(),
        ),
        col("model", r.iter().map(|x| x.model.as_str()).collect()),
    ];
    columns.extend(option_columns(
        r.iter().map(|x| x.options.as_slice()),
        options,
    ));
    let started: Vec<i64> = r.iter().map(|x| x.started_at.timestamp_millis()).collect();
    columns.push(
        Column::new("started_at".into(), started).cast(&DataType::Datetime(
            TimeUnit::Milliseconds,
            Some(TimeZone::UTC),
        ))?,
    );
    columns.extend([
        col(
            "files_analyzed",
            r.iter()
                .map(|x| x.files_analyzed.map(|n| n as i64))
                .collect(),
        ),
        col("ingest_ms", r.iter().map(|x| x.ingest_ms).collect()),
        col("analysis_ms", r.iter().map(|x| x.analysis_ms).collect()),
        col("report_ms", r.iter().map(|x| x.report_ms).collect()),
        col("workflow_ms", r.iter().map(|x| x.workflow_ms).collect()),
        col("tokens_per_s", m(|m| m.tokens_per_s)),
        col("ttft_ms", m(|m| m.ttft_mean_ms)),
        col("ttft_first_ms", m(|m| m.ttft_first_ms)),
        col("total_ms", m(|m| m.total_ms)),
        col(
            "tokens_generated",
            r.iter().map(|x| x.metrics.tokens_generated).collect(),
        ),
        col("prompt_eval_ms", m(|m| m.prompt_eval_ms)),
        col("eval_ms", m(|m| m.eval_ms)),
        col("load_ms", m(|m| m.load_ms)),
        col("word_count", qi(|q| q.word_count)),
        col("words_in_range", qb(|q| q.words_in_range)),
        col("has_executive_summary", qb(|q| q.has_executive_summary)),
        col("numbered_sections", qi(|q| q.numbered_sections)),
        col("recommendation_count", qi(|q| q.recommendation_count)),
        col("risk_table_rows", qi(|q| q.risk_table_rows)),
        col("bold_metric_callouts", qi(|q| q.bold_metric_callouts)),
        col("cited_numbers", qi(|q| q.cited_numbers)),
        col("quality_score", q(|q| q.score)),
        col(
            "report_path",
            r.iter().map(|x| x.report_path.clone()).collect(),
        ),
        col(
            "status",
            r.iter()
                .map(|x| if x.error.is_none() { "ok" } else { "error" })
                .collect(),
        ),
        col(
            "error_kind",
            r.iter()
                .map(|x| x.error.as_ref().map(|e| e.0.clone()))
                .collect(),
        ),
        col(
            "error_message",
            r.iter()
                .map(|x| x.error.as_ref().map(|e| e.1.clone()))
                .collect(),
        ),
    ]);
    DataFrame::new(runs.len(), columns)
}
