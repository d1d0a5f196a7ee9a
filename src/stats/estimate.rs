//! The one-sample summary of a metric: descriptive statistics plus two 95%
//! confidence intervals for the mean, Student's t and percentile bootstrap.

use serde::Serialize;

use super::bootstrap::Bootstrap;
use super::distributions::student_t_critical;
use super::sample::Sample;

/// A closed interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// Whether `value` lies in the interval (ends included).
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }

    /// `high − low`.
    pub fn width(&self) -> f64 {
        self.high - self.low
    }
}

/// Descriptive statistics and confidence intervals of one sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Standard deviation (ddof = 1); `None` for a single observation.
    pub sd: Option<f64>,
    pub median: f64,
    /// 5th percentile (numpy's linear interpolation).
    pub p5: f64,
    /// 95th percentile (numpy's linear interpolation).
    pub p95: f64,
    pub min: f64,
    pub max: f64,
    /// Student's t interval of the mean; `None` for a single observation.
    pub t_ci: Option<Interval>,
    /// Percentile bootstrap interval of the mean; `None` for a single observation.
    pub boot_ci: Option<Interval>,
    /// Resamples behind `boot_ci` (0 when there is none).
    pub resamples: usize,
}

impl Summary {
    /// What Welch's t needs (the variance from `sd`, as the summary keeps it).
    pub fn moments(&self) -> super::Moments {
        super::Moments {
            n: self.n,
            mean: self.mean,
            variance: self.sd.map(|sd| sd * sd),
        }
    }
}

/// Summarises `sample`; the bootstrap draws from `stream` (see [`Bootstrap`]).
/// Both intervals use `boot.confidence`.
pub fn summarize(sample: &Sample, boot: &Bootstrap, stream: u64) -> Summary {
    let boot_ci = boot.mean_ci(sample, stream);
    let [p5, median, p95] = match sample.quantiles(&[0.05, 0.5, 0.95])[..] {
        [p5, median, p95] => [p5, median, p95],
        _ => [f64::NAN; 3],
    };
    Summary {
        n: sample.len(),
        mean: sample.mean(),
        sd: sample.sd(),
        median,
        p5,
        p95,
        min: sample.min(),
        max: sample.max(),
        t_ci: t_interval(sample, boot.confidence),
        boot_ci: boot_ci.as_ref().map(|ci| ci.interval),
        resamples: boot_ci.map_or(0, |ci| ci.resamples),
    }
}

/// `mean ± t_{(1+confidence)/2, n−1} · sd / √n`; `None` for a single observation.
pub fn t_interval(sample: &Sample, confidence: f64) -> Option<Interval> {
    let sd = sample.sd()?;
    let n = sample.len() as f64;
    let half_width = student_t_critical(confidence, n - 1.0) * sd / n.sqrt();
    Some(Interval {
        low: sample.mean() - half_width,
        high: sample.mean() + half_width,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(values: &[f64]) -> Sample {
        Sample::new(values.to_vec()).expect("valid test sample")
    }

    #[test]
    fn summary_by_hand() {
        let s = sample(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        let summary = summarize(&s, &Bootstrap::default(), 7);
        assert_eq!(summary.n, 5);
        assert_eq!(summary.mean, 3.0);
        assert_eq!(summary.median, 3.0);
        assert!((summary.p5 - 1.2).abs() < 1e-12);
        assert!((summary.p95 - 4.8).abs() < 1e-12);
        // sd = sqrt(2.5); t_{0.975,4} = 2.7764451051977934
        let half = 2.776_445_105_197_793_4 * 2.5f64.sqrt() / 5f64.sqrt();
        let t_ci = summary.t_ci.expect("t interval");
        assert!((t_ci.low - (3.0 - half)).abs() < 1e-10);
        assert!((t_ci.high - (3.0 + half)).abs() < 1e-10);
        assert_eq!(summary.resamples, 2000);
        assert!(summary.boot_ci.expect("bootstrap interval").contains(3.0));
    }

    #[test]
    fn single_observation_has_no_intervals() {
        let summary = summarize(&sample(&[4.0]), &Bootstrap::default(), 0);
        assert_eq!(summary.sd, None);
        assert_eq!(summary.t_ci, None);
        assert_eq!(summary.boot_ci, None);
        assert_eq!(summary.resamples, 0);
        assert_eq!((summary.min, summary.max, summary.median), (4.0, 4.0, 4.0));
    }

    #[test]
    fn constant_sample_has_zero_width_t_interval() {
        let t_ci = t_interval(&sample(&[2.0, 2.0, 2.0]), 0.95).expect("t interval");
        assert_eq!(
            t_ci,
            Interval {
                low: 2.0,
                high: 2.0
            }
        );
    }

    proptest! {
        #[test]
        fn t_interval_contains_the_mean(values in prop::collection::vec(-1e6f64..1e6, 2..40)) {
            let s = sample(&values);
            let t_ci = t_interval(&s, 0.95).expect("n >= 2");
            prop_assert!(t_ci.contains(s.mean()));
        }
    }
}
