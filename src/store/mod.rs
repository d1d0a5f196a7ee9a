//! The results folder: `experiment.toml`, `manifest.json` and `calls/*.parquet`.
//!
//! Crash safety rests on three rules:
//! - a run is committed as one segment file, written under a temporary name, fsynced and
//!   renamed, so a reader sees a run whole or not at all (a killed process leaves only a
//!   `*.tmp` file, removed at the next open);
//! - segments are named `<session>-<seq>.parquet` and compacted files
//!   `<session>-compacted.parquet`, so file names sort in commit order: when a run is
//!   stored twice (`--retry-failed`), the later file wins;
//! - a compacted file contains every file that sorts before it, so once it is renamed into
//!   place those files are redundant, and `open` deletes any that a crash left behind.

mod manifest;
mod record;
mod run_record;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;
use polars::prelude::*;
use rayon::prelude::*;

pub use manifest::{Manifest, PlanCounts, Progress, Session, SweepStatus};
pub use record::{CallRecord, to_dataframe};
pub use run_record::{RunOutput, RunRecord, runs_dataframe};

use crate::env::Environment;
use crate::experiment::Experiment;
use crate::plan::{OptionColumn, Plan};

pub const MANIFEST: &str = "manifest.json";
pub const EXPERIMENT_COPY: &str = "experiment.toml";
pub const CALLS_DIR: &str = "calls";
pub const RUNS_DIR: &str = "runs";
pub const REPORTS_DIR: &str = "reports";
const COMPACTED_SUFFIX: &str = "-compacted.parquet";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parquet { path: PathBuf, source: PolarsError },
    #[error(
        "{path}: unreadable manifest ({source}); fix: move the folder aside or pass a new --out DIR"
    )]
    Manifest {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{dir} holds results of a different experiment file (hash {found:.12} there, {expected:.12} now)\n  fix: pass a new --out DIR, or --force-new to move the old results aside and start again"
    )]
    ExperimentChanged {
        dir: PathBuf,
        found: String,
        expected: String,
    },
    #[error(
        "{dir} exists but is not a chimera results folder (no {MANIFEST})\n  fix: pass a new --out DIR, or --force-new to move it aside"
    )]
    NotResults { dir: PathBuf },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a folder already holds before a session starts.
#[derive(Debug)]
pub enum Existing {
    /// No folder (or an empty one): a fresh sweep.
    Fresh,
    /// A folder of this same experiment file: resume it.
    Resume(Box<Manifest>),
}

/// Checks that `dir` can take this experiment: fresh, or written by the same file.
/// With `force_new`, an existing folder is renamed to `<dir>.old-<timestamp>` (nothing is
/// deleted) and the returned path is where it went.
pub fn inspect(
    dir: &Path,
    experiment: &Experiment,
    force_new: bool,
) -> Result<(Existing, Option<PathBuf>), StoreError> {
    let has_content = dir.exists() && fs::read_dir(dir).map_err(io(dir))?.next().is_some();
    if !has_content {
        return Ok((Existing::Fresh, None));
    }
    if force_new {
        let aside = PathBuf::from(format!(
            "{}.old-{}",
            dir.display(),
            Utc::now().format("%Y%m%dT%H%M%S")
        ));
        fs::rename(dir, &aside).map_err(io(dir))?;
        return Ok((Existing::Fresh, Some(aside)));
    }
    let manifest_path = dir.join(MANIFEST);
    if !manifest_path.exists() {
        // A session killed between creating the folder and writing its manifest left no
        // data: start afresh there. Anything else is not ours to overwrite.
        if is_abandoned_start(dir)? {
            return Ok((Existing::Fresh, None));
        }
        return Err(StoreError::NotResults {
            dir: dir.to_path_buf(),
        });
    }
    let manifest = read_manifest(&manifest_path)?;
    if manifest.experiment_hash != experiment.hash {
        return Err(StoreError::ExperimentChanged {
            dir: dir.to_path_buf(),
            found: manifest.experiment_hash,
            expected: experiment.hash.clone(),
        });
    }
    Ok((Existing::Resume(Box::new(manifest)), None))
}

/// Only what `Store::open` writes before the manifest: the experiment copy, an empty
/// calls folder, temporary files.
fn is_abandoned_start(dir: &Path) -> Result<bool, StoreError> {
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name == EXPERIMENT_COPY
            || name.ends_with(".tmp")
            || name == REPORTS_DIR
            || ((name == CALLS_DIR || name == RUNS_DIR) && data_files(&entry.path())?.is_empty());
        if !ours {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn read_manifest(path: &Path) -> Result<Manifest, StoreError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|source| StoreError::Manifest {
        path: path.to_path_buf(),
        source,
    })
}

