//! The built `chimera` binary as a user runs it: plan output, config errors and exit codes,
//! an unreachable backend, kill -9 at several points followed by resume, and SIGINT.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chimera_sweep::fake_ollama::{FakeConfig, FakeOllama};
use chimera_sweep::store::{self, SweepStatus};
use common::*;

fn chimera() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chimera"));
    command.env_remove("OLLAMA_HOST");
    command
}

fn run_to_end(args: &[&str], dir: &Path) -> Output {
    chimera()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run chimera")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn plan_prints_cells_counts_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(dir.path(), &experiment_text("http://127.0.0.1:9", 2, ""));
    let output = run_to_end(&["plan", file.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with(
            "cell   agent     model          num_ctx  seed  num_predict  temperature\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("3 cells x 2 repetitions = 6 runs, 17 calls (12 measured + 5 warm-up)"),
        "{text}"
    );
    assert!(
        text.contains("order: blocked, seed 11; 3 load configurations, 5 model loads"),
        "{text}"
    );

    let output = run_to_end(&["plan", "--json", file.to_str().unwrap()], dir.path());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["counts"]["runs"], 6);
    assert_eq!(json["counts"]["measured_calls"], 12);
    assert_eq!(json["runs"].as_array().unwrap().len(), 6);
    assert_eq!(json["cells"][1]["options"]["num_ctx"], 512);
    assert!(
        !dir.path().join("results").exists(),
        "plan sends and writes nothing"
    );
}

#[test]
fn every_shipped_experiment_passes_plan() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let output = chimera()
                .args(["plan", path.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}: {}",
                path.display(),
                stderr(&output)
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn a_bad_file_exits_2_naming_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let text = experiment_text("http://127.0.0.1:9", 1, "")
        .replace("num_ctx = [512, 1024]", "num_ctx = [512, \"1k\"]");
    let file = write_experiment(dir.path(), &text);
    for command in ["plan", "run"] {
        let output = run_to_end(&[command, file.to_str().unwrap()], dir.path());
        assert_eq!(output.status.code(), Some(2), "{command}");
        assert_eq!(
            stderr(&output),
            format!(
                "error: {}: `grid.num_ctx[1]`: expected an integer, found string `\"1k\"`\n  fix: write num_ctx values as an integer, e.g. num_ctx = 512\n",
                file.display()
            )
        );
    }
    let missing = run_to_end(&["plan", "nope.toml"], dir.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).starts_with("error: nope.toml: `(file)`: cannot read the experiment file")
    );
}

#[test]
fn an_unreachable_backend_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(dir.path(), &experiment_text("http://127.0.0.1:9", 1, ""));
    let output = run_to_end(&["run", file.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(4));
    let text = stderr(&output);
    assert!(
        text.starts_with("error: cannot reach the backend at http://127.0.0.1:9: connect:"),
        "{text}"
    );
    assert!(
        text.contains("fix: start Ollama with `ollama serve`"),
        "{text}"
    );
}

/// Spawns `chimera run` with its output captured (stderr is not a terminal).
fn spawn_run(file: &Path, out: &Path) -> Child {
    chimera()
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chimera")
}

fn committed_files(out: &Path) -> usize {
    store::data_files(&out.join("calls")).map_or(0, |f| f.len())
}

