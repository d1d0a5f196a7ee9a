//! End-to-end sweeps, in-process, against the fake Ollama on loopback: stored values,
//! faults, retries, a backend that dies, interruption, resume, and folder conflicts.

mod common;

use std::path::Path;
use std::time::Duration;

use chimera_sweep::backend::ollama::Ollama;
use chimera_sweep::error::Error;
use chimera_sweep::experiment::Experiment;
use chimera_sweep::fake_ollama::{FAKE_EVAL_NS_PER_TOKEN, FakeConfig, FakeOllama, Fault};
use chimera_sweep::scheduler::Event;
use chimera_sweep::store::{self, StoreError, SweepStatus};
use chimera_sweep::sweep::{SweepOptions, run_sweep};
use common::*;
use tokio::sync::{mpsc, watch};

struct Setup {
    _dir: tempfile::TempDir,
    experiment: Experiment,
    backend: Ollama,
    options: SweepOptions,
    results: std::path::PathBuf,
}

fn setup(fake: &FakeOllama, repetitions: u32, backend_extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(
        dir.path(),
        &experiment_text(&fake.url(), repetitions, backend_extra),
    );
    let experiment = Experiment::load(&file).unwrap();
    let backend = Ollama::new(&experiment.backend).unwrap();
    let results = dir.path().join("results");
    Setup {
        options: SweepOptions {
            out: Some(results.clone()),
            ..SweepOptions::default()
        },
        _dir: dir,
        experiment,
        backend,
        results,
    }
}

async fn fake(config: FakeConfig) -> FakeOllama {
    FakeOllama::start(config).await.unwrap()
}

#[tokio::test]
async fn every_stored_value_is_what_the_server_sent() {
    let server = fake(FakeConfig::default()).await;
    let s = setup(&server, 2, "");
    let (report, _) = sweep(&s.experiment, &s.backend, &s.options).await;
    let report = report.unwrap();
    assert_eq!(report.status, SweepStatus::Finished);
    assert_eq!(report.exit_code(), 0);
    assert_eq!(
        (report.progress.runs_ok, report.progress.runs_failed),
        (6, 0)
    );

    let rows = read_calls(&s.results);
    let served = server.served();
    // 3 cells x 2 reps x 2 prompts measured, plus one warm-up per load change.
    let measured = 12;
    let warmups = served.len() - measured;
    assert_eq!(rows.height(), served.len());
    assert_eq!(
        warmups,
        3 + 2,
        "3 load configurations, blocks share one at the boundary"
    );

    let warmup = bools(&rows, "is_warmup");
    let reloaded = bools(&rows, "reloaded");
    let text = strs(&rows, "response");
    let agent = strs(&rows, "agent");
    let num_ctx = ints(&rows, "num_ctx");
    let temperature = floats(&rows, "temperature");
    let num_predict = ints(&rows, "num_predict");
    let (total, load, prompt_ms, eval_ms) = (
        floats(&rows, "total_ms"),
        floats(&rows, "load_ms"),
        floats(&rows, "prompt_eval_ms"),
        floats(&rows, "eval_ms"),
    );
    let (prompt_tokens, eval_tokens, tps) = (
        ints(&rows, "prompt_tokens"),
        ints(&rows, "eval_tokens"),
        floats(&rows, "tokens_per_s"),
    );
    let (ttft, e2e) = (floats(&rows, "ttft_ms"), floats(&rows, "e2e_ms"));
    let status = strs(&rows, "status");
    let attempt = ints(&rows, "attempt");
    let gpu = floats(&rows, "gpu_fraction");

    for (i, call) in served.iter().enumerate() {
        let done = call.final_chunk.as_ref().unwrap();
        let ms = |key: &str| done[key].as_u64().map(|ns| ns as f64 / 1e6);
        assert_eq!(total[i], ms("total_duration"), "row {i}");
        assert_eq!(load[i], ms("load_duration"), "row {i}");
        assert_eq!(prompt_ms[i], ms("prompt_eval_duration"), "row {i}");
        assert_eq!(eval_ms[i], ms("eval_duration"), "row {i}");
        assert_eq!(
            prompt_tokens[i],
            done["prompt_eval_count"].as_i64(),
            "row {i}"
        );
        assert_eq!(eval_tokens[i], done["eval_count"].as_i64(), "row {i}");
        assert_eq!(eval_tokens[i], Some(6), "num_predict is sent and honoured");
        assert_eq!(tps[i], Some(1e9 / FAKE_EVAL_NS_PER_TOKEN as f64));
        assert_eq!(text[i].as_deref(), Some(call.text.as_str()));
        assert_eq!(status[i].as_deref(), Some("ok"));
        assert_eq!(attempt[i], Some(1));
        assert_eq!(gpu[i], Some(0.75), "from /api/ps after the load");
        // The options stored are the options sent.
        let options = &call.request["options"];
        assert_eq!(num_ctx[i], options["num_ctx"].as_i64(), "row {i}");
        assert_eq!(temperature[i], options["temperature"].as_f64(), "row {i}");
        assert_eq!(num_predict[i], options["num_predict"].as_i64(), "row {i}");
        assert_eq!(
            options["seed"], 11,
            "experiment.seed is the default sampling seed"
        );
        // The baseline has a system prompt: it goes through /api/chat.
        let expected_path = if agent[i].as_deref() == Some("baseline") {
            "/api/chat"
        } else {
            "/api/generate"
        };
        assert_eq!(call.path, expected_path);
        if agent[i].as_deref() == Some("baseline") {
            assert!(options.get("num_ctx").is_none() && options.get("temperature").is_none());
        }
        // Only the warm-up after each load change pays the load.
        assert_eq!(reloaded[i], warmup[i], "row {i}");
        let ttft = ttft[i].unwrap();
        assert!(
            ttft > 0.0 && ttft <= e2e[i].unwrap(),
            "TTFT is positive and within e2e"
        );
    }
    assert_exactly_once(&s.results, 6, 2);
    // Compacted into one file at the end.
    let files = store::data_files(&s.results.join("calls")).unwrap();
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with("0001-compacted.parquet"));
}

