//! Ingest: walk a folder of benchmark artifacts and build the data summary in the seed
//! report's shape (`Total files analyzed: N`, one block per type with the first five paths,
//! `... and k more`, `Latest modified: ... UTC`). Walking and metadata run on rayon, so
//! 10,000 files take milliseconds; file contents are read only for `summary_depth = "content"`
//! and only for the files the summary lists.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use serde::Serialize;

/// Paths listed per type before `... and k more`.
pub const LISTED_PER_KIND: usize = 5;
/// Bytes of a file read for its facts: enough for a header and thousands of rows.
const FACT_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ArtifactKind {
    Csv,
    Json,
    Markdown,
}

impl ArtifactKind {
    pub fn label(self) -> &'static str {
        match self {
            ArtifactKind::Csv => "CSV",
            ArtifactKind::Json => "JSON",
            ArtifactKind::Markdown => "MARKDOWN",
        }
    }

    fn of(path: &Path) -> Option<ArtifactKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(ArtifactKind::Csv),
            "json" => Some(ArtifactKind::Json),
            "md" | "markdown" => Some(ArtifactKind::Markdown),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SummaryDepth {
    /// Paths, counts and dates only (the seed's summary).
    Names,
    /// Also facts from the listed files: CSV header, rows, numeric ranges; JSON keys.
    Content,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IngestConfig {
    pub data_dir: PathBuf,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub depth: SummaryDepth,
}

pub const DEFAULT_INCLUDE: &[&str] = &["**/*.csv", "**/*.json", "**/*.md"];

/// One artifact file.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// Relative to the data folder, `/`-separated.
    pub path: String,
    pub kind: ArtifactKind,
    pub modified: Option<DateTime<Utc>>,
    /// One line of facts (content depth only).
    pub facts: Option<String>,
}

/// What the agent knows about the data folder.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSummary {
    pub files: usize,
    pub text: String,
}

/// Compiles include/exclude globs; the error names the bad pattern.
pub fn glob_set(patterns: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| format!("bad glob `{pattern}`: {e}"))?;
        builder.add(glob);
    }
    builder.build().map_err(|e| e.to_string())
}

/// Walks the folder and builds the summary.
pub fn ingest(config: &IngestConfig) -> Result<DataSummary, String> {
    let include = glob_set(&config.include)?;
    let exclude = glob_set(&config.exclude)?;
    let root = &config.data_dir;
    let mut paths = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(true) {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", root.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let relative = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if include.is_match(&relative) && !exclude.is_match(&relative) {
            paths.push((entry.into_path(), relative));
        }
    }
    let mut artifacts: Vec<Artifact> = paths
        .into_par_iter()
        .filter_map(|(full, relative)| {
            let kind = ArtifactKind::of(&full)?;
            let modified = std::fs::metadata(&full)
                .and_then(|m| m.modified())
                .ok()
                .map(DateTime::<Utc>::from);
            Some(Artifact {
                path: relative,
                kind,
                modified,
                facts: None,
            })
        })
        .collect();
    artifacts.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    if config.depth == SummaryDepth::Content {
        add_facts(root, &mut artifacts);
    }
    Ok(DataSummary {
        files: artifacts.len(),
        text: summarize(&artifacts),
    })
}

/// Reads facts for the artifacts the summary lists (the first few of each kind).
fn add_facts(root: &Path, artifacts: &mut [Artifact]) {
    let mut seen = [0usize; 3];
    let listed: Vec<usize> = (0..artifacts.len())
        .filter(|&i| {
            let slot = &mut seen[artifacts[i].kind as usize];
            *slot += 1;
            *slot <= LISTED_PER_KIND
        })
        .collect();
    let facts: Vec<(usize, Option<String>)> = listed
        .into_par_iter()
        .map(|i| {
            let artifact = &artifacts[i];
            let text = read_prefix(&root.join(&artifact.path));
            (i, text.and_then(|t| file_facts(artifact.kind, &t)))
        })
        .collect();
    for (i, fact) in facts {
        artifacts[i].facts = fact;
    }
}

fn read_prefix(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(FACT_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// One line of facts about a file's content.
pub fn file_facts(kind: ArtifactKind, text: &str) -> Option<String> {
    match kind {
        ArtifactKind::Csv => csv_facts(text),
        ArtifactKind::Json => json_facts(text),
        ArtifactKind::Markdown => {
            let heading = text.lines().find(|l| l.starts_with('#'))?;
            Some(format!("title: {}", heading.trim_start_matches('#').trim()))
        }
    }
}

fn csv_facts(text: &str) -> Option<String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()?
        .split(',')
        .map(|h| h.trim().trim_matches('"'))
        .collect();
    let rows: Vec<Vec<&str>> = lines
        .map(|l| l.split(',').map(str::trim).collect())
        .collect();
    let mut ranges = Vec::new();
    for (c, name) in header.iter().enumerate() {
        let cells = rows
            .iter()
            .filter_map(|row| row.get(c))
            .filter(|v| !v.is_empty());
        // A column is numeric when every non-empty cell parses; text columns get no range.
        let Ok(values) = cells
            .map(|v| v.trim_matches('"').parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
        else {
            continue;
        };
        if values.is_empty() {
            continue;
        }
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        ranges.push(format!("{name} {} to {}", number(min), number(max)));
    }
    let noun = if rows.len() == 1 { "row" } else { "rows" };
    let mut out = format!("{} {noun}; columns: {}", rows.len(), header.join(", "));
    if !ranges.is_empty() {
        out.push_str("; ");
        out.push_str(&ranges.join(", "));
    }
    Some(out)
}

/// A range bound: integers without decimals, other values with two.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

fn json_facts(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    match value {
        serde_json::Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(12).collect();
            Some(format!("keys: {}", keys.join(", ")))
        }
        serde_json::Value::Array(items) => Some(format!("array of {} items", items.len())),
        _ => None,
    }
}

/// The summary text, in the seed's shape. `artifacts` must be sorted by (kind, path).
pub fn summarize(artifacts: &[Artifact]) -> String {
    let mut out = format!("Total files analyzed: {}\n", artifacts.len());
    for kind in [
        ArtifactKind::Csv,
        ArtifactKind::Json,
        ArtifactKind::Markdown,
    ] {
        let of_kind: Vec<&Artifact> = artifacts.iter().filter(|a| a.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let _ = write!(out, "\n{} Files ({})\n", kind.label(), of_kind.len());
        for artifact in of_kind.iter().take(LISTED_PER_KIND) {
            let _ = writeln!(out, "  - {}", artifact.path);
            if let Some(facts) = &artifact.facts {
                let _ = writeln!(out, "      {facts}");
            }
        }
        if of_kind.len() > LISTED_PER_KIND {
            let _ = writeln!(out, "  ... and {} more", of_kind.len() - LISTED_PER_KIND);
        }
        if let Some(latest) = of_kind.iter().filter_map(|a| a.modified).max() {
            let _ = writeln!(
                out,
                "  Latest modified: {}",
                latest.format("%Y-%m-%d %H:%M:%S UTC")
            );
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests;
