//! Reading a results folder for a report: the manifest, the experiment copy (rebuilt into
//! its plan, which names every cell's factors), and the calls and runs tables.
//!
//! Tables are read with lazy polars scans over every committed Parquet file, projected to
//! the columns a report needs (never the stored responses). A run stored twice
//! (`--retry-failed`) keeps only its version from the latest file, exactly as the sweep
//! itself sees it. The folder may belong to a sweep that is still running or was
//! interrupted: whatever is committed is read, and the manifest says how much is missing.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::ReportError;
use super::metrics::{Metric, Table};
use crate::experiment::Experiment;
use crate::plan::Plan;
use crate::store::{self, CALLS_DIR, EXPERIMENT_COPY, MANIFEST, Manifest, RUNS_DIR};

/// One results folder: what it planned and what it holds.
#[derive(Debug)]
pub struct Source {
    /// Short name for tables and legends: the folder's name.
    pub name: String,
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub experiment: Experiment,
    pub plan: Plan,
}

impl Source {
    pub fn open(dir: &Path) -> Result<Source, ReportError> {
        let manifest_path = dir.join(MANIFEST);
        if !manifest_path.exists() {
            return Err(ReportError::NotResults {
                dir: dir.to_path_buf(),
            });
        }
        let manifest = store::read_manifest(&manifest_path)?;
        let experiment_path = dir.join(EXPERIMENT_COPY);
        let text = std::fs::read_to_string(&experiment_path).map_err(|source| ReportError::Io {
            path: experiment_path.clone(),
            source,
        })?;
        let experiment = Experiment::parse_stored(&experiment_path, &text)?;
        let plan = Plan::build(&experiment, manifest.order_seed);
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        Ok(Source {
            name,
            dir: dir.to_path_buf(),
            manifest,
            experiment,
            plan,
        })
    }
}

/// Which rows enter statistics besides measured calls that did not pay a model load.
/// (All rows are read: timelines mark reloads even when their calls are excluded.)
#[derive(Debug, Clone, Copy, Default)]
pub struct RowFilter {
    pub include_warmup: bool,
    pub include_reloads: bool,
}

impl RowFilter {
    pub fn admits(&self, warmup: bool, reloaded: bool) -> bool {
        (self.include_warmup || !warmup) && (self.include_reloads || !reloaded)
    }
}

/// The rows of one table of one folder, column by column, after filtering and
/// deduplication. Failed rows are kept (counted, never averaged); their metrics are null.
#[derive(Debug, Default)]
pub struct Rows {
    /// The distinct cell ids met, indexed by `cell`.
    pub cells: Vec<String>,
    /// Per row: its cell, as an index into `cells`.
    pub cell: Vec<u32>,
    /// Distinct runs with at least one row here, and how many of them have a failed row.
    pub runs: usize,
    pub failed_runs: usize,
    pub ok: Vec<bool>,
    pub block: Vec<u32>,
    /// 0 for runs rows: a run has one row.
    pub call_index: Vec<u32>,
    /// Milliseconds since the epoch: execution order across sessions.
    pub started_ms: Vec<i64>,
    pub reloaded: Vec<bool>,
    pub warmup: Vec<bool>,
    /// One column per requested metric of this table, in request order.
    pub metrics: Vec<(&'static Metric, Vec<Option<f64>>)>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.cell.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cell.is_empty()
    }
}

