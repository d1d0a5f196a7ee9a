//! `chimera report` over a million call rows: `cargo bench --bench report`.
//!
//! Generates a synthetic results folder (80 cells: num_gpu × num_ctx × temperature × two
//! agents, blocked, two calls per run; 10 Parquet segments of 100,000 calls), then times
//! the real binary on it, end to end and per stage. Goal: ≤ 3 s on 2 cores. Nothing is
//! asserted: times on shared machines are noisy. `CHIMERA_BENCH_ROWS` changes the size;
//! `CHIMERA_BENCH_DIR` (which must not exist yet) keeps the data and charts.

use std::process::Command;
use std::time::Instant;

use chimera_sweep::synthetic::{self, SyntheticStudy};

fn main() {
    let rows: usize = std::env::var("CHIMERA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let cells = 5 * 4 * 2 * 2;
    let repetitions = rows.div_ceil(cells * 2).max(1);
    let experiment = format!(
        r#"
[experiment]
name = "bench-report"
repetitions = {repetitions}
warmup = 1
order = "blocked"
seed = 3

[backend]
kind = "ollama"
url = "http://127.0.0.1:9"
model = "gemma3:latest"

[grid]
num_gpu = [0, 20, 40, 60, 80]
num_ctx = [1024, 2048, 4096, 8192]
temperature = [0.2, 0.8]

[workload]
prompts = ["Summarise the results", "Explain the bottleneck"]
num_predict = 128

[[agent]]
name = "baseline"

[[agent]]
name = "chimera"
options = {{ top_k = 40 }}
"#
    );
    // CHIMERA_BENCH_DIR keeps the folder (and the charts) for a look afterwards.
    let tmp = tempfile::tempdir().expect("temporary folder");
    let base = std::env::var_os("CHIMERA_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let results = base.join("results");
    let mut study = SyntheticStudy::new(experiment);
    study.calls_per_segment = 100_000;
    study.failure_every = Some(997);
    let started = Instant::now();
    let measured = synthetic::write(&results, &study).expect("synthetic study");
    println!(
        "generated {measured} measured calls ({cells} cells × {repetitions} repetitions × 2) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    for (label, extra) in [
        ("full report", &[][..]),
        ("without plots", &["--no-plots"][..]),
    ] {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_chimera"))
            .arg("report")
            .arg(&results)
            .arg("--plots")
            .arg(base.join("plots"))
            .args(extra)
            .output()
            .expect("run chimera report");
        let wall = started.elapsed().as_secs_f64();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "chimera report failed:\n{stderr}");
        let stages = stderr
            .lines()
            .find(|l| l.starts_with("report:"))
            .unwrap_or_default();
        println!("{label}: {wall:.2} s wall (goal ≤ 3 s) — {stages}");
    }
}
