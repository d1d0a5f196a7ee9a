//! Pure statistics for benchmark reports: validated samples, summaries with
//! t and bootstrap confidence intervals, two-sample comparisons (tests,
//! effect sizes, bootstrap intervals of differences and ratios), Holm's
//! correction for multiple comparisons and Pareto fronts.
//!
//! Nothing here does I/O; every random choice comes from a seeded, per-estimate
//! ChaCha stream so reports are reproducible. Results are checked against
//! scipy by `scripts/stats_oracle.py` and the tests in `oracle_tests`.

mod bootstrap;
mod compare;
mod distributions;
mod effect;
mod estimate;
mod hypothesis;
mod multiple;
#[cfg(test)]
mod oracle_tests;
mod pareto;
mod sample;

pub use bootstrap::{Bootstrap, BootstrapCi, DRAW_BUDGET, LARGE_SAMPLE, MIN_RESAMPLES};
pub use compare::{Comparison, Paired, compare};
pub use effect::{cliffs_delta, hedges_g};
pub use estimate::{Interval, Summary, summarize, t_interval};
pub use hypothesis::{
    Moments, NotApplicable, TestResult, mann_whitney_u, paired_t, welch_t, welch_t_from_moments,
    wilcoxon_signed_rank,
};
pub use multiple::holm;
pub use pareto::pareto_front;
pub use sample::{Sample, SampleError};
