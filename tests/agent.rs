//! The Chimera agent workload end to end against the fake Ollama with fixed answers: the
//! report file (golden), the runs table value by value, and crash-safe resume.

mod common;

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use chimera_sweep::backend::ollama::Ollama;
use chimera_sweep::experiment::Experiment;
use chimera_sweep::fake_ollama::{FakeConfig, FakeOllama};
use chimera_sweep::store::{self, SweepStatus};
use chimera_sweep::sweep::SweepOptions;
use common::*;
use polars::prelude::*;

const ANALYSIS: &str = "## Executive Summary\nThe folder holds parameter sweeps.\n\n**Key Performance Findings**\n\n* **Throughput peaks at 102.25 tok/s** with num_gpu=120.\n    * sub-point that is not a finding\n* **TTFT grows with num_ctx.**\n\n**Recommendations for Optimization:**\n\n1. **Offload all layers:** set `num_gpu` to 120.\n2. Keep num_ctx at 512.\n";

const REPORT: &str = "## 1. Executive Summary\nPeak throughput is **102.25 tok/s** across the sweep.\n\n## 2. Recommendations\n1. Offload all layers.\n2. Keep num_ctx small.\n3. Warm up before measuring.\n\n## 3. Risks\n| Risk | Mitigation |\n|---|---|\n| Out of memory | fewer layers |\n| Drift | blocked order |\n";

fn fake_config() -> FakeConfig {
    FakeConfig {
        replies: vec![
            ("Data summary:".into(), ANALYSIS.into()),
            ("Repository context".into(), REPORT.into()),
        ],
        ..FakeConfig::default()
    }
}

/// A small corpus with fixed modification times, so the data summary is stable.
fn corpus(root: &Path) {
    let files = [
        (
            "runs/gemma3_baseline.csv",
            "num_gpu,num_ctx,tokens_per_s\n40,512,38.5\n120,512,102.25\n",
        ),
        ("runs/gemma3_tuning.csv", "num_gpu,tokens_per_s\n80,77.0\n"),
        (
            "kernels/conv.json",
            "{\"benchmark\": \"conv\", \"mean_ms\": 1.5}",
        ),
        ("notes.md", "# Notes\n"),
    ];
    for (path, content) in files {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(&full, content).unwrap();
        File::options()
            .write(true)
            .open(&full)
            .unwrap()
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_763_146_410))
            .unwrap();
    }
}

fn experiment_text(url: &str, repetitions: u32) -> String {
    format!(
        r#"
[experiment]
name = "agent-test"
repetitions = {repetitions}
warmup = 1
seed = 3

[backend]
url = "{url}"
model = "gemma3:latest"
retries = 1
retry_backoff_s = 0.01

[workload]
kind = "chimera-agent"
data_dir = "data"
summary_depth = "content"
num_predict = 400

[[agent]]
name = "baseline"
display_name = "Chimera Agent A"
persona = "insight"
inherit_grid = false

[[agent]]
name = "chimera"
display_name = "Chimera Agent B"
persona = "insight"
options = {{ num_gpu = 120, num_ctx = 512, temperature = 0.8 }}
"#
    )
}

fn setup(
    url: &str,
    repetitions: u32,
) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    corpus(&dir.path().join("data"));
    let file = write_experiment(dir.path(), &experiment_text(url, repetitions));
    let out = dir.path().join("results");
    (dir, file, out)
}

fn read_runs(out: &Path) -> DataFrame {
    let files = store::data_files(&out.join("runs")).unwrap();
    assert_eq!(files.len(), 1, "compacted");
    ParquetReader::new(File::open(&files[0]).unwrap())
        .finish()
        .unwrap()
}