#[tokio::test]
async fn retryable_faults_are_retried_and_the_attempt_is_stored() {
    let server = fake(FakeConfig::default()).await;
    let s = setup(&server, 1, "retries = 5\nstall_s = 0.3");
    server.push_faults([
        Fault::Http500,
        Fault::DropMidStream,
        Fault::MalformedLine,
        Fault::Stall(Duration::from_secs(2)),
    ]);
    let (report, _) = sweep(&s.experiment, &s.backend, &s.options).await;
    assert_eq!(report.unwrap().status, SweepStatus::Finished);
    let rows = read_calls(&s.results);
    assert_eq!(
        ints(&rows, "attempt")[0],
        Some(5),
        "four faults, then success"
    );
    assert!(
        strs(&rows, "status")
            .iter()
            .all(|s| s.as_deref() == Some("ok"))
    );
    assert_exactly_once(&s.results, 3, 2);
}

#[tokio::test]
async fn a_call_that_keeps_failing_is_stored_as_an_error_row_and_the_sweep_goes_on() {
    let server = fake(FakeConfig::default()).await;
    let s = setup(&server, 1, "retries = 2");
    // The first call (the warm-up) fails all three attempts.
    server.push_faults([Fault::Http500, Fault::Http500, Fault::Http500]);
    let (report, _) = sweep(&s.experiment, &s.backend, &s.options).await;
    let report = report.unwrap();
    let rows = read_calls(&s.results);
    let status = strs(&rows, "status");
    let failed: Vec<usize> = (0..rows.height())
        .filter(|i| status[*i].as_deref() == Some("error"))
        .collect();
    assert_eq!(failed.len(), 1, "one call failed after its retries");
    let i = failed[0];
    assert_eq!(
        bools(&rows, "is_warmup")[i],
        Some(true),
        "the warm-up took the faults"
    );
    assert_eq!(strs(&rows, "error_kind")[i].as_deref(), Some("server"));
    let message = strs(&rows, "error_message")[i].clone().unwrap();
    assert_eq!(message, "HTTP 500: llama runner process has terminated");
    assert_eq!(ints(&rows, "attempt")[i], Some(3));
    for column in ["ttft_ms", "e2e_ms", "total_ms", "tokens_per_s", "eval_ms"] {
        assert_eq!(
            floats(&rows, column)[i],
            None,
            "{column} of a failed call is null, not zero"
        );
    }
    assert_eq!(ints(&rows, "eval_tokens")[i], None);
    // A failed warm-up does not fail a run; every measured run went on and succeeded.
    assert_eq!(report.status, SweepStatus::Finished);
    assert_exactly_once(&s.results, 3, 2);
}

