//! The plan: every cell (grid point × agent) and every run in the order `run` will use.
//!
//! Building a plan is pure: the same experiment and seed give the same plan, which is how
//! a resumed sweep knows what is left and `chimera plan` shows exactly what will happen.

pub mod grid;
pub mod order;
mod render;

use serde::Serialize;

use crate::experiment::options::{self, KNOWN_OPTIONS, MODEL_KEY};
use crate::experiment::{Experiment, OptionKind, OptionValue, OrderKind};
pub use grid::Cell;
pub use order::PlannedRun;
pub use render::{render_json, render_text};

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub experiment: String,
    pub cells: Vec<Cell>,
    pub runs: Vec<PlannedRun>,
    pub order: OrderKind,
    pub seed: u64,
    pub repetitions: u32,
    pub warmup: u32,
    pub calls_per_run: usize,
    /// Load-configuration changes along the order (the first load included).
    pub reloads: usize,
    /// Options sent by at least one cell, in known-option order: one column each in the store.
    pub option_columns: Vec<OptionColumn>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptionColumn {
    pub name: String,
    #[serde(skip)]
    pub kind: OptionKind,
}

impl Plan {
    /// Plans an experiment with the given order seed (the file's, or one drawn by the caller
    /// and recorded in the manifest).
    pub fn build(experiment: &Experiment, seed: u64) -> Plan {
        let cells = grid::expand(
            &experiment.grid,
            &experiment.agents,
            &experiment.backend.model,
            &base_options(experiment),
        );
        let runs = order::order_runs(&cells, experiment.repetitions, experiment.order, seed);
        let reloads = order::reload_count(&cells, &runs);
        let option_columns = KNOWN_OPTIONS
            .iter()
            .filter(|spec| spec.name != MODEL_KEY)
            .filter(|spec| cells.iter().any(|cell| cell.option(spec.name).is_some()))
            .map(|spec| OptionColumn {
                name: spec.name.to_owned(),
                kind: spec.kind,
            })
            .collect();
        Plan {
            experiment: experiment.name.clone(),
            cells,
            runs,
            order: experiment.order,
            seed,
            repetitions: experiment.repetitions,
            warmup: experiment.warmup,
            calls_per_run: experiment.workload.calls_per_run(),
            reloads,
            option_columns,
        }
    }

    pub fn measured_calls(&self) -> usize {
        self.runs.len() * self.calls_per_run
    }

    /// Warm-up calls for an uninterrupted sweep: `warmup` after every load change.
    pub fn warmup_calls(&self) -> usize {
        self.reloads * self.warmup as usize
    }

    /// Distinct load configurations.
    pub fn load_groups(&self) -> usize {
        let mut keys: Vec<&str> = self.cells.iter().map(|c| c.load_key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.len()
    }
}

/// Options every cell sends unless the grid or the agent says otherwise: the workload's
/// num_predict and, when the file fixes `experiment.seed`, the sampling seed.
fn base_options(experiment: &Experiment) -> Vec<(String, OptionValue)> {
    let mut base = Vec::new();
    if let Some(n) = experiment.workload.num_predict() {
        base.push(("num_predict".to_owned(), OptionValue::Int(n)));
    }
    if let Some(seed) = experiment.seed {
        // Ollama takes the seed as a signed integer.
        base.push(("seed".to_owned(), OptionValue::Int(seed as i64)));
    }
    debug_assert!(base.iter().all(|(k, _)| options::lookup(k).is_some()));
    base
}

#[cfg(test)]
mod tests;
