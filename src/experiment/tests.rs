use std::path::Path;

use super::*;

const FILE: &str = "experiments/study.toml";

fn parse(text: &str) -> Result<Experiment, ConfigError> {
    Experiment::parse(Path::new(FILE), text, None)
}

/// The rendered message of the error a file produces.
fn error_of(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(err) => err.to_string(),
    }
}

const MINIMAL: &str = r#"
[experiment]
name = "s"
[backend]
model = "gemma3:latest"
[workload]
prompts = ["Hello"]
"#;

const FULL: &str = r#"
[experiment]
name = "gemma3-ctx-gpu"
description = "free text"
repetitions = 5
warmup = 2
order = "random"
seed = 42

[backend]
kind = "ollama"
url = "http://10.0.0.5:11434/"
model = "gemma3:latest"
timeout_s = 120
stall_s = 30
retries = 4
keep_alive = "1h"

[grid]
num_gpu = [60, 80, 120]
num_ctx = [512, 1024, 2048]
temperature = [0.2, 1]

[workload]
kind = "prompt"
prompts = ["Summarise", "Explain"]
num_predict = 128

[[agent]]
name = "baseline"
inherit_grid = false

[[agent]]
name = "chimera"
options = { top_k = 40, stop = ["</s>"] }
system = "You are InsightAgent"
"#;

#[test]
fn a_full_file_parses_into_the_expected_values() {
    let e = parse(FULL).unwrap();
    assert_eq!(e.name, "gemma3-ctx-gpu");
    assert_eq!(e.description, "free text");
    assert_eq!(
        (e.repetitions, e.warmup, e.order, e.seed),
        (5, 2, OrderKind::Random, Some(42))
    );
    assert_eq!(e.backend.url, "http://10.0.0.5:11434");
    assert_eq!(e.backend.model, "gemma3:latest");
    assert_eq!(
        (e.backend.timeout_s, e.backend.stall_s, e.backend.retries),
        (120.0, 30.0, 4)
    );
    assert_eq!(e.backend.keep_alive.as_deref(), Some("1h"));
    let keys: Vec<_> = e.grid.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        ["num_gpu", "num_ctx", "temperature"],
        "file order is kept"
    );
    assert_eq!(
        e.grid[2].values,
        [OptionValue::Float(0.2), OptionValue::Float(1.0)]
    );
    let Workload::Prompt {
        prompts,
        num_predict,
    } = &e.workload
    else {
        panic!("a prompt workload")
    };
    assert_eq!(prompts, &["Summarise", "Explain"]);
    assert_eq!(*num_predict, Some(128));
    assert_eq!(e.agents.len(), 2);
    assert!(!e.agents[0].inherit_grid);
    assert_eq!(
        e.agents[1].options,
        [
            ("top_k".to_owned(), OptionValue::Int(40)),
            ("stop".to_owned(), OptionValue::StrList(vec!["</s>".into()]))
        ]
    );
    assert_eq!(e.agents[1].system.as_deref(), Some("You are InsightAgent"));
    assert_eq!(e.hash, sha256_hex(FULL.as_bytes()));
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let e = parse(MINIMAL).unwrap();
    assert_eq!(
        (e.repetitions, e.warmup, e.order, e.seed),
        (3, 1, OrderKind::Blocked, None)
    );
    assert_eq!(e.backend.url, "http://127.0.0.1:11434");
    assert_eq!(
        (
            e.backend.timeout_s,
            e.backend.retries,
            e.backend.down_timeout_s
        ),
        (600.0, 2, 600.0)
    );
    assert_eq!(e.agents.len(), 1);
    assert_eq!(e.agents[0].name, "default");
    assert!(e.grid.is_empty());
}

#[test]
fn ollama_host_is_the_default_url() {
    let host = |h: &str| {
        Experiment::parse(Path::new(FILE), MINIMAL, Some(h))
            .unwrap()
            .backend
            .url
    };
    assert_eq!(host("0.0.0.0"), "http://0.0.0.0:11434");
    assert_eq!(host("gpu-box:8080"), "http://gpu-box:8080");
    assert_eq!(host("https://ollama.lab"), "https://ollama.lab:11434");
}

#[test]
fn unknown_top_level_key() {
    assert_eq!(
        error_of(&format!("{MINIMAL}\n[grids]\nnum_ctx = [1]\n")),
        "experiments/study.toml: `grids`: unknown key\n  fix: did you mean `grid`? known keys here: experiment, backend, grid, workload, agent"
    );
}

#[test]
fn wrong_type_inside_a_grid_list_names_the_index() {
    assert_eq!(
        error_of(&format!(
            "{MINIMAL}\n[grid]\nnum_ctx = [512, 1024, \"big\"]\n"
        )),
        "experiments/study.toml: `grid.num_ctx[2]`: expected an integer, found string `\"big\"`\n  fix: write num_ctx values as an integer, e.g. num_ctx = 512"
    );
}