#[tokio::test]
async fn a_failed_run_is_stored_and_retry_failed_replaces_it_exactly_once() {
    let server = fake(FakeConfig::default()).await;
    let s = setup(&server, 1, "retries = 0");
    // Warm-up ok, then the first measured call gets a 500 (no retries): that run fails.
    let (tx, _rx) = mpsc::unbounded_channel();
    let (_c, cancel) = watch::channel(false);
    let sweep_future = run_sweep(&s.experiment, &s.backend, &s.options, tx, cancel);
    let inject = async {
        while server.generation_requests() < 1 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        server.push_faults([Fault::Http500]);
    };
    let (report, ()) = tokio::join!(sweep_future, inject);
    let report = report.unwrap();
    assert_eq!(report.status, SweepStatus::FinishedWithFailures);
    assert_eq!(report.progress.runs_failed, 1);

    // A plain rerun has nothing left to do and keeps the failure.
    let (again, events) = sweep(&s.experiment, &s.backend, &s.options).await;
    assert_eq!(again.unwrap().status, SweepStatus::FinishedWithFailures);
    assert!(events.contains(&Event::Started {
        planned_runs: 3,
        already_stored: 3,
        to_run: 0
    }));

    // --retry-failed re-runs just that run; the old rows are superseded, not duplicated.
    let retry = SweepOptions {
        retry_failed: true,
        ..s.options.clone()
    };
    let (report, events) = sweep(&s.experiment, &s.backend, &retry).await;
    let report = report.unwrap();
    assert_eq!(report.status, SweepStatus::Finished);
    assert!(events.contains(&Event::Started {
        planned_runs: 3,
        already_stored: 2,
        to_run: 1
    }));
    assert_exactly_once(&s.results, 3, 2);
    let rows = read_calls(&s.results);
    let measured_errors = strs(&rows, "status")
        .iter()
        .zip(bools(&rows, "is_warmup"))
        .filter(|(s, w)| s.as_deref() == Some("error") && *w == Some(false))
        .count();
    assert_eq!(measured_errors, 0);
}

#[tokio::test]
async fn non_retryable_errors_are_not_retried() {
    let server = fake(FakeConfig::default()).await;
    let s = setup(&server, 1, "retries = 3");
    server.push_faults([Fault::Http404, Fault::StreamError]);
    let (report, _) = sweep(&s.experiment, &s.backend, &s.options).await;
    assert_eq!(report.unwrap().status, SweepStatus::FinishedWithFailures);
    let rows = read_calls(&s.results);
    let kinds = strs(&rows, "error_kind");
    let attempts = ints(&rows, "attempt");
    let errors: Vec<(Option<String>, Option<i64>)> = kinds
        .into_iter()
        .zip(attempts)
        .filter(|(k, _)| k.is_some())
        .collect();
    assert_eq!(
        errors,
        [
            (Some("client".to_owned()), Some(1)),
            (Some("backend".to_owned()), Some(1))
        ]
    );
}

