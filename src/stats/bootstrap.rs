//! Percentile bootstrap confidence intervals: of a mean, of the difference and
//! the ratio of two independent means, and of the mean paired difference.
//!
//! Every estimate draws from its own ChaCha8 stream (`seed` picks the key,
//! the caller's `stream` — a hash of the cell and metric — picks the stream),
//! so a result depends only on its inputs, never on which thread computed it
//! or in which order. A draw budget caps the work on large samples.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::distributions::normal_critical;
use super::estimate::Interval;
use super::sample::{Sample, quantile_of_sorted};

/// Observations drawn per estimate, at most. A report may hold a million
/// observations; at 2,000 resamples each that would be two billion draws per
/// metric, so large samples get fewer resamples instead (their bootstrap
/// distribution is also much smoother, so fewer suffice).
pub const DRAW_BUDGET: usize = 2_000_000;

/// Fewest resamples the budget may leave: at 200 the 2.5% tail of a 95%
/// interval still rests on 5 resamples, below that the endpoints are noise.
pub const MIN_RESAMPLES: usize = 200;

/// Above this many observations per resample the budget would leave fewer than
/// [`MIN_RESAMPLES`], so the interval is the bootstrap's large-sample limit instead: the
/// bootstrap distribution of a mean is normal with the plug-in variance σ̂²/n, which a
/// percentile bootstrap matches to well under 1% of the width at this size. Such
/// intervals report `resamples = 0`. (A million-row report cannot afford 200 resamples
/// of every pooled mean in seconds; see benches/report.rs.)
pub const LARGE_SAMPLE: usize = DRAW_BUDGET / MIN_RESAMPLES;

/// Stream salt for the paired interval in [`super::compare::compare`], so its
/// noise is independent of the unpaired intervals computed from the same stream.
pub(crate) const PAIRED_STREAM_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

/// Settings of the percentile bootstrap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bootstrap {
    /// Resamples wanted; large samples get fewer, see [`Bootstrap::resamples_for`].
    pub resamples: usize,
    /// Key of the random generator; the per-estimate stream is passed per call.
    pub seed: u64,
    /// Coverage of the intervals, in (0, 1).
    pub confidence: f64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: 2000,
            seed: 0,
            confidence: 0.95,
        }
    }
}

/// A bootstrap interval together with the number of resamples behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapCi {
    pub interval: Interval,
    pub resamples: usize,
}

impl Bootstrap {
    /// Resamples used for an estimate that draws `n` observations per
    /// resample: `min(resamples, max(200, 2_000_000 / n))`.
    ///
    /// This keeps each estimate to about [`DRAW_BUDGET`] draws however large
    /// the sample, while never going under [`MIN_RESAMPLES`].
    pub fn resamples_for(&self, n: usize) -> usize {
        self.resamples
            .min(MIN_RESAMPLES.max(DRAW_BUDGET / n.max(1)))
    }

    /// Percentile interval of the mean; `None` with fewer than 2 observations
    /// (resampling one value says nothing about its uncertainty).
    pub fn mean_ci(&self, sample: &Sample, stream: u64) -> Option<BootstrapCi> {
        if sample.len() < 2 {
            return None;
        }
        if sample.len() > LARGE_SAMPLE {
            let (mean, variance) = plug_in_moments(sample.values());
            return Some(self.normal_interval(mean, variance / sample.len() as f64));
        }
        let resamples = self.resamples_for(sample.len());
        let mut rng = self.rng(stream);
        let mut means: Vec<f64> = (0..resamples)
            .map(|_| resampled_mean(sample.values(), &mut rng))
            .collect();
        self.percentile_interval(&mut means, resamples)
    }

    /// `centre ± z · √variance`: the large-sample limit of a percentile interval.
    fn normal_interval(&self, centre: f64, variance: f64) -> BootstrapCi {
        let half_width = normal_critical(self.confidence) * variance.max(0.0).sqrt();
        BootstrapCi {
            interval: Interval {
                low: centre - half_width,
                high: centre + half_width,
            },
            resamples: 0,
        }
    }

    /// Percentile interval of `mean(b) − mean(a)`, resampling both samples
    /// independently; `None` unless both have at least 2 observations.
    pub fn diff_of_means_ci(&self, a: &Sample, b: &Sample, stream: u64) -> Option<BootstrapCi> {
        self.diff_and_ratio_cis(a, b, stream).0
    }

    /// Percentile interval of `mean(b) / mean(a)`, resampling both samples
    /// independently. Resamples whose mean of `a` is 0 are skipped; `None`
    /// when `a`'s own mean is 0, or unless both have at least 2 observations.
    pub fn ratio_of_means_ci(&self, a: &Sample, b: &Sample, stream: u64) -> Option<BootstrapCi> {
        self.diff_and_ratio_cis(a, b, stream).1
    }