#[test]
fn empty_grid_list() {
    assert_eq!(
        error_of(&format!("{MINIMAL}\n[grid]\ntemperature = []\n")),
        "experiments/study.toml: `grid.temperature`: empty list: the grid would have no cells\n  fix: give temperature at least one value, or remove it from [grid]"
    );
}

#[test]
fn nan_is_rejected() {
    assert_eq!(
        error_of(&format!("{MINIMAL}\n[grid]\ntop_p = [0.9, nan]\n")),
        "experiments/study.toml: `grid.top_p[1]`: NaN is not a finite number\n  fix: give top_p a finite value such as 0.8"
    );
}

#[test]
fn duplicate_agent_names() {
    let text = format!("{MINIMAL}\n[[agent]]\nname = \"a\"\n[[agent]]\nname = \"a\"\n");
    assert_eq!(
        error_of(&text),
        "experiments/study.toml: `agent[1].name`: duplicate agent name `a`\n  fix: give every [[agent]] a unique name"
    );
}

#[test]
fn misspelt_option_gets_a_suggestion() {
    let message = error_of(&format!("{MINIMAL}\n[grid]\nnum_ctxx = [512]\n"));
    assert!(
        message.starts_with("experiments/study.toml: `grid.num_ctxx`: unknown backend option\n  fix: did you mean `num_ctx`? known options: model, num_ctx,"),
        "{message}"
    );
}

#[test]
fn grids_over_a_million_cells_are_rejected_before_expansion() {
    let values: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
    let list = values.join(", ");
    let text = format!("{MINIMAL}\n[grid]\nnum_ctx = [{list}]\nseed = [{list}]\n");
    assert_eq!(
        error_of(&text),
        "experiments/study.toml: `grid`: the grid has 1002001 cells; the limit is 1000000\n  fix: use fewer values per key, or split the study into several experiment files"
    );
}

#[test]
fn toml_syntax_errors_give_line_and_column() {
    let message = error_of("[experiment]\nname = \"s\nrepetitions = 3\n");
    assert!(
        message.starts_with("experiments/study.toml: `line 2, column"),
        "{message}"
    );
    assert!(
        message.ends_with("fix: fix the TOML syntax at that position"),
        "{message}"
    );
}

#[test]
fn invalid_experiment_name() {
    assert_eq!(
        error_of(&MINIMAL.replace("name = \"s\"", "name = \"My Study\"")),
        "experiments/study.toml: `experiment.name`: `My Study` is not a valid name\n  fix: use only lowercase letters, digits, '-' and '_', e.g. name = \"gemma3-ctx-gpu\""
    );
}

#[test]
fn wrong_scalar_type_and_range() {
    assert_eq!(
        error_of(&MINIMAL.replace("name = \"s\"", "name = \"s\"\nrepetitions = \"3\"")),
        "experiments/study.toml: `experiment.repetitions`: expected an integer, found string `\"3\"`\n  fix: write it as an integer, e.g. repetitions = 1"
    );
    assert_eq!(
        error_of(&MINIMAL.replace("name = \"s\"", "name = \"s\"\nrepetitions = 0")),
        "experiments/study.toml: `experiment.repetitions`: 0 is out of range\n  fix: use a whole number from 1 to 100000"
    );
}

#[test]
fn missing_sections_and_keys() {
    assert_eq!(
        error_of("[experiment]\nname = \"s\"\n[backend]\nmodel = \"m\"\n"),
        "experiments/study.toml: `workload`: missing section\n  fix: add a [workload] section, e.g. kind = \"prompt\" and prompts = [\"Explain ...\"]"
    );
    assert_eq!(
        error_of("[experiment]\nname = \"s\"\n[workload]\nprompts = [\"p\"]\n"),
        "experiments/study.toml: `backend.model`: missing: no model to run\n  fix: add model = \"gemma3:latest\" to [backend] (or a model = [...] axis to [grid])"
    );
}

#[test]
fn unknown_keys_in_an_agent() {
    assert_eq!(
        error_of(&format!(
            "{MINIMAL}\n[[agent]]\nname = \"a\"\nsytem = \"x\"\n"
        )),
        "experiments/study.toml: `agent[0].sytem`: unknown key\n  fix: did you mean `system`? known keys here: name, inherit_grid, options, system, display_name, persona, persona_file, analysis_prompt, report_prompt"
    );
}

#[test]
fn duplicate_grid_values() {
    assert_eq!(
        error_of(&format!("{MINIMAL}\n[grid]\nnum_gpu = [60, 60]\n")),
        "experiments/study.toml: `grid.num_gpu[1]`: duplicate value 60\n  fix: list each value once; use experiment.repetitions for more runs per cell"
    );
}