#[tokio::test]
async fn a_stall_is_detected_within_stall_s() {
    let server = fake(FakeConfig::default()).await;
    let s = setup(&server, 1, "retries = 0\nstall_s = 0.2");
    server.push_faults([Fault::Stall(Duration::from_secs(3))]);
    let started = std::time::Instant::now();
    let (report, _) = sweep(&s.experiment, &s.backend, &s.options).await;
    report.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "did not wait for the stalled stream"
    );
    let rows = read_calls(&s.results);
    assert_eq!(strs(&rows, "error_kind")[0].as_deref(), Some("stall"));
}

#[tokio::test]
async fn a_backend_that_dies_is_waited_for_and_the_sweep_completes() {
    let server = fake(FakeConfig {
        token_delay: Duration::from_millis(2),
        ..FakeConfig::default()
    })
    .await;
    let s = setup(&server, 2, "retries = 1\ndown_timeout_s = 20");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_c, cancel) = watch::channel(false);
    let sweep_future = run_sweep(&s.experiment, &s.backend, &s.options, tx, cancel);
    let chaos = async {
        while server.served().len() < 4 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        server.kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.revive().unwrap();
    };
    let (report, ()) = tokio::join!(sweep_future, chaos);
    let report = report.unwrap();
    assert_eq!(
        report.status,
        SweepStatus::Finished,
        "no run was burnt as a failure"
    );
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::BackendDown { .. }))
    );
    assert!(events.iter().any(|e| matches!(e, Event::BackendUp { .. })));
    assert_exactly_once(&s.results, 6, 2);
    let rows = read_calls(&s.results);
    assert!(
        strs(&rows, "status")
            .iter()
            .all(|s| s.as_deref() == Some("ok"))
    );
}

#[tokio::test]
async fn a_backend_that_stays_down_stops_the_sweep_and_it_resumes_later() {
    let server = fake(FakeConfig::default()).await;
    let s = setup(&server, 2, "retries = 0\ndown_timeout_s = 0.3");
    let (tx, _rx) = mpsc::unbounded_channel();
    let (_c, cancel) = watch::channel(false);
    let sweep_future = run_sweep(&s.experiment, &s.backend, &s.options, tx, cancel);
    let chaos = async {
        while server.served().len() < 3 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        server.kill();
    };
    let (report, ()) = tokio::join!(sweep_future, chaos);
    let report = report.unwrap();
    assert_eq!(report.status, SweepStatus::BackendDown);
    assert_eq!(report.exit_code(), 4);
    assert!(report.progress.runs_stored < 6);
    assert_eq!(
        report.progress.runs_failed, 0,
        "down time is not stored as failures"
    );
    let manifest = store::read_manifest(&s.results.join("manifest.json")).unwrap();
    assert_eq!(manifest.status, SweepStatus::BackendDown);

    server.revive().unwrap();
    let (report, _) = sweep(&s.experiment, &s.backend, &s.options).await;
    assert_eq!(report.unwrap().status, SweepStatus::Finished);
    assert_exactly_once(&s.results, 6, 2);
}

