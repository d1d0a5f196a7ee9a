//! The scheduler: walks the plan in order, runs warm-ups after every load change, retries
//! what can be retried, waits out a backend that went down, and commits every run to the
//! store before announcing it. It reports what happens as `Event`s over a channel; the
//! progress display consumes them. A failed call is data (a stored row), never a crash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, watch};

use crate::agent::{self, extract, ingest, quality, report};
use crate::backend::{Backend, CallError, CallOutput, CallRequest, LoadedModel};
use crate::experiment::{AgentSpec, Experiment, Workload};
use crate::plan::{Cell, Plan, PlannedRun};
use crate::store::{CallRecord, RunOutput, RunRecord, Store, StoreError, StoredRun};

/// Warm-ups load the model with a prompt unlike the workload's, so they do not prime the
/// backend's prompt cache for the first measured call.
pub const WARMUP_PROMPT: &str = "Warm-up: reply with the single word OK.";

/// How long an in-flight call may still run after SIGINT/SIGTERM before it is cancelled.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// The longest wait between two probes of a backend that is down.
const MAX_PROBE_DELAY: Duration = Duration::from_secs(30);

/// What the scheduler reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        planned_runs: usize,
        already_stored: usize,
        to_run: usize,
    },
    WarmupStored {
        cell_id: String,
        calls: usize,
        failed: usize,
    },
    /// A run is committed to disk (only then is it announced).
    RunStored(RunSummary),
    BackendDown {
        error: String,
        down_for: Duration,
        next_probe_in: Duration,
    },
    BackendUp {
        down_for: Duration,
    },
    Stopping,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub order_index: usize,
    pub run_id: String,
    pub agent: String,
    /// `num_ctx=512 temperature=0.8`: the cell's grid point.
    pub label: String,
    pub ok: bool,
    pub tokens_per_s: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub error: Option<String>,
}

/// Why the scheduler stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// Every planned run is stored.
    Completed,
    /// SIGINT/SIGTERM.
    Interrupted,
    /// The backend stayed down longer than `backend.down_timeout_s`.
    BackendDown { error: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub stop: Stop,
    pub runs_stored: usize,
    pub runs_failed: usize,
}

/// How a run (or a warm-up) ended.
enum Attempted {
    Done(Box<RunOutput>),
    /// A call failed and the backend no longer answers: wait, then redo the run.
    BackendDown(CallError),
    Cancelled,
}

pub struct Scheduler<'a> {
    pub experiment: &'a Experiment,
    pub plan: &'a Plan,
    pub backend: &'a dyn Backend,
    pub events: mpsc::UnboundedSender<Event>,
    pub cancel: watch::Receiver<bool>,
    pub retry_failed: bool,
}

/// Where a call belongs: its cell, its planned run, and the session making it.
#[derive(Clone, Copy)]
struct Slot<'a> {
    cell: &'a Cell,
    run: &'a PlannedRun,
    session: u32,
}

impl Slot<'_> {
    /// The record of a call in this slot before anything is sent: no timings, no error.
    fn record(
        &self,
        run_id: &str,
        is_warmup: bool,
        call_index: u32,
        call_kind: &str,
    ) -> CallRecord {
        let (cell, run) = (self.cell, self.run);
        CallRecord {
            session: self.session,
            run_id: run_id.to_owned(),
            cell_id: cell.id.clone(),
            agent: cell.agent.clone(),
            repetition: run.repetition,
            block: run.block,
            order_index: run.order_index,
            is_warmup,
            call_index,
            call_kind: call_kind.to_owned(),
            model: cell.model.clone(),
            options: cell.options.clone(),
            started_at: Utc::now(),
            metrics: None,
            reloaded: false,
            attempt: 0,
            error: None,
            response: None,
            done_reason: None,
            loaded: None,
            load_avg_1m: crate::env::load_average(),
        }
    }
}

