//! chimera-sweep: one TOML file in, a reproducible benchmark study of LLM agents out.
//!
//! Data flows one way: `experiment` (schema, validation) → `plan` (grid, order) →
//! `scheduler` (runs, retries, events) → `backend` (Ollama, ...) and `agent` (ingest,
//! prompts, report.md, quality) → `store` (segments,
//! manifest, resume). `sweep` wires them into one pipeline; `cli` and `progress` face the
//! user; `fake_ollama` is a loopback stand-in for tests, benchmarks and trying the tool.

pub mod agent;
pub mod backend;
pub mod cli;
pub mod env;
pub mod error;
pub mod exit_codes;
pub mod experiment;
pub mod fake_ollama;
pub mod plan;
pub mod plot;
pub mod progress;
pub mod report;
pub mod scheduler;
pub mod stats;
pub mod store;
pub mod sweep;
pub mod synthetic;
