//! Experiment files (`experiments/*.toml`): their schema, defaults and validation.
//!
//! `Experiment::load` turns a file into a fully validated, resolved `Experiment` or a
//! `ConfigError` naming the file, the key and the fix. Nothing downstream re-validates:
//! the plan, scheduler and store trust what this module produced.

mod error;
pub mod options;
mod reader;

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use error::ConfigError;
pub use options::{MODEL_KEY, OptionKind, OptionValue};

use crate::agent::ingest::{DEFAULT_INCLUDE, IngestConfig, SummaryDepth};
use crate::agent::persona;
use reader::Section;

/// The most grid points one experiment may have: beyond that a typo (an extra zero in a
/// range) is far more likely than intent, and the plan alone would take gigabytes.
pub const MAX_CELLS: u64 = 1_000_000;

/// A validated experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// The file it was read from.
    pub source: PathBuf,
    /// The file's exact text, copied verbatim into the results folder.
    pub text: String,
    /// sha256 of `text`: a results folder belongs to exactly one experiment file.
    pub hash: String,
    pub name: String,
    pub description: String,
    pub repetitions: u32,
    pub warmup: u32,
    pub order: OrderKind,
    /// Seeds the order; when set in the file it is also the default sampling `seed`.
    pub seed: Option<u64>,
    pub backend: BackendConfig,
    /// Grid axes in file order; the first varies slowest.
    pub grid: Vec<GridAxis>,
    pub workload: Workload,
    pub agents: Vec<AgentSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderKind {
    Sequential,
    Random,
    Blocked,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Sequential => "sequential",
            OrderKind::Random => "random",
            OrderKind::Blocked => "blocked",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Ollama,
    /// llama.cpp in-process.
    Embedded,
    /// An OpenAI-compatible server (`/v1/chat/completions`).
    #[serde(rename = "openai")]
    OpenAi,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendConfig {
    pub kind: BackendKind,
    pub url: String,
    /// The model used where the grid has no `model` axis.
    pub model: String,
    /// The embedded backend's GGUF file (resolved against the experiment's folder).
    pub model_path: Option<PathBuf>,
    /// openai: the environment variable holding the API key (the key itself is never stored).
    pub api_key_env: Option<String>,
    /// openai: options the protocol lacks (num_ctx, num_gpu, ...) are recorded, not sent.
    pub server_side: bool,
    /// Limit for one whole call, seconds.
    pub timeout_s: f64,
    /// Limit for the gap between two streamed chunks, seconds.
    pub stall_s: f64,
    /// Extra attempts per call for retryable errors.
    pub retries: u32,
    /// First backoff between attempts, seconds; doubles each attempt.
    pub retry_backoff_s: f64,
    pub keep_alive: Option<String>,
    /// How long to keep probing a backend that went down before giving up, seconds.
    pub down_timeout_s: f64,
}

/// One grid key and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct GridAxis {
    pub key: String,
    pub values: Vec<OptionValue>,
}

#[derive(Debug, Clone)]
pub enum Workload {
    /// Every run sends each prompt once, in order.
    Prompt {
        prompts: Vec<String>,
        num_predict: Option<i64>,
    },
    /// The Chimera agent: ingest a data folder, an analysis call, a report call, a report file.
    Agent {
        ingest: IngestConfig,
        num_predict: Option<i64>,
    },
}

impl Workload {
    pub fn calls_per_run(&self) -> usize {
        match self {
            Workload::Prompt { prompts, .. } => prompts.len(),
            Workload::Agent { .. } => 2,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Workload::Prompt { .. } => "prompt",
            Workload::Agent { .. } => "chimera-agent",
        }
    }

    pub fn num_predict(&self) -> Option<i64> {
        match self {
            Workload::Prompt { num_predict, .. } | Workload::Agent { num_predict, .. } => {
                *num_predict
            }
        }
    }
}

