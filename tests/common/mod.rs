//! Helpers shared by the integration tests: experiment files pointing at a fake Ollama,
//! and reading back what the store wrote.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chimera_sweep::backend::Backend;
use chimera_sweep::experiment::Experiment;
use chimera_sweep::scheduler::Event;
use chimera_sweep::sweep::{SweepOptions, SweepReport, run_sweep};
use polars::prelude::*;
use tokio::sync::{mpsc, watch};

/// An experiment against `url`: 2 num_ctx × (baseline + chimera) = 3 cells, 2 prompts.
pub fn experiment_text(url: &str, repetitions: u32, backend_extra: &str) -> String {
    let mut backend_extra = backend_extra.to_owned();
    for (key, default) in [("retries", "retries = 2"), ("stall_s", "stall_s = 5")] {
        if !backend_extra.contains(key) {
            backend_extra.push_str(&format!("\n{default}"));
        }
    }
    format!(
        r#"
[experiment]
name = "test-sweep"
repetitions = {repetitions}
warmup = 1
order = "blocked"
seed = 11

[backend]
url = "{url}"
model = "gemma3:latest"
timeout_s = 20
retry_backoff_s = 0.01
{backend_extra}

[grid]
num_ctx = [512, 1024]

[workload]
prompts = ["Summarise the results", "Explain the bottleneck in detail"]
num_predict = 6

[[agent]]
name = "baseline"
inherit_grid = false
system = "You are InsightAgent."

[[agent]]
name = "chimera"
options = {{ temperature = 0.8 }}
"#
    )
}

pub fn write_experiment(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("experiment.toml");
    std::fs::write(&path, text).expect("write experiment");
    path
}

/// Runs a sweep in-process; returns the report and every event emitted.
pub async fn sweep(
    experiment: &Experiment,
    backend: &dyn Backend,
    options: &SweepOptions,
) -> (Result<SweepReport, chimera_sweep::error::Error>, Vec<Event>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_cancel_tx, cancel_rx) = watch::channel(false);
    let result = run_sweep(experiment, backend, options, tx, cancel_rx).await;
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    (result, events)
}

/// Every committed data file of a results folder, concatenated, in execution order.
pub fn read_calls(results: &Path) -> DataFrame {
    let files = chimera_sweep::store::data_files(&results.join("calls")).expect("list calls");
    assert!(!files.is_empty(), "no data files in {}", results.display());
    let mut all: Option<DataFrame> = None;
    for file in files {
        let frame = ParquetReader::new(File::open(&file).expect("open"))
            .finish()
            .expect("read parquet");
        match all.as_mut() {
            None => all = Some(frame),
            Some(all) => {
                all.vstack_mut_owned(frame).expect("same schema");
            }
        }
    }
    let frame = all.expect("frames");
    frame
        .sort(
            ["session", "order_index", "is_warmup", "call_index"],
            SortMultipleOptions::default().with_order_descending_multi([false, false, true, false]),
        )
        .expect("sort")
}

pub fn strs(frame: &DataFrame, name: &str) -> Vec<Option<String>> {
    frame
        .column(name)
        .expect(name)
        .str()
        .expect("string column")
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

pub fn floats(frame: &DataFrame, name: &str) -> Vec<Option<f64>> {
    frame
        .column(name)
        .expect(name)
        .f64()
        .expect("f64 column")
        .iter()
        .collect()
}

pub fn ints(frame: &DataFrame, name: &str) -> Vec<Option<i64>> {
    frame
        .column(name)
        .expect(name)
        .i64()
        .expect("i64 column")
        .iter()
        .collect()
}

pub fn bools(frame: &DataFrame, name: &str) -> Vec<Option<bool>> {
    frame
        .column(name)
        .expect(name)
        .bool()
        .expect("bool column")
        .iter()
        .collect()
}

/// Measured rows per run_id: (number of rows, statuses).
pub fn measured_rows_per_run(frame: &DataFrame) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (id, warmup) in strs(frame, "run_id")
        .into_iter()
        .zip(bools(frame, "is_warmup"))
    {
        if warmup == Some(false) {
            *counts.entry(id.expect("run_id")).or_insert(0) += 1;
        }
    }
    counts
}

/// Asserts the folder holds every planned run exactly once, each with all its calls.
pub fn assert_exactly_once(results: &Path, planned_runs: usize, calls_per_run: usize) {
    let frame = read_calls(results);
    let per_run = measured_rows_per_run(&frame);
    assert_eq!(per_run.len(), planned_runs, "every planned run is stored");
    for (run, count) in &per_run {
        assert_eq!(*count, calls_per_run, "run {run} stored once, whole");
    }
}
