//! The two-sample comparison "B relative to A" of one metric: difference and
//! ratio of means with bootstrap intervals, Welch's t and Mann–Whitney U,
//! effect sizes, and — when runs can be matched — paired statistics.

use serde::Serialize;

use super::bootstrap::{Bootstrap, PAIRED_STREAM_SALT};
use super::effect::{cliffs_delta, hedges_g};
use super::estimate::Interval;
use super::hypothesis::{
    NotApplicable, TestResult, mann_whitney_u, paired_t, welch_t, wilcoxon_signed_rank,
};
use super::sample::Sample;

/// Paired statistics over matched runs `(a[i], b[i])`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paired {
    pub n_pairs: usize,
    /// Mean of `b[i] − a[i]`.
    pub diff: f64,
    /// Bootstrap interval of `diff` (resampling pairs).
    pub diff_ci: Option<Interval>,
    pub t: Result<TestResult, NotApplicable>,
    pub wilcoxon: Result<TestResult, NotApplicable>,
}

/// B compared with A.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub n_a: usize,
    pub n_b: usize,
    pub mean_a: f64,
    pub mean_b: f64,
    /// `mean_b − mean_a`.
    pub diff: f64,
    pub diff_ci: Option<Interval>,
    /// `mean_b / mean_a`; `None` when `mean_a` is 0.
    pub ratio: Option<f64>,
    pub ratio_ci: Option<Interval>,
    pub welch: Result<TestResult, NotApplicable>,
    pub mann_whitney: Result<TestResult, NotApplicable>,
    pub paired: Option<Paired>,
    pub hedges_g: Option<f64>,
    pub cliffs_delta: f64,
    /// Resamples behind `diff_ci` and `ratio_ci` (0 when neither exists);
    /// the paired interval uses `boot.resamples_for(n_pairs)`.
    pub resamples: usize,
}

/// Compares `b` with `a`. `pairs`, when given, are matched runs
/// `(a_side, b_side)` of equal length for the paired statistics. All
/// bootstrap intervals draw from `stream` (the paired one from a salted
/// variant of it), see [`Bootstrap`]. Pairs of unequal length make the paired
/// tests [`NotApplicable`] and give no paired interval.
pub fn compare(
    a: &Sample,
    b: &Sample,
    pairs: Option<(&Sample, &Sample)>,
    boot: &Bootstrap,
    stream: u64,
) -> Comparison {
    let (diff_ci, ratio_ci) = boot.diff_and_ratio_cis(a, b, stream);
    let resamples = diff_ci
        .as_ref()
        .or(ratio_ci.as_ref())
        .map_or(0, |ci| ci.resamples);
    let paired = pairs.map(|(pair_a, pair_b)| Paired {
        n_pairs: pair_a.len().min(pair_b.len()),
        diff: pair_b.mean() - pair_a.mean(),
        diff_ci: boot
            .paired_diff_ci(pair_a, pair_b, stream ^ PAIRED_STREAM_SALT)
            .map(|ci| ci.interval),
        t: paired_t(pair_a, pair_b),
        wilcoxon: wilcoxon_signed_rank(pair_a, pair_b),
    });
    Comparison {
        n_a: a.len(),
        n_b: b.len(),
        mean_a: a.mean(),
        mean_b: b.mean(),
        diff: b.mean() - a.mean(),
        diff_ci: diff_ci.map(|ci| ci.interval),
        ratio: (a.mean() != 0.0).then(|| b.mean() / a.mean()),
        ratio_ci: ratio_ci.map(|ci| ci.interval),
        welch: welch_t(a, b),
        mann_whitney: mann_whitney_u(a, b),
        paired,
        hedges_g: hedges_g(a, b),
        cliffs_delta: cliffs_delta(a, b),
        resamples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: &[f64]) -> Sample {
        Sample::new(values.to_vec()).expect("valid test sample")
    }

    #[test]
    fn compare_collects_everything() {
        let a = sample(&[10.0, 12.0, 11.0, 13.0, 12.5]);
        let b = sample(&[14.0, 15.5, 13.0, 16.0, 15.0]);
        let boot = Bootstrap::default();
        let comparison = compare(&a, &b, Some((&a, &b)), &boot, 42);
        assert_eq!((comparison.n_a, comparison.n_b), (5, 5));
        assert!((comparison.diff - 3.0).abs() < 1e-12);
        assert!((comparison.ratio.expect("ratio") - 14.7 / 11.7).abs() < 1e-12);
        assert!(
            comparison
                .diff_ci
                .expect("diff interval")
                .contains(comparison.diff)
        );
        assert!(
            comparison
                .ratio_ci
                .expect("ratio interval")
                .contains(14.7 / 11.7)
        );
        assert_eq!(comparison.welch, welch_t(&a, &b));
        assert_eq!(comparison.cliffs_delta, cliffs_delta(&a, &b));
        assert_eq!(comparison.resamples, 2000);
        let paired = comparison.paired.expect("paired");
        assert_eq!(paired.n_pairs, 5);
        assert!((paired.diff - 3.0).abs() < 1e-12);
        assert!(paired.t.is_ok() && paired.wilcoxon.is_ok());
        // Same inputs, same stream: identical, including the bootstrap.
        assert_eq!(
            compare(&a, &b, Some((&a, &b)), &boot, 42),
            compare(&a, &b, Some((&a, &b)), &boot, 42)
        );
    }

    #[test]
    fn compare_single_runs() {
        let a = sample(&[0.0]);
        let b = sample(&[3.0]);
        let comparison = compare(&a, &b, None, &Bootstrap::default(), 1);
        assert_eq!(comparison.diff, 3.0);
        assert_eq!(comparison.ratio, None);
        assert_eq!(comparison.diff_ci, None);
        assert_eq!(comparison.resamples, 0);
        assert!(comparison.welch.is_err());
        assert!(comparison.mann_whitney.is_ok());
        assert_eq!(comparison.hedges_g, None);
        assert_eq!(comparison.cliffs_delta, 1.0);
        assert_eq!(comparison.paired, None);
        let json = serde_json::to_value(&comparison).expect("serialisable");
        assert_eq!(
            json["welch"]["Err"],
            "Welch's t needs at least 2 runs per side (have 1 and 1)"
        );
    }
}
