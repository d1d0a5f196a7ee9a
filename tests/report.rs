//! `chimera report` end to end on synthetic results folders whose true effects are known:
//! the JSON contract, the statistics' direction and coverage, failures, partial sweeps,
//! re-stored runs, `--by`, several folders, the charts, and snapshots of the tables.

use std::path::{Path, PathBuf};

use chimera_sweep::env::Environment;
use chimera_sweep::experiment::Experiment;
use chimera_sweep::plan::Plan;
use chimera_sweep::report::{self, Format, ReportOptions};
use chimera_sweep::store::{self, CallRecord, Existing, RunOutput, Store};
use chimera_sweep::synthetic::{self, SyntheticStudy};
use serde_json::Value;

/// num_gpu × num_ctx = 6 grid points, two agents, 6 blocked repetitions, 2 calls per run.
fn study_text(repetitions: u32) -> String {
    format!(
        r#"
[experiment]
name = "synthetic-ab"
description = "Synthetic A vs B study with known effects"
repetitions = {repetitions}
warmup = 1
order = "blocked"
seed = 5

[backend]
kind = "ollama"
url = "http://127.0.0.1:9"
model = "gemma3:latest"

[grid]
num_gpu = [0, 40, 80]
num_ctx = [1024, 4096]

[workload]
prompts = ["Summarise the results", "Explain the bottleneck"]
num_predict = 16

[[agent]]
name = "baseline"

[[agent]]
name = "chimera"
options = {{ temperature = 0.8 }}
"#
    )
}

fn write_study(dir: &Path, study: &SyntheticStudy) {
    synthetic::write(dir, study).expect("synthetic study");
}

fn options(dirs: Vec<PathBuf>, out: &Path) -> ReportOptions {
    let mut options = ReportOptions::new(dirs);
    options.out = Some(out.join("report"));
    options.plots = Some(out.join("plots"));
    options
}

fn read_json(path: &Path) -> Vec<serde_json::Map<String, Value>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: Value = serde_json::from_str(&text).expect("valid JSON");
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_object().expect("objects").clone())
        .collect()
}

fn keys(record: &serde_json::Map<String, Value>) -> Vec<&str> {
    record.keys().map(String::as_str).collect()
}

fn f(record: &serde_json::Map<String, Value>, key: &str) -> f64 {
    record[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {record:?}"))
}

fn metric<'a>(
    records: &'a [serde_json::Map<String, Value>],
    name: &str,
) -> Vec<&'a serde_json::Map<String, Value>> {
    records.iter().filter(|r| r["metric"] == name).collect()
}

#[test]
fn cells_json_follows_the_contract_and_counts_every_call() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    write_study(&results, &SyntheticStudy::new(study_text(6)));
    let mut opts = options(vec![results.clone()], tmp.path());
    opts.draw_plots = false;
    report::generate(&opts).expect("report");

    let cells = read_json(&tmp.path().join("report/cells.json"));
    let throughput = metric(&cells, "tokens_per_s");
    assert_eq!(throughput.len(), 12, "6 grid points × 2 agents");
    for record in &throughput {
        assert_eq!(
            keys(record)[..15],
            [
                "cell_id", "agent", "num_gpu", "num_ctx", "metric", "n", "n_failed", "mean", "sd",
                "median", "p5", "p95", "ci_low", "ci_high", "min"
            ]
        );
        assert_eq!(record["n"], 12, "6 repetitions × 2 calls: {record:?}");
        assert_eq!(record["n_failed"], 0);
        assert!(record["num_gpu"].is_i64(), "factor levels stay numbers");
        let (low, mean, high) = (f(record, "ci_low"), f(record, "mean"), f(record, "ci_high"));
        assert!(low < mean && mean < high, "{record:?}");
        assert!(f(record, "p5") <= f(record, "median") && f(record, "median") <= f(record, "p95"));
        assert_eq!(record["resamples"], 2000);
    }
    // The model: 25 + 0.5·g − 3·log2(c/1024) (+4 for chimera) tok/s; each CI should be near.
    let at = |agent: &str, gpu: i64, ctx: i64| {
        throughput
            .iter()
            .find(|r| r["agent"] == agent && r["num_gpu"] == gpu && r["num_ctx"] == ctx)
            .map(|r| f(r, "mean"))
            .expect("cell present")
    };
    let truth = |agent: f64, gpu: f64, ctx: f64| {
        25.0 + 0.5 * gpu - 3.0 * (ctx / 1024.0).log2() + 4.0 * agent
    };
    for (gpu, ctx) in [(0, 1024), (40, 4096), (80, 1024)] {
        for (index, agent) in ["baseline", "chimera"].iter().enumerate() {
            let expected = truth(index as f64, gpu as f64, ctx as f64);
            let got = at(agent, gpu, ctx);
            assert!(
                (got - expected).abs() < 3.0,
                "{agent} g={gpu} c={ctx}: {got} vs {expected}"
            );
        }
    }
}