/// Lines that depend on the clock or the machine are replaced before snapshotting.
fn stable(report: &str) -> String {
    report
        .lines()
        .map(|line| {
            for prefix in ["**Date:**", "- Execution time:", "- TTFT:"] {
                if line.starts_with(prefix) {
                    return format!("{prefix} [varies]");
                }
            }
            line.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn an_agent_sweep_writes_reports_and_the_runs_table() {
    let server = FakeOllama::start(fake_config()).await.unwrap();
    let (dir, file, out) = setup(&server.url(), 2);
    let experiment = Experiment::load(&file).unwrap();
    let backend = Ollama::new(&experiment.backend).unwrap();
    let options = SweepOptions {
        out: Some(out.clone()),
        ..SweepOptions::default()
    };
    let (report, _) = sweep(&experiment, &backend, &options).await;
    let report = report.unwrap();
    assert_eq!(report.status, SweepStatus::Finished);

    // Calls: an analysis and a report call per run; the report prompt carries the analysis.
    let served = server.served();
    let measured: Vec<_> = served
        .iter()
        .filter(|c| {
            !c.request["prompt"]
                .as_str()
                .unwrap_or("")
                .starts_with("Warm-up")
        })
        .collect();
    assert_eq!(measured.len(), 8);
    let report_prompt = measured[1].request["prompt"].as_str().unwrap();
    assert!(report_prompt.starts_with(
        "Repository context (an analysis of the benchmark artifacts):\n\n## Executive Summary"
    ));
    assert!(
        report_prompt.ends_with("bolded metric callouts."),
        "the persona closes the report prompt"
    );
    let analysis_prompt = measured[0].request["prompt"].as_str().unwrap();
    assert!(analysis_prompt.contains("Total files analyzed: 4\n\nCSV Files (2)\n  - runs/gemma3_baseline.csv\n      2 rows; columns: num_gpu, num_ctx, tokens_per_s;"));
    let calls = read_calls(&out);
    let kinds: Vec<_> = strs(&calls, "call_kind")
        .into_iter()
        .flatten()
        .filter(|k| k != "warmup")
        .collect();
    assert_eq!(kinds, ["analysis", "report"].repeat(4));

    // Runs table: one row per run, metrics aggregated over its two calls.
    let runs = read_runs(&out);
    assert_eq!(runs.height(), 4);
    let analysis_tokens = ANALYSIS.split_inclusive(' ').count() as i64;
    let report_tokens = REPORT.split_inclusive(' ').count() as i64;
    for i in 0..4 {
        assert_eq!(
            ints(&runs, "tokens_generated")[i],
            Some(analysis_tokens + report_tokens)
        );
        assert_eq!(
            floats(&runs, "tokens_per_s")[i],
            Some(100.0),
            "fake: 10 ms per token"
        );
        assert_eq!(
            floats(&runs, "eval_ms")[i],
            Some((analysis_tokens + report_tokens) as f64 * 10.0)
        );
        assert_eq!(ints(&runs, "files_analyzed")[i], Some(4));
        assert_eq!(strs(&runs, "status")[i].as_deref(), Some("ok"));
        assert_eq!(ints(&runs, "recommendation_count")[i], Some(3));
        assert_eq!(ints(&runs, "risk_table_rows")[i], Some(2));
        assert_eq!(ints(&runs, "numbered_sections")[i], Some(3));
        assert_eq!(
            ints(&runs, "cited_numbers")[i],
            Some(1),
            "102.25 comes from the data"
        );
        assert_eq!(bools(&runs, "words_in_range")[i], Some(false));
        assert_eq!(floats(&runs, "quality_score")[i], Some(6.0 / 7.0));
        let ttft = floats(&runs, "ttft_ms")[i].unwrap();
        assert!(ttft > 0.0);
    }
    let agents = strs(&runs, "agent");
    let num_gpu = ints(&runs, "num_gpu");
    for (agent, gpu) in agents.iter().zip(&num_gpu) {
        let expected = if agent.as_deref() == Some("chimera") {
            Some(120)
        } else {
            None
        };
        assert_eq!(*gpu, expected, "baseline sends no tuning options");
    }

    // Report files: one per run, at the path the runs table names.
    let paths = strs(&runs, "report_path");
    assert_eq!(fs::read_dir(out.join("reports")).unwrap().count(), 4);
    let chimera_row = agents
        .iter()
        .position(|a| a.as_deref() == Some("chimera"))
        .unwrap();
    let text = fs::read_to_string(out.join(paths[chimera_row].as_deref().unwrap())).unwrap();
    insta::assert_snapshot!(stable(&text));

    // The study report compares the agents per run (the seed's metrics and quality), not
    // per pooled analysis-and-report call.
    let mut options = chimera_sweep::report::ReportOptions::new(vec![out.clone()]);
    options.plots = Some(dir.path().join("plots"));
    let output = tokio::task::spawn_blocking(move || chimera_sweep::report::generate(&options))
        .await
        .unwrap()
        .expect("report");
    assert_eq!(
        output.analysis.headline_pair(),
        ("run_tokens_per_s", "run_ttft_ms")
    );
    let quality: Vec<f64> = output
        .analysis
        .cells
        .iter()
        .filter(|c| c.metric.name == "quality_score")
        .map(|c| c.summary.as_ref().unwrap().mean)
        .collect();
    assert_eq!(quality, [6.0 / 7.0, 6.0 / 7.0]);
    let compared: Vec<&str> = output
        .analysis
        .comparisons
        .iter()
        .map(|c| c.metric.name)
        .collect();
    for metric in [
        "run_tokens_per_s",
        "run_ttft_ms",
        "quality_score",
        "workflow_ms",
    ] {
        assert!(
            compared.contains(&metric),
            "{metric} not compared: {compared:?}"
        );
    }
    let summary = fs::read_to_string(&output.summary).unwrap();
    assert!(
        summary.contains("**chimera vs baseline, agent throughput:**"),
        "{summary}"
    );
    assert!(dir.path().join("plots/pareto.png").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_agent_sweep_then_resume_stores_runs_calls_and_reports_once() {
    let server = FakeOllama::start(FakeConfig {
        token_delay: Duration::from_millis(1),
        ..fake_config()
    })
    .await
    .unwrap();
    let (_dir, file, out) = setup(&server.url(), 3);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_chimera"))
            .args([
                "run",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    for target in [2usize, 4] {
        let mut child = spawn();
        let start = std::time::Instant::now();
        while store::data_files(&out.join("calls")).map_or(0, |f| f.len()) < target {
            assert!(start.elapsed() < Duration::from_secs(30));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Let it get into the middle of the next run's calls.
        tokio::time::sleep(Duration::from_millis(40)).await;
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let status = Command::new(env!("CARGO_BIN_EXE_chimera"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_exactly_once(&out, 6, 2);
    let runs = read_runs(&out);
    assert_eq!(runs.height(), 6, "one runs row per run");
    let ids: std::collections::BTreeSet<_> = strs(&runs, "run_id").into_iter().flatten().collect();
    assert_eq!(ids.len(), 6);
    let reports: std::collections::BTreeSet<_> = fs::read_dir(out.join("reports"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".md")
                .to_owned()
        })
        .collect();
    assert_eq!(reports, ids, "exactly the stored runs have reports");
}
