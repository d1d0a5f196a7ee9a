//! The Chimera agent workload: ingest a folder of benchmark artifacts into a data summary,
//! ask the model for an analysis, ask it again for a report, and write that report in the
//! seed's format with its metrics, findings and a quality score. The scheduler drives the
//! calls (retries, events, storage); this module owns everything that is agent-specific,
//! and all of it is pure except `ingest`.

pub mod extract;
pub mod ingest;
mod markdown;
pub mod persona;
pub mod quality;
pub mod report;
pub mod template;

use crate::backend::CallMetrics;
use crate::experiment::AgentSpec;
use report::RunMetrics;

/// The analysis call's prompt for an agent.
pub fn analysis_prompt(agent: &AgentSpec, data_summary: &str) -> String {
    let template = agent
        .analysis_prompt
        .as_deref()
        .unwrap_or(persona::DEFAULT_ANALYSIS_PROMPT);
    template::render(
        template,
        &[
            ("data_summary", data_summary),
            ("persona", agent.persona.as_deref().unwrap_or("")),
        ],
    )
}

/// The report call's prompt for an agent.
pub fn report_prompt(agent: &AgentSpec, data_summary: &str, analysis: &str) -> String {
    let template = agent
        .report_prompt
        .as_deref()
        .unwrap_or(persona::DEFAULT_REPORT_PROMPT);
    template::render(
        template,
        &[
            ("analysis", analysis),
            ("data_summary", data_summary),
            ("persona", agent.persona.as_deref().unwrap_or("")),
        ],
    )
    .trim_end()
    .to_owned()
}

/// Run-level metrics as the seed computes them: durations and tokens summed over the calls,
/// throughput = tokens / eval time, TTFT as the mean (and the first call's kept beside it).
pub fn aggregate(calls: &[&CallMetrics]) -> RunMetrics {
    fn sum(mut values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
        values.try_fold(0.0, |acc, v| Some(acc + v?))
    }
    if calls.is_empty() {
        return RunMetrics::default();
    }
    let tokens = calls
        .iter()
        .map(|c| c.eval_tokens)
        .try_fold(0i64, |acc, v| Some(acc + v?));
    let eval_ms = sum(calls.iter().map(|c| c.eval_ms));
    let ttfts: Vec<f64> = calls.iter().filter_map(|c| c.ttft_ms).collect();
    RunMetrics {
        tokens_per_s: CallMetrics::throughput(tokens, eval_ms),
        ttft_mean_ms: (!ttfts.is_empty()).then(|| ttfts.iter().sum::<f64>() / ttfts.len() as f64),
        ttft_first_ms: calls[0].ttft_ms,
        total_ms: sum(calls.iter().map(|c| c.total_ms)),
        tokens_generated: tokens,
        prompt_eval_ms: sum(calls.iter().map(|c| c.prompt_eval_ms)),
        eval_ms,
        load_ms: sum(calls.iter().map(|c| c.load_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_like_the_seed() {
        // The seed: 1762 tokens over 42981.32 ms of eval = 40.99 tok/s.
        let a = CallMetrics {
            ttft_ms: Some(600.0),
            e2e_ms: 0.0,
            total_ms: Some(23000.0),
            load_ms: Some(500.0),
            prompt_eval_ms: Some(400.0),
            prompt_tokens: Some(300),
            eval_ms: Some(21000.0),
            eval_tokens: Some(862),
            tokens_per_s: None,
            token_source: None,
        };
        let b = CallMetrics {
            ttft_ms: Some(723.74),
            total_ms: Some(21993.85),
            load_ms: Some(3.32),
            prompt_eval_ms: Some(401.82),
            eval_ms: Some(21981.32),
            eval_tokens: Some(900),
            ..a.clone()
        };
        let m = aggregate(&[&a, &b]);
        assert_eq!(m.tokens_generated, Some(1762));
        assert_eq!(format!("{:.2}", m.tokens_per_s.unwrap()), "40.99");
        assert_eq!(format!("{:.2}", m.ttft_mean_ms.unwrap()), "661.87");
        assert_eq!(m.ttft_first_ms, Some(600.0));
        assert_eq!(format!("{:.2}", m.total_ms.unwrap()), "44993.85");
        assert_eq!(format!("{:.2}", m.load_ms.unwrap()), "503.32");
        assert_eq!(format!("{:.2}", m.prompt_eval_ms.unwrap()), "801.82");
    }

    #[test]
    fn a_missing_value_makes_the_sum_missing_not_smaller() {
        let a = CallMetrics {
            load_ms: None,
            eval_tokens: Some(1),
            eval_ms: Some(1.0),
            ..CallMetrics::default()
        };
        let m = aggregate(&[&a, &a]);
        assert_eq!(m.load_ms, None);
        assert_eq!(m.tokens_generated, Some(2));
    }
}
