use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proptest::prelude::*;

use super::grid::{axes_for, expand};
use super::order::{minimum_reloads, order_runs, reload_count};
use super::*;
use crate::experiment::{AgentSpec, Experiment, GridAxis};

fn axis(key: &str, values: &[i64]) -> GridAxis {
    GridAxis {
        key: key.into(),
        values: values.iter().map(|v| OptionValue::Int(*v)).collect(),
    }
}

fn agent(name: &str, inherit_grid: bool, options: &[(&str, OptionValue)]) -> AgentSpec {
    AgentSpec {
        inherit_grid,
        options: options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        ..AgentSpec::named(name)
    }
}

fn values(cell: &Cell) -> BTreeMap<String, String> {
    cell.options
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

#[test]
fn expansion_is_the_cartesian_product_last_axis_fastest() {
    let grid = [
        axis("num_gpu", &[60, 80]),
        axis("num_ctx", &[512, 1024, 2048]),
    ];
    let cells = expand(&grid, &[agent("a", true, &[])], "m", &[]);
    assert_eq!(cells.len(), 6);
    let points: Vec<(String, String)> = cells
        .iter()
        .map(|c| {
            (
                c.option("num_gpu").unwrap().to_string(),
                c.option("num_ctx").unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("60", "512"),
        ("60", "1024"),
        ("60", "2048"),
        ("80", "512"),
        ("80", "1024"),
        ("80", "2048"),
    ];
    assert_eq!(
        points,
        expected
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect::<Vec<_>>()
    );
    assert_eq!(cells[0].id, "c0000");
    assert_eq!(cells[5].id, "c0005");
    assert_eq!(cells[4].load_key, "model=m;num_ctx=1024;num_gpu=80");
}

#[test]
fn agent_overrides_fix_a_key_and_remove_its_axis() {
    let grid = [axis("num_ctx", &[512, 1024]), axis("top_k", &[20, 40])];
    let chimera = agent(
        "chimera",
        true,
        &[
            ("top_k", OptionValue::Int(64)),
            ("min_p", OptionValue::Float(0.1)),
        ],
    );
    let cells = expand(&grid, &[chimera], "m", &[]);
    assert_eq!(
        cells.len(),
        2,
        "top_k is fixed by the agent, only num_ctx varies"
    );
    for cell in &cells {
        assert_eq!(cell.option("top_k"), Some(&OptionValue::Int(64)));
        assert_eq!(cell.option("min_p"), Some(&OptionValue::Float(0.1)));
        assert_eq!(cell.point.len(), 1);
    }
}

#[test]
fn a_non_inheriting_agent_sends_backend_defaults_but_follows_the_model_axis() {
    let grid = [
        GridAxis {
            key: "model".into(),
            values: vec![OptionValue::Str("a".into()), OptionValue::Str("b".into())],
        },
        axis("num_ctx", &[512, 1024]),
    ];
    let base = [("num_predict".to_owned(), OptionValue::Int(64))];
    let agents = [agent("baseline", false, &[]), agent("chimera", true, &[])];
    let cells = expand(&grid, &agents, "unused", &base);
    assert_eq!(cells.len(), 2 + 4);
    let baseline: Vec<_> = cells.iter().filter(|c| c.agent == "baseline").collect();
    assert_eq!(
        baseline
            .iter()
            .map(|c| c.model.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    for cell in &baseline {
        assert_eq!(
            values(cell),
            BTreeMap::from([("num_predict".into(), "64".into())])
        );
        assert_eq!(cell.load_key, format!("model={}", cell.model));
    }
    assert_eq!(axes_for(&grid, &agents[0]).len(), 1);
}

#[test]
fn grid_values_override_base_options_and_agent_options_override_both() {
    let grid = [axis("num_predict", &[32])];
    let base = [
        ("num_predict".to_owned(), OptionValue::Int(128)),
        ("seed".to_owned(), OptionValue::Int(1)),
    ];
    let plain = expand(&grid, &[agent("a", true, &[])], "m", &base);
    assert_eq!(plain[0].option("num_predict"), Some(&OptionValue::Int(32)));
    let fixed = expand(
        &grid,
        &[agent("a", true, &[("seed", OptionValue::Int(9))])],
        "m",
        &base,
    );
    assert_eq!(fixed[0].option("seed"), Some(&OptionValue::Int(9)));
}

#[test]
fn an_empty_grid_gives_one_cell_per_agent() {
    let cells = expand(
        &[],
        &[agent("a", true, &[]), agent("b", false, &[])],
        "m",
        &[],
    );
    assert_eq!(cells.len(), 2);
    assert_eq!(cells[1].id, "c0001");
}

#[test]
fn plan_counts_runs_calls_and_warmups() {
    let text = r#"
[experiment]
name = "s"
repetitions = 3
warmup = 2
seed = 5
[backend]
model = "m"
[grid]
num_ctx = [512, 1024]
temperature = [0.2, 0.8]
[workload]
prompts = ["a", "b"]
num_predict = 16
[[agent]]
name = "baseline"
inherit_grid = false
[[agent]]
name = "chimera"
"#;
    let experiment = Experiment::parse(Path::new("e.toml"), text, None).unwrap();
    let plan = Plan::build(&experiment, 5);
    assert_eq!(plan.cells.len(), 5);
    assert_eq!(plan.runs.len(), 15);
    assert_eq!(plan.measured_calls(), 30);
    assert_eq!(plan.load_groups(), 3);
    assert_eq!(plan.reloads, minimum_reloads(3, 3));
    assert_eq!(plan.warmup_calls(), 2 * plan.reloads);
    let columns: Vec<_> = plan
        .option_columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(columns, ["num_ctx", "seed", "num_predict", "temperature"]);
    assert_eq!(
        Plan::build(&experiment, 5).runs,
        plan.runs,
        "same seed, same order"
    );
}

#[test]
fn the_rendered_plan_is_stable() {
    let text = r#"
[experiment]
name = "s"
repetitions = 2
seed = 1
[backend]
model = "gemma3"
[grid]
num_ctx = [512, 1024]
[workload]
prompts = ["a"]
[[agent]]
name = "baseline"
inherit_grid = false
[[agent]]
name = "chimera"
options = { temperature = 0.8 }
"#;
    let experiment = Experiment::parse(Path::new("e.toml"), text, None).unwrap();
    let plan = Plan::build(&experiment, 1);
    insta::assert_snapshot!(render_text(&plan, true));
}

/// Cells with `groups` load configurations of `per_group` cells each.
fn cells_in_groups(groups: usize, per_group: usize) -> Vec<Cell> {
    let grid = [
        axis("num_ctx", &(0..groups as i64).collect::<Vec<_>>()),
        axis("top_k", &(0..per_group as i64).collect::<Vec<_>>()),
    ];
    expand(&grid, &[agent("a", true, &[])], "m", &[])
}

proptest! {
    #[test]
    fn expansion_counts_match_the_product(sizes in prop::collection::vec(1usize..5, 0..4), agents in 1usize..4) {
        let keys = ["num_ctx", "num_gpu", "top_k", "seed"];
        let grid: Vec<GridAxis> = sizes.iter().zip(keys).map(|(n, key)| axis(key, &(0..*n as i64).collect::<Vec<_>>())).collect();
        let specs: Vec<AgentSpec> = (0..agents).map(|i| agent(&format!("a{i}"), true, &[])).collect();
        let cells = expand(&grid, &specs, "m", &[]);
        let product: usize = sizes.iter().product();
        prop_assert_eq!(cells.len(), product * agents);
        let distinct: BTreeSet<_> = cells.iter().map(|c| (c.agent.clone(), values(c))).collect();
        prop_assert_eq!(distinct.len(), cells.len(), "every cell is a distinct point");
        let ids: BTreeSet<_> = cells.iter().map(|c| c.id.clone()).collect();
        prop_assert_eq!(ids.len(), cells.len());
    }

    #[test]
    fn every_order_runs_each_cell_repetition_exactly_once(
        groups in 1usize..5, per_group in 1usize..4, reps in 1u32..5, seed in any::<u64>(),
        kind in prop::sample::select(vec![OrderKind::Sequential, OrderKind::Random, OrderKind::Blocked]),
    ) {
        let cells = cells_in_groups(groups, per_group);
        let runs = order_runs(&cells, reps, kind, seed);
        let pairs: BTreeSet<(usize, u32)> = runs.iter().map(|r| (r.cell, r.repetition)).collect();
        prop_assert_eq!(runs.len(), cells.len() * reps as usize);
        prop_assert_eq!(pairs.len(), runs.len());
        prop_assert!(runs.iter().enumerate().all(|(i, r)| r.order_index == i));
        prop_assert_eq!(&order_runs(&cells, reps, kind, seed), &runs, "reproducible from the seed");
    }

    #[test]
    fn blocked_blocks_are_permutations_and_reloads_are_minimal(
        groups in 1usize..6, per_group in 1usize..4, reps in 1u32..6, seed in any::<u64>(),
    ) {
        let cells = cells_in_groups(groups, per_group);
        let runs = order_runs(&cells, reps, OrderKind::Blocked, seed);
        let n = cells.len();
        for (b, block) in runs.chunks(n).enumerate() {
            let in_block: BTreeSet<usize> = block.iter().map(|r| r.cell).collect();
            prop_assert_eq!(in_block.len(), n, "block {} holds every cell once", b);
            prop_assert!(block.iter().all(|r| r.block == b as u32 && r.repetition == b as u32));
        }
        prop_assert_eq!(reload_count(&cells, &runs), minimum_reloads(groups, reps));
    }

    #[test]
    fn sequential_keeps_repetitions_back_to_back(groups in 1usize..4, per_group in 1usize..4, reps in 1u32..4) {
        let cells = cells_in_groups(groups, per_group);
        let runs = order_runs(&cells, reps, OrderKind::Sequential, 0);
        for (i, run) in runs.iter().enumerate() {
            prop_assert_eq!(run.cell, i / reps as usize);
            prop_assert_eq!(run.repetition, (i % reps as usize) as u32);
        }
    }
}

#[test]
fn blocked_order_depends_on_the_seed() {
    let cells = cells_in_groups(3, 3);
    let a = order_runs(&cells, 3, OrderKind::Blocked, 1);
    let b = order_runs(&cells, 3, OrderKind::Blocked, 2);
    assert_ne!(a, b);
}
