//! The study's design as a report sees it: the factors (grid axes, agent, and the results
//! folder when several are compared), their levels, and the groups observations are pooled
//! into (one per cell, or one per combination of the `--by` factors).
//!
//! Levels come from each cell of the rebuilt plan: an axis's level is the value the cell
//! sent (or `default` when it sent none). For A vs B matching an agent that does not follow
//! an axis (it fixes that option itself, or has `inherit_grid = false`) matches every level
//! of it: its one cell is the baseline for each of the other agent's grid points.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::ReportError;
use super::load::Source;
use crate::experiment::options::MODEL_KEY;
use crate::plan::grid::axes_for;

pub const AGENT: &str = "agent";
pub const SOURCE: &str = "source";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorKind {
    /// A grid axis (a backend option or the model).
    Axis,
    Agent,
    /// The results folder, when a report compares several.
    Source,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub label: String,
    /// The JSON form: numbers stay numbers; an option a cell did not send is null.
    pub value: Value,
}

#[derive(Debug, Clone)]
pub struct Factor {
    pub name: String,
    pub kind: FactorKind,
    /// In order of first appearance (grid order).
    pub levels: Vec<Level>,
}

/// The unit statistics are computed over.
#[derive(Debug, Clone)]
pub struct Group {
    /// The cell id when the group is one cell (prefixed `source/` when several folders are
    /// compared), else `g<index>`.
    pub id: String,
    /// The group's `by` levels without the agent: "num_ctx=2048, temperature=0.2".
    pub point_label: String,
    pub agent: Option<String>,
    pub source: Option<usize>,
    /// Per `by` factor: the level index.
    pub levels: Vec<usize>,
    /// Per `by` factor: true when the group's agent does not follow that axis.
    pub wildcard: Vec<bool>,
    pub planned_runs: usize,
    /// How many cells the group pools (1 unless `--by` merges cells).
    pub cells: usize,
}

#[derive(Debug)]
pub struct Design {
    pub factors: Vec<Factor>,
    /// Indices into `factors`: what groups are keyed by.
    pub by: Vec<usize>,
    pub groups: Vec<Group>,
    /// Agents in file order (the first is the baseline of every comparison).
    pub agents: Vec<String>,
    /// Per source: cell id → group index.
    cell_group: Vec<HashMap<String, usize>>,
    /// Per source: cell id → that cell's level index for every factor.
    cell_levels: Vec<HashMap<String, Vec<usize>>>,
}