    /// Difference and ratio intervals from one shared set of resamples, which
    /// halves the work when both are wanted (as in a comparison).
    pub fn diff_and_ratio_cis(
        &self,
        a: &Sample,
        b: &Sample,
        stream: u64,
    ) -> (Option<BootstrapCi>, Option<BootstrapCi>) {
        if a.len() < 2 || b.len() < 2 {
            return (None, None);
        }
        if a.len() + b.len() > LARGE_SAMPLE {
            // Independent means: variances add; the ratio by the delta method.
            let (mean_a, var_a) = plug_in_moments(a.values());
            let (mean_b, var_b) = plug_in_moments(b.values());
            let (se2_a, se2_b) = (var_a / a.len() as f64, var_b / b.len() as f64);
            let diff = self.normal_interval(mean_b - mean_a, se2_a + se2_b);
            let ratio = (mean_a != 0.0).then(|| {
                let ratio = mean_b / mean_a;
                let relative = se2_a / (mean_a * mean_a)
                    + if mean_b != 0.0 {
                        se2_b / (mean_b * mean_b)
                    } else {
                        0.0
                    };
                let variance = if mean_b != 0.0 {
                    ratio * ratio * relative
                } else {
                    se2_b / (mean_a * mean_a)
                };
                self.normal_interval(ratio, variance)
            });
            return (Some(diff), ratio);
        }
        let resamples = self.resamples_for(a.len() + b.len());
        let want_ratio = a.mean() != 0.0;
        let mut rng = self.rng(stream);
        let mut diffs = Vec::with_capacity(resamples);
        let mut ratios = Vec::with_capacity(if want_ratio { resamples } else { 0 });
        for _ in 0..resamples {
            let mean_a = resampled_mean(a.values(), &mut rng);
            let mean_b = resampled_mean(b.values(), &mut rng);
            diffs.push(mean_b - mean_a);
            if want_ratio && mean_a != 0.0 {
                ratios.push(mean_b / mean_a);
            }
        }
        let ratio_count = ratios.len();
        (
            self.percentile_interval(&mut diffs, resamples),
            self.percentile_interval(&mut ratios, ratio_count),
        )
    }

    /// Percentile interval of the mean of `b[i] − a[i]`, resampling pair
    /// indices; `None` when the lengths differ or there are fewer than 2 pairs.
    pub fn paired_diff_ci(&self, a: &Sample, b: &Sample, stream: u64) -> Option<BootstrapCi> {
        if a.len() != b.len() || a.len() < 2 {
            return None;
        }
        let differences: Vec<f64> = a
            .values()
            .iter()
            .zip(b.values())
            .map(|(x, y)| y - x)
            .collect();
        if differences.len() > LARGE_SAMPLE {
            let (mean, variance) = plug_in_moments(&differences);
            return Some(self.normal_interval(mean, variance / differences.len() as f64));
        }
        let resamples = self.resamples_for(differences.len());
        let mut rng = self.rng(stream);
        let mut means: Vec<f64> = (0..resamples)
            .map(|_| resampled_mean(&differences, &mut rng))
            .collect();
        self.percentile_interval(&mut means, resamples)
    }

    fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream);
        rng
    }

    /// Sorts the bootstrap replicates and reads off the two tail quantiles.
    fn percentile_interval(&self, replicates: &mut [f64], resamples: usize) -> Option<BootstrapCi> {
        if replicates.is_empty() {
            return None;
        }
        replicates.sort_by(f64::total_cmp);
        let tail = (1.0 - self.confidence) / 2.0;
        Some(BootstrapCi {
            interval: Interval {
                low: quantile_of_sorted(replicates, tail),
                high: quantile_of_sorted(replicates, 1.0 - tail),
            },
            resamples,
        })
    }
}

/// Mean and plug-in variance (divided by n, as the bootstrap's own distribution has).
fn plug_in_moments(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, variance)
}

