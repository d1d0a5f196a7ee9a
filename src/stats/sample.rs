//! The validated input of every statistic: [`Sample`], a non-empty set of
//! finite observations, with its descriptive statistics (mean, variance,
//! extremes, numpy-compatible quantiles).
//!
//! Validation happens once, at construction, so no estimator downstream has
//! to think about NaN, infinities or empty input.

use std::sync::OnceLock;

/// Why a vector of observations could not become a [`Sample`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleError {
    #[error("a sample needs at least one observation")]
    Empty,
    #[error("observation {index} is {value}, but every observation must be finite")]
    NotFinite { index: usize, value: f64 },
}

/// A non-empty collection of finite observations.
///
/// A sorted copy is made the first time something needs it (repeated
/// quantiles, rank-based statistics) and kept; estimators that need only
/// moments (t-tests, the bootstrap) never pay for the sort, and
/// [`Sample::quantiles`] selects instead of sorting when no sorted copy
/// exists — a report pools up to millions of values per sample.
#[derive(Debug, Clone)]
pub struct Sample {
    values: Vec<f64>,
    sorted: OnceLock<Vec<f64>>,
    mean: f64,
    min: f64,
    max: f64,
}

impl PartialEq for Sample {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl Sample {
    /// Validates `values`: at least one, all finite.
    pub fn new(values: Vec<f64>) -> Result<Sample, SampleError> {
        if values.is_empty() {
            return Err(SampleError::Empty);
        }
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(SampleError::NotFinite { index, value });
        }
        let (min, max) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(*v), hi.max(*v))
            });
        let mean = mean_of(&values, min, max);
        Ok(Sample {
            values,
            sorted: OnceLock::new(),
            mean,
            min,
            max,
        })
    }

    /// Number of observations (at least 1).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always false: a `Sample` cannot be empty. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The observations in the order they were given.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The observations in ascending order.
    pub fn sorted(&self) -> &[f64] {
        self.sorted.get_or_init(|| {
            let mut sorted = self.values.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            sorted
        })
    }

    /// Arithmetic mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Unbiased variance (ddof = 1); `None` for a single observation.
    ///
    /// May overflow to infinity for observations beyond about 1e154.
    pub fn variance(&self) -> Option<f64> {
        let n = self.len();
        if n < 2 {
            return None;
        }
        // Two-pass formula: subtracting the mean first avoids the
        // catastrophic cancellation of the sum-of-squares shortcut.
        let sum_of_squares: f64 = self.values.iter().map(|v| (v - self.mean).powi(2)).sum();
        Some(sum_of_squares / (n - 1) as f64)
    }

    /// Standard deviation (ddof = 1); `None` for a single observation.
    pub fn sd(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    /// Smallest observation.
    pub fn min(&self) -> f64 {
        self.min
    }

    /// Largest observation.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// Quantile with linear interpolation between order statistics, the same
    /// as numpy's default (`np.quantile(x, p)`, Hyndman–Fan type 7).
    ///
    /// `p` is clamped to [0, 1]; a NaN `p` yields NaN.
    pub fn quantile(&self, p: f64) -> f64 {
        quantile_of_sorted(self.sorted(), p)
    }

    /// Several quantiles at once, equal to [`Sample::quantile`] for each `p`. Without a
    /// sorted copy it selects just the order statistics needed (O(n) each) instead of
    /// sorting everything.
    pub fn quantiles(&self, ps: &[f64]) -> Vec<f64> {
        if let Some(sorted) = self.sorted.get() {
            return ps.iter().map(|p| quantile_of_sorted(sorted, *p)).collect();
        }
        let n = self.values.len();
        // The order statistics type 7 interpolates between, ascending and distinct.
        let mut ranks: Vec<usize> = ps
            .iter()
            .filter(|p| !p.is_nan())
            .flat_map(|p| {
                let position = p.clamp(0.0, 1.0) * (n - 1) as f64;
                let below = position.floor() as usize;
                [below, (below + 1).min(n - 1)]
            })
            .collect();
        ranks.sort_unstable();
        ranks.dedup();
        let mut scratch = self.values.clone();
        let mut order_statistics = Vec::with_capacity(ranks.len());
        let mut start = 0;
        for rank in &ranks {
            // Everything before `start` is already ≤ what remains: select within the rest.
            let (_, nth, _) = scratch[start..].select_nth_unstable_by(rank - start, f64::total_cmp);
            order_statistics.push((*rank, *nth));
            start = *rank;
        }
        let statistic = |rank: usize| {
            order_statistics
                .iter()
                .find(|(r, _)| *r == rank)
                .map_or(f64::NAN, |(_, v)| *v)
        };
        ps.iter()
            .map(|p| {
                if p.is_nan() {
                    return f64::NAN;
                }
                let position = p.clamp(0.0, 1.0) * (n - 1) as f64;
                let below = position.floor() as usize;
                let pair = [statistic(below), statistic((below + 1).min(n - 1))];
                quantile_of_sorted_pair(pair, below, position - below as f64, n)
            })
            .collect()
    }

    /// Median (the 0.5 quantile).
    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }
}

