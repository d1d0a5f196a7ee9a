//! Run orders: which (cell, repetition) runs when. Pure, seeded, reproducible.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::grid::Cell;
use crate::experiment::OrderKind;

/// One measured run in its planned position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedRun {
    pub order_index: usize,
    /// `<cell_id>-r<repetition>`: stable across resumes, so a stored run is recognised.
    pub run_id: String,
    pub cell: usize,
    pub repetition: u32,
    /// The block of a blocked design (= the repetition for the other orders).
    pub block: u32,
}

pub fn run_id(cell: &Cell, repetition: u32) -> String {
    format!("{}-r{repetition:03}", cell.id)
}

/// Orders every (cell, repetition) run.
pub fn order_runs(cells: &[Cell], repetitions: u32, kind: OrderKind, seed: u64) -> Vec<PlannedRun> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pairs: Vec<(usize, u32)> = match kind {
        OrderKind::Sequential => cells
            .iter()
            .flat_map(|cell| (0..repetitions).map(move |r| (cell.index, r)))
            .collect(),
        OrderKind::Random => {
            let mut pairs: Vec<(usize, u32)> = (0..repetitions)
                .flat_map(|r| cells.iter().map(move |cell| (cell.index, r)))
                .collect();
            pairs.shuffle(&mut rng);
            pairs
        }
        OrderKind::Blocked => blocked(cells, repetitions, &mut rng),
    };
    pairs
        .into_iter()
        .enumerate()
        .map(|(order_index, (cell, repetition))| PlannedRun {
            order_index,
            run_id: run_id(&cells[cell], repetition),
            cell,
            repetition,
            block: repetition,
        })
        .collect()
}

/// A randomized complete block design: block r runs every cell once (repetition r). Cells
/// sharing a load configuration stay together, so each block reloads once per group; the
/// next block starts with the group the previous one ended on, saving one more reload.
fn blocked(cells: &[Cell], repetitions: u32, rng: &mut ChaCha8Rng) -> Vec<(usize, u32)> {
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    for cell in cells {
        match groups.iter_mut().find(|(key, _)| *key == cell.load_key) {
            Some((_, members)) => members.push(cell.index),
            None => groups.push((&cell.load_key, vec![cell.index])),
        }
    }
    let mut order = Vec::with_capacity(cells.len() * repetitions as usize);
    let mut previous_last: Option<usize> = None;
    for block in 0..repetitions {
        let mut group_order: Vec<usize> = (0..groups.len()).collect();
        group_order.shuffle(rng);
        if let Some(last) = previous_last
            && let Some(position) = group_order.iter().position(|g| *g == last)
        {
            group_order.swap(0, position);
        }
        for &g in &group_order {
            let mut members = groups[g].1.clone();
            members.shuffle(rng);
            order.extend(members.into_iter().map(|cell| (cell, block)));
        }
        previous_last = group_order.last().copied();
    }
    order
}

/// How many times the load configuration changes along an order (the first load counts).
pub fn reload_count(cells: &[Cell], runs: &[PlannedRun]) -> usize {
    let mut count = 0;
    let mut current: Option<&str> = None;
    for run in runs {
        let key = cells[run.cell].load_key.as_str();
        if current != Some(key) {
            count += 1;
            current = Some(key);
        }
    }
    count
}

/// The fewest reloads any complete block design can have: every block visits all `groups`
/// load configurations, and consecutive blocks can share one at their boundary.
pub fn minimum_reloads(groups: usize, repetitions: u32) -> usize {
    match (groups, repetitions) {
        (0, _) | (_, 0) => 0,
        (1, _) => 1,
        (g, r) => g + (r as usize - 1) * (g - 1),
    }
}
