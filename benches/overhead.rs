//! Harness overhead and store throughput, measured in one run (ratios and percentiles, no
//! asserted times): `cargo bench --bench overhead`.
//!
//! - Overhead per call: client end-to-end time minus the server's own time, against the
//!   fake Ollama on loopback reporting its real handler time. Target: p50 <= 0.3 ms.
//! - Store: runs committed per second (one fsynced Parquet segment each), and compaction.

use std::time::{Duration, Instant};

use chimera_sweep::backend::ollama::Ollama;
use chimera_sweep::experiment::Experiment;
use chimera_sweep::fake_ollama::{FakeConfig, FakeOllama};
use chimera_sweep::store::{self, Store};
use chimera_sweep::sweep::{SweepOptions, run_sweep};
use polars::prelude::*;
use tokio::sync::{mpsc, watch};

const CALLS: usize = 2000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

fn main() {
    // A fake Ollama in its own process, as a real backend is.
    let port = 11499;
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_chimera"))
        .args([
            "fake-ollama",
            "--port",
            &port.to_string(),
            "--tokens",
            "16",
            "--token-delay-ms",
            "0",
            "--real-timing",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chimera fake-ollama");
    std::thread::sleep(Duration::from_millis(500));
    let url = format!("http://127.0.0.1:{port}");
    let runs: [(&str, Option<String>, bool); 4] = [
        (
            "server in its own process, current-thread client (as `chimera run`)",
            Some(url.clone()),
            false,
        ),
        (
            "server in its own process, multi-thread client with 2 workers",
            Some(url),
            true,
        ),
        (
            "server in-process, current-thread runtime (both interleave on one thread)",
            None,
            false,
        ),
        (
            "server in-process, multi-thread runtime with 2 workers",
            None,
            true,
        ),
    ];
    for (name, url, multi) in runs {
        println!("== {name}");
        let runtime = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        };
        runtime.expect("runtime").block_on(measure(url));
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// Runs a sweep against `url` (or an in-process fake server) and prints overhead
/// percentiles and store throughput.
async fn measure(url: Option<String>) {
    let in_process = match url {
        Some(_) => None,
        None => Some(
            FakeOllama::start(FakeConfig {
                tokens: 16,
                token_delay: Duration::ZERO,
                empty_first_chunk: true,
                real_timing: true,
                models: Vec::new(),
                replies: Vec::new(),
            })
            .await
            .expect("fake server"),
        ),
    };
    let url = url.unwrap_or_else(|| in_process.as_ref().map(FakeOllama::url).unwrap_or_default());
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        r#"
[experiment]
name = "bench"
repetitions = {CALLS}
warmup = 0
order = "sequential"
seed = 1
[backend]
url = "{url}"
model = "bench"
[workload]
prompts = ["Measure the harness"]
num_predict = 16
"#
    );
    let file = dir.path().join("bench.toml");
    std::fs::write(&file, text).expect("write experiment");
    let experiment = Experiment::load(&file).expect("experiment");
    let backend = Ollama::new(&experiment.backend).expect("backend");
    let out = dir.path().join("results");
    let options = SweepOptions {
        out: Some(out.clone()),
        ..SweepOptions::default()
    };
    let (tx, rx) = mpsc::unbounded_channel();
    drop(rx);
    let (_cancel_tx, cancel) = watch::channel(false);
    let started = Instant::now();
    let report = run_sweep(&experiment, &backend, &options, tx, cancel)
        .await
        .expect("sweep");
    let sweep_s = started.elapsed().as_secs_f64();
    assert_eq!(report.progress.runs_ok, CALLS);

    let files = store::data_files(&out.join("calls")).expect("files");
    let frame = ParquetReader::new(std::fs::File::open(&files[0]).expect("open"))
        .finish()
        .expect("read");
    let e2e = frame.column("e2e_ms").unwrap().f64().unwrap().clone();
    let total = frame.column("total_ms").unwrap().f64().unwrap().clone();
    let mut overhead: Vec<f64> = e2e
        .iter()
        .zip(total.iter())
        .filter_map(|(e, t)| Some(e? - t?))
        .collect();
    overhead.sort_by(f64::total_cmp);
    let mut e2e_sorted: Vec<f64> = e2e.iter().flatten().collect();
    e2e_sorted.sort_by(f64::total_cmp);

    println!(
        "harness overhead per call (client e2e - server time), {} calls on loopback:",
        overhead.len()
    );
    println!(
        "  p50 {:.3} ms   p90 {:.3} ms   p99 {:.3} ms   (e2e p50 {:.3} ms)   target p50 <= 0.300 ms: {}",
        percentile(&overhead, 50.0),
        percentile(&overhead, 90.0),
        percentile(&overhead, 99.0),
        percentile(&e2e_sorted, 50.0),
        if percentile(&overhead, 50.0) <= 0.3 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "  whole sweep: {CALLS} runs in {sweep_s:.2} s = {:.0} runs/s including one fsynced segment per run",
        CALLS as f64 / sweep_s
    );

    // Store throughput alone: commit the same records again into a fresh folder.
    let store_dir = dir.path().join("store");
    let plan = chimera_sweep::plan::Plan::build(&experiment, 1);
    let (existing, _) = store::inspect(&store_dir, &experiment, false).expect("inspect");
    let mut store =
        Store::open(&store_dir, &experiment, &plan, existing, Default::default()).expect("store");
    let record = sample_record(&plan);
    let commits = 1000;
    let started = Instant::now();
    for i in 0..commits {
        let mut r = record.clone();
        r.run_id = plan.runs[i].run_id.clone();
        store
            .commit(&store::RunOutput {
                calls: vec![r],
                ..Default::default()
            })
            .expect("commit");
    }
    let commit_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let rows = store.compact().expect("compact");
    let compact_s = started.elapsed().as_secs_f64();
    println!(
        "store: {commits} commits in {commit_s:.2} s = {:.0} runs/s ({:.2} ms per fsynced segment); compaction of {rows} rows from {commits} files: {compact_s:.2} s",
        commits as f64 / commit_s,
        commit_s * 1e3 / commits as f64
    );
    println!(
        "machine load (1 min) at the end: {:?}",
        chimera_sweep::env::load_average()
    );
}

fn sample_record(plan: &chimera_sweep::plan::Plan) -> store::CallRecord {
    let cell = &plan.cells[0];
    store::CallRecord {
        session: 1,
        run_id: String::new(),
        cell_id: cell.id.clone(),
        agent: cell.agent.clone(),
        repetition: 0,
        block: 0,
        order_index: 0,
        is_warmup: false,
        call_index: 0,
        call_kind: "prompt".into(),
        model: cell.model.clone(),
        options: cell.options.clone(),
        started_at: chrono::Utc::now(),
        metrics: Some(Default::default()),
        reloaded: false,
        attempt: 1,
        error: None,
        response: Some("tok ".repeat(64)),
        done_reason: Some("stop".into()),
        loaded: None,
        load_avg_1m: None,
    }
}
