use std::path::Path;

use chrono::Utc;

use super::*;
use crate::backend::{CallError, CallMetrics, ErrorKind};
use crate::experiment::Experiment;

const TEXT: &str = r#"
[experiment]
name = "store-test"
repetitions = 2
seed = 3
[backend]
model = "m"
[grid]
num_ctx = [512, 1024]
[workload]
prompts = ["p"]
"#;

fn fixture(dir: &Path) -> (Experiment, Plan, Store) {
    let experiment = Experiment::parse(Path::new("e.toml"), TEXT, None).unwrap();
    let plan = Plan::build(&experiment, 3);
    let store = open(dir, &experiment, &plan);
    (experiment, plan, store)
}

fn open(dir: &Path, experiment: &Experiment, plan: &Plan) -> Store {
    let (existing, _) = inspect(dir, experiment, false).unwrap();
    Store::open(dir, experiment, plan, existing, Environment::default()).unwrap()
}

fn calls(record: CallRecord) -> RunOutput {
    RunOutput {
        calls: vec![record],
        ..RunOutput::default()
    }
}

fn record(plan: &Plan, run: usize, ok: bool) -> CallRecord {
    let planned = &plan.runs[run];
    let cell = &plan.cells[planned.cell];
    CallRecord {
        session: 1,
        run_id: planned.run_id.clone(),
        cell_id: cell.id.clone(),
        agent: cell.agent.clone(),
        repetition: planned.repetition,
        block: planned.block,
        order_index: planned.order_index,
        is_warmup: false,
        call_index: 0,
        call_kind: "prompt".into(),
        model: cell.model.clone(),
        options: cell.options.clone(),
        started_at: Utc::now(),
        metrics: ok.then(|| CallMetrics {
            e2e_ms: 10.0,
            ..CallMetrics::default()
        }),
        reloaded: false,
        attempt: 1,
        error: (!ok).then(|| CallError::new(ErrorKind::Server, "HTTP 500")),
        response: ok.then(|| "text".to_owned()),
        done_reason: None,
        loaded: None,
        load_avg_1m: None,
    }
}

#[test]
fn a_committed_run_is_found_again_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (experiment, plan, mut store) = fixture(dir.path());
    store.commit(&calls(record(&plan, 0, true))).unwrap();
    store.commit(&calls(record(&plan, 1, false))).unwrap();
    drop(store);
    let store = open(dir.path(), &experiment, &plan);
    assert_eq!(store.session(), 2);
    let stored = store.stored_runs().unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[&plan.runs[0].run_id], StoredRun { ok: true });
    assert_eq!(stored[&plan.runs[1].run_id], StoredRun { ok: false });
}

#[test]
fn torn_writes_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let (experiment, plan, store) = fixture(dir.path());
    drop(store);
    let torn = dir.path().join(CALLS_DIR).join("0001-000001.parquet.tmp");
    std::fs::write(&torn, b"PAR1 half a file").unwrap();
    let store = open(dir.path(), &experiment, &plan);
    assert!(!torn.exists());
    assert!(store.stored_runs().unwrap().is_empty());
}

#[test]
fn a_later_version_of_a_run_wins_and_compaction_keeps_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_, plan, mut store) = fixture(dir.path());
    store.commit(&calls(record(&plan, 0, false))).unwrap();
    store.commit(&calls(record(&plan, 1, true))).unwrap();
    store.commit(&calls(record(&plan, 0, true))).unwrap();
    assert_eq!(
        store.stored_runs().unwrap()[&plan.runs[0].run_id],
        StoredRun { ok: true }
    );
    assert_eq!(
        store.compact().unwrap(),
        2,
        "the superseded failure is dropped"
    );
    let files = store.data_files().unwrap();
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with("0001-compacted.parquet"));
    let stored = store.stored_runs().unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.values().all(|run| run.ok));
}

#[test]
fn files_left_behind_a_compacted_file_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let (experiment, plan, mut store) = fixture(dir.path());
    let first = store.commit(&calls(record(&plan, 0, true))).unwrap();
    let kept = std::fs::read(&first).unwrap();
    store.compact().unwrap();
    // A crash between renaming the compacted file and deleting its inputs:
    std::fs::write(&first, kept).unwrap();
    drop(store);
    let store = open(dir.path(), &experiment, &plan);
    assert!(!first.exists());
    assert_eq!(store.data_files().unwrap().len(), 1);
    assert_eq!(store.stored_runs().unwrap().len(), 1);
}

#[test]
fn a_folder_of_another_experiment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, store) = fixture(dir.path());
    drop(store);
    let other = Experiment::parse(
        Path::new("e.toml"),
        &TEXT.replace("[512, 1024]", "[512]"),
        None,
    )
    .unwrap();
    let err = inspect(dir.path(), &other, false).unwrap_err();
    assert!(matches!(err, StoreError::ExperimentChanged { .. }));
    std::fs::write(dir.path().join("unrelated.txt"), "x").unwrap();
    std::fs::remove_file(dir.path().join(MANIFEST)).unwrap();
    let err = inspect(dir.path(), &other, false).unwrap_err();
    assert!(matches!(err, StoreError::NotResults { .. }));
}
