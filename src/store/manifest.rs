//! `manifest.json`: what a results folder holds, where it came from, and how far it got.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::env::Environment;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepStatus {
    /// A session is running, or died without a word (kill -9, power loss): rerun to resume.
    Running,
    Finished,
    FinishedWithFailures,
    Interrupted,
    BackendDown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanCounts {
    pub cells: usize,
    pub runs: usize,
    pub calls_per_run: usize,
    pub measured_calls: usize,
    pub warmup_calls: usize,
    pub model_loads: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    pub runs_stored: usize,
    pub runs_ok: usize,
    pub runs_failed: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: SweepStatus,
    pub runs_stored: usize,
    pub environment: Environment,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub experiment: String,
    /// sha256 of the experiment file: a folder belongs to exactly one file.
    pub experiment_hash: String,
    pub chimera_version: String,
    pub status: SweepStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub order: String,
    pub order_seed: u64,
    /// Whether the seed came from the file (`experiment.seed`) or was drawn at first start.
    pub seed_from_file: bool,
    pub plan: PlanCounts,
    pub progress: Progress,
    pub sessions: Vec<Session>,
}

impl Manifest {
    pub fn current_session(&self) -> u32 {
        self.sessions.last().map_or(0, |s| s.number)
    }
}