#[test]
fn prompts_file_resolves_against_the_experiment_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prompts.txt"),
        "first prompt\n\nsecond prompt\n",
    )
    .unwrap();
    let file = dir.path().join("e.toml");
    let text = "[experiment]\nname = \"s\"\n[backend]\nmodel = \"m\"\n[workload]\nprompts_file = \"prompts.txt\"\n";
    let e = Experiment::parse(&file, text, None).unwrap();
    let Workload::Prompt { prompts, .. } = &e.workload else {
        panic!("a prompt workload")
    };
    assert_eq!(prompts, &["first prompt", "second prompt"]);
}

fn agent_file(dir: &Path, agent_extra: &str) -> Result<Experiment, ConfigError> {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let text = format!(
        "[experiment]\nname = \"a\"\n[backend]\nmodel = \"m\"\n[workload]\nkind = \"chimera-agent\"\ndata_dir = \"data\"\n[[agent]]\nname = \"b\"\n{agent_extra}\n"
    );
    Experiment::parse(&dir.join("e.toml"), &text, None)
}

#[test]
fn the_agent_workload_parses_personas_and_templates() {
    let dir = tempfile::tempdir().unwrap();
    let e = agent_file(dir.path(), "display_name = \"Chimera Agent B\"\npersona = \"insight\"\nanalysis_prompt = \"Look: {data_summary} {{x}}\"").unwrap();
    let Workload::Agent { ingest, .. } = &e.workload else {
        panic!("agent workload")
    };
    assert_eq!(ingest.data_dir, dir.path().join("data"));
    assert_eq!(ingest.include, ["**/*.csv", "**/*.json", "**/*.md"]);
    assert_eq!(e.workload.calls_per_run(), 2);
    let agent = &e.agents[0];
    assert_eq!(agent.display_name, "Chimera Agent B");
    assert_eq!(
        agent.persona.as_deref(),
        Some(crate::agent::persona::INSIGHT)
    );
    assert_eq!(
        agent.analysis_prompt.as_deref(),
        Some("Look: {data_summary} {{x}}")
    );
    let inline = agent_file(dir.path(), "persona = \"You are terse.\"").unwrap();
    assert_eq!(inline.agents[0].persona.as_deref(), Some("You are terse."));
}

#[test]
fn unknown_template_placeholders_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = agent_file(dir.path(), "report_prompt = \"{analysis} {summary}\"").unwrap_err();
    assert_eq!(err.key, "agent[0].report_prompt");
    assert_eq!(
        err.problem,
        "unknown placeholder `{summary}` (this template knows {analysis}, {data_summary}, {persona}; write `{{` for a literal brace)"
    );
    let err = agent_file(dir.path(), "analysis_prompt = \"{analysis}\"").unwrap_err();
    assert!(
        err.problem.starts_with("unknown placeholder `{analysis}`"),
        "the analysis does not exist yet"
    );
}

#[test]
fn agent_keys_need_the_agent_workload_and_an_existing_folder() {
    assert_eq!(
        error_of(&format!(
            "{MINIMAL}\n[[agent]]\nname = \"a\"\npersona = \"insight\"\n"
        )),
        "experiments/study.toml: `agent[0].persona`: only the chimera-agent workload uses personas and prompt templates\n  fix: set [workload] kind = \"chimera-agent\", or remove this key"
    );
    let dir = tempfile::tempdir().unwrap();
    let text = "[experiment]\nname = \"a\"\n[backend]\nmodel = \"m\"\n[workload]\nkind = \"chimera-agent\"\ndata_dir = \"nope\"\n";
    let err = Experiment::parse(&dir.path().join("e.toml"), text, None).unwrap_err();
    assert_eq!(err.key, "workload.data_dir");
    assert!(
        err.problem.ends_with("nope is not a folder"),
        "{}",
        err.problem
    );
}

#[test]
fn the_embedded_backend_rejects_options_it_cannot_honour() {
    let text = "[experiment]\nname = \"e\"\n[backend]\nkind = \"embedded\"\nmodel = \"gemma3-270m\"\n[grid]\nmirostat = [1]\n[workload]\nprompts = [\"p\"]\n";
    let err = parse(text).unwrap_err();
    if cfg!(feature = "embedded") {
        assert_eq!(err.key, "grid.mirostat");
        assert_eq!(
            err.problem,
            "the embedded backend does not support `mirostat`"
        );
        assert!(err.fix.starts_with(
            "remove it, or use kind = \"ollama\"; embedded supports: model, num_ctx,"
        ));
        assert!(parse(&text.replace("mirostat = [1]", "num_ctx = [512]")).is_ok());
    } else {
        assert_eq!(
            err.problem,
            "this chimera was built without the embedded engine"
        );
    }
}
