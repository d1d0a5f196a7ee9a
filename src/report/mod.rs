//! `chimera report`: turns one or more results folders into statistics, tables, charts and
//! a `summary.md`.
//!
//! The pipeline reads one way: folders (`load`) → design and groups (`design`) → numbers
//! (`analysis`, on the pure `stats`) → tables (`tables`, written by one `export`er per
//! format) and charts (`charts`, drawn by `plot`) → `summary`. Nothing here changes a
//! results folder's data: output goes to `report/` and the plots folder.

pub mod analysis;
pub mod charts;
pub mod design;
pub mod export;
pub mod format;
pub mod load;
pub mod metrics;
pub mod summary;
pub mod tables;

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::PolarsError;
use rayon::prelude::*;

use crate::experiment::ConfigError;
use crate::plot::PlotError;
use crate::stats::Bootstrap;
use crate::store::{self, StoreError};
pub use analysis::{Analysis, SourceRows};
pub use charts::DrawnChart;
pub use design::Design;
pub use export::{ALL_FORMATS, Format};
pub use load::{RowFilter, Source};
use metrics::{Metric, Table};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "{dir} is not a chimera results folder (no manifest.json)\n  fix: pass the folder `chimera run` wrote, e.g. results/<experiment name>"
    )]
    NotResults { dir: PathBuf },
    #[error(
        "--by: unknown factor \"{name}\"\n  fix: use one or more of: {known} (comma-separated)"
    )]
    UnknownFactor { name: String, known: String },
    #[error(
        "--metric: unknown metric \"{name}\"{hint}\n  fix: use one or more of: {known} (comma-separated)"
    )]
    UnknownMetric {
        name: String,
        hint: String,
        known: String,
    },
    #[error("--format: {0}")]
    UnknownFormat(String),
    #[error("the experiment copy in a results folder is invalid: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot read the stored results: {source}")]
    Parquet { path: PathBuf, source: PolarsError },
    #[error(transparent)]
    Plot(#[from] PlotError),
}

impl ReportError {
    /// Errors in what the user asked for (as opposed to what the disk holds).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ReportError::NotResults { .. }
                | ReportError::UnknownFactor { .. }
                | ReportError::UnknownMetric { .. }
                | ReportError::UnknownFormat(_)
        )
    }
}

#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub dirs: Vec<PathBuf>,
    /// Metric names; None = the defaults that have data.
    pub metrics: Option<Vec<String>>,
    /// Factor names to group by; empty = one group per cell.
    pub by: Vec<String>,
    pub formats: Vec<Format>,
    /// Tables and summary.md; default `<dir>/report` (or a `compare-…` folder beside the
    /// first one when several are compared).
    pub out: Option<PathBuf>,
    /// Charts; default `plots/<experiment>`. None with `draw_plots = false` draws nothing.
    pub plots: Option<PathBuf>,
    pub draw_plots: bool,
    pub filter: RowFilter,
    pub bootstrap: Bootstrap,
}

impl ReportOptions {
    pub fn new(dirs: Vec<PathBuf>) -> ReportOptions {
        ReportOptions {
            dirs,
            metrics: None,
            by: Vec::new(),
            formats: ALL_FORMATS.to_vec(),
            out: None,
            plots: None,
            draw_plots: true,
            filter: RowFilter::default(),
            bootstrap: Bootstrap::default(),
        }
    }
}

/// What a report wrote, and how long its stages took.
#[derive(Debug)]
pub struct ReportOutput {
    pub report_dir: PathBuf,
    pub summary: PathBuf,
    pub tables: Vec<PathBuf>,
    pub charts: Vec<DrawnChart>,
    pub rows_read: usize,
    pub analysis: Analysis,
    pub design: Design,
    /// (stage, seconds): read, analyse, tables, plots, summary.
    pub timings: Vec<(&'static str, f64)>,
}

pub fn parse_metrics(names: &[String]) -> Result<Vec<&'static Metric>, ReportError> {
    names
        .iter()
        .map(|name| {
            metrics::lookup(name.trim()).ok_or_else(|| {
                let known: Vec<&str> = metrics::names().collect();
                let hint = known
                    .iter()
                    .min_by_key(|k| crate::experiment::options::edit_distance(k, name))
                    .filter(|k| crate::experiment::options::edit_distance(k, name) <= 3)
                    .map(|k| format!(" (did you mean \"{k}\"?)"))
                    .unwrap_or_default();
                ReportError::UnknownMetric {
                    name: name.clone(),
                    hint,
                    known: known.join(", "),
                }
            })
        })
        .collect()
}