impl Design {
    /// Builds the design of one or more folders, grouped by `by` (factor names; empty means
    /// one group per cell).
    pub fn build(sources: &[Source], by: &[String]) -> Result<Design, ReportError> {
        let mut factors: Vec<Factor> = Vec::new();
        let mut agents: Vec<String> = Vec::new();
        for source in sources {
            for axis in &source.experiment.grid {
                if !factors.iter().any(|f| f.name == axis.key) {
                    factors.push(Factor {
                        name: axis.key.clone(),
                        kind: FactorKind::Axis,
                        levels: Vec::new(),
                    });
                }
            }
            for agent in &source.experiment.agents {
                if !agents.contains(&agent.name) {
                    agents.push(agent.name.clone());
                }
            }
        }
        let agent_factor = factors.len();
        factors.push(Factor {
            name: AGENT.to_owned(),
            kind: FactorKind::Agent,
            levels: agents.iter().map(|a| text_level(a)).collect(),
        });
        let source_factor = (sources.len() > 1).then(|| {
            factors.push(Factor {
                name: SOURCE.to_owned(),
                kind: FactorKind::Source,
                levels: sources.iter().map(|s| text_level(&s.name)).collect(),
            });
            factors.len() - 1
        });

        // Every cell's level for every factor.
        let mut cell_levels: Vec<HashMap<String, Vec<usize>>> = Vec::new();
        let mut follows: Vec<HashMap<String, HashSet<String>>> = Vec::new();
        for source in sources {
            let mut levels_of = HashMap::new();
            for cell in &source.plan.cells {
                let mut levels = Vec::with_capacity(factors.len());
                for factor in factors.iter_mut() {
                    let level = match factor.kind {
                        FactorKind::Axis => {
                            let name = &factor.name;
                            if name == MODEL_KEY {
                                text_level(&cell.model)
                            } else {
                                match cell.option(name) {
                                    Some(value) => Level {
                                        label: value.to_string(),
                                        value: value.to_json(),
                                    },
                                    None => Level {
                                        label: "default".to_owned(),
                                        value: Value::Null,
                                    },
                                }
                            }
                        }
                        FactorKind::Agent => text_level(&cell.agent),
                        FactorKind::Source => text_level(&source.name),
                    };
                    levels.push(level_index(factor, level));
                }
                levels_of.insert(cell.id.clone(), levels);
            }
            cell_levels.push(levels_of);
            let mut followed = HashMap::new();
            for agent in &source.experiment.agents {
                let axes = axes_for(&source.experiment.grid, agent)
                    .into_iter()
                    .map(|axis| axis.key.clone())
                    .collect();
                followed.insert(agent.name.clone(), axes);
            }
            follows.push(followed);
        }

        let by = resolve_by(&factors, by)?;
        let mut groups: Vec<Group> = Vec::new();
        let mut group_of_key: HashMap<Vec<usize>, usize> = HashMap::new();
        let mut cell_group: Vec<HashMap<String, usize>> = Vec::new();
        let mut group_cells: Vec<usize> = Vec::new();
        for (source_index, source) in sources.iter().enumerate() {
            let mut map = HashMap::new();
            for cell in &source.plan.cells {
                let Some(levels) = cell_levels[source_index].get(&cell.id) else {
                    continue;
                };
                let key: Vec<usize> = by.iter().map(|f| levels[*f]).collect();
                let followed = follows[source_index].get(&cell.agent);
                let wildcard: Vec<bool> = by
                    .iter()
                    .map(|f| {
                        factors[*f].kind == FactorKind::Axis
                            && !followed.is_some_and(|axes| axes.contains(&factors[*f].name))
                    })
                    .collect();
                let planned = source.experiment.repetitions as usize;
                let index = match group_of_key.get(&key) {
                    Some(index) => {
                        let group = &mut groups[*index];
                        group.planned_runs += planned;
                        for (slot, w) in group.wildcard.iter_mut().zip(&wildcard) {
                            *slot &= *w;
                        }
                        group_cells[*index] += 1;
                        *index
                    }
                    None => {
                        let index = groups.len();
                        let cell_id = if sources.len() > 1 {
                            format!("{}/{}", source.name, cell.id)
                        } else {
                            cell.id.clone()
                        };
                        groups.push(Group {
                            id: cell_id,
                            point_label: String::new(),
                            agent: by
                                .contains(&agent_factor)
                                .then(|| cell.agent.clone())
                                .or_else(|| (agents.len() == 1).then(|| agents[0].clone())),
                            source: source_factor
                                .is_none_or(|f| by.contains(&f))
                                .then_some(source_index),
                            levels: key.clone(),
                            wildcard,
                            planned_runs: planned,
                            cells: 1,
                        });
                        group_of_key.insert(key, index);
                        group_cells.push(1);
                        index
                    }
                };
                map.insert(cell.id.clone(), index);
            }
            cell_group.push(map);
        }
        for (index, group) in groups.iter_mut().enumerate() {
            group.cells = group_cells[index];
            if group.cells > 1 {
                group.id = format!("g{index:03}");
            }
            group.point_label = by
                .iter()
                .zip(&group.levels)
                .filter(|(f, _)| factors[**f].kind != FactorKind::Agent)
                .map(|(f, l)| format!("{}={}", factors[*f].name, factors[*f].levels[*l].label))
                .collect::<Vec<_>>()
                .join(", ");
        }
        Ok(Design {
            factors,
            by,
            groups,
            agents,
            cell_group,
            cell_levels,
        })
    }