#[test]
fn comparisons_find_the_known_effect_paired_by_block() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    write_study(&results, &SyntheticStudy::new(study_text(6)));
    let mut opts = options(vec![results], tmp.path());
    opts.draw_plots = false;
    opts.metrics = Some(vec!["tokens_per_s".into(), "ttft_ms".into()]);
    report::generate(&opts).expect("report");

    let comparisons = read_json(&tmp.path().join("report/comparisons.json"));
    assert_eq!(comparisons.len(), 12, "6 grid points × 2 metrics");
    for record in &comparisons {
        assert_eq!(
            keys(record)[..18],
            [
                "metric",
                "a",
                "b",
                "num_gpu",
                "num_ctx",
                "n_a",
                "n_b",
                "diff",
                "diff_ci_low",
                "diff_ci_high",
                "ratio",
                "welch_p",
                "mwu_p",
                "paired",
                "paired_p",
                "p_holm",
                "hedges_g",
                "cliffs_delta"
            ]
        );
        assert_eq!(record["a"], "baseline");
        assert_eq!(record["b"], "chimera");
        assert_eq!(
            record["paired"], true,
            "blocked design → block-matched pairs"
        );
        assert_eq!(record["n_pairs"], 12);
        assert!(f(record, "p_holm") >= f(record, "paired_p"));
    }
    // The true throughput gain is +4 tok/s at every point: every CI is near it and most
    // comparisons find it after Holm.
    let throughput = metric(&comparisons, "tokens_per_s");
    let mut significant = 0;
    for record in &throughput {
        let diff = f(record, "diff");
        assert!((diff - 4.0).abs() < 3.0, "{record:?}");
        assert!(f(record, "diff_ci_low") < diff && diff < f(record, "diff_ci_high"));
        assert!(f(record, "hedges_g") > 0.0 && f(record, "cliffs_delta") > 0.0);
        if f(record, "p_holm") < 0.05 {
            significant += 1;
        }
    }
    assert!(significant >= 4, "only {significant} of 6 significant");
    // TTFT is 15 ms lower for chimera: negative differences.
    for record in metric(&comparisons, "ttft_ms") {
        assert!(f(record, "diff") < 0.0, "{record:?}");
    }
}

