//! Synthetic results folders: a real store (manifest, experiment copy, Parquet segments)
//! filled with calls whose metrics follow a known model plus seeded noise. For trying
//! `chimera report` without a backend, for its tests (the true effects are known), and for
//! its benchmark at a million rows.
//!
//! The model, per measured call at a cell with `num_gpu = g` (0 when unset) and
//! `num_ctx = c` (2048 when unset), agent index `a`:
//! throughput = 25 + 0.5·g − 3·log2(c / 1024) + `agent_gain`·a + N(0, 2.5) tok/s;
//! TTFT = 120 + c / 20 − 0.6·g − 15·a + N(0, 12) ms (at least 5).

use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::backend::{CallError, CallMetrics, ErrorKind};
use crate::env::Environment;
use crate::experiment::{Experiment, OptionValue};
use crate::plan::Plan;
use crate::store::{CallRecord, Existing, Progress, RunOutput, Store, StoreError, SweepStatus};

#[derive(Debug, Clone)]
pub struct SyntheticStudy {
    /// Experiment file text (any workload; one call per prompt is generated per run).
    pub experiment: String,
    /// Throughput gain of each later agent over the first, tok/s.
    pub agent_gain: f64,
    /// Every n-th measured call fails (stored as an error, no timings); None = none fail.
    pub failure_every: Option<usize>,
    /// Stop after this many runs (a sweep that was interrupted); None = all.
    pub runs_limit: Option<usize>,
    /// Calls per Parquet segment (a real sweep writes one run per segment).
    pub calls_per_segment: usize,
    pub noise_seed: u64,
}

