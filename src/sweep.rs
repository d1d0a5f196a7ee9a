//! One sweep, start to end, readable in one function: plan → preflight → open the store →
//! schedule → compact → record the outcome. The CLI adds signals and the display around it;
//! tests call it in-process against a fake backend.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rand::Rng;
use tokio::sync::{mpsc, watch};

use crate::backend::{Backend, ollama::Ollama};
use crate::env::Environment;
use crate::error::Error;
use crate::exit_codes;
use crate::experiment::{BackendKind, Experiment, MODEL_KEY};
use crate::plan::Plan;
use crate::scheduler::{Event, Outcome, Scheduler, Stop};
use crate::store::{self, Existing, Progress, Store, SweepStatus};

#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Results folder; default `results/<experiment name>`.
    pub out: Option<PathBuf>,
    /// Move an existing folder aside and start again.
    pub force_new: bool,
    /// Re-run runs stored as failed.
    pub retry_failed: bool,
}

#[derive(Debug, Clone)]
pub struct SweepReport {
    pub dir: PathBuf,
    /// Where `--force-new` moved the previous results.
    pub moved_aside: Option<PathBuf>,
    pub outcome: Outcome,
    pub status: SweepStatus,
    /// Over the whole folder, all sessions included.
    pub progress: Progress,
    pub planned_runs: usize,
}

impl SweepReport {
    pub fn exit_code(&self) -> i32 {
        match self.status {
            SweepStatus::Finished => exit_codes::SUCCESS,
            SweepStatus::FinishedWithFailures => exit_codes::RUNS_FAILED,
            SweepStatus::Interrupted => exit_codes::INTERRUPTED,
            SweepStatus::BackendDown => exit_codes::BACKEND_UNAVAILABLE,
            // `finish` never records Running; a defensive answer all the same.
            SweepStatus::Running => exit_codes::INTERNAL,
        }
    }
}

pub fn default_results_dir(experiment: &Experiment) -> PathBuf {
    PathBuf::from("results").join(&experiment.name)
}

/// The backend an experiment asks for.
pub fn connect(experiment: &Experiment) -> Result<Box<dyn Backend>, Error> {
    match experiment.backend.kind {
        BackendKind::Ollama => Ollama::new(&experiment.backend)
            .map(|b| Box::new(b) as Box<dyn Backend>)
            .map_err(|e| Error::Internal(e.to_string())),
        BackendKind::OpenAi => crate::backend::openai::OpenAi::new(&experiment.backend)
            .map(|b| Box::new(b) as Box<dyn Backend>)
            .map_err(|e| Error::BackendUnavailable {
                url: experiment.backend.url.clone(),
                reason: e.message.clone(),
                fix: "set the environment variable that backend.api_key_env names".to_owned(),
            }),
        #[cfg(feature = "embedded")]
        BackendKind::Embedded => {
            let base = experiment
                .source
                .parent()
                .unwrap_or(std::path::Path::new("."));
            crate::backend::embedded::Embedded::new(&experiment.backend, base)
                .map(|b| Box::new(b) as Box<dyn Backend>)
                .map_err(|e| Error::Internal(e.to_string()))
        }
        #[cfg(not(feature = "embedded"))]
        BackendKind::Embedded => Err(Error::Internal("built without the embedded engine".into())),
    }
}

/// Runs (or resumes) a sweep to its end, an interruption, or a backend that stayed down.
pub async fn run_sweep(
    experiment: &Experiment,
    backend: &dyn Backend,
    options: &SweepOptions,
    events: mpsc::UnboundedSender<Event>,
    cancel: watch::Receiver<bool>,
) -> Result<SweepReport, Error> {
    let dir = options
        .out
        .clone()
        .unwrap_or_else(|| default_results_dir(experiment));
    let (existing, moved_aside) = store::inspect(&dir, experiment, options.force_new)?;
    // A resumed sweep must keep its first order, so a drawn seed is read back.
    let seed = match (&existing, experiment.seed) {
        (_, Some(seed)) => seed,
        (Existing::Resume(manifest), None) => manifest.order_seed,
        (Existing::Fresh, None) => rand::rng().random_range(0..i64::MAX as u64),
    };
    let plan = Plan::build(experiment, seed);

    let info = backend
        .preflight(&models_of(&plan))
        .await
        .map_err(|error| Error::BackendUnavailable {
            url: experiment.backend.url.clone(),
            fix: preflight_fix(&error, backend),
            reason: error.to_string(),
        })?;
    let store = Store::open(
        &dir,
        experiment,
        &plan,
        existing,
        Environment::capture(&info),
    )?;
    let store = Arc::new(Mutex::new(store));

    let scheduler = Scheduler {
        experiment,
        plan: &plan,
        backend,
        events,
        cancel,
        retry_failed: options.retry_failed,
    };
    let outcome = scheduler.run(Arc::clone(&store)).await?;

    let mut store = store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    store.compact()?;
    let progress = progress_of(&store, &plan)?;
    let status = match &outcome.stop {
        Stop::Interrupted => SweepStatus::Interrupted,
        Stop::BackendDown { .. } => SweepStatus::BackendDown,
        Stop::Completed if progress.runs_failed > 0 => SweepStatus::FinishedWithFailures,
        Stop::Completed => SweepStatus::Finished,
    };
    store.finish(status, progress.clone())?;
    Ok(SweepReport {
        dir,
        moved_aside,
        outcome,
        status,
        progress,
        planned_runs: plan.runs.len(),
    })
}

fn models_of(plan: &Plan) -> Vec<String> {
    let mut models: Vec<String> = plan.cells.iter().map(|c| c.model.clone()).collect();
    models.sort();
    models.dedup();
    models
}

fn preflight_fix(error: &crate::backend::CallError, backend: &dyn Backend) -> String {
    use crate::backend::ErrorKind;
    match error.kind {
        ErrorKind::Client if error.message.contains("404") => format!(
            "the model is not on the backend: pull it first (`ollama pull <model>`), or fix backend.model / grid.{MODEL_KEY}"
        ),
        _ => backend.start_hint(),
    }
}

/// Stored runs of the plan, ok and failed, over every session.
fn progress_of(store: &Store, plan: &Plan) -> Result<Progress, Error> {
    let stored = store.stored_runs()?;
    let mut progress = Progress::default();
    for run in &plan.runs {
        if let Some(stored) = stored.get(&run.run_id) {
            progress.runs_stored += 1;
            if stored.ok {
                progress.runs_ok += 1;
            } else {
                progress.runs_failed += 1;
            }
        }
    }
    Ok(progress)
}