#[test]
fn main_effects_ranking_and_pareto_follow_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    write_study(&results, &SyntheticStudy::new(study_text(6)));
    let mut opts = options(vec![results], tmp.path());
    opts.draw_plots = false;
    let output = report::generate(&opts).expect("report");

    let effects = read_json(&tmp.path().join("report/effects.json"));
    let gpu: Vec<f64> = effects
        .iter()
        .filter(|r| r["factor"] == "num_gpu" && r["metric"] == "tokens_per_s")
        .map(|r| f(r, "mean"))
        .collect();
    assert_eq!(gpu.len(), 3);
    assert!(
        gpu[0] < gpu[1] && gpu[1] < gpu[2],
        "throughput rises with num_gpu: {gpu:?}"
    );
    let agents: Vec<&Value> = effects
        .iter()
        .filter(|r| r["factor"] == "agent" && r["metric"] == "tokens_per_s")
        .map(|r| &r["level"])
        .collect();
    assert_eq!(agents, ["baseline", "chimera"]);

    let best = read_json(&tmp.path().join("report/best.json"));
    let top = metric(&best, "tokens_per_s")[0];
    assert_eq!(
        (
            &top["agent"],
            &top["num_gpu"],
            &top["num_ctx"],
            &top["rank"]
        ),
        (
            &Value::from("chimera"),
            &Value::from(80),
            &Value::from(1024),
            &Value::from(1)
        )
    );
    assert_eq!(top["tied_with_best"], true);
    let slowest_shown = metric(&best, "tokens_per_s")
        .last()
        .map(|r| r["tied_with_best"].clone());
    assert!(slowest_shown.is_some());

    let pareto = read_json(&tmp.path().join("report/pareto.json"));
    assert_eq!(pareto.len(), 12);
    let front: Vec<_> = pareto.iter().filter(|r| r["on_front"] == true).collect();
    assert!(!front.is_empty());
    assert!(
        front
            .iter()
            .all(|r| r["agent"] == "chimera" && r["num_gpu"] == 80),
        "the fastest and quickest cells are chimera at num_gpu=80: {front:?}"
    );
    assert!(output.analysis.blocked);
}

#[test]
fn failures_are_counted_not_averaged_and_retried_runs_replace_them() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let mut study = SyntheticStudy::new(study_text(4));
    study.failure_every = Some(5);
    write_study(&results, &study);
    let mut opts = options(vec![results.clone()], tmp.path());
    opts.draw_plots = false;
    opts.metrics = Some(vec!["tokens_per_s".into()]);
    report::generate(&opts).expect("report");
    let cells = read_json(&tmp.path().join("report/cells.json"));
    let failed: i64 = cells.iter().map(|r| r["n_failed"].as_i64().unwrap()).sum();
    assert_eq!(failed, 96 / 5, "every 5th of 96 calls failed");
    for record in &cells {
        assert_eq!(
            record["n"].as_i64().unwrap() + record["n_failed"].as_i64().unwrap(),
            8,
            "4 runs × 2 calls: {record:?}"
        );
        assert!(f(record, "min") > 1.0, "no zero from a failure: {record:?}");
    }

    // A later session re-stores one failed run, all ok: the later file wins.
    let failed_cell = cells
        .iter()
        .find(|r| r["n_failed"].as_i64().unwrap() > 0)
        .map(|r| r["cell_id"].as_str().unwrap().to_owned())
        .unwrap();
    let before = cells
        .iter()
        .find(|r| r["cell_id"] == failed_cell.as_str())
        .cloned()
        .unwrap();
    restore_failed_runs_as_ok(&results, &failed_cell);
    report::generate(&opts).expect("report");
    let cells = read_json(&tmp.path().join("report/cells.json"));
    let after = cells
        .iter()
        .find(|r| r["cell_id"] == failed_cell.as_str())
        .unwrap();
    assert_eq!(after["n_failed"], 0);
    assert_eq!(after["n"], 8);
    assert!(after["n"].as_i64() > before["n"].as_i64());
}

/// What `--retry-failed` does: a new session stores a new version of each failed run.
fn restore_failed_runs_as_ok(results: &Path, cell_id: &str) {
    let experiment = Experiment::parse(
        &results.join("experiment.toml"),
        &std::fs::read_to_string(results.join("experiment.toml")).unwrap(),
        None,
    )
    .unwrap();
    let manifest = store::read_manifest(&results.join("manifest.json")).unwrap();
    let plan = Plan::build(&experiment, manifest.order_seed);
    let mut store = Store::open(
        results,
        &experiment,
        &plan,
        Existing::Resume(Box::new(manifest)),
        Environment::default(),
    )
    .unwrap();
    let frame = polars_rows(results);
    for (run_id, template) in frame {
        if template.cell_id != cell_id {
            continue;
        }
        let calls: Vec<CallRecord> = (0..2)
            .map(|call_index| {
                let mut call = template.clone();
                call.session = 2;
                call.call_index = call_index;
                call.error = None;
                call.metrics = Some(chimera_sweep::backend::CallMetrics {
                    ttft_ms: Some(100.0),
                    e2e_ms: 1000.0,
                    total_ms: Some(990.0),
                    load_ms: Some(0.1),
                    prompt_eval_ms: Some(80.0),
                    prompt_tokens: Some(42),
                    eval_ms: Some(900.0),
                    eval_tokens: Some(128),
                    tokens_per_s: Some(142.2),
                    token_source: Some("server".into()),
                });
                call
            })
            .collect();
        let _ = run_id;
        store
            .commit(&RunOutput {
                calls,
                ..RunOutput::default()
            })
            .unwrap();
    }
    store.compact().unwrap();
}