/// What the backend has loaded, as far as the scheduler knows.
struct LoadState {
    key: Option<String>,
    loaded: Option<LoadedModel>,
}

impl Scheduler<'_> {
    /// Runs every planned run that is not stored yet (and, with `retry_failed`, those
    /// stored as failed), in plan order.
    pub async fn run(&self, store: Arc<Mutex<Store>>) -> Result<Outcome, StoreError> {
        let stored = with_store(&store, |s| s.stored_runs()).await?;
        let session = with_store(&store, |s| Ok(s.session())).await?;
        let pending: Vec<&PlannedRun> = self
            .plan
            .runs
            .iter()
            .filter(|run| self.needs_run(stored.get(&run.run_id)))
            .collect();
        self.emit(Event::Started {
            planned_runs: self.plan.runs.len(),
            already_stored: self.plan.runs.len() - pending.len(),
            to_run: pending.len(),
        });

        let mut outcome = Outcome {
            stop: Stop::Completed,
            runs_stored: 0,
            runs_failed: 0,
        };
        let mut state = LoadState {
            key: None,
            loaded: None,
        };
        let mut queue = pending.into_iter().peekable();
        while let Some(run) = queue.peek().copied() {
            if self.is_cancelled() {
                outcome.stop = Stop::Interrupted;
                break;
            }
            let cell = &self.plan.cells[run.cell];
            if state.key.as_deref() != Some(cell.load_key.as_str()) && self.experiment.warmup > 0 {
                match self
                    .guarded(self.warmup(Slot { cell, run, session }, &mut state))
                    .await
                {
                    Attempted::Done(output) => {
                        let failed = output.calls.iter().filter(|r| r.error.is_some()).count();
                        let calls = output.calls.len();
                        commit(&store, output).await?;
                        self.emit(Event::WarmupStored {
                            cell_id: cell.id.clone(),
                            calls,
                            failed,
                        });
                    }
                    Attempted::Cancelled => {
                        outcome.stop = Stop::Interrupted;
                        break;
                    }
                    Attempted::BackendDown(error) => {
                        state.key = None;
                        if let Some(stop) = self.wait_for_backend(error).await {
                            outcome.stop = stop;
                            break;
                        }
                        continue;
                    }
                }
            }
            match self
                .guarded(self.measured(Slot { cell, run, session }, &mut state))
                .await
            {
                Attempted::Done(output) => {
                    let summary = summarize(cell, run, &output);
                    commit(&store, output).await?;
                    outcome.runs_stored += 1;
                    outcome.runs_failed += usize::from(!summary.ok);
                    self.emit(Event::RunStored(summary));
                    queue.next();
                }
                Attempted::Cancelled => {
                    outcome.stop = Stop::Interrupted;
                    break;
                }
                Attempted::BackendDown(error) => {
                    // The backend may come back restarted, with nothing loaded.
                    state.key = None;
                    if let Some(stop) = self.wait_for_backend(error).await {
                        outcome.stop = stop;
                        break;
                    }
                }
            }
        }
        Ok(outcome)
    }

    fn needs_run(&self, stored: Option<&StoredRun>) -> bool {
        match stored {
            None => true,
            Some(run) => self.retry_failed && !run.ok,
        }
    }

    fn emit(&self, event: Event) {
        // The display may be gone (its task ended); the sweep goes on without it.
        let _ = self.events.send(event);
    }

    fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Runs `work`; on SIGINT/SIGTERM it gets `STOP_GRACE` to finish, then is dropped
    /// (which cancels its in-flight request).
    async fn guarded(&self, work: impl Future<Output = Attempted>) -> Attempted {
        let mut cancel = self.cancel.clone();
        tokio::pin!(work);
        tokio::select! {
            result = &mut work => result,
            () = cancelled(&mut cancel) => {
                self.emit(Event::Stopping);
                tokio::time::timeout(STOP_GRACE, &mut work).await.unwrap_or(Attempted::Cancelled)
            }
        }
    }

    async fn warmup(&self, slot: Slot<'_>, state: &mut LoadState) -> Attempted {
        let prompt = WARMUP_PROMPT;
        let mut records = Vec::new();
        for k in 0..self.experiment.warmup {
            if k > 0 && self.is_cancelled() {
                return Attempted::Cancelled;
            }
            let run_id = format!("w{:04}-{:06}-{k}", slot.session, slot.run.order_index);
            let record = self
                .call(slot.record(&run_id, true, k, "warmup"), slot, prompt, state)
                .await;
            match record {
                Ok(record) => records.push(record),
                Err(error) => return Attempted::BackendDown(error),
            }
        }
        Attempted::Done(Box::new(RunOutput {
            calls: records,
            ..RunOutput::default()
        }))
    }

    async fn measured(&self, slot: Slot<'_>, state: &mut LoadState) -> Attempted {
        match &self.experiment.workload {
            Workload::Prompt { prompts, .. } => self.prompt_run(prompts, slot, state).await,
            Workload::Agent { ingest, .. } => self.agent_run(ingest, slot, state).await,
        }
    }

    /// The prompt workload: each prompt once, in order.
    async fn prompt_run(
        &self,
        prompts: &[String],
        slot: Slot<'_>,
        state: &mut LoadState,
    ) -> Attempted {
        let mut records = Vec::new();
        for (index, prompt) in prompts.iter().enumerate() {
            if index > 0 && self.is_cancelled() {
                return Attempted::Cancelled;
            }
            let record = slot.record(&slot.run.run_id, false, index as u32, "prompt");
            match self.call(record, slot, prompt, state).await {
                Ok(record) => records.push(record),
                Err(error) => return Attempted::BackendDown(error),
            }
        }
        Attempted::Done(Box::new(RunOutput {
            calls: records,
            ..RunOutput::default()
        }))
    }

    /// The Chimera agent workload: ingest → analysis call → report call → report file.
    async fn agent_run(
        &self,
        config: &ingest::IngestConfig,
        slot: Slot<'_>,
        state: &mut LoadState,
    ) -> Attempted {
        let Slot { cell, run, session } = slot;
        let spec = self.agent_spec(cell);
        let started_at = Utc::now();
        let workflow = Instant::now();
        let config = config.clone();
        let summary = tokio::task::spawn_blocking(move || ingest::ingest(&config))
            .await
            .unwrap_or_else(|join| Err(format!("ingest crashed: {join}")));
        let ingest_ms = workflow.elapsed().as_secs_f64() * 1e3;
        let mut record = RunRecord {
            session,
            run_id: run.run_id.clone(),
            cell_id: cell.id.clone(),
            agent: cell.agent.clone(),
            display_name: spec.display_name.clone(),
            repetition: run.repetition,
            block: run.block,
            order_index: run.order_index,
            model: cell.model.clone(),
            options: cell.options.clone(),
            started_at,
            files_analyzed: None,
            ingest_ms: Some(ingest_ms),
            analysis_ms: None,
            report_ms: None,
            workflow_ms: None,
            metrics: report::RunMetrics::default(),
            quality: None,
            report_path: None,
            error: None,
        };
        let summary = match summary {
            Ok(summary) => summary,
            Err(message) => {
                // Stored as a call row too: the calls segment is what marks a run stored.
                let mut call = slot.record(&run.run_id, false, 0, "ingest");
                call.error = Some(CallError::new(
                    crate::backend::ErrorKind::Client,
                    message.clone(),
                ));
                record.error = Some(("ingest".to_owned(), message));
                return Attempted::Done(Box::new(RunOutput {
                    calls: vec![call],
                    run: Some(record),
                    report: None,
                }));
            }
        };
        record.files_analyzed = Some(summary.files);

        let mut calls = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        for (index, kind) in ["analysis", "report"].into_iter().enumerate() {
            if index > 0 && self.is_cancelled() {
                return Attempted::Cancelled;
            }
            let prompt = match kind {
                "analysis" => agent::analysis_prompt(spec, &summary.text),
                _ => agent::report_prompt(spec, &summary.text, &texts[0]),
            };
            let step = Instant::now();
            let planned = slot.record(&run.run_id, false, index as u32, kind);
            let call = match self.call(planned, slot, &prompt, state).await {
                Ok(call) => call,
                Err(error) => return Attempted::BackendDown(error),
            };
            let step_ms = Some(step.elapsed().as_secs_f64() * 1e3);
            match kind {
                "analysis" => record.analysis_ms = step_ms,
                _ => record.report_ms = step_ms,
            }
            let failed = call
                .error
                .as_ref()
                .map(|e| (kind.to_owned(), e.to_string()));
            texts.push(call.response.clone().unwrap_or_default());
            calls.push(call);
            if let Some(error) = failed {
                record.error = Some(error);
                return Attempted::Done(Box::new(RunOutput {
                    calls,
                    run: Some(record),
                    report: None,
                }));
            }
        }
        record.workflow_ms = Some(workflow.elapsed().as_secs_f64() * 1e3);
        let metrics: Vec<_> = calls.iter().filter_map(|c| c.metrics.as_ref()).collect();
        record.metrics = agent::aggregate(&metrics);
        let (analysis, report_text) = (&texts[0], &texts[1]);
        let extracted = extract::extract(analysis);
        record.quality = Some(quality::score(report_text, &summary.text));
        record.report_path = Some(format!("{}/{}.md", crate::store::REPORTS_DIR, run.run_id));
        let markdown = report::render(&report::ReportInput {
            display_name: &spec.display_name,
            date: started_at.date_naive(),
            model: &cell.model,
            options: &cell.options,
            report_text,
            files_analyzed: summary.files,
            ingest_ms,
            analysis_ms: record.analysis_ms.unwrap_or_default(),
            report_ms: record.report_ms.unwrap_or_default(),
            data_summary: &summary.text,
            metrics: &record.metrics,
            findings: &extracted.findings,
            recommendations: &extracted.recommendations,
            persona: spec.persona.as_deref().unwrap_or("(no persona)"),
        });
        Attempted::Done(Box::new(RunOutput {
            calls,
            run: Some(record),
            report: Some(markdown),
        }))
    }

    fn agent_spec(&self, cell: &Cell) -> &AgentSpec {
        self.experiment
            .agents
            .iter()
            .find(|a| a.name == cell.agent)
            .unwrap_or(&self.experiment.agents[0])
    }

    /// Makes the call that `record` describes, with retries, and fills in its outcome. `Err`
    /// only when the call failed and the backend is down: then nothing is recorded and the
    /// caller waits for the backend.
    async fn call(
        &self,
        mut record: CallRecord,
        slot: Slot<'_>,
        prompt: &str,
        state: &mut LoadState,
    ) -> Result<CallRecord, CallError> {
        let cell = slot.cell;
        let request = CallRequest {
            model: cell.model.clone(),
            options: cell.options.clone(),
            system: cell.system.clone(),
            prompt: prompt.to_owned(),
            keep_alive: self.experiment.backend.keep_alive.clone(),
        };
        record.reloaded = state.key.as_deref() != Some(cell.load_key.as_str());
        record.started_at = Utc::now();
        let (result, attempt) = self.call_with_retries(&request).await;
        if let Err(error) = &result
            && error.kind.is_retryable()
            && !self.backend.is_up().await
        {
            return Err(error.clone());
        }
        if record.reloaded {
            state.key = Some(cell.load_key.clone());
            state.loaded = self.backend.loaded(&cell.model).await;
        }
        match result {
            Ok(output) => {
                record.metrics = Some(output.metrics);
                record.response = Some(output.text);
                record.done_reason = output.done_reason;
            }
            Err(error) => record.error = Some(error),
        }
        record.attempt = attempt;
        record.loaded = state.loaded.clone();
        record.load_avg_1m = crate::env::load_average();
        Ok(record)
    }

    /// Calls until success, a non-retryable error, or the last attempt; backoff doubles.
    async fn call_with_retries(
        &self,
        request: &CallRequest,
    ) -> (Result<CallOutput, CallError>, u32) {
        let backend = &self.experiment.backend;
        let attempts = backend.retries + 1;
        let mut attempt = 1;
        loop {
            let result = self.backend.call(request).await;
            match result {
                Err(error)
                    if error.kind.is_retryable() && attempt < attempts && !self.is_cancelled() =>
                {
                    let backoff =
                        backend.retry_backoff_s * f64::from(1u32 << (attempt - 1).min(16));
                    tokio::time::sleep(Duration::from_secs_f64(backoff)).await;
                    attempt += 1;
                }
                result => return (result, attempt),
            }
        }
    }

    /// Probes a backend that went down, with backoff, until it answers (`None`), the sweep
    /// is interrupted, or `down_timeout_s` passes.
    async fn wait_for_backend(&self, error: CallError) -> Option<Stop> {
        let config = &self.experiment.backend;
        let give_up_after = Duration::from_secs_f64(config.down_timeout_s);
        let since = Instant::now();
        let mut delay = Duration::from_secs_f64(config.retry_backoff_s).min(MAX_PROBE_DELAY);
        let mut cancel = self.cancel.clone();
        loop {
            let down_for = since.elapsed();
            if down_for >= give_up_after {
                return Some(Stop::BackendDown {
                    error: error.to_string(),
                });
            }
            let wait = delay.min(give_up_after - down_for);
            self.emit(Event::BackendDown {
                error: error.to_string(),
                down_for,
                next_probe_in: wait,
            });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancelled(&mut cancel) => return Some(Stop::Interrupted),
            }
            if self.backend.is_up().await {
                self.emit(Event::BackendUp {
                    down_for: since.elapsed(),
                });
                return None;
            }
            delay = (delay * 2).min(MAX_PROBE_DELAY);
        }
    }
}