/// A stored run: whether its latest version succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRun {
    pub ok: bool,
}

/// An open results folder for one session of `chimera run`.
pub struct Store {
    dir: PathBuf,
    calls: PathBuf,
    runs: PathBuf,
    reports: PathBuf,
    option_columns: Vec<OptionColumn>,
    session: u32,
    next_seq: u32,
    manifest: Manifest,
}

impl Store {
    /// Creates the folder (fresh) or reopens it (resume), starts a new session in the
    /// manifest, and cleans what a crash may have left (temporary and redundant files).
    pub fn open(
        dir: &Path,
        experiment: &Experiment,
        plan: &Plan,
        existing: Existing,
        environment: Environment,
    ) -> Result<Store, StoreError> {
        let calls = dir.join(CALLS_DIR);
        let runs = dir.join(RUNS_DIR);
        let reports = dir.join(REPORTS_DIR);
        for folder in [&calls, &runs, &reports] {
            fs::create_dir_all(folder).map_err(io(folder))?;
        }
        let now = Utc::now();
        let mut manifest = match existing {
            Existing::Resume(manifest) => *manifest,
            Existing::Fresh => {
                write_atomic(&dir.join(EXPERIMENT_COPY), experiment.text.as_bytes())?;
                Manifest {
                    experiment: experiment.name.clone(),
                    experiment_hash: experiment.hash.clone(),
                    chimera_version: env!("CARGO_PKG_VERSION").to_owned(),
                    status: SweepStatus::Running,
                    started_at: now,
                    finished_at: None,
                    order: plan.order.as_str().to_owned(),
                    order_seed: plan.seed,
                    seed_from_file: experiment.seed.is_some(),
                    plan: PlanCounts {
                        cells: plan.cells.len(),
                        runs: plan.runs.len(),
                        calls_per_run: plan.calls_per_run,
                        measured_calls: plan.measured_calls(),
                        warmup_calls: plan.warmup_calls(),
                        model_loads: plan.reloads,
                    },
                    progress: Progress::default(),
                    sessions: Vec::new(),
                }
            }
        };
        let session = manifest.current_session() + 1;
        manifest.status = SweepStatus::Running;
        manifest.finished_at = None;
        manifest.chimera_version = env!("CARGO_PKG_VERSION").to_owned();
        manifest.sessions.push(Session {
            number: session,
            started_at: now,
            ended_at: None,
            status: SweepStatus::Running,
            runs_stored: 0,
            environment,
        });
        let store = Store {
            dir: dir.to_path_buf(),
            calls,
            runs,
            reports,
            option_columns: plan.option_columns.clone(),
            session,
            next_seq: 1,
            manifest,
        };
        store.recover()?;
        store.write_manifest()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn session(&self) -> u32 {
        self.session
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Undoes what a crash can leave: torn writes (`*.tmp`), files made redundant by a
    /// compacted file, and the parts of a run written before its calls segment (the commit
    /// point): a runs segment or a report without stored calls.
    fn recover(&self) -> Result<(), StoreError> {
        recover_table(&self.calls)?;
        recover_table(&self.runs)?;
        let committed: std::collections::HashSet<String> = data_files(&self.calls)?
            .iter()
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .collect();
        for path in data_files(&self.runs)? {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !name.ends_with(COMPACTED_SUFFIX) && !committed.contains(name) {
                fs::remove_file(&path).map_err(io(&path))?;
            }
        }
        let stored = self.stored_runs()?;
        for entry in fs::read_dir(&self.reports).map_err(io(&self.reports))? {
            let path = entry.map_err(io(&self.reports))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let run_id = name.strip_suffix(".md").unwrap_or(name);
            if name.ends_with(".tmp") || !stored.contains_key(run_id) {
                fs::remove_file(&path).map_err(io(&path))?;
            }
        }
        Ok(())
    }

    /// Committed data files in commit order.
    pub fn data_files(&self) -> Result<Vec<PathBuf>, StoreError> {
        data_files(&self.calls)
    }

    /// The measured runs already stored, each with the status of its latest version.
    pub fn stored_runs(&self) -> Result<HashMap<String, StoredRun>, StoreError> {
        let files = self.data_files()?;
        let per_file: Vec<Vec<(String, bool)>> = io_pool().install(|| {
            files
                .par_iter()
                .map(|path| read_run_status(path))
                .collect::<Result<_, _>>()
        })?;
        let mut runs: HashMap<String, StoredRun> = HashMap::new();
        for rows in per_file {
            // A run's rows live in one file; across files the later one wins.
            let mut in_file: HashMap<String, bool> = HashMap::new();
            for (run_id, ok) in rows {
                let entry = in_file.entry(run_id).or_insert(true);
                *entry &= ok;
            }
            for (run_id, ok) in in_file {
                runs.insert(run_id, StoredRun { ok });
            }
        }
        Ok(runs)
    }

    /// Commits one run (or one warm-up). Its report and runs row are written first; the
    /// calls segment, renamed into place last, is the commit point. Returns its path.
    pub fn commit(&mut self, output: &RunOutput) -> Result<PathBuf, StoreError> {
        let name = format!("{:04}-{:06}.parquet", self.session, self.next_seq);
        self.next_seq += 1;
        if let (Some(report), Some(run)) = (&output.report, &output.run) {
            write_atomic(
                &self.reports.join(format!("{}.md", run.run_id)),
                report.as_bytes(),
            )?;
        }
        if let Some(run) = &output.run {
            let path = self.runs.join(&name);
            let mut frame = runs_dataframe(std::slice::from_ref(run), &self.option_columns)
                .map_err(|source| StoreError::Parquet {
                    path: path.clone(),
                    source,
                })?;
            write_parquet_atomic(&path, &mut frame)?;
        }
        let path = self.calls.join(name);
        let mut frame = to_dataframe(&output.calls, &self.option_columns).map_err(|source| {
            StoreError::Parquet {
                path: path.clone(),
                source,
            }
        })?;
        write_parquet_atomic(&path, &mut frame)?;
        if output.calls.first().is_some_and(|c| !c.is_warmup)
            && let Some(session) = self.manifest.sessions.last_mut()
        {
            session.runs_stored += 1;
        }
        Ok(path)
    }

    /// Compacts the calls and runs tables (see `compact_table`). Returns the calls rows kept.
    pub fn compact(&mut self) -> Result<usize, StoreError> {
        // Runs first: until the calls are compacted, their segments still vouch for the runs.
        let target = format!("{:04}{COMPACTED_SUFFIX}", self.session);
        compact_table(&self.runs, &target)?;
        compact_table(&self.calls, &target)
    }

    /// Records the session's outcome and the overall progress.
    pub fn finish(&mut self, status: SweepStatus, progress: Progress) -> Result<(), StoreError> {
        let now = Utc::now();
        self.manifest.status = status;
        self.manifest.progress = progress;
        if matches!(
            status,
            SweepStatus::Finished | SweepStatus::FinishedWithFailures
        ) {
            self.manifest.finished_at = Some(now);
        }
        if let Some(session) = self.manifest.sessions.last_mut() {
            session.ended_at = Some(now);
            session.status = status;
        }
        self.write_manifest()
    }

    fn write_manifest(&self) -> Result<(), StoreError> {
        let path = self.dir.join(MANIFEST);
        let text =
            serde_json::to_vec_pretty(&self.manifest).map_err(|source| StoreError::Manifest {
                path: path.clone(),
                source,
            })?;
        write_atomic(&path, &text)
    }
}

/// The thread pool that reads data files in parallel. Its threads get large stacks: decoding
/// Parquet metadata takes deep frames, and rayon nests stolen tasks on the same stack, which
/// overflowed the default 2 MiB when compacting a few thousand segments.
fn io_pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("chimera-store-{i}"))
            .stack_size(32 << 20)
            .build()
            .unwrap_or_else(|_| {
                // Without a dedicated pool, fall back to a single thread in place.
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .use_current_thread()
                    .build()
                    .expect("a single-thread pool on the current thread")
            })
    })
}