/// (run_id, a record of it) for every run with a failed call, read back from the store.
fn polars_rows(results: &Path) -> Vec<(String, CallRecord)> {
    use polars::prelude::*;
    let mut out: Vec<(String, CallRecord)> = Vec::new();
    for file in store::data_files(&results.join("calls")).unwrap() {
        let frame = ParquetReader::new(std::fs::File::open(&file).unwrap())
            .finish()
            .unwrap();
        let get = |name: &str| frame.column(name).unwrap().clone();
        let (runs, cells, agents, status, warm) = (
            get("run_id"),
            get("cell_id"),
            get("agent"),
            get("status"),
            get("is_warmup"),
        );
        let (blocks, reps, orders) = (get("block"), get("repetition"), get("order_index"));
        for i in 0..frame.height() {
            let run = runs.str().unwrap().get(i).unwrap().to_owned();
            if status.str().unwrap().get(i) != Some("error")
                || warm.bool().unwrap().get(i) == Some(true)
            {
                continue;
            }
            if out.iter().any(|(r, _)| *r == run) {
                continue;
            }
            let record = CallRecord {
                session: 2,
                run_id: run.clone(),
                cell_id: cells.str().unwrap().get(i).unwrap().to_owned(),
                agent: agents.str().unwrap().get(i).unwrap().to_owned(),
                repetition: reps.i64().unwrap().get(i).unwrap() as u32,
                block: blocks.i64().unwrap().get(i).unwrap() as u32,
                order_index: orders.i64().unwrap().get(i).unwrap() as usize,
                is_warmup: false,
                call_index: 0,
                call_kind: "prompt".into(),
                model: "gemma3:latest".into(),
                options: Vec::new(),
                started_at: chrono::Utc::now(),
                metrics: None,
                reloaded: false,
                attempt: 1,
                error: None,
                response: None,
                done_reason: None,
                loaded: None,
                load_avg_1m: None,
            };
            out.push((run, record));
        }
    }
    out
}

#[test]
fn a_partial_sweep_is_reported_with_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let mut study = SyntheticStudy::new(study_text(3));
    study.runs_limit = Some(20);
    write_study(&results, &study);
    let mut opts = options(vec![results], tmp.path());
    opts.draw_plots = false;
    let output = report::generate(&opts).expect("report");
    let completeness = &output.analysis.completeness[0];
    assert_eq!(
        (
            completeness.planned_runs,
            completeness.stored_runs,
            completeness.missing_runs()
        ),
        (36, 20, 16)
    );
    let summary = std::fs::read_to_string(tmp.path().join("report/summary.md")).unwrap();
    assert!(
        summary.contains("**Partial data** in `results`: 20 of 36 planned runs stored (16 missing, 0 failed); sweep status: interrupted."),
        "{summary}"
    );
}