/// Resolves once the cancel flag is set (never, if its sender is gone unset).
pub async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    while !*cancel.borrow_and_update() {
        if cancel.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs a store operation on a blocking thread: Parquet writes and fsyncs must not stall
/// the runtime that streams responses.
async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    op: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || {
        let mut guard = store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        op(&mut guard)
    })
    .await
    .unwrap_or_else(|join_error| std::panic::resume_unwind(join_error.into_panic()))
}

async fn commit(store: &Arc<Mutex<Store>>, output: Box<RunOutput>) -> Result<(), StoreError> {
    with_store(store, move |s| s.commit(&output).map(drop)).await
}

fn summarize(cell: &Cell, run: &PlannedRun, output: &RunOutput) -> RunSummary {
    let records = &output.calls;
    let ok = records.iter().all(|r| r.error.is_none());
    let mean = |values: Vec<f64>| {
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let metrics: Vec<_> = records.iter().filter_map(|r| r.metrics.as_ref()).collect();
    let label = cell
        .point
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let errors: HashMap<&str, usize> =
        records
            .iter()
            .filter_map(|r| r.error.as_ref())
            .fold(HashMap::new(), |mut acc, e| {
                *acc.entry(e.kind.as_str()).or_default() += 1;
                acc
            });
    RunSummary {
        order_index: run.order_index,
        run_id: run.run_id.clone(),
        agent: cell.agent.clone(),
        label,
        ok,
        tokens_per_s: mean(metrics.iter().filter_map(|m| m.tokens_per_s).collect()),
        ttft_ms: mean(metrics.iter().filter_map(|m| m.ttft_ms).collect()),
        error: records.iter().find_map(|r| r.error.as_ref()).map(|e| {
            let kinds = errors.keys().copied().collect::<Vec<_>>().join(",");
            format!("{kinds}: {}", e.message)
        }),
    }
}
