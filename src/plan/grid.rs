//! Grid expansion: experiment axes × agent variants → cells. Pure and deterministic.

use rayon::prelude::*;
use serde::Serialize;

use crate::experiment::options::{self, MODEL_KEY};
use crate::experiment::{AgentSpec, GridAxis, OptionValue};

/// One grid point for one agent: the unit that gets `repetitions` runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub index: usize,
    pub id: String,
    pub agent: String,
    pub model: String,
    /// The grid values this cell takes, for the axes this agent follows.
    pub point: Vec<(String, OptionValue)>,
    /// Every option sent to the backend (never `model`), in a stable order.
    pub options: Vec<(String, OptionValue)>,
    pub system: Option<String>,
    /// Identifies what the backend has loaded (model + reload options): cells with equal
    /// keys run without a reload in between.
    pub load_key: String,
}

impl Cell {
    pub fn option(&self, key: &str) -> Option<&OptionValue> {
        self.options.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// The axes an agent follows: all of them, minus the keys its own `options` fix; an agent
/// with `inherit_grid = false` follows only the `model` axis (it sends backend defaults).
pub fn axes_for<'a>(grid: &'a [GridAxis], agent: &AgentSpec) -> Vec<&'a GridAxis> {
    grid.iter()
        .filter(|axis| {
            if !agent.inherit_grid {
                return axis.key == MODEL_KEY;
            }
            !agent.options.iter().any(|(key, _)| *key == axis.key)
        })
        .collect()
}

/// Expands the grid for every agent, agents in file order, the last axis varying fastest.
/// `base_options` (workload settings such as num_predict, the sampling seed) apply to every
/// cell; grid values override them, and the agent's own options override both.
pub fn expand(
    grid: &[GridAxis],
    agents: &[AgentSpec],
    default_model: &str,
    base_options: &[(String, OptionValue)],
) -> Vec<Cell> {
    let mut points_per_agent = Vec::with_capacity(agents.len());
    for agent in agents {
        let axes = axes_for(grid, agent);
        let count: usize = axes.iter().map(|axis| axis.values.len()).product();
        points_per_agent.push((agent, axes, count));
    }
    let total: usize = points_per_agent.iter().map(|(_, _, count)| count).sum();
    let width = total.saturating_sub(1).to_string().len().max(4);

    let mut cells = Vec::with_capacity(total);
    let mut offset = 0;
    for (agent, axes, count) in points_per_agent {
        let agent_cells: Vec<Cell> = (0..count)
            .into_par_iter()
            .map(|local| {
                let point = decode_point(&axes, local);
                let index = offset + local;
                build_cell(index, width, agent, point, default_model, base_options)
            })
            .collect();
        cells.extend(agent_cells);
        offset += count;
    }
    cells
}

/// Mixed-radix decoding of a point number into one value per axis (last axis fastest).
fn decode_point(axes: &[&GridAxis], mut number: usize) -> Vec<(String, OptionValue)> {
    let mut point = vec![None; axes.len()];
    for (slot, axis) in point.iter_mut().zip(axes).rev() {
        let radix = axis.values.len();
        *slot = Some((axis.key.clone(), axis.values[number % radix].clone()));
        number /= radix;
    }
    point.into_iter().flatten().collect()
}

fn build_cell(
    index: usize,
    width: usize,
    agent: &AgentSpec,
    point: Vec<(String, OptionValue)>,
    default_model: &str,
    base_options: &[(String, OptionValue)],
) -> Cell {
    let mut model = default_model.to_owned();
    let mut sent: Vec<(String, OptionValue)> = base_options.to_vec();
    let overrides = point.iter().chain(agent.options.iter());
    for (key, value) in overrides {
        if key == MODEL_KEY {
            model = value.to_string();
        } else if let Some(slot) = sent.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value.clone();
        } else {
            sent.push((key.clone(), value.clone()));
        }
    }
    // Known-option order makes the sent options (and the load key) independent of how the
    // file happened to order its keys.
    sent.sort_by_key(|(key, _)| option_rank(key));
    let load_key = load_key(&model, &sent);
    Cell {
        index,
        id: format!("c{index:0width$}"),
        agent: agent.name.clone(),
        model,
        point,
        options: sent,
        system: agent.system.clone(),
        load_key,
    }
}

fn option_rank(key: &str) -> usize {
    options::KNOWN_OPTIONS
        .iter()
        .position(|spec| spec.name == key)
        .unwrap_or(usize::MAX)
}

/// `model=…;num_ctx=…`: the model plus every sent option that makes the backend reload.
pub fn load_key(model: &str, options: &[(String, OptionValue)]) -> String {
    let mut key = format!("model={model}");
    for (name, value) in options {
        if options::lookup(name).is_some_and(|spec| spec.reloads_model) {
            key.push_str(&format!(";{name}={value}"));
        }
    }
    key
}