/// One agent variant (A, B, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSpec {
    pub name: String,
    /// `false`: the agent sends no grid options, only the backend's defaults (plus its own
    /// `options`); it still follows a `model` axis.
    pub inherit_grid: bool,
    /// Fixed overrides on top of the grid cell, in file order.
    pub options: Vec<(String, OptionValue)>,
    pub system: Option<String>,
    /// The name reports use ("Chimera Agent B"); defaults to `name`.
    pub display_name: String,
    /// The persona text (a built-in's, inline, or from `persona_file`).
    pub persona: Option<String>,
    /// Prompt templates of the agent workload's two calls; `None` = the defaults.
    pub analysis_prompt: Option<String>,
    pub report_prompt: Option<String>,
}

impl AgentSpec {
    /// An agent with this name and every other setting at its default.
    pub fn named(name: &str) -> AgentSpec {
        AgentSpec {
            name: name.to_owned(),
            inherit_grid: true,
            options: Vec::new(),
            system: None,
            display_name: name.to_owned(),
            persona: None,
            analysis_prompt: None,
            report_prompt: None,
        }
    }
}

const DEFAULT_URL: &str = "http://127.0.0.1:11434";

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<Experiment, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            ConfigError::new(
                path,
                "(file)",
                format!("cannot read the experiment file: {err}"),
                "check the path; experiment files usually live in experiments/",
            )
        })?;
        let ollama_host = std::env::var("OLLAMA_HOST").ok();
        Self::parse(path, &text, ollama_host.as_deref())
    }

    /// Validates experiment text. `ollama_host` is the `OLLAMA_HOST` environment value, passed
    /// in so that parsing stays pure and testable.
    pub fn parse(
        path: &Path,
        text: &str,
        ollama_host: Option<&str>,
    ) -> Result<Experiment, ConfigError> {
        Self::parse_with(path, text, ollama_host, Files::Required)
    }

    /// Parses the copy a results folder keeps (`experiment.toml`) for its design: the files
    /// the experiment points at (`data_dir`, `prompts_file`, `persona_file`, `model_path`)
    /// need not exist, since they sit beside the original file — or on another machine.
    pub fn parse_stored(path: &Path, text: &str) -> Result<Experiment, ConfigError> {
        Self::parse_with(path, text, None, Files::Optional)
    }

    fn parse_with(
        path: &Path,
        text: &str,
        ollama_host: Option<&str>,
        files: Files,
    ) -> Result<Experiment, ConfigError> {
        let table: toml::Table = text.parse().map_err(|err: toml::de::Error| {
            let (line, column) = err
                .span()
                .map(|span| line_and_column(text, span.start))
                .unwrap_or((1, 1));
            ConfigError::new(
                path,
                format!("line {line}, column {column}"),
                format!("invalid TOML: {}", err.message()),
                "fix the TOML syntax at that position",
            )
        })?;
        let root = Section::root(path, &table);
        root.deny_unknown(&["experiment", "backend", "grid", "workload", "agent"])?;

        let experiment = root.table("experiment")?.ok_or_else(|| {
            root.error(
                "experiment",
                "missing section",
                "add an [experiment] section with at least name = \"my-study\"",
            )
        })?;
        experiment.deny_unknown(&[
            "name",
            "description",
            "repetitions",
            "warmup",
            "order",
            "seed",
        ])?;
        let name = experiment
            .string("name", "\"gemma3-ctx-gpu\"")?
            .ok_or_else(|| {
                experiment.error(
                    "name",
                    "missing",
                    "add name = \"my-study\" (it names the results folder)",
                )
            })?;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(experiment.error(
                "name",
                format!("`{name}` is not a valid name"),
                "use only lowercase letters, digits, '-' and '_', e.g. name = \"gemma3-ctx-gpu\"",
            ));
        }
        let description = experiment
            .string("description", "\"what this study asks\"")?
            .unwrap_or_default();
        let repetitions = experiment.integer("repetitions", 1, 100_000)?.unwrap_or(3) as u32;
        let warmup = experiment.integer("warmup", 0, 1_000)?.unwrap_or(1) as u32;
        let order = match experiment.string("order", "\"blocked\"")?.as_deref() {
            None | Some("blocked") => OrderKind::Blocked,
            Some("sequential") => OrderKind::Sequential,
            Some("random") => OrderKind::Random,
            Some(other) => {
                return Err(experiment.error(
                    "order",
                    format!("unknown order `{other}`"),
                    "use one of \"sequential\", \"random\", \"blocked\"",
                ));
            }
        };
        let seed = experiment.integer("seed", 0, i64::MAX)?.map(|s| s as u64);

        let backend = parse_backend(&root, ollama_host, files)?;
        let grid = parse_grid(&root)?;
        let workload = parse_workload(&root, path, files)?;
        let agents = parse_agents(&root, &grid, &workload, path, files)?;
        check_grid_size(&root, &grid, &agents)?;
        match backend.kind {
            BackendKind::Embedded => check_backend_options(
                &root,
                &grid,
                &agents,
                "embedded",
                crate::backend::EMBEDDED_OPTIONS,
            )?,
            BackendKind::OpenAi if !backend.server_side => {
                let sent: Vec<&str> = crate::backend::openai::SENT_OPTIONS
                    .iter()
                    .map(|(o, _)| *o)
                    .chain([MODEL_KEY])
                    .collect();
                check_backend_options(&root, &grid, &agents, "openai", &sent)?;
            }
            _ => {}
        }

        let grid_has_model = grid.iter().any(|axis| axis.key == MODEL_KEY);
        if backend.model.is_empty() && !grid_has_model {
            return Err(root.error(
                "backend.model",
                "missing: no model to run",
                "add model = \"gemma3:latest\" to [backend] (or a model = [...] axis to [grid])",
            ));
        }

        Ok(Experiment {
            source: path.to_path_buf(),
            text: text.to_owned(),
            hash: sha256_hex(text.as_bytes()),
            name,
            description,
            repetitions,
            warmup,
            order,
            seed,
            backend,
            grid,
            workload,
            agents,
        })
    }
}

