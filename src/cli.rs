//! The command line: `chimera plan`, `chimera run`, `chimera report`, `chimera fake-ollama`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio::sync::{mpsc, watch};

use crate::error::Error;
use crate::exit_codes;
use crate::experiment::Experiment;
use crate::fake_ollama::{FakeConfig, FakeOllama};
use crate::plan::{Plan, render_json, render_text};
use crate::report::{Format, ReportError, ReportOptions, RowFilter};
use crate::stats::Bootstrap;
use crate::store::SweepStatus;
use crate::sweep::{self, SweepOptions};

#[derive(Debug, Parser)]
#[command(
    name = "chimera",
    version,
    about = "Reproducible benchmark sweeps of LLM agents"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate an experiment and print its cells, counts and run order (sends nothing).
    Plan {
        /// The experiment file (experiments/*.toml).
        file: PathBuf,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a sweep, or resume it where it stopped.
    Run {
        /// The experiment file (experiments/*.toml).
        file: PathBuf,
        /// Results folder (default: results/<experiment name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Move existing results aside (to <out>.old-<time>) and start again.
        #[arg(long)]
        force_new: bool,
        /// Also re-run runs that are stored as failed.
        #[arg(long)]
        retry_failed: bool,
        /// Do not write the report (statistics, tables, plots) at the end of the sweep.
        #[arg(long)]
        no_report: bool,
    },
    /// Statistics, A vs B comparisons, tables and plots from one or more results folders
    /// (also of a sweep still running or interrupted: it reports what is stored).
    Report(ReportArgs),
    /// Serve a fake Ollama on loopback (for trying chimera without a GPU, and benchmarks).
    FakeOllama {
        #[arg(long, default_value_t = 11434)]
        port: u16,
        /// Tokens per response.
        #[arg(long, default_value_t = 32)]
        tokens: usize,
        /// Delay between streamed tokens, milliseconds.
        #[arg(long, default_value_t = 5)]
        token_delay_ms: u64,
        /// Report the measured handler time as total_duration (for overhead benchmarks).
        #[arg(long)]
        real_timing: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Results folders (results/<experiment>); several are compared as one more factor.
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Metrics to analyse, comma-separated (default: per call throughput, TTFT, e2e, load,
    /// prompt-eval, eval, tokens; for the agent workload also per run throughput, TTFT,
    /// quality score and workflow time).
    #[arg(long, value_delimiter = ',')]
    pub metric: Option<Vec<String>>,
    /// Group by these factors only, pooling the others (default: one group per cell).
    #[arg(long, value_delimiter = ',')]
    pub by: Vec<String>,
    /// Table formats, comma-separated: md, csv, tex, json (default: all).
    #[arg(long, value_delimiter = ',')]
    pub format: Vec<String>,
    /// Where tables and summary.md go (default: <DIR>/report).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where charts go, PNG and SVG (default: plots/<experiment>).
    #[arg(long)]
    pub plots: Option<PathBuf>,
    /// Write tables and summary.md only.
    #[arg(long)]
    pub no_plots: bool,
    /// Include warm-up calls in the statistics.
    #[arg(long)]
    pub include_warmup: bool,
    /// Include calls that paid a model load.
    #[arg(long)]
    pub include_reloads: bool,
    /// Bootstrap resamples per estimate, 100 to 1000000 (at most: very large cells use
    /// fewer, recorded in the tables).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(100..=1_000_000))]
    pub resamples: u32,
    /// Bootstrap seed (the same seed gives the same intervals).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ReportArgs {
    fn options(self) -> Result<ReportOptions, Error> {
        let formats = if self.format.is_empty() {
            crate::report::ALL_FORMATS.to_vec()
        } else {
            self.format
                .iter()
                .map(|f| f.parse::<Format>())
                .collect::<Result<_, _>>()
                .map_err(ReportError::UnknownFormat)?
        };
        Ok(ReportOptions {
            dirs: self.dirs,
            metrics: self.metric,
            by: self.by,
            formats,
            out: self.out,
            plots: self.plots,
            draw_plots: !self.no_plots,
            filter: RowFilter {
                include_warmup: self.include_warmup,
                include_reloads: self.include_reloads,
            },
            bootstrap: Bootstrap {
                resamples: self.resamples as usize,
                seed: self.seed,
                ..Bootstrap::default()
            },
        })
    }
}

/// Parses the command line, runs the command, returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    // One thread: a sweep sends one call at a time, and a single-threaded runtime reads the
    // stream on the thread the I/O event wakes, with no cross-thread hand-off inside the
    // measured time (see benches/overhead.rs). Store writes run on blocking threads.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return exit_codes::INTERNAL;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

async fn dispatch(command: Command) -> Result<i32, Error> {
    match command {
        Command::Plan { file, json } => plan(&file, json),
        Command::Run {
            file,
            out,
            force_new,
            retry_failed,
            no_report,
        } => {
            run(
                &file,
                SweepOptions {
                    out,
                    force_new,
                    retry_failed,
                },
                !no_report,
            )
            .await
        }
        Command::Report(args) => {
            let options = args.options()?;
            // Off the async thread: polars' lazy engine blocks on its own runtime and must
            // not find itself inside ours.
            tokio::task::spawn_blocking(move || report(options))
                .await
                .map_err(|e| Error::Internal(e.to_string()))?
        }
        Command::FakeOllama {
            port,
            tokens,
            token_delay_ms,
            real_timing,
        } => fake_ollama(port, tokens, token_delay_ms, real_timing).await,
    }
}

fn plan(file: &std::path::Path, json: bool) -> Result<i32, Error> {
    let experiment = Experiment::load(file)?;
    let seed = experiment
        .seed
        .unwrap_or_else(|| u64::from(rand::random::<u32>()));
    let plan = Plan::build(&experiment, seed);
    let fixed = experiment.seed.is_some();
    if json {
        let text = serde_json::to_string_pretty(&render_json(&plan, fixed))
            .map_err(|e| Error::Internal(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", render_text(&plan, fixed));
    }
    Ok(exit_codes::SUCCESS)
}

async fn run(
    file: &std::path::Path,
    options: SweepOptions,
    with_report: bool,
) -> Result<i32, Error> {
    let experiment = Experiment::load(file)?;
    let backend = sweep::connect(&experiment)?;
    let (cancel_tx, cancel_rx) = watch::channel(false);
    tokio::spawn(forward_signals(cancel_tx));
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let display = tokio::spawn(crate::progress::display(events_rx));

    let report = sweep::run_sweep(
        &experiment,
        backend.as_ref(),
        &options,
        events_tx,
        cancel_rx,
    )
    .await;
    let _ = display.await;
    let report = report?;

    if let Some(aside) = &report.moved_aside {
        eprintln!("previous results moved to {}", aside.display());
    }
    let p = &report.progress;
    let verdict = match report.status {
        SweepStatus::Finished => "finished".to_owned(),
        SweepStatus::FinishedWithFailures => {
            "finished with failed runs (rerun with --retry-failed to retry them)".to_owned()
        }
        SweepStatus::Interrupted => "interrupted: run the same command again to resume".to_owned(),
        SweepStatus::BackendDown => format!(
            "stopped: the backend stayed down longer than backend.down_timeout_s ({:.0} s); start it and run the same command again to resume",
            experiment.backend.down_timeout_s
        ),
        SweepStatus::Running => "running".to_owned(),
    };
    eprintln!(
        "{verdict}\n{} of {} runs stored ({} ok, {} failed) in {}",
        p.runs_stored,
        report.planned_runs,
        p.runs_ok,
        p.runs_failed,
        report.dir.display()
    );
    let code = report.exit_code();
    if with_report && p.runs_stored > 0 {
        if report.status == SweepStatus::Interrupted {
            eprintln!(
                "report skipped (interrupted); `chimera report {}` writes one from what is stored",
                report.dir.display()
            );
        } else {
            let dir = report.dir.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                crate::report::generate(&ReportOptions::new(vec![dir]))
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
            match outcome {
                Ok(output) => print_report_paths(&output),
                // The sweep's data are safe and its exit code stands; say how to retry.
                Err(err) => eprintln!(
                    "error: the report failed: {err}\n  fix: rerun `chimera report {}` once fixed (the sweep's results are stored)",
                    report.dir.display()
                ),
            }
        }
    }
    Ok(code)
}

fn report(options: ReportOptions) -> Result<i32, Error> {
    let output = crate::report::generate(&options)?;
    for c in &output.analysis.completeness {
        if c.missing_runs() > 0 {
            eprintln!(
                "note: {}: {} of {} planned runs stored ({} missing; sweep status: {})",
                c.source,
                c.stored_runs,
                c.planned_runs,
                c.missing_runs(),
                c.status
            );
        }
    }
    print_report_paths(&output);
    Ok(exit_codes::SUCCESS)
}

fn print_report_paths(output: &crate::report::ReportOutput) {
    let timings: Vec<String> = output
        .timings
        .iter()
        .map(|(stage, seconds)| format!("{stage} {seconds:.2}s"))
        .collect();
    eprintln!(
        "report: {} rows, {} groups, {} comparisons ({})",
        output.rows_read,
        output.design.groups.len(),
        output.analysis.comparisons.len(),
        timings.join(", ")
    );
    eprintln!("summary: {}", output.summary.display());
    eprintln!(
        "tables:  {} files in {}",
        output.tables.len(),
        output.report_dir.display()
    );
    if let Some(first) = output.charts.first() {
        eprintln!(
            "plots:   {} charts (PNG + SVG) in {}",
            output.charts.len(),
            first
                .files
                .png
                .parent()
                .map_or_else(String::new, |p| p.display().to_string())
        );
    }
}

/// SIGINT/SIGTERM set the cancel flag (the sweep stops cleanly); a second one exits at once
/// (committed runs are safe on disk either way).
async fn forward_signals(cancel: watch::Sender<bool>) {
    let mut stops = 0;
    loop {
        wait_for_signal().await;
        stops += 1;
        if stops > 1 {
            eprintln!("second signal: exiting now (stored runs are safe)");
            std::process::exit(exit_codes::INTERRUPTED);
        }
        let _ = cancel.send(true);
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn fake_ollama(
    port: u16,
    tokens: usize,
    token_delay_ms: u64,
    real_timing: bool,
) -> Result<i32, Error> {
    let config = FakeConfig {
        tokens,
        token_delay: Duration::from_millis(token_delay_ms),
        real_timing,
        ..FakeConfig::default()
    };
    let server = FakeOllama::start_on(port, config)
        .await
        .map_err(|e| Error::Internal(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    eprintln!("fake Ollama listening on {} (Ctrl-C to stop)", server.url());
    let _ = tokio::signal::ctrl_c().await;
    Ok(exit_codes::SUCCESS)
}