async fn wait_until(deadline: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < deadline, "timed out waiting");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_point_then_resume_stores_every_run_exactly_once() {
    let server = FakeOllama::start(FakeConfig {
        tokens: 6,
        token_delay: Duration::from_millis(3),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(dir.path(), &experiment_text(&server.url(), 4, ""));
    let out = dir.path().join("results");

    // Kill points: before anything is written, after the first commit, mid-sweep after a
    // few commits, and at a moment chosen by request count (likely mid-stream).
    let mut kills = 0;
    for target in [0usize, 1, 5] {
        let mut child = spawn_run(&file, &out);
        wait_until(Duration::from_secs(30), || committed_files(&out) >= target).await;
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        // No torn file is visible: every committed file reads.
        if committed_files(&out) > 0 {
            read_calls(&out);
        }
    }
    let requests_before = server.generation_requests();
    let mut child = spawn_run(&file, &out);
    wait_until(Duration::from_secs(30), || {
        server.generation_requests() >= requests_before + 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(7)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    kills += 1;

    let output = chimera()
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_exactly_once(&out, 12, 2);
    // A finished sweep ends with its report: tables beside the results, charts in plots/.
    assert!(out.join("report/summary.md").exists());
    assert!(out.join("report/comparisons.json").exists());
    assert!(dir.path().join("plots/test-sweep/pareto.png").exists());
    let manifest = store::read_manifest(&out.join("manifest.json")).unwrap();
    assert_eq!(manifest.status, SweepStatus::Finished);
    assert!(manifest.sessions.len() >= 2 && manifest.sessions.len() <= kills + 1);
    // The plain log has no terminal control characters.
    let log = stderr(&output);
    assert!(!log.chars().any(|c| c.is_control() && c != '\n'), "{log:?}");
    assert!(
        log.contains("finished\n12 of 12 runs stored (12 ok, 0 failed)"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_cleanly_with_exit_130_and_the_sweep_resumes() {
    let server = FakeOllama::start(FakeConfig {
        tokens: 6,
        token_delay: Duration::from_millis(5),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(dir.path(), &experiment_text(&server.url(), 4, ""));
    let out = dir.path().join("results");
    let child = spawn_run(&file, &out);
    wait_until(Duration::from_secs(30), || committed_files(&out) >= 3).await;
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "stopped within the grace period"
    );
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(stderr(&output).contains("interrupted: run the same command again to resume"));
    let manifest = store::read_manifest(&out.join("manifest.json")).unwrap();
    assert_eq!(manifest.status, SweepStatus::Interrupted);
    assert_eq!(committed_files(&out), 1, "compacted on the way out");

    let output = chimera()
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_exactly_once(&out, 12, 2);
    // A finished sweep ends with its report: tables beside the results, charts in plots/.
    assert!(out.join("report/summary.md").exists());
    assert!(out.join("report/comparisons.json").exists());
    assert!(dir.path().join("plots/test-sweep/pareto.png").exists());
}

#[test]
fn report_reads_a_results_folder_and_names_the_fix_for_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let mut study =
        chimera_sweep::synthetic::SyntheticStudy::new(experiment_text("http://127.0.0.1:9", 3, ""));
    study.runs_limit = Some(7);
    chimera_sweep::synthetic::write(&results, &study).unwrap();

    let output = run_to_end(
        &[
            "report",
            "results",
            "--format",
            "md,json",
            "--metric",
            "tokens_per_s,ttft_ms",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(
        log.contains(
            "note: results: 7 of 9 planned runs stored (2 missing; sweep status: interrupted)"
        ),
        "{log}"
    );
    assert!(log.contains("summary: results/report/summary.md"), "{log}");
    for file in [
        "summary.md",
        "cells.md",
        "cells.json",
        "comparisons.json",
        "effects.md",
        "best.json",
    ] {
        assert!(results.join("report").join(file).exists(), "{file} missing");
    }
    assert!(
        !results.join("report/cells.csv").exists(),
        "only the asked formats"
    );
    assert!(
        dir.path()
            .join("plots/test-sweep/timeline-tokens_per_s.svg")
            .exists()
    );

    let not_results = run_to_end(&["report", "experiments"], dir.path());
    assert_eq!(not_results.status.code(), Some(2));
    assert_eq!(
        stderr(&not_results),
        "error: experiments is not a chimera results folder (no manifest.json)\n  fix: pass the folder `chimera run` wrote, e.g. results/<experiment name>\n"
    );
    let bad_format = run_to_end(&["report", "results", "--format", "xlsx"], dir.path());
    assert_eq!(bad_format.status.code(), Some(2));
    assert_eq!(
        stderr(&bad_format),
        "error: --format: unknown table format \"xlsx\"; use md, csv, tex or json (comma-separated)\n"
    );
    let bad_by = run_to_end(&["report", "results", "--by", "ctx"], dir.path());
    assert_eq!(bad_by.status.code(), Some(2));
    assert!(stderr(&bad_by).starts_with(
        "error: --by: unknown factor \"ctx\"\n  fix: use one or more of: num_ctx, agent"
    ));
}