    /// The group a stored row of `source` belongs to (None for a cell the plan lacks).
    pub fn group_of(&self, source: usize, cell_id: &str) -> Option<usize> {
        self.cell_group.get(source)?.get(cell_id).copied()
    }

    /// The level index of every factor for a cell (main effects pool cells by these).
    pub fn levels_of(&self, source: usize, cell_id: &str) -> Option<&[usize]> {
        self.cell_levels
            .get(source)?
            .get(cell_id)
            .map(Vec::as_slice)
    }

    /// Whether grouping keeps agents apart (A vs B comparisons need that).
    pub fn groups_by_agent(&self) -> bool {
        self.by
            .iter()
            .any(|f| self.factors[*f].kind == FactorKind::Agent)
            && self.agents.len() > 1
    }

    /// Factors with more than one level (what main effects and headlines talk about).
    pub fn varying_factors(&self) -> impl Iterator<Item = (usize, &Factor)> {
        self.factors
            .iter()
            .enumerate()
            .filter(|(_, f)| f.levels.len() > 1)
    }

    /// The `by` factors other than the agent, as (factor index, position in `by`).
    pub fn point_factors(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.by
            .iter()
            .enumerate()
            .filter(|(_, f)| self.factors[**f].kind != FactorKind::Agent)
            .map(|(position, f)| (*f, position))
    }

    /// Whether groups `a` and `b` (different agents) describe the same grid point: equal
    /// levels on every other `by` factor, where an axis an agent does not follow matches all.
    pub fn same_point(&self, a: &Group, b: &Group) -> bool {
        self.point_factors().all(|(f, position)| {
            let is_axis = self.factors[f].kind == FactorKind::Axis;
            a.levels[position] == b.levels[position]
                || (is_axis && (a.wildcard[position] || b.wildcard[position]))
        })
    }

    /// "num_ctx=2048, temperature=0.2" for a point from [`Design::shared_point`] (factors
    /// neither agent follows are left out; empty when none is left).
    pub fn point_text(&self, point: &[(usize, Option<usize>)]) -> String {
        point
            .iter()
            .filter_map(|(f, level)| {
                let factor = &self.factors[*f];
                level.map(|l| format!("{}={}", factor.name, factor.levels[l].label))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The grid point two matched groups share: per `by` factor other than the agent, the
    /// level of whichever side follows it (None when neither does).
    pub fn shared_point(&self, a: &Group, b: &Group) -> Vec<(usize, Option<usize>)> {
        self.point_factors()
            .map(|(f, position)| {
                let level = if !a.wildcard[position] {
                    Some(a.levels[position])
                } else if !b.wildcard[position] {
                    Some(b.levels[position])
                } else {
                    None
                };
                (f, level)
            })
            .collect()
    }
}

fn text_level(text: &str) -> Level {
    Level {
        label: text.to_owned(),
        value: Value::String(text.to_owned()),
    }
}

fn level_index(factor: &mut Factor, level: Level) -> usize {
    match factor.levels.iter().position(|l| l.label == level.label) {
        Some(index) => index,
        None => {
            factor.levels.push(level);
            factor.levels.len() - 1
        }
    }
}

fn resolve_by(factors: &[Factor], by: &[String]) -> Result<Vec<usize>, ReportError> {
    if by.is_empty() {
        return Ok((0..factors.len()).collect());
    }
    let mut indices = Vec::new();
    for name in by {
        match factors.iter().position(|f| &f.name == name) {
            Some(index) if !indices.contains(&index) => indices.push(index),
            Some(_) => {}
            None => {
                let known: Vec<&str> = factors.iter().map(|f| f.name.as_str()).collect();
                return Err(ReportError::UnknownFactor {
                    name: name.clone(),
                    known: known.join(", "),
                });
            }
        }
    }
    // Keep the file's factor order whatever order the flag listed them in.
    indices.sort_unstable();
    Ok(indices)
}
