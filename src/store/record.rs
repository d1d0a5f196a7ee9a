//! One row of the calls table, and its Parquet columns.

use chrono::{DateTime, Utc};
use polars::prelude::*;

use crate::backend::{CallError, CallMetrics, LoadedModel};
use crate::experiment::{OptionKind, OptionValue};
use crate::plan::OptionColumn;

/// One LLM call as stored: identity, the options sent, timings or the error.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// Which invocation of `chimera run` on this folder made the call (1, 2, ... on resume).
    pub session: u32,
    pub run_id: String,
    pub cell_id: String,
    pub agent: String,
    pub repetition: u32,
    pub block: u32,
    pub order_index: usize,
    pub is_warmup: bool,
    pub call_index: u32,
    pub call_kind: String,
    pub model: String,
    pub options: Vec<(String, OptionValue)>,
    pub started_at: DateTime<Utc>,
    /// `None` for a failed call: an error is never stored as zero timings.
    pub metrics: Option<CallMetrics>,
    /// The first call after a load-configuration change: it pays the model load.
    pub reloaded: bool,
    /// Attempts made for this call (1 = no retry).
    pub attempt: u32,
    pub error: Option<CallError>,
    pub response: Option<String>,
    pub done_reason: Option<String>,
    pub loaded: Option<LoadedModel>,
    /// The machine's 1-minute load average when the call ended (contention check).
    pub load_avg_1m: Option<f64>,
}

impl CallRecord {
    pub fn status(&self) -> &'static str {
        if self.error.is_none() { "ok" } else { "error" }
    }
}

/// Builds the DataFrame of a batch of records; `option_columns` fixes the option columns so
/// every segment of one experiment has the same schema.
pub fn to_dataframe(
    records: &[CallRecord],
    columns_spec: &[OptionColumn],
) -> PolarsResult<DataFrame> {
    fn text<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Column {
        Column::new(name.into(), values.collect::<Vec<_>>())
    }
    fn opt_text(name: &str, values: impl Iterator<Item = Option<String>>) -> Column {
        Column::new(name.into(), values.collect::<Vec<_>>())
    }
    fn int(name: &str, values: impl Iterator<Item = i64>) -> Column {
        Column::new(name.into(), values.collect::<Vec<_>>())
    }
    fn opt_int(name: &str, values: impl Iterator<Item = Option<i64>>) -> Column {
        Column::new(name.into(), values.collect::<Vec<_>>())
    }
    fn opt_float(name: &str, values: impl Iterator<Item = Option<f64>>) -> Column {
        Column::new(name.into(), values.collect::<Vec<_>>())
    }
    fn boolean(name: &str, values: impl Iterator<Item = bool>) -> Column {
        Column::new(name.into(), values.collect::<Vec<_>>())
    }
    let r = records;
    let metric =
        |f: fn(&CallMetrics) -> Option<f64>| r.iter().map(move |c| c.metrics.as_ref().and_then(f));

    let mut columns = vec![
        int("session", r.iter().map(|c| i64::from(c.session))),
        text("run_id", r.iter().map(|c| c.run_id.as_str())),
        text("cell_id", r.iter().map(|c| c.cell_id.as_str())),
        text("agent", r.iter().map(|c| c.agent.as_str())),
        int("repetition", r.iter().map(|c| i64::from(c.repetition))),
        int("block", r.iter().map(|c| i64::from(c.block))),
        int("order_index", r.iter().map(|c| c.order_index as i64)),
        boolean("is_warmup", r.iter().map(|c| c.is_warmup)),
        int("call_index", r.iter().map(|c| i64::from(c.call_index))),
        text("call_kind", r.iter().map(|c| c.call_kind.as_str())),
        text("model", r.iter().map(|c| c.model.as_str())),
    ];
    columns.extend(option_columns(
        r.iter().map(|c| c.options.as_slice()),
        columns_spec,
    ));
    let started_ms: Vec<i64> = r.iter().map(|c| c.started_at.timestamp_millis()).collect();
    columns.push(
        Column::new("started_at".into(), started_ms).cast(&DataType::Datetime(
            TimeUnit::Milliseconds,
            Some(TimeZone::UTC),
        ))?,
    );
    columns.extend([
        opt_float("ttft_ms", metric(|m| m.ttft_ms)),
        opt_float("e2e_ms", metric(|m| Some(m.e2e_ms))),
        opt_float("total_ms", metric(|m| m.total_ms)),
        opt_float("load_ms", metric(|m| m.load_ms)),
        opt_float("prompt_eval_ms", metric(|m| m.prompt_eval_ms)),
        opt_int(
            "prompt_tokens",
            r.iter()
                .map(|c| c.metrics.as_ref().and_then(|m| m.prompt_tokens)),
        ),
        opt_float("eval_ms", metric(|m| m.eval_ms)),
        opt_int(
            "eval_tokens",
            r.iter()
                .map(|c| c.metrics.as_ref().and_then(|m| m.eval_tokens)),
        ),
        opt_float("tokens_per_s", metric(|m| m.tokens_per_s)),
        opt_text(
            "token_source",
            r.iter()
                .map(|c| c.metrics.as_ref().and_then(|m| m.token_source.clone())),
        ),
        boolean("reloaded", r.iter().map(|c| c.reloaded)),
        int("attempt", r.iter().map(|c| i64::from(c.attempt))),
        text("status", r.iter().map(CallRecord::status)),
        opt_text(
            "error_kind",
            r.iter()
                .map(|c| c.error.as_ref().map(|e| e.kind.as_str().to_owned())),
        ),
        opt_text(
            "error_message",
            r.iter()
                .map(|c| c.error.as_ref().map(|e| e.message.clone())),
        ),
        opt_text("done_reason", r.iter().map(|c| c.done_reason.clone())),
        opt_float(
            "gpu_fraction",
            r.iter()
                .map(|c| c.loaded.as_ref().and_then(|l| l.gpu_fraction)),
        ),
        opt_int(
            "loaded_ctx",
            r.iter()
                .map(|c| c.loaded.as_ref().and_then(|l| l.context_length)),
        ),
        opt_float("load_avg_1m", r.iter().map(|c| c.load_avg_1m)),
        opt_text("response", r.iter().map(|c| c.response.clone())),
    ]);
    DataFrame::new(records.len(), columns)
}

/// One typed column per option (null where a row did not send it).
pub fn option_columns<'a>(
    rows: impl Iterator<Item = &'a [(String, OptionValue)]> + Clone,
    spec: &[OptionColumn],
) -> Vec<Column> {
    spec.iter()
        .map(|column| {
            let values = rows.clone().map(|options| {
                options
                    .iter()
                    .find(|(k, _)| *k == column.name)
                    .map(|(_, v)| v)
            });
            let name = column.name.as_str().into();
            match column.kind {
                OptionKind::Int => Column::new(
                    name,
                    values
                        .map(|v| match v {
                            Some(OptionValue::Int(i)) => Some(*i),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                OptionKind::Float => Column::new(
                    name,
                    values
                        .map(|v| match v {
                            Some(OptionValue::Float(f)) => Some(*f),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                OptionKind::Bool => Column::new(
                    name,
                    values
                        .map(|v| match v {
                            Some(OptionValue::Bool(b)) => Some(*b),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                OptionKind::Str | OptionKind::StrList => Column::new(
                    name,
                    values
                        .map(|v| {
                            v.map(|v| match v {
                                OptionValue::StrList(list) => {
                                    serde_json::to_string(list).unwrap_or_default()
                                }
                                other => other.to_string(),
                            })
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        })
        .collect()
}