#[tokio::test]
async fn an_interrupted_sweep_resumes_exactly_where_it_stopped() {
    let server = fake(FakeConfig {
        token_delay: Duration::from_millis(1),
        ..FakeConfig::default()
    })
    .await;
    let s = setup(&server, 3, "");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (cancel_tx, cancel) = watch::channel(false);
    let sweep_future = run_sweep(&s.experiment, &s.backend, &s.options, tx, cancel);
    let interrupt = async {
        let mut stored = 0;
        while let Some(event) = rx.recv().await {
            if matches!(event, Event::RunStored(_)) {
                stored += 1;
                if stored == 2 {
                    cancel_tx.send(true).unwrap();
                    break;
                }
            }
        }
    };
    let (report, ()) = tokio::join!(sweep_future, interrupt);
    let report = report.unwrap();
    assert_eq!(report.status, SweepStatus::Interrupted);
    assert_eq!(report.exit_code(), 130);
    let stored_before = report.progress.runs_stored;
    assert!((2..=3).contains(&stored_before), "stored {stored_before}");
    let manifest = store::read_manifest(&s.results.join("manifest.json")).unwrap();
    assert_eq!(manifest.status, SweepStatus::Interrupted);

    let (report, events) = sweep(&s.experiment, &s.backend, &s.options).await;
    let report = report.unwrap();
    assert_eq!(report.status, SweepStatus::Finished);
    assert!(events.contains(&Event::Started {
        planned_runs: 9,
        already_stored: stored_before,
        to_run: 9 - stored_before
    }));
    assert_exactly_once(&s.results, 9, 2);
    let manifest = store::read_manifest(&s.results.join("manifest.json")).unwrap();
    assert_eq!(manifest.sessions.len(), 2);
    assert_eq!(manifest.order_seed, 11);
    // The resumed session ran the rest in planned order.
    let rows = read_calls(&s.results);
    let order: Vec<i64> = ints(&rows, "order_index")
        .into_iter()
        .zip(bools(&rows, "is_warmup"))
        .filter(|(_, w)| *w == Some(false))
        .map(|(o, _)| o.unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test]
async fn a_changed_experiment_file_is_refused_and_force_new_moves_the_old_results_aside() {
    let server = fake(FakeConfig::default()).await;
    let s = setup(&server, 1, "");
    sweep(&s.experiment, &s.backend, &s.options)
        .await
        .0
        .unwrap();

    let changed_text = format!("{}\n# a changed file\n", s.experiment.text);
    let changed = Experiment::parse(Path::new("experiment.toml"), &changed_text, None).unwrap();
    let (result, _) = sweep(&changed, &s.backend, &s.options).await;
    let err = result.unwrap_err();
    assert!(matches!(
        err,
        Error::Store(StoreError::ExperimentChanged { .. })
    ));
    assert_eq!(err.exit_code(), 5);
    let message = err.to_string();
    assert!(
        message.contains("holds results of a different experiment file"),
        "{message}"
    );
    assert!(
        message.contains("fix: pass a new --out DIR, or --force-new"),
        "{message}"
    );

    let force = SweepOptions {
        force_new: true,
        ..s.options.clone()
    };
    let (report, _) = sweep(&changed, &s.backend, &force).await;
    let report = report.unwrap();
    let aside = report.moved_aside.expect("moved aside");
    assert!(aside.join("manifest.json").exists(), "old results kept");
    assert_eq!(report.status, SweepStatus::Finished);
}

#[tokio::test]
async fn an_unreachable_backend_fails_fast_with_the_url_and_creates_nothing() {
    let server = fake(FakeConfig::default()).await;
    let url = server.url();
    drop(server);
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(dir.path(), &experiment_text(&url, 1, ""));
    let experiment = Experiment::load(&file).unwrap();
    let backend = Ollama::new(&experiment.backend).unwrap();
    let results = dir.path().join("results");
    let options = SweepOptions {
        out: Some(results.clone()),
        ..SweepOptions::default()
    };
    let (result, _) = sweep(&experiment, &backend, &options).await;
    let err = result.unwrap_err();
    assert_eq!(err.exit_code(), 4);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot reach the backend at {url}: connect:")),
        "{message}"
    );
    assert!(
        message.contains("fix: start Ollama with `ollama serve`"),
        "{message}"
    );
    assert!(!results.exists());
}

#[tokio::test]
async fn an_unknown_model_is_reported_at_preflight() {
    let server = fake(FakeConfig {
        models: vec!["other:latest".into()],
        ..FakeConfig::default()
    })
    .await;
    let s = setup(&server, 1, "");
    let (result, _) = sweep(&s.experiment, &s.backend, &s.options).await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("model 'gemma3:latest' not found"),
        "{message}"
    );
    assert!(
        message.contains(
            "fix: the model is not on the backend: pull it first (`ollama pull <model>`)"
        ),
        "{message}"
    );
}