/// Merges every data file of a table folder into `target`, keeping only the latest version
/// of each run, then deletes the merged files. Returns the number of rows kept.
fn compact_table(folder: &Path, target: &str) -> Result<usize, StoreError> {
    let files = data_files(folder)?;
    if files.is_empty() {
        return Ok(0);
    }
    let frames: Vec<DataFrame> = io_pool().install(|| {
        files
            .par_iter()
            .map(|path| read_parquet(path))
            .collect::<Result<_, _>>()
    })?;
    let target = folder.join(target);
    let parquet_error = |source| StoreError::Parquet {
        path: target.clone(),
        source,
    };
    let latest_file = latest_file_per_run(&frames).map_err(parquet_error)?;
    let mut merged: Option<DataFrame> = None;
    for (index, frame) in frames.iter().enumerate() {
        let run_ids = frame
            .column("run_id")
            .and_then(|c| c.str().cloned())
            .map_err(parquet_error)?;
        let mask: BooleanChunked = run_ids
            .iter()
            .map(|id| id.is_some_and(|id| latest_file.get(id) == Some(&index)))
            .collect();
        let kept = frame.filter(&mask).map_err(parquet_error)?;
        match merged.as_mut() {
            None => merged = Some(kept),
            Some(all) => {
                all.vstack_mut_owned(kept).map_err(parquet_error)?;
            }
        }
    }
    let mut merged = merged.unwrap_or_default();
    merged.rechunk_mut();
    let rows = merged.height();
    write_parquet_atomic(&target, &mut merged)?;
    for path in files.iter().filter(|p| **p != target) {
        fs::remove_file(path).map_err(io(path))?;
    }
    sync_dir(folder)?;
    Ok(rows)
}