/// Runs the whole report.
pub fn generate(options: &ReportOptions) -> Result<ReportOutput, ReportError> {
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |stage: &'static str, timings: &mut Vec<(&'static str, f64)>| {
        timings.push((stage, clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };

    let sources: Vec<Source> = options
        .dirs
        .iter()
        .map(|dir| Source::open(dir))
        .collect::<Result<_, _>>()?;
    let requested: Vec<&'static Metric> = match &options.metrics {
        Some(names) => parse_metrics(names)?,
        None => parse_metrics(
            &metrics::DEFAULT_METRICS
                .iter()
                .map(|m| (*m).to_owned())
                .collect::<Vec<_>>(),
        )?,
    };
    let design = Design::build(&sources, &options.by)?;
    let rows: Vec<SourceRows> = sources
        .par_iter()
        .map(|source| {
            Ok(SourceRows {
                calls: load::read_rows(&source.dir, Table::Calls, &requested)?,
                runs: load::read_rows(&source.dir, Table::Runs, &requested)?,
            })
        })
        .collect::<Result<_, ReportError>>()?;
    let rows_read = rows.iter().map(|r| r.calls.len() + r.runs.len()).sum();
    lap("read", &mut timings);

    let analysis = analysis::analyse(
        &sources,
        &rows,
        &design,
        &requested,
        &options.bootstrap,
        options.filter,
    );
    lap("analyse", &mut timings);

    let report_dir = options
        .out
        .clone()
        .unwrap_or_else(|| default_report_dir(&sources));
    create_dir(&report_dir)?;
    let tables = tables::all_tables(&analysis, &design);
    let mut written = Vec::new();
    for table in &tables {
        for format in &options.formats {
            let exporter = format.exporter();
            let path = report_dir.join(format!("{}.{}", table.name, exporter.extension()));
            store::write_atomic(&path, exporter.render(table).as_bytes())?;
            written.push(path);
        }
    }
    lap("tables", &mut timings);

    let charts = if options.draw_plots {
        let dir = options
            .plots
            .clone()
            .unwrap_or_else(|| default_plots_dir(&sources));
        charts::draw_all(&analysis, &design, &rows, &dir)?
    } else {
        Vec::new()
    };
    lap("plots", &mut timings);

    let extensions: Vec<&'static str> = options
        .formats
        .iter()
        .map(|f| f.exporter().extension())
        .collect();
    let text = summary::render(&summary::SummaryInput {
        sources: &sources,
        design: &design,
        analysis: &analysis,
        tables: &tables,
        charts: &charts,
        filter: options.filter,
        report_dir: &report_dir,
        formats: &extensions,
    });
    let summary_path = report_dir.join("summary.md");
    store::write_atomic(&summary_path, text.as_bytes())?;
    lap("summary", &mut timings);

    Ok(ReportOutput {
        report_dir,
        summary: summary_path,
        tables: written,
        charts,
        rows_read,
        analysis,
        design,
        timings,
    })
}

fn create_dir(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

fn default_report_dir(sources: &[Source]) -> PathBuf {
    match sources {
        [single] => single.dir.join("report"),
        _ => {
            let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
            let parent = sources
                .first()
                .and_then(|s| s.dir.parent())
                .map(Path::to_path_buf)
                .unwrap_or_default();
            parent
                .join(format!("compare-{}", names.join("+")))
                .join("report")
        }
    }
}

fn default_plots_dir(sources: &[Source]) -> PathBuf {
    match sources {
        [single] => PathBuf::from("plots").join(&single.experiment.name),
        _ => {
            let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
            PathBuf::from("plots").join(format!("compare-{}", names.join("+")))
        }
    }
}