/// Mean of one resample with replacement, drawn as indices so that no
/// resample is ever materialised.
fn resampled_mean(values: &[f64], rng: &mut ChaCha8Rng) -> f64 {
    let n = values.len();
    let mut total = 0.0;
    // rand 0.9 draws a usize range that fits in 32 bits from one u32
    // (unbiased, and the same on 32- and 64-bit targets).
    for _ in 0..n {
        total += values[rng.random_range(0..n)];
    }
    total / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(values: &[f64]) -> Sample {
        Sample::new(values.to_vec()).expect("valid test sample")
    }

    #[test]
    fn budget_caps_resamples() {
        let boot = Bootstrap::default();
        assert_eq!(boot.resamples_for(10), 2000);
        assert_eq!(boot.resamples_for(1000), 2000);
        assert_eq!(boot.resamples_for(4000), 500);
        assert_eq!(boot.resamples_for(1_000_000), 200);
        assert_eq!(boot.resamples_for(0), 2000);
        let few = Bootstrap {
            resamples: 50,
            ..Bootstrap::default()
        };
        assert_eq!(few.resamples_for(1_000_000), 50);
    }

    /// Above `LARGE_SAMPLE` the interval is the normal limit; it must agree with a real
    /// percentile bootstrap of the same (skewed) data.
    #[test]
    fn the_large_sample_interval_matches_a_real_bootstrap() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let values: Vec<f64> = (0..LARGE_SAMPLE + 1)
            .map(|_| {
                let u: f64 = rng.random_range(1e-9..1.0);
                -u.ln() * 30.0 // exponential: skewed like latencies
            })
            .collect();
        let large = Sample::new(values.clone()).expect("finite");
        let boot = Bootstrap::default();
        let limit = boot.mean_ci(&large, 3).expect("interval");
        assert_eq!(limit.resamples, 0);

        let mut rng = boot.rng(3);
        let mut means: Vec<f64> = (0..400)
            .map(|_| resampled_mean(&values, &mut rng))
            .collect();
        let real = boot.percentile_interval(&mut means, 400).expect("interval");
        let width = real.interval.width();
        assert!(
            (limit.interval.low - real.interval.low).abs() < 0.1 * width,
            "{limit:?} {real:?}"
        );
        assert!(
            (limit.interval.high - real.interval.high).abs() < 0.1 * width,
            "{limit:?} {real:?}"
        );

        let shifted = Sample::new(values.iter().map(|v| v + 5.0).collect()).expect("finite");
        let (diff, ratio) = boot.diff_and_ratio_cis(&large, &shifted, 1);
        let diff = diff.expect("interval");
        assert_eq!(diff.resamples, 0);
        assert!(diff.interval.contains(5.0));
        assert!(
            ratio
                .expect("interval")
                .interval
                .contains(shifted.mean() / large.mean())
        );
    }

    #[test]
    fn single_observations_give_no_interval() {
        let boot = Bootstrap::default();
        let one = sample(&[3.0]);
        let many = sample(&[1.0, 2.0, 3.0]);
        assert_eq!(boot.mean_ci(&one, 1), None);
        assert_eq!(boot.diff_of_means_ci(&one, &many, 1), None);
        assert_eq!(boot.paired_diff_ci(&one, &one, 1), None);
        assert_eq!(boot.paired_diff_ci(&many, &sample(&[1.0, 2.0]), 1), None);
    }

    #[test]
    fn constant_sample_gives_degenerate_interval() {
        let boot = Bootstrap::default();
        let ci = boot.mean_ci(&sample(&[2.0; 8]), 9).expect("interval");
        assert_eq!(
            ci.interval,
            Interval {
                low: 2.0,
                high: 2.0
            }
        );
        assert_eq!(ci.resamples, 2000);
    }

    #[test]
    fn interval_brackets_the_mean_and_uses_the_stream() {
        let boot = Bootstrap::default();
        let s = sample(&[1.0, 4.0, 2.0, 8.0, 5.0, 7.0, 3.0, 6.0]);
        let ci = boot.mean_ci(&s, 1).expect("interval");
        assert!(ci.interval.low < s.mean() && s.mean() < ci.interval.high);
        let other_stream = boot.mean_ci(&s, 2).expect("interval");
        assert_ne!(ci, other_stream);
    }

    #[test]
    fn ratio_needs_a_nonzero_baseline() {
        let boot = Bootstrap::default();
        let a = sample(&[-1.0, 1.0]);
        let b = sample(&[1.0, 2.0]);
        let (diff, ratio) = boot.diff_and_ratio_cis(&a, &b, 0);
        assert!(diff.is_some());
        assert_eq!(ratio, None);
        // Baseline mean 1 but resamples of {0, 0, 3} often average 0: skipped.
        let a = sample(&[0.0, 0.0, 3.0]);
        let ratio = boot.ratio_of_means_ci(&a, &b, 0).expect("interval");
        assert!(ratio.interval.low.is_finite() && ratio.interval.high.is_finite());
    }

    #[test]
    fn paired_interval_of_constant_shift_is_the_shift() {
        let boot = Bootstrap::default();
        let a = sample(&[1.0, 5.0, 2.0, 9.0]);
        let b = sample(&[1.5, 5.5, 2.5, 9.5]);
        let ci = boot.paired_diff_ci(&a, &b, 3).expect("interval");
        assert_eq!(
            ci.interval,
            Interval {
                low: 0.5,
                high: 0.5
            }
        );
    }

    proptest! {
        #[test]
        fn equal_seed_and_stream_give_equal_results(
            values in prop::collection::vec(-1e3f64..1e3, 2..30),
            other in prop::collection::vec(-1e3f64..1e3, 2..30),
            seed in any::<u64>(),
            stream in any::<u64>(),
        ) {
            let boot = Bootstrap { resamples: 300, seed, confidence: 0.9 };
            let a = sample(&values);
            let b = sample(&other);
            prop_assert_eq!(boot.mean_ci(&a, stream), boot.mean_ci(&a, stream));
            prop_assert_eq!(
                boot.diff_and_ratio_cis(&a, &b, stream),
                boot.diff_and_ratio_cis(&a, &b, stream)
            );
        }
    }
}