/// Reads one table of a folder. Missing folders (no runs table for a plain workload, a
/// sweep that has not committed anything yet) give empty rows.
pub fn read_rows(
    dir: &Path,
    table: Table,
    metrics: &[&'static Metric],
) -> Result<Rows, ReportError> {
    let folder = dir.join(match table {
        Table::Calls => CALLS_DIR,
        Table::Runs => RUNS_DIR,
    });
    read_listed(&folder, table, metrics, || store::data_files(&folder))
}

/// How often a scan is retried when a sweep running beside the report removed files
/// between listing and reading them (compaction replaces segments by one file).
const LISTING_ATTEMPTS: usize = 3;

fn read_listed(
    folder: &Path,
    table: Table,
    metrics: &[&'static Metric],
    mut list: impl FnMut() -> Result<Vec<PathBuf>, store::StoreError>,
) -> Result<Rows, ReportError> {
    let wanted: Vec<&'static Metric> = metrics
        .iter()
        .copied()
        .filter(|metric| metric.table == table)
        .collect();
    let mut attempt = 1;
    loop {
        let files = list()?;
        if files.is_empty() {
            return Ok(Rows {
                metrics: wanted.iter().map(|m| (*m, Vec::new())).collect(),
                ..Rows::default()
            });
        }
        let frame = match scan(&files, table, &wanted) {
            Ok(frame) => frame,
            Err(_) if attempt < LISTING_ATTEMPTS && files.iter().any(|f| !f.exists()) => {
                attempt += 1;
                continue;
            }
            Err(source) => {
                return Err(ReportError::Parquet {
                    path: folder.to_path_buf(),
                    source,
                });
            }
        };
        return rows_from_frame(&frame, table, &wanted).map_err(|source| ReportError::Parquet {
            path: folder.to_path_buf(),
            source,
        });
    }
}

const FILE_COLUMN: &str = "__file";

fn scan(files: &[PathBuf], table: Table, metrics: &[&'static Metric]) -> PolarsResult<DataFrame> {
    let paths = files
        .iter()
        .map(|path| PlRefPath::try_from_path(path))
        .collect::<PolarsResult<Vec<_>>>()?;
    let args = ScanArgsParquet {
        include_file_paths: Some(FILE_COLUMN.into()),
        ..ScanArgsParquet::default()
    };
    let lazy = LazyFrame::scan_parquet_files(paths.into_iter().collect(), args)?;
    let mut columns = vec![
        col(FILE_COLUMN),
        col("run_id"),
        col("cell_id"),
        col("status"),
        col("block"),
        col("started_at").cast(DataType::Int64),
    ];
    if table == Table::Calls {
        columns.push(col("call_index"));
        columns.push(col("reloaded"));
        columns.push(col("is_warmup"));
    }
    for metric in metrics {
        columns.push(
            col(metric.column)
                .cast(DataType::Float64)
                .alias(metric.name),
        );
    }
    lazy.select(columns).collect()
}

fn rows_from_frame(
    frame: &DataFrame,
    table: Table,
    metrics: &[&'static Metric],
) -> PolarsResult<Rows> {
    let files = frame.column(FILE_COLUMN)?.str()?;
    let run_ids = frame.column("run_id")?.str()?;
    let statuses = frame.column("status")?.str()?;
    let height = frame.height();
    // Runs are counted over measured rows only: warm-ups are not planned runs.
    let warmups: Vec<bool> = match table {
        Table::Calls => frame
            .column("is_warmup")?
            .bool()?
            .iter()
            .map(|w| w.unwrap_or(false))
            .collect(),
        Table::Runs => vec![false; height],
    };

    // Each row's file as its rank in commit order (file names sort in commit order). Rows
    // of one file are contiguous, so the name is compared, not hashed, per row.
    let mut names: Vec<&str> = Vec::new();
    let mut file_of_row: Vec<u32> = Vec::with_capacity(height);
    for file in files.iter() {
        let file = file.unwrap_or_default();
        if names.last() != Some(&file) {
            names.push(file);
        }
        file_of_row.push((names.len() - 1) as u32);
    }
    let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
    by_name.sort_by_key(|i| names[*i as usize]);
    let mut rank_of = vec![0u32; names.len()];
    for (rank, index) in by_name.iter().enumerate() {
        rank_of[*index as usize] = rank as u32;
    }

    // One pass: the latest file of each run, whether that version succeeded, and whether
    // any run was stored twice (`--retry-failed`) so that older versions must be dropped.
    struct Version {
        file: u32,
        ok: bool,
        measured: bool,
    }
    let mut versions: PlHashMap<&str, Version> = PlHashMap::default();
    let mut stored_twice = false;
    for row in 0..height {
        let Some(run) = run_ids.get(row) else {
            continue;
        };
        let file = rank_of[file_of_row[row] as usize];
        let ok = statuses.get(row) == Some("ok");
        let measured = !warmups[row];
        match versions.get_mut(run) {
            None => {
                versions.insert(run, Version { file, ok, measured });
            }
            Some(version) if version.file == file => version.ok &= ok,
            Some(version) => {
                stored_twice = true;
                if file > version.file {
                    *version = Version { file, ok, measured };
                }
            }
        }
    }
    let keep: Vec<bool> = if stored_twice {
        (0..height)
            .map(|row| {
                run_ids.get(row).is_some_and(|run| {
                    versions
                        .get(run)
                        .is_some_and(|v| v.file == rank_of[file_of_row[row] as usize])
                })
            })
            .collect()
    } else {
        (0..height).map(|row| run_ids.get(row).is_some()).collect()
    };
    let kept = keep.iter().filter(|k| **k).count();

    let mut rows = Rows {
        runs: versions.values().filter(|v| v.measured).count(),
        failed_runs: versions.values().filter(|v| v.measured && !v.ok).count(),
        ..Rows::default()
    };
    let mut cell_index: PlHashMap<&str, u32> = PlHashMap::default();
    let mut previous: Option<(&str, u32)> = None;
    rows.cell.reserve(kept);
    for (cell, _) in frame
        .column("cell_id")?
        .str()?
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
    {
        let cell = cell.unwrap_or_default();
        let index = match previous {
            // Rows of a run are adjacent: most rows repeat the previous row's cell.
            Some((name, index)) if name == cell => index,
            _ => {
                let next = u32::try_from(cell_index.len()).unwrap_or(u32::MAX);
                let index = *cell_index.entry(cell).or_insert_with(|| {
                    rows.cells.push(cell.to_owned());
                    next
                });
                previous = Some((cell, index));
                index
            }
        };
        rows.cell.push(index);
    }
    rows.ok = statuses
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(v, _)| v == Some("ok"))
        .collect();
    let ints = |name: &str| -> PolarsResult<Vec<i64>> {
        let column = frame.column(name)?.cast(&DataType::Int64)?;
        Ok(column
            .i64()?
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(v, _)| v.unwrap_or_default())
            .collect())
    };
    rows.block = ints("block")?.into_iter().map(saturating_u32).collect();
    rows.started_ms = ints("started_at")?;
    if table == Table::Calls {
        rows.call_index = ints("call_index")?
            .into_iter()
            .map(saturating_u32)
            .collect();
        rows.reloaded = frame
            .column("reloaded")?
            .bool()?
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(v, _)| v.unwrap_or(false))
            .collect();
    } else {
        rows.call_index = vec![0; kept];
        rows.reloaded = vec![false; kept];
    }
    rows.warmup = warmups
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(w, _)| *w)
        .collect();
    for metric in metrics {
        let values = frame
            .column(metric.name)?
            .f64()?
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(v, _)| v.filter(|x| x.is_finite()))
            .collect();
        rows.metrics.push((*metric, values));
    }
    Ok(rows)
}

