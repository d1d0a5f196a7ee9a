//! The stored Parquet files read in pyarrow and duckdb, the tools users analyse results with.
//! CI installs both (`.ci/run`); elsewhere the test says it skipped when they are missing.

mod common;

use std::process::Command;

use chimera_sweep::backend::ollama::Ollama;
use chimera_sweep::experiment::Experiment;
use chimera_sweep::fake_ollama::{FakeConfig, FakeOllama};
use chimera_sweep::sweep::SweepOptions;
use common::*;

const CHECK: &str = r#"
import sys, glob
import pyarrow.parquet as pq, duckdb
folder = sys.argv[1]
files = sorted(glob.glob(folder + "/calls/*.parquet"))
rows = sum(pq.read_table(f).num_rows for f in files)
table = pq.read_table(files[0])
assert table.schema.field("started_at").type.tz == "UTC", table.schema
db = duckdb.connect().execute(f"select count(*), count(distinct run_id) filter (where not is_warmup), avg(tokens_per_s), min(num_ctx) from '{folder}/calls/*.parquet'").fetchone()
print(rows, db[0], db[1], db[2], db[3])
"#;

fn python_has_modules() -> bool {
    Command::new("python3")
        .args(["-c", "import pyarrow, duckdb"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn pyarrow_and_duckdb_read_the_calls_table() {
    if !python_has_modules() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install pyarrow and duckdb (see .ci/run)"
        );
        eprintln!("skipped: python3 with pyarrow and duckdb is not installed");
        return;
    }
    let server = FakeOllama::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(dir.path(), &experiment_text(&server.url(), 2, ""));
    let experiment = Experiment::load(&file).unwrap();
    let backend = Ollama::new(&experiment.backend).unwrap();
    let out = dir.path().join("results");
    let options = SweepOptions {
        out: Some(out.clone()),
        ..SweepOptions::default()
    };
    sweep(&experiment, &backend, &options).await.0.unwrap();
    let rows = read_calls(&out).height();

    let output = Command::new("python3")
        .args(["-c", CHECK, out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(printed.trim(), format!("{rows} {rows} 6 100.0 512"));
}