impl SyntheticStudy {
    pub fn new(experiment: impl Into<String>) -> SyntheticStudy {
        SyntheticStudy {
            experiment: experiment.into(),
            agent_gain: 4.0,
            failure_every: None,
            runs_limit: None,
            calls_per_segment: 1,
            noise_seed: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    #[error(transparent)]
    Config(#[from] crate::experiment::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes the study into `dir` (which must not hold results yet). Returns the number of
/// measured calls written.
pub fn write(dir: &Path, study: &SyntheticStudy) -> Result<usize, SyntheticError> {
    let experiment = Experiment::parse_stored(&dir.join("experiment.toml"), &study.experiment)?;
    let plan = Plan::build(&experiment, experiment.seed.unwrap_or(1));
    let mut store = Store::open(
        dir,
        &experiment,
        &plan,
        Existing::Fresh,
        Environment::default(),
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(study.noise_seed);
    let calls_per_run = plan.calls_per_run.max(1);
    let agent_index = |name: &str| {
        experiment
            .agents
            .iter()
            .position(|a| a.name == name)
            .unwrap_or(0) as f64
    };
    let mut clock = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut batch: Vec<CallRecord> = Vec::new();
    let mut measured = 0usize;
    let mut progress = Progress::default();
    let mut loaded_key: Option<&str> = None;
    let runs = study
        .runs_limit
        .unwrap_or(plan.runs.len())
        .min(plan.runs.len());
    for run in &plan.runs[..runs] {
        let cell = &plan.cells[run.cell];
        let gpu = number(cell.option("num_gpu")).unwrap_or(0.0);
        let ctx = number(cell.option("num_ctx")).unwrap_or(2048.0);
        let agent = agent_index(&cell.agent);
        let reload = loaded_key != Some(cell.load_key.as_str());
        loaded_key = Some(cell.load_key.as_str());
        let record = |call_index: u32, warmup: bool, started: chrono::DateTime<Utc>| CallRecord {
            session: 1,
            run_id: if warmup {
                format!("warmup-{}-{}", run.order_index, cell.id)
            } else {
                run.run_id.clone()
            },
            cell_id: cell.id.clone(),
            agent: cell.agent.clone(),
            repetition: run.repetition,
            block: run.block,
            order_index: run.order_index,
            is_warmup: warmup,
            call_index,
            call_kind: if warmup { "warmup" } else { "prompt" }.to_owned(),
            model: cell.model.clone(),
            options: cell.options.clone(),
            started_at: started,
            metrics: None,
            reloaded: false,
            attempt: 1,
            error: None,
            response: None,
            done_reason: Some("stop".to_owned()),
            loaded: None,
            load_avg_1m: None,
        };
        if reload && experiment.warmup > 0 {
            let mut warm = record(0, true, clock);
            warm.reloaded = true;
            warm.metrics = Some(metrics(&mut rng, gpu, ctx, agent, study.agent_gain, 900.0));
            clock += Duration::milliseconds(1500);
            batch.push(warm);
        }
        let mut run_ok = true;
        for call_index in 0..calls_per_run as u32 {
            let mut call = record(call_index, false, clock);
            measured += 1;
            if study
                .failure_every
                .is_some_and(|n| n > 0 && measured % n == 0)
            {
                call.error = Some(CallError::new(ErrorKind::Server, "HTTP 500 (synthetic)"));
                run_ok = false;
            } else {
                let load = if reload && experiment.warmup == 0 {
                    900.0
                } else {
                    0.2
                };
                call.reloaded = reload && experiment.warmup == 0 && call_index == 0;
                let m = metrics(&mut rng, gpu, ctx, agent, study.agent_gain, load);
                clock += Duration::microseconds((m.e2e_ms * 1000.0) as i64);
                call.metrics = Some(m);
            }
            clock += Duration::milliseconds(5);
            batch.push(call);
        }
        progress.runs_stored += 1;
        if run_ok {
            progress.runs_ok += 1;
        } else {
            progress.runs_failed += 1;
        }
        if batch.len() >= study.calls_per_segment.max(1) {
            store.commit(&RunOutput {
                calls: std::mem::take(&mut batch),
                ..RunOutput::default()
            })?;
        }
    }
    if !batch.is_empty() {
        store.commit(&RunOutput {
            calls: batch,
            ..RunOutput::default()
        })?;
    }
    let status = if runs < plan.runs.len() {
        SweepStatus::Interrupted
    } else if progress.runs_failed > 0 {
        SweepStatus::FinishedWithFailures
    } else {
        SweepStatus::Finished
    };
    store.finish(status, progress)?;
    Ok(measured)
}

fn number(value: Option<&OptionValue>) -> Option<f64> {
    match value? {
        OptionValue::Int(v) => Some(*v as f64),
        OptionValue::Float(v) => Some(*v),
        _ => None,
    }
}

/// Standard normal by Box–Muller (enough for synthetic noise).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn metrics(
    rng: &mut ChaCha8Rng,
    gpu: f64,
    ctx: f64,
    agent: f64,
    agent_gain: f64,
    load_ms: f64,
) -> CallMetrics {
    let tokens_per_s =
        (25.0 + 0.5 * gpu - 3.0 * (ctx / 1024.0).log2() + agent_gain * agent + 2.5 * normal(rng))
            .max(1.0);
    let ttft = (120.0 + ctx / 20.0 - 0.6 * gpu - 15.0 * agent + 12.0 * normal(rng)).max(5.0);
    let eval_tokens = 128;
    let eval_ms = eval_tokens as f64 / tokens_per_s * 1000.0;
    let prompt_eval_ms = ttft * 0.8;
    let total_ms = load_ms + prompt_eval_ms + eval_ms;
    CallMetrics {
        ttft_ms: Some(ttft + load_ms),
        e2e_ms: total_ms + 3.0,
        total_ms: Some(total_ms),
        load_ms: Some(load_ms),
        prompt_eval_ms: Some(prompt_eval_ms),
        prompt_tokens: Some(42),
        eval_ms: Some(eval_ms),
        eval_tokens: Some(eval_tokens),
        tokens_per_s: Some(tokens_per_s),
        token_source: Some("server".to_owned()),
    }
}