fn saturating_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::metrics;
    use crate::synthetic::{self, SyntheticStudy};

    /// A sweep compacting beside the report removes the segments the report just listed:
    /// the report lists again instead of failing.
    #[test]
    fn files_removed_between_listing_and_reading_are_listed_again() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let results = tmp.path().join("results");
        let text = r#"
[experiment]
name = "relist"
repetitions = 2
[backend]
url = "http://127.0.0.1:9"
model = "m"
[grid]
num_ctx = [512, 1024]
[workload]
prompts = ["p"]
"#;
        synthetic::write(&results, &SyntheticStudy::new(text)).expect("study");
        let calls = results.join(CALLS_DIR);
        let mut listings = 0;
        let metric = metrics::lookup("tokens_per_s")
            .into_iter()
            .collect::<Vec<_>>();
        let rows = read_listed(&calls, Table::Calls, &metric, || {
            listings += 1;
            let mut files = store::data_files(&calls)?;
            if listings == 1 {
                files.push(calls.join("0001-000999.parquet"));
            }
            Ok(files)
        })
        .expect("rows");
        assert_eq!(listings, 2);
        assert_eq!(rows.runs, 4);

        // A file that exists but is unreadable is an error, not a retry.
        std::fs::write(calls.join("0009-000001.parquet"), b"not parquet").expect("write");
        let err = read_rows(&results, Table::Calls, &metric).unwrap_err();
        assert!(
            err.to_string().contains("cannot read the stored results"),
            "{err}"
        );
    }
}
