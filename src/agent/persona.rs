//! Built-in personas and the default prompts of the two agent calls.

/// The seed report's InsightAgent persona, verbatim.
pub const INSIGHT: &str = "You are InsightAgent, a Chimera-optimised LLM operations specialist.
Given the repository context described previously, produce:
1. Executive summary of model performance.
2. Three optimisation recommendations that balance throughput, TTFT, and quality.
3. A risk/mitigation table with at least two rows.
Aim for 300-400 words, with numbered sections and bolded metric callouts.";

/// Built-in personas by name; `persona = "insight"` in an experiment file selects one.
pub const BUILT_IN: &[(&str, &str)] = &[("insight", INSIGHT)];

pub fn built_in(name: &str) -> Option<&'static str> {
    BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// Placeholders the analysis prompt may use.
pub const ANALYSIS_PLACEHOLDERS: &[&str] = &["data_summary", "persona"];
/// Placeholders the report prompt may use.
pub const REPORT_PLACEHOLDERS: &[&str] = &["analysis", "data_summary", "persona"];

/// The first call: analyse the data summary.
pub const DEFAULT_ANALYSIS_PROMPT: &str =
    "You are analysing a folder of LLM and GPU benchmark artifacts (CSV, JSON and Markdown files).

Data summary:
{data_summary}

Write a structured performance analysis in Markdown with these sections:
## Executive Summary
## Key Performance Findings
## Recommendations for Optimization
Use bullet points, and cite the concrete numbers from the data summary.";

/// The second call: turn the analysis into the report, in the persona's voice.
pub const DEFAULT_REPORT_PROMPT: &str =
    "Repository context (an analysis of the benchmark artifacts):

{analysis}

{persona}";