/// Removes torn writes (`*.tmp`) and files made redundant by a compacted file (which holds
/// every file that sorts before it).
fn recover_table(folder: &Path) -> Result<(), StoreError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(folder).map_err(io(folder))? {
        let path = entry.map_err(io(folder))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.ends_with(".tmp") {
            fs::remove_file(&path).map_err(io(&path))?;
        } else if name.ends_with(".parquet") {
            files.push(name);
        }
    }
    files.sort();
    if let Some(latest_compacted) = files.iter().rev().find(|n| n.ends_with(COMPACTED_SUFFIX)) {
        for name in files.iter().filter(|n| *n < latest_compacted) {
            let path = folder.join(name);
            fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Committed `*.parquet` files of a calls folder, in commit order.
pub fn data_files(calls: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut files = Vec::new();
    if !calls.exists() {
        return Ok(files);
    }
    for entry in fs::read_dir(calls).map_err(io(calls))? {
        let path = entry.map_err(io(calls))?.path();
        if path.extension().is_some_and(|e| e == "parquet") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Which file (by index) holds the latest version of each run.
fn latest_file_per_run(frames: &[DataFrame]) -> PolarsResult<HashMap<String, usize>> {
    let mut latest = HashMap::new();
    for (index, frame) in frames.iter().enumerate() {
        for id in frame.column("run_id")?.str()?.iter().flatten() {
            latest.insert(id.to_owned(), index);
        }
    }
    Ok(latest)
}

fn read_parquet(path: &Path) -> Result<DataFrame, StoreError> {
    let file = File::open(path).map_err(io(path))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|source| StoreError::Parquet {
            path: path.to_path_buf(),
            source,
        })
}

/// (run_id, ok) for every measured call of a file.
fn read_run_status(path: &Path) -> Result<Vec<(String, bool)>, StoreError> {
    let parquet_error = |source| StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io(path))?;
    let frame = ParquetReader::new(file)
        .with_columns(Some(vec![
            "run_id".into(),
            "is_warmup".into(),
            "status".into(),
        ]))
        .finish()
        .map_err(parquet_error)?;
    let run_ids = frame
        .column("run_id")
        .and_then(|c| c.str().cloned())
        .map_err(parquet_error)?;
    let warmups = frame
        .column("is_warmup")
        .and_then(|c| c.bool().cloned())
        .map_err(parquet_error)?;
    let statuses = frame
        .column("status")
        .and_then(|c| c.str().cloned())
        .map_err(parquet_error)?;
    Ok(run_ids
        .iter()
        .zip(warmups.iter())
        .zip(statuses.iter())
        .filter_map(|((id, warmup), status)| match (id, warmup) {
            (Some(id), Some(false)) => Some((id.to_owned(), status == Some("ok"))),
            _ => None,
        })
        .collect())
}

fn write_parquet_atomic(path: &Path, frame: &mut DataFrame) -> Result<(), StoreError> {
    let tmp = tmp_path(path);
    let file = File::create(&tmp).map_err(io(&tmp))?;
    let file = {
        let mut file = file;
        ParquetWriter::new(&mut file)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(frame)
            .map_err(|source| StoreError::Parquet {
                path: tmp.clone(),
                source,
            })?;
        file
    };
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Writes a whole file under a temporary name, fsyncs and renames it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = tmp_path(path);
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Makes a rename durable: the directory entry itself must reach the disk.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests;