/// Whether the files an experiment names must exist (a run) or may be missing (a report
/// reading the stored copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Files {
    Required,
    Optional,
}

fn parse_backend(
    root: &Section,
    ollama_host: Option<&str>,
    files: Files,
) -> Result<BackendConfig, ConfigError> {
    let empty = toml::Table::new();
    let backend = root.table("backend")?.unwrap_or(Section {
        file: root.file,
        path: "backend".into(),
        table: &empty,
    });
    backend.deny_unknown(&[
        "kind",
        "url",
        "model",
        "timeout_s",
        "stall_s",
        "retries",
        "retry_backoff_s",
        "keep_alive",
        "down_timeout_s",
        "model_path",
        "api_key_env",
        "server_side",
    ])?;
    let kind = match backend.string("kind", "\"ollama\"")?.as_deref() {
        None | Some("ollama") => BackendKind::Ollama,
        Some("embedded") if cfg!(feature = "embedded") => BackendKind::Embedded,
        Some("embedded") => {
            return Err(backend.error(
                "kind",
                "this chimera was built without the embedded engine",
                "rebuild with the default features (cargo build --release), or use kind = \"ollama\"",
            ));
        }
        Some("openai") => BackendKind::OpenAi,
        Some(other) => {
            return Err(backend.error(
                "kind",
                format!("unknown backend kind `{other}`"),
                "use kind = \"ollama\", \"embedded\" or \"openai\"",
            ));
        }
    };
    let model_path = match backend.string("model_path", "\"models/x.gguf\"")? {
        None => None,
        Some(_) if kind != BackendKind::Embedded => {
            return Err(backend.error(
                "model_path",
                "only the embedded backend loads a model file",
                "set kind = \"embedded\", or remove model_path",
            ));
        }
        Some(relative) => {
            let path = root.file.parent().unwrap_or(Path::new(".")).join(relative);
            if files == Files::Required && !path.is_file() {
                return Err(backend.error(
                    "model_path",
                    format!("{} does not exist", path.display()),
                    "give the path of a GGUF file, relative to the experiment file's folder",
                ));
            }
            Some(path)
        }
    };
    let url = match backend.string("url", "\"http://127.0.0.1:11434\"")? {
        Some(url) => url,
        None => ollama_host
            .map(normalize_host)
            .unwrap_or_else(|| DEFAULT_URL.to_owned()),
    };
    let parsed = reqwest::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    if parsed.is_none() {
        return Err(backend.error(
            "url",
            format!("`{url}` is not an http(s) URL"),
            "write it as url = \"http://127.0.0.1:11434\"",
        ));
    }
    let model = backend
        .string("model", "\"gemma3:latest\"")?
        .unwrap_or_else(|| {
            // A model file names the model when `model` is not given.
            model_path
                .as_ref()
                .and_then(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    Ok(BackendConfig {
        kind,
        url: url.trim_end_matches('/').to_owned(),
        model,
        model_path,
        api_key_env: backend.string("api_key_env", "\"OPENAI_API_KEY\"")?,
        server_side: backend.bool("server_side")?.unwrap_or(false),
        timeout_s: backend
            .positive_number("timeout_s", "600")?
            .unwrap_or(600.0),
        stall_s: backend.positive_number("stall_s", "300")?.unwrap_or(300.0),
        retries: backend.integer("retries", 0, 100)?.unwrap_or(2) as u32,
        retry_backoff_s: backend
            .positive_number("retry_backoff_s", "1")?
            .unwrap_or(1.0),
        keep_alive: Some(
            backend
                .string("keep_alive", "\"30m\"")?
                .unwrap_or_else(|| "30m".to_owned()),
        ),
        down_timeout_s: backend
            .positive_number("down_timeout_s", "600")?
            .unwrap_or(600.0),
    })
}

/// `OLLAMA_HOST` may be `host`, `host:port` or a full URL.
fn normalize_host(host: &str) -> String {
    let with_scheme = if host.contains("://") {
        host.to_owned()
    } else {
        format!("http://{host}")
    };
    let after_scheme = with_scheme.split("://").nth(1).unwrap_or_default();
    if after_scheme.contains(':') {
        with_scheme
    } else {
        format!("{}:11434", with_scheme.trim_end_matches('/'))
    }
}

fn parse_grid(root: &Section) -> Result<Vec<GridAxis>, ConfigError> {
    let Some(grid) = root.table("grid")? else {
        return Ok(Vec::new());
    };
    let mut axes = Vec::new();
    for (key, value) in grid.table {
        let spec = lookup_option(&grid, key)?;
        let toml::Value::Array(items) = value else {
            return Err(grid.error(
                key,
                format!(
                    "expected a list of values, found {} `{value}`",
                    options::toml_type_name(value)
                ),
                format!("write grid values as a list, e.g. {key} = [{value}]"),
            ));
        };
        if items.is_empty() {
            return Err(grid.error(
                key,
                "empty list: the grid would have no cells",
                format!("give {key} at least one value, or remove it from [grid]"),
            ));
        }
        let mut values: Vec<OptionValue> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let value = options::parse_value(spec, item).map_err(|p| {
                ConfigError::new(
                    grid.file,
                    format!("{}[{i}]", grid.key(key)),
                    p.problem,
                    p.fix,
                )
            })?;
            if values.contains(&value) {
                return Err(ConfigError::new(
                    grid.file,
                    format!("{}[{i}]", grid.key(key)),
                    format!("duplicate value {value}"),
                    "list each value once; use experiment.repetitions for more runs per cell",
                ));
            }
            values.push(value);
        }
        axes.push(GridAxis {
            key: key.clone(),
            values,
        });
    }
    Ok(axes)
}

fn lookup_option(
    section: &Section,
    key: &str,
) -> Result<&'static options::OptionSpec, ConfigError> {
    options::lookup(key).ok_or_else(|| {
        let hint = options::suggest(key)
            .map(|known| format!("did you mean `{known}`? "))
            .unwrap_or_default();
        section.error(
            key,
            "unknown backend option",
            format!(
                "{hint}known options: {}",
                options::KNOWN_OPTIONS
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

fn parse_workload(root: &Section, path: &Path, files: Files) -> Result<Workload, ConfigError> {
    let workload = root.table("workload")?.ok_or_else(|| {
        root.error(
            "workload",
            "missing section",
            "add a [workload] section, e.g. kind = \"prompt\" and prompts = [\"Explain ...\"]",
        )
    })?;
    let kind = workload.string("kind", "\"prompt\"")?;
    match kind.as_deref() {
        None | Some("prompt") => {}
        Some("chimera-agent") => return parse_agent_workload(&workload, path, files),
        Some(other) => {
            return Err(workload.error(
                "kind",
                format!("unknown workload kind `{other}`"),
                "use kind = \"prompt\" or kind = \"chimera-agent\"",
            ));
        }
    }
    workload.deny_unknown(&["kind", "prompts", "prompts_file", "num_predict"])?;
    let inline = workload.string_list("prompts", "[\"Explain ...\"]")?;
    let from_file = match workload.string("prompts_file", "\"prompts.txt\"")? {
        None => None,
        Some(relative) => {
            let base = path.parent().unwrap_or(Path::new("."));
            let file = base.join(&relative);
            let text = match (std::fs::read_to_string(&file), files) {
                (Ok(text), _) => text,
                // The prompts themselves are in the calls table; only their count matters.
                (Err(_), Files::Optional) => format!("(prompts from {relative})"),
                (Err(err), Files::Required) => {
                    return Err(workload.error(
                        "prompts_file",
                        format!("cannot read {}: {err}", file.display()),
                        "give a path relative to the experiment file's folder, one prompt per line",
                    ));
                }
            };
            Some(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            )
        }
    };
    let prompts = match (inline, from_file) {
        (Some(_), Some(_)) => {
            return Err(workload.error(
                "prompts_file",
                "both prompts and prompts_file are set",
                "keep one of them",
            ));
        }
        (Some(prompts), None) => prompts,
        (None, Some(prompts)) => prompts,
        (None, None) => {
            return Err(workload.error(
                "prompts",
                "missing: no prompt to send",
                "add prompts = [\"Explain ...\"] or prompts_file = \"prompts.txt\"",
            ));
        }
    };
    if prompts.is_empty() || prompts.iter().any(|p| p.trim().is_empty()) {
        let key = if workload.value("prompts").is_some() {
            "prompts"
        } else {
            "prompts_file"
        };
        return Err(workload.error(
            key,
            "empty prompt list or empty prompt",
            "give at least one non-empty prompt",
        ));
    }
    let num_predict = workload.integer("num_predict", -2, i64::from(i32::MAX))?;
    Ok(Workload::Prompt {
        prompts,
        num_predict,
    })
}

fn parse_agent_workload(
    workload: &Section,
    path: &Path,
    files: Files,
) -> Result<Workload, ConfigError> {
    workload.deny_unknown(&[
        "kind",
        "data_dir",
        "include",
        "exclude",
        "summary_depth",
        "num_predict",
    ])?;
    let data_dir = workload.string("data_dir", "\"data\"")?.ok_or_else(|| {
        workload.error(
            "data_dir",
            "missing: the chimera-agent workload ingests a folder of benchmark artifacts",
            "add data_dir = \"data\" (relative to the experiment file's folder)",
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let data_dir = base.join(data_dir);
    if files == Files::Required && !data_dir.is_dir() {
        return Err(workload.error(
            "data_dir",
            format!("{} is not a folder", data_dir.display()),
            "point data_dir at a folder of .csv/.json/.md files (experiments/data is generated by scripts/gen_corpus.py)",
        ));
    }
    let include = workload
        .string_list("include", "[\"**/*.csv\"]")?
        .unwrap_or_else(|| DEFAULT_INCLUDE.iter().map(|s| (*s).to_owned()).collect());
    let exclude = workload
        .string_list("exclude", "[\"**/old/**\"]")?
        .unwrap_or_default();
    for (key, patterns) in [("include", &include), ("exclude", &exclude)] {
        if let Err(problem) = crate::agent::ingest::glob_set(patterns) {
            return Err(workload.error(
                key,
                problem,
                "use globs such as \"**/*.csv\" or \"reports/**\"",
            ));
        }
    }
    let depth = match workload.string("summary_depth", "\"names\"")?.as_deref() {
        None | Some("names") => SummaryDepth::Names,
        Some("content") => SummaryDepth::Content,
        Some(other) => {
            return Err(workload.error(
                "summary_depth",
                format!("unknown depth `{other}`"),
                "use \"names\" (paths and dates) or \"content\" (adds CSV columns and ranges, JSON keys)",
            ));
        }
    };
    Ok(Workload::Agent {
        ingest: IngestConfig {
            data_dir,
            include,
            exclude,
            depth,
        },
        num_predict: workload.integer("num_predict", -2, i64::from(i32::MAX))?,
    })
}

fn parse_agents(
    root: &Section,
    grid: &[GridAxis],
    workload: &Workload,
    path: &Path,
    files: Files,
) -> Result<Vec<AgentSpec>, ConfigError> {
    let Some(value) = root.value("agent") else {
        return Ok(vec![AgentSpec::named("default")]);
    };
    let toml::Value::Array(entries) = value else {
        return Err(root.error(
            "agent",
            "expected a list of [[agent]] tables",
            "write each variant as an [[agent]] section with name = \"...\"",
        ));
    };
    if entries.is_empty() {
        return Err(root.error(
            "agent",
            "no agent variant",
            "add an [[agent]] section with name = \"baseline\"",
        ));
    }
    let mut agents: Vec<AgentSpec> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let toml::Value::Table(table) = entry else {
            return Err(root.error(
                &format!("agent[{i}]"),
                "expected a table",
                "write each variant as an [[agent]] section with name = \"...\"",
            ));
        };
        let agent = Section {
            file: root.file,
            path: format!("agent[{i}]"),
            table,
        };
        agent.deny_unknown(&[
            "name",
            "inherit_grid",
            "options",
            "system",
            "display_name",
            "persona",
            "persona_file",
            "analysis_prompt",
            "report_prompt",
        ])?;
        let name = agent.string("name", "\"chimera\"")?.ok_or_else(|| {
            agent.error(
                "name",
                "missing",
                "give every agent a unique name, e.g. name = \"chimera\"",
            )
        })?;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(agent.error(
                "name",
                format!("`{name}` is not a valid agent name"),
                "use letters, digits, '-' and '_', e.g. name = \"chimera\"",
            ));
        }
        if agents.iter().any(|a| a.name == name) {
            return Err(agent.error(
                "name",
                format!("duplicate agent name `{name}`"),
                "give every [[agent]] a unique name",
            ));
        }
        let mut options = Vec::new();
        if let Some(section) = agent.table("options")? {
            for (key, value) in section.table {
                let spec = lookup_option(&section, key)?;
                if key == MODEL_KEY && grid.iter().any(|axis| axis.key == MODEL_KEY) {
                    return Err(section.error(
                        key,
                        "an agent cannot override the model that the grid varies",
                        "remove model from the agent's options or from [grid]",
                    ));
                }
                let value = options::parse_value(spec, value)
                    .map_err(|p| section.error(key, p.problem, p.fix))?;
                options.push((key.clone(), value));
            }
        }
        let agent_workload = parse_agent_fields(&agent, workload, path, files)?;
        agents.push(AgentSpec {
            display_name: agent
                .string("display_name", "\"Chimera Agent B\"")?
                .unwrap_or_else(|| name.clone()),
            name,
            inherit_grid: agent.bool("inherit_grid")?.unwrap_or(true),
            options,
            system: agent.string("system", "\"You are ...\"")?,
            persona: agent_workload.0,
            analysis_prompt: agent_workload.1,
            report_prompt: agent_workload.2,
        });
    }
    Ok(agents)
}

/// The agent-workload keys of one `[[agent]]`: persona text and the two prompt templates.
type AgentWorkloadFields = (Option<String>, Option<String>, Option<String>);

fn parse_agent_fields(
    agent: &Section,
    workload: &Workload,
    path: &Path,
    files: Files,
) -> Result<AgentWorkloadFields, ConfigError> {
    let is_agent_workload = matches!(workload, Workload::Agent { .. });
    for key in [
        "persona",
        "persona_file",
        "analysis_prompt",
        "report_prompt",
    ] {
        if !is_agent_workload && agent.value(key).is_some() {
            return Err(agent.error(
                key,
                "only the chimera-agent workload uses personas and prompt templates",
                "set [workload] kind = \"chimera-agent\", or remove this key",
            ));
        }
    }
    let persona = match (
        agent.string("persona", "\"insight\"")?,
        agent.string("persona_file", "\"persona.txt\"")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(agent.error(
                "persona_file",
                "both persona and persona_file are set",
                "keep one of them",
            ));
        }
        (Some(text), None) => Some(persona::built_in(&text).map_or(text, str::to_owned)),
        (None, Some(file)) => {
            let full = path.parent().unwrap_or(Path::new(".")).join(&file);
            match (std::fs::read_to_string(&full), files) {
                (Ok(text), _) => Some(text),
                (Err(_), Files::Optional) => Some(format!("(persona from {file})")),
                (Err(err), Files::Required) => {
                    return Err(agent.error(
                        "persona_file",
                        format!("cannot read {}: {err}", full.display()),
                        "give a path relative to the experiment file's folder",
                    ));
                }
            }
        }
        (None, None) => None,
    };
    let template = |key: &str, allowed: &[&str]| -> Result<Option<String>, ConfigError> {
        let Some(text) = agent.string(key, "\"... {data_summary} ...\"")? else {
            return Ok(None);
        };
        crate::agent::template::validate(&text, allowed)
            .map_err(|problem| agent.error(key, problem, "use only the listed placeholders"))?;
        Ok(Some(text))
    };
    let analysis = template("analysis_prompt", persona::ANALYSIS_PLACEHOLDERS)?;
    let report = template("report_prompt", persona::REPORT_PLACEHOLDERS)?;
    Ok((persona, analysis, report))
}

/// The embedded engine and the OpenAI protocol carry a subset of Ollama's options; the
/// others would be silently ignored, so they are errors (openai: unless `server_side`).
fn check_backend_options(
    root: &Section,
    grid: &[GridAxis],
    agents: &[AgentSpec],
    kind: &str,
    supported: &[&str],
) -> Result<(), ConfigError> {
    let used = grid.iter().map(|axis| format!("grid.{}", axis.key)).chain(
        agents.iter().enumerate().flat_map(|(i, a)| {
            a.options
                .iter()
                .map(move |(k, _)| format!("agent[{i}].options.{k}"))
        }),
    );
    for key in used {
        let option = key.rsplit('.').next().unwrap_or_default();
        if !supported.contains(&option) {
            let fix = if kind == "openai" {
                format!(
                    "the protocol has no such field: set [backend] server_side = true to record it as set on the server (not sent), or remove it; sent options: {}",
                    supported.join(", ")
                )
            } else {
                format!(
                    "remove it, or use kind = \"ollama\"; {kind} supports: {}",
                    supported.join(", ")
                )
            };
            return Err(ConfigError::new(
                root.file,
                key.clone(),
                format!("the {kind} backend does not support `{option}`"),
                fix,
            ));
        }
    }
    Ok(())
}

/// Rejects plans above `MAX_CELLS` before anything is expanded.
fn check_grid_size(
    root: &Section,
    grid: &[GridAxis],
    agents: &[AgentSpec],
) -> Result<(), ConfigError> {
    let product = grid
        .iter()
        .try_fold(1u64, |acc, axis| acc.checked_mul(axis.values.len() as u64));
    let total = product.and_then(|p| p.checked_mul(agents.len() as u64));
    match total {
        Some(n) if n <= MAX_CELLS => Ok(()),
        _ => Err(root.error(
            "grid",
            format!(
                "the grid has {} cells; the limit is {MAX_CELLS}",
                total.map_or_else(|| "more than 2^64".to_owned(), |n| n.to_string())
            ),
            "use fewer values per key, or split the study into several experiment files",
        )),
    }
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests;