#[test]
fn by_pools_cells_and_an_unknown_factor_names_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    write_study(&results, &SyntheticStudy::new(study_text(3)));
    let mut opts = options(vec![results], tmp.path());
    opts.draw_plots = false;
    opts.by = vec!["num_gpu".into()];
    opts.metrics = Some(vec!["tokens_per_s".into()]);
    report::generate(&opts).expect("report");
    let cells = read_json(&tmp.path().join("report/cells.json"));
    assert_eq!(cells.len(), 3);
    for record in &cells {
        assert_eq!(keys(record)[..4], ["cell_id", "agent", "num_gpu", "metric"]);
        assert_eq!(
            record["n"],
            2 * 3 * 2 * 2,
            "2 ctx × 3 reps × 2 calls × 2 agents pooled"
        );
        assert_eq!(record["agent"], Value::Null);
    }
    assert!(
        !tmp.path().join("report/comparisons.json").exists(),
        "agents pooled: no A vs B"
    );

    opts.by = vec!["num_gpus".into()];
    let err = report::generate(&opts).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--by: unknown factor \"num_gpus\"\n  fix: use one or more of: num_gpu, num_ctx, agent (comma-separated)"
    );
    opts.by = Vec::new();
    opts.metrics = Some(vec!["tokens_per_sec".into()]);
    let err = report::generate(&opts).unwrap_err();
    assert!(
        err.to_string().starts_with("--metric: unknown metric \"tokens_per_sec\" (did you mean \"tokens_per_s\"?)\n  fix: use one or more of: tokens_per_s, ttft_ms"),
        "{err}"
    );
}

#[test]
fn several_folders_become_one_more_factor() {
    let tmp = tempfile::tempdir().unwrap();
    let machine_a = tmp.path().join("machine-a");
    let machine_b = tmp.path().join("machine-b");
    write_study(&machine_a, &SyntheticStudy::new(study_text(3)));
    let mut other = SyntheticStudy::new(study_text(3));
    other.noise_seed = 2;
    other.agent_gain = 0.0;
    write_study(&machine_b, &other);
    let mut opts = options(vec![machine_a, machine_b], tmp.path());
    opts.draw_plots = false;
    opts.metrics = Some(vec!["tokens_per_s".into()]);
    report::generate(&opts).expect("report");
    let cells = read_json(&tmp.path().join("report/cells.json"));
    assert_eq!(cells.len(), 24);
    assert!(
        cells
            .iter()
            .any(|r| r["cell_id"] == "machine-b/c0011" && r["source"] == "machine-b")
    );
    let effects = read_json(&tmp.path().join("report/effects.json"));
    assert_eq!(
        effects.iter().filter(|r| r["factor"] == "source").count(),
        2
    );
    let comparisons = read_json(&tmp.path().join("report/comparisons.json"));
    assert_eq!(
        comparisons.len(),
        12,
        "A vs B within each folder, never across"
    );
    assert!(
        comparisons
            .iter()
            .all(|r| r["source"] == "machine-a" || r["source"] == "machine-b")
    );
}

#[test]
fn every_chart_kind_is_drawn_as_png_and_svg() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    write_study(&results, &SyntheticStudy::new(study_text(3)));
    let opts = options(vec![results], tmp.path());
    let output = report::generate(&opts).expect("report");
    let stems: Vec<&str> = output.charts.iter().map(|c| c.stem.as_str()).collect();
    for expected in [
        "heatmap-tokens_per_s",
        "cells-tokens_per_s",
        "forest-tokens_per_s",
        "distribution-ttft_ms",
        "pareto",
        "timeline-tokens_per_s",
    ] {
        assert!(
            stems.contains(&expected),
            "{expected} missing from {stems:?}"
        );
    }
    for chart in &output.charts {
        let png = std::fs::read(&chart.files.png).unwrap();
        assert_eq!(
            &png[..8],
            b"\x89PNG\r\n\x1a\n",
            "{}",
            chart.files.png.display()
        );
        let svg = std::fs::read_to_string(&chart.files.svg).unwrap();
        assert!(svg.starts_with("<svg"), "{}", chart.files.svg.display());
    }
    // summary.md embeds them by relative path, and those paths resolve.
    let summary = std::fs::read_to_string(&output.summary).unwrap();
    assert!(summary.contains(
        "![Throughput (tok/s): mean and 95% CI per cell](../plots/cells-tokens_per_s.png)"
    ));
    assert!(output.report_dir.join("../plots/pareto.png").exists());
}