/// Mean that stays inside [min, max] and does not overflow for large values.
fn mean_of(values: &[f64], min: f64, max: f64) -> f64 {
    let n = values.len() as f64;
    let total: f64 = values.iter().sum();
    let mean = if total.is_finite() {
        total / n
    } else {
        // The sum overflowed although every value is finite: divide first.
        values.iter().map(|v| v / n).sum()
    };
    // Rounding can push the mean of (nearly) constant data an ulp outside the
    // data's range, e.g. three 0.1s average to 0.10000000000000002.
    mean.clamp(min, max)
}

/// Type-7 interpolation between the order statistics `below` and `below + 1` (given as
/// `pair`), exactly as [`quantile_of_sorted`] computes it.
fn quantile_of_sorted_pair(pair: [f64; 2], below: usize, fraction: f64, n: usize) -> f64 {
    let [low, above] = pair;
    if below + 1 < n && fraction > 0.0 {
        if fraction < 0.5 {
            low + (above - low) * fraction
        } else {
            above - (above - low) * (1.0 - fraction)
        }
    } else {
        low
    }
}

/// Type-7 quantile of an ascending, non-empty slice (see [`Sample::quantile`]).
pub(crate) fn quantile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    if p.is_nan() || sorted.is_empty() {
        return f64::NAN;
    }
    let p = p.clamp(0.0, 1.0);
    let position = p * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let fraction = position - below as f64;
    match sorted.get(below + 1) {
        Some(&above) if fraction > 0.0 => {
            let low = sorted[below];
            // numpy's lerp: interpolate from the nearer end, which keeps the
            // result monotone in p and exact at the order statistics.
            if fraction < 0.5 {
                low + (above - low) * fraction
            } else {
                above - (above - low) * (1.0 - fraction)
            }
        }
        _ => sorted[below],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(values: &[f64]) -> Sample {
        Sample::new(values.to_vec()).expect("valid test sample")
    }

    proptest! {
        /// Selection without a sorted copy gives exactly what sorting gives.
        #[test]
        fn selected_quantiles_equal_sorted_ones(
            values in proptest::collection::vec(-1e6f64..1e6, 1..200),
            ps in proptest::collection::vec(0.0f64..=1.0, 1..6),
        ) {
            let selected = sample(&values).quantiles(&ps);
            let fresh = sample(&values);
            let sorted: Vec<f64> = ps.iter().map(|p| fresh.quantile(*p)).collect();
            prop_assert_eq!(&selected, &sorted);
            // And once sorted, the same again.
            prop_assert_eq!(fresh.quantiles(&ps), sorted);
        }
    }

    #[test]
    fn rejects_empty_and_non_finite() {
        assert_eq!(Sample::new(vec![]), Err(SampleError::Empty));
        let error = Sample::new(vec![1.0, f64::INFINITY]).unwrap_err();
        assert_eq!(
            error,
            SampleError::NotFinite {
                index: 1,
                value: f64::INFINITY
            }
        );
        assert_eq!(
            error.to_string(),
            "observation 1 is inf, but every observation must be finite"
        );
        assert!(matches!(
            Sample::new(vec![f64::NAN]),
            Err(SampleError::NotFinite { index: 0, .. })
        ));
    }

    #[test]
    fn descriptive_statistics_by_hand() {
        let s = sample(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(s.len(), 4);
        assert_eq!(s.values(), &[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(s.mean(), 2.5);
        // Squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, over n − 1 = 3.
        assert!((s.variance().unwrap() - 5.0 / 3.0).abs() < 1e-15);
        assert_eq!(s.min(), 1.0);
        assert_eq!(s.max(), 4.0);
        assert_eq!(s.median(), 2.5);
        // np.quantile([1,2,3,4], 0.05) = 1.15, 0.95 -> 3.85
        assert!((s.quantile(0.05) - 1.15).abs() < 1e-12);
        assert!((s.quantile(0.95) - 3.85).abs() < 1e-12);
        assert_eq!(s.quantile(0.0), 1.0);
        assert_eq!(s.quantile(1.0), 4.0);
        assert_eq!(s.quantile(7.0), 4.0);
        assert!(s.quantile(f64::NAN).is_nan());
    }

    #[test]
    fn single_observation() {
        let s = sample(&[7.5]);
        assert_eq!(s.variance(), None);
        assert_eq!(s.sd(), None);
        assert_eq!(s.median(), 7.5);
        assert_eq!(s.quantile(0.05), 7.5);
    }

    #[test]
    fn constant_mean_stays_in_range() {
        let s = sample(&[0.1, 0.1, 0.1]);
        assert_eq!(s.mean(), 0.1);
        assert_eq!(s.variance(), Some(0.0));
    }

    #[test]
    fn huge_values_do_not_overflow_the_mean() {
        let s = sample(&[f64::MAX, f64::MAX]);
        assert_eq!(s.mean(), f64::MAX);
    }

    proptest! {
        #[test]
        fn mean_lies_within_extremes(values in prop::collection::vec(-1e300f64..1e300, 1..50)) {
            let s = sample(&values);
            prop_assert!(s.min() <= s.mean() && s.mean() <= s.max());
        }

        #[test]
        fn quantile_is_monotone_in_p(
            values in prop::collection::vec(-1e6f64..1e6, 1..50),
            p in 0.0f64..1.0,
            q in 0.0f64..1.0,
        ) {
            let s = sample(&values);
            let (low, high) = if p <= q { (p, q) } else { (q, p) };
            prop_assert!(s.quantile(low) <= s.quantile(high));
            prop_assert!(s.min() <= s.quantile(low) && s.quantile(high) <= s.max());
        }
    }
}
