//! `chimera plan` output: a human table and a JSON document for machines.

use std::fmt::Write;

use serde_json::json;

use super::Plan;

/// Runs listed one by one in the text output before it abbreviates (`--json` lists all).
const ORDER_LINES: usize = 60;

/// The plan as text: the cells table, the counts, and the order.
pub fn render_text(plan: &Plan, seed_is_fixed: bool) -> String {
    let mut headers: Vec<String> = vec!["cell".into(), "agent".into(), "model".into()];
    headers.extend(plan.option_columns.iter().map(|c| c.name.clone()));
    let rows: Vec<Vec<String>> = plan
        .cells
        .iter()
        .map(|cell| {
            let mut row = vec![cell.id.clone(), cell.agent.clone(), cell.model.clone()];
            row.extend(plan.option_columns.iter().map(|column| {
                cell.option(&column.name)
                    .map_or_else(|| "default".to_owned(), ToString::to_string)
            }));
            row
        })
        .collect();
    let mut out = table(&headers, &rows);

    let seed_note = if seed_is_fixed {
        String::new()
    } else {
        " (drawn now: experiment.seed is not set, so `run` draws its own and records it)".to_owned()
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} cells x {} repetitions = {} runs, {} calls ({} measured + {} warm-up)",
        plan.cells.len(),
        plan.repetitions,
        plan.runs.len(),
        plan.measured_calls() + plan.warmup_calls(),
        plan.measured_calls(),
        plan.warmup_calls(),
    );
    let _ = writeln!(
        out,
        "order: {}, seed {}{seed_note}; {} load configurations, {} model loads",
        plan.order.as_str(),
        plan.seed,
        plan.load_groups(),
        plan.reloads,
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "run order:");
    for run in plan.runs.iter().take(ORDER_LINES) {
        let cell = &plan.cells[run.cell];
        let _ = writeln!(
            out,
            "  {:>5}  {}  block {}  {}",
            run.order_index, run.run_id, run.block, cell.agent
        );
    }
    if plan.runs.len() > ORDER_LINES {
        let _ = writeln!(
            out,
            "  ... and {} more (use --json for the full order)",
            plan.runs.len() - ORDER_LINES
        );
    }
    out
}

/// The plan as JSON: every cell with its options, every run in order, and the counts.
pub fn render_json(plan: &Plan, seed_is_fixed: bool) -> serde_json::Value {
    let cells: Vec<_> = plan
        .cells
        .iter()
        .map(|cell| {
            let options: serde_json::Map<_, _> = cell
                .options
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            json!({
                "cell_id": cell.id,
                "agent": cell.agent,
                "model": cell.model,
                "options": options,
                "load_key": cell.load_key,
            })
        })
        .collect();
    let runs: Vec<_> = plan
        .runs
        .iter()
        .map(|run| {
            json!({
                "order_index": run.order_index,
                "run_id": run.run_id,
                "cell_id": plan.cells[run.cell].id,
                "repetition": run.repetition,
                "block": run.block,
            })
        })
        .collect();
    json!({
        "experiment": plan.experiment,
        "order": plan.order.as_str(),
        "seed": plan.seed,
        "seed_fixed": seed_is_fixed,
        "counts": {
            "cells": plan.cells.len(),
            "runs": plan.runs.len(),
            "calls_per_run": plan.calls_per_run,
            "measured_calls": plan.measured_calls(),
            "warmup_calls": plan.warmup_calls(),
            "load_configurations": plan.load_groups(),
            "model_loads": plan.reloads,
        },
        "cells": cells,
        "runs": runs,
    })
}

/// A plain left-aligned table with a header rule.
fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, value) in widths.iter_mut().zip(row) {
            *width = (*width).max(value.chars().count());
        }
    }
    let line = |values: &[String]| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(value, width)| format!("{value:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = line(headers);
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&rule.join("  "));
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}