/// The human tables, pinned: any change in rounding, units, CI layout or columns shows up.
#[test]
fn rendered_tables_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    write_study(&results, &SyntheticStudy::new(study_text(3)));
    let mut opts = options(vec![results], tmp.path());
    opts.draw_plots = false;
    opts.metrics = Some(vec!["tokens_per_s".into(), "ttft_ms".into()]);
    opts.bootstrap.resamples = 500;
    let output = report::generate(&opts).expect("report");
    let tables = report::tables::all_tables(&output.analysis, &output.design);
    for table in &tables {
        let markdown = Format::Markdown.exporter().render(table);
        insta::assert_snapshot!(format!("{}_md", table.name), markdown);
    }
    let comparisons = tables.iter().find(|t| t.name == "comparisons").unwrap();
    insta::assert_snapshot!(
        "comparisons_tex",
        Format::Latex.exporter().render(comparisons)
    );
    let cells = tables.iter().find(|t| t.name == "cells").unwrap();
    let csv = Format::Csv.exporter().render(cells);
    insta::assert_snapshot!(
        "cells_csv_head",
        csv.lines().take(4).collect::<Vec<_>>().join("\n")
    );
}

/// The same folder and seed give byte-identical tables, whatever thread computed what.
#[test]
fn reports_are_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    write_study(&results, &SyntheticStudy::new(study_text(3)));
    let render = |name: &str| {
        let mut opts = options(vec![results.clone()], &tmp.path().join(name));
        opts.draw_plots = false;
        opts.formats = vec![Format::Json];
        report::generate(&opts).expect("report");
        ["cells", "effects", "comparisons", "best"].map(|table| {
            std::fs::read(tmp.path().join(name).join(format!("report/{table}.json"))).unwrap()
        })
    };
    assert_eq!(render("first"), render("second"));
}

/// A sweep killed before its first commit still gets a report that says so.
#[test]
fn a_folder_with_nothing_stored_yet_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let mut study = SyntheticStudy::new(study_text(2));
    study.runs_limit = Some(0);
    write_study(&results, &study);
    let output = report::generate(&options(vec![results], tmp.path())).expect("report");
    assert!(output.charts.is_empty());
    assert!(output.analysis.metrics.is_empty());
    let summary = std::fs::read_to_string(&output.summary).unwrap();
    assert!(
        summary.contains("0 of 24 planned runs stored (24 missing, 0 failed)"),
        "{summary}"
    );
    assert!(
        summary.contains("No successful measurements are stored yet."),
        "{summary}"
    );
    assert_eq!(read_json(&tmp.path().join("report/cells.json")), Vec::new());
}

/// The report reads the design from the folder's copy of the experiment: the data folder,
/// prompt and persona files it names need not exist there (they sit beside the original
/// file, or on the machine the sweep ran on).
#[test]
fn a_copy_whose_files_are_elsewhere_still_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let text = study_text(2)
        .replace(
            "prompts = [\"Summarise the results\", \"Explain the bottleneck\"]\nnum_predict = 16",
            "kind = \"chimera-agent\"\ndata_dir = \"no/such/data\"",
        )
        .replace(
            "name = \"chimera\"\n",
            "name = \"chimera\"\npersona_file = \"missing-persona.txt\"\n",
        );
    assert!(text.contains("chimera-agent") && text.contains("persona_file"));
    write_study(&results, &SyntheticStudy::new(text));
    let mut opts = options(vec![results.clone()], tmp.path());
    opts.draw_plots = false;
    opts.metrics = Some(vec!["tokens_per_s".into()]);
    report::generate(&opts).expect("report");
    let cells = read_json(&tmp.path().join("report/cells.json"));
    assert_eq!(cells.len(), 12);
    assert!(
        cells.iter().all(|r| r["n"] == 4),
        "2 runs × 2 calls (analysis, report)"
    );
    // A run, by contrast, still insists on the files.
    let err = chimera_sweep::experiment::Experiment::parse(
        &results.join("experiment.toml"),
        &std::fs::read_to_string(results.join("experiment.toml")).unwrap(),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("`workload.data_dir`"), "{err}");
}
