//! Two-sided hypothesis tests of "B differs from A": Welch's t, the paired t,
//! Mann–Whitney U and the Wilcoxon signed-rank test, each reproducing the
//! corresponding scipy.stats function with its default options (including how
//! scipy 1.17 chooses between exact and asymptotic p-values), so results can
//! be checked against scipy (see `scripts/stats_oracle.py`).
//!
//! A test that cannot say anything about the data (too few runs, no
//! variation) returns [`NotApplicable`] with a sentence explaining why,
//! instead of scipy's NaN.

use serde::Serialize;

use super::distributions::{normal_sf, student_t_two_sided};
use super::sample::Sample;

/// Outcome of a two-sided test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult {
    /// The test statistic as scipy reports it for `f(b, a)`.
    pub statistic: f64,
    pub p_value: f64,
    /// Degrees of freedom, for t-tests.
    pub df: Option<f64>,
    /// How the p-value was obtained: "welch", "paired-t", "exact",
    /// "asymptotic" or "permutation".
    pub method: &'static str,
}

/// Why a test was not run, as a plain sentence.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{0}")]
pub struct NotApplicable(pub String);

/// Size, mean and variance of one side: all Welch's t needs, so callers that already
/// summarised a sample need not keep it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub n: usize,
    pub mean: f64,
    /// Unbiased variance; `None` for a single observation.
    pub variance: Option<f64>,
}

impl Sample {
    pub fn moments(&self) -> Moments {
        Moments {
            n: self.len(),
            mean: self.mean(),
            variance: self.variance(),
        }
    }
}

/// Welch's unequal-variance t-test of mean(b) − mean(a), as
/// `scipy.stats.ttest_ind(b, a, equal_var=False)`.
pub fn welch_t(a: &Sample, b: &Sample) -> Result<TestResult, NotApplicable> {
    welch_t_from_moments(a.moments(), b.moments())
}

/// [`welch_t`] from each side's moments.
pub fn welch_t_from_moments(a: Moments, b: Moments) -> Result<TestResult, NotApplicable> {
    let (n_a, n_b) = (a.n, b.n);
    let (Some(var_a), Some(var_b)) = (a.variance, b.variance) else {
        return Err(NotApplicable(format!(
            "Welch's t needs at least 2 runs per side (have {n_a} and {n_b})"
        )));
    };
    let share_a = var_a / n_a as f64;
    let share_b = var_b / n_b as f64;
    let standard_error_squared = share_a + share_b;
    if standard_error_squared == 0.0 {
        return Err(NotApplicable("both samples are constant".to_string()));
    }
    let statistic = (b.mean - a.mean) / standard_error_squared.sqrt();
    // Welch–Satterthwaite degrees of freedom.
    let df = standard_error_squared.powi(2)
        / (share_a.powi(2) / (n_a - 1) as f64 + share_b.powi(2) / (n_b - 1) as f64);
    Ok(TestResult {
        statistic,
        p_value: student_t_two_sided(statistic, df),
        df: Some(df),
        method: "welch",
    })
}

/// Paired t-test of the mean of `b[i] − a[i]`, as `scipy.stats.ttest_rel(b, a)`.
pub fn paired_t(a: &Sample, b: &Sample) -> Result<TestResult, NotApplicable> {
    let differences = paired_differences(a, b)?;
    let n = differences.len();
    if n < 2 {
        return Err(NotApplicable(format!(
            "the paired t-test needs at least 2 pairs (have {n})"
        )));
    }
    let mean = differences.iter().sum::<f64>() / n as f64;
    let variance = differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    if variance == 0.0 {
        return Err(NotApplicable(
            "the paired differences are all equal".to_string(),
        ));
    }
    let statistic = mean / (variance / n as f64).sqrt();
    let df = (n - 1) as f64;
    Ok(TestResult {
        statistic,
        p_value: student_t_two_sided(statistic, df),
        df: Some(df),
        method: "paired-t",
    })
}

/// Mann–Whitney U test, as `scipy.stats.mannwhitneyu(b, a)` with its defaults
/// (two-sided, continuity correction, `method='auto'`).
///
/// The statistic is U of `b`. scipy's auto rule: exact when either sample has
/// at most 8 observations and there are no ties, asymptotic (normal, tie
/// corrected) otherwise.
pub fn mann_whitney_u(a: &Sample, b: &Sample) -> Result<TestResult, NotApplicable> {
    let (n_a, n_b) = (a.len(), b.len());
    let mut pooled: Vec<(f64, bool)> = a
        .values()
        .iter()
        .map(|&v| (v, false))
        .chain(b.values().iter().map(|&v| (v, true)))
        .collect();
    pooled.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let mut rank_sum_b = 0.0;
    let mut tie_term = 0.0;
    let mut has_ties = false;
    for_each_tie_group(
        &pooled,
        |x| x.0,
        |group, average_rank| {
            let from_b = group.iter().filter(|x| x.1).count();
            rank_sum_b += from_b as f64 * average_rank;
            let size = group.len() as f64;
            tie_term += size.powi(3) - size;
            has_ties |= group.len() > 1;
        },
    );
    let u_b = rank_sum_b - (n_b * (n_b + 1)) as f64 / 2.0;
    let product = (n_a * n_b) as f64;
    let u_larger = u_b.max(product - u_b);

    let exact = (n_a <= 8 || n_b <= 8) && !has_ties;
    let p_value = if exact {
        // Without ties U is an integer.
        mann_whitney_exact_upper_tail(n_a, n_b, u_larger.round() as usize) * 2.0
    } else {
        let n = (n_a + n_b) as f64;
        let sigma = (product / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
        if sigma.is_nan() || sigma == 0.0 {
            return Err(NotApplicable(
                "every observation in both samples is equal".to_string(),
            ));
        }
        // Continuity correction: U is discrete, its upper tail starts at U − 0.5.
        let z = (u_larger - product / 2.0 - 0.5) / sigma;
        2.0 * normal_sf(z)
    };
    Ok(TestResult {
        statistic: u_b,
        p_value: p_value.clamp(0.0, 1.0),
        df: None,
        method: if exact { "exact" } else { "asymptotic" },
    })
}

/// Wilcoxon signed-rank test on `b[i] − a[i]`, as `scipy.stats.wilcoxon(b, a)`
/// with its defaults (two-sided, zero differences dropped, no continuity
/// correction, `method='auto'`).
///
/// The statistic is min(R+, R−). scipy 1.17's auto rule, on the number of
/// pairs n (zeros included): n > 50 → asymptotic (normal, tie corrected);
/// otherwise no ties and no zeros → exact; otherwise n ≤ 13 → an exact
/// permutation test over all 2ⁿ sign flips (method "permutation");
/// otherwise asymptotic.
pub fn wilcoxon_signed_rank(a: &Sample, b: &Sample) -> Result<TestResult, NotApplicable> {
    let differences = paired_differences(a, b)?;
    let n = differences.len();
    let zeros = differences.iter().filter(|d| **d == 0.0).count();
    let mut magnitudes: Vec<(f64, bool)> = differences
        .iter()
        .filter(|d| **d != 0.0)
        .map(|d| (d.abs(), *d > 0.0))
        .collect();
    if magnitudes.is_empty() {
        return Err(NotApplicable("every paired difference is zero".to_string()));
    }
    magnitudes.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let count = magnitudes.len();
    // Ranks are multiples of 1/2; doubling them keeps the permutation
    // distribution in exact integers.
    let mut doubled_ranks = Vec::with_capacity(count);
    let mut rank_sum_positive = 0.0;
    let mut tie_term = 0.0;
    let mut has_ties = false;
    for_each_tie_group(
        &magnitudes,
        |x| x.0,
        |group, average_rank| {
            for &(_, positive) in group {
                doubled_ranks.push((2.0 * average_rank) as u64);
                if positive {
                    rank_sum_positive += average_rank;
                }
            }
            let size = group.len() as f64;
            tie_term += size.powi(3) - size;
            has_ties |= group.len() > 1;
        },
    );
    let count_f = count as f64;
    let rank_total = count_f * (count_f + 1.0) / 2.0;
    let statistic = rank_sum_positive.min(rank_total - rank_sum_positive);

    let method = if n > 50 {
        "asymptotic"
    } else if !has_ties && zeros == 0 {
        "exact"
    } else if n <= 13 {
        "permutation"
    } else {
        "asymptotic"
    };
    let p_value = match method {
        "exact" => wilcoxon_exact_p(count, rank_sum_positive.round() as usize),
        "permutation" => {
            let observed = (2.0 * rank_sum_positive).round() as u64;
            sign_flip_p(&doubled_ranks, observed)
        }
        _ => {
            let mean = rank_total / 2.0;
            let variance =
                (count_f * (count_f + 1.0) * (2.0 * count_f + 1.0) - tie_term / 2.0) / 24.0;
            let z = (rank_sum_positive - mean) / variance.sqrt();
            2.0 * normal_sf(z.abs())
        }
    };
    Ok(TestResult {
        statistic,
        p_value: p_value.clamp(0.0, 1.0),
        df: None,
        method,
    })
}

/// `b[i] − a[i]`, or why the samples cannot be paired.
fn paired_differences(a: &Sample, b: &Sample) -> Result<Vec<f64>, NotApplicable> {
    if a.len() != b.len() {
        return Err(NotApplicable(format!(
            "paired tests need the same number of runs on both sides (have {} and {})",
            a.len(),
            b.len()
        )));
    }
    Ok(a.values()
        .iter()
        .zip(b.values())
        .map(|(x, y)| y - x)
        .collect())
}

/// Walks runs of equal keys in an ascending slice, handing each run and its
/// average 1-based rank to `visit`.
fn for_each_tie_group<T>(sorted: &[T], key: impl Fn(&T) -> f64, mut visit: impl FnMut(&[T], f64)) {
    let mut start = 0;
    while start < sorted.len() {
        let value = key(&sorted[start]);
        let end = start
            + sorted[start..]
                .iter()
                .take_while(|x| key(x) == value)
                .count();
        // Ranks start+1 ..= end share their average.
        let average_rank = (start + 1 + end) as f64 / 2.0;
        visit(&sorted[start..end], average_rank);
        start = end;
    }
}

/// `P(U ≥ u)` under the null for sample sizes `n_a`, `n_b` without ties.
///
/// The counts of U are the coefficients of the Gaussian binomial
/// `[n_a + n_b choose m]_q = Π_{i=1..m} (1 − q^{N+i}) / (1 − q^i)` with
/// m = min, N = max of the sizes. By symmetry `P(U ≥ u) = P(U ≤ m·N − u)`,
/// so only coefficients up to `m·N − u` are needed (a truncated power series).
/// Cost O(m · (m·N − u)), which is small since exact is used only for m ≤ 8.
fn mann_whitney_exact_upper_tail(n_a: usize, n_b: usize, u: usize) -> f64 {
    let small = n_a.min(n_b);
    let large = n_a.max(n_b);
    let Some(degree) = (small * large).checked_sub(u) else {
        return 0.0;
    };
    let mut coefficients = vec![0.0f64; degree + 1];
    coefficients[0] = 1.0;
    let mut total = 1.0;
    for i in 1..=small {
        // Multiply by (1 − q^{N+i}): walk downwards so each term reads the old value.
        let shift = large + i;
        for k in (shift..=degree).rev() {
            coefficients[k] -= coefficients[k - shift];
        }
        // Divide by (1 − q^i): the inverse recurrence c[k] += c[k − i], walking upwards.
        for k in i..=degree {
            coefficients[k] += coefficients[k - i];
        }
        total *= (large + i) as f64 / i as f64;
    }
    coefficients.iter().sum::<f64>() / total
}

/// Two-sided exact p-value of the signed-rank sum `r_plus` over `n` untied,
/// non-zero differences: `2 · min(P(T ≤ r), P(T ≥ r))`.
fn wilcoxon_exact_p(n: usize, r_plus: usize) -> f64 {
    let max_sum = n * (n + 1) / 2;
    // counts[s] = number of subsets of {1..n} with sum s; fits in u64 for
    // n ≤ 50 (the exact method's limit) since the total is 2^n.
    let mut counts = vec![0u64; max_sum + 1];
    counts[0] = 1;
    for rank in 1..=n {
        for s in (rank..=max_sum).rev() {
            counts[s] += counts[s - rank];
        }
    }
    let r_plus = r_plus.min(max_sum);
    let lower: u64 = counts[..=r_plus].iter().sum();
    let upper: u64 = counts[r_plus..].iter().sum();
    2.0 * lower.min(upper) as f64 / 2f64.powi(n as i32)
}

/// Two-sided p-value of an exact sign-flip permutation test of the (doubled)
/// signed-rank sum: every assignment of signs is equally likely under H0.
fn sign_flip_p(doubled_ranks: &[u64], observed: u64) -> f64 {
    let count = doubled_ranks.len();
    let assignments = 1u64 << count;
    let (mut at_most, mut at_least) = (0u64, 0u64);
    for mask in 0..assignments {
        let sum: u64 = doubled_ranks
            .iter()
            .enumerate()
            .filter(|(bit, _)| mask >> bit & 1 == 1)
            .map(|(_, rank)| rank)
            .sum();
        at_most += u64::from(sum <= observed);
        at_least += u64::from(sum >= observed);
    }
    2.0 * at_most.min(at_least) as f64 / assignments as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: &[f64]) -> Sample {
        Sample::new(values.to_vec()).expect("valid test sample")
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1e-3)
    }

    #[test]
    fn welch_by_hand() {
        // scipy.stats.ttest_ind(b, a, equal_var=False)
        let a = sample(&[1.0, 2.0, 3.0, 4.0]);
        let b = sample(&[2.0, 4.0, 6.0, 8.0, 10.0]);
        let result = welch_t(&a, &b).expect("applicable");
        assert!(
            close(result.statistic, 2.251_436_323_159_369_5),
            "{result:?}"
        );
        assert!(
            close(result.df.expect("df"), 5.520_787_746_170_677),
            "{result:?}"
        );
        assert!(
            close(result.p_value, 0.069_133_593_192_392_37),
            "{result:?}"
        );
    }

    #[test]
    fn welch_not_applicable() {
        let one = sample(&[1.0]);
        let five = sample(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(
            welch_t(&one, &five).unwrap_err().to_string(),
            "Welch's t needs at least 2 runs per side (have 1 and 5)"
        );
        let constant = sample(&[2.0, 2.0]);
        assert_eq!(
            welch_t(&constant, &sample(&[3.0, 3.0, 3.0]))
                .unwrap_err()
                .to_string(),
            "both samples are constant"
        );
        // One constant side is fine: the other side carries the variance.
        assert!(welch_t(&constant, &five).is_ok());
    }

    #[test]
    fn paired_t_by_hand_and_not_applicable() {
        // scipy.stats.ttest_rel(b, a): differences 1, 3, 2, 5
        let a = sample(&[1.0, 2.0, 3.0, 4.0]);
        let b = sample(&[2.0, 5.0, 5.0, 9.0]);
        let result = paired_t(&a, &b).expect("applicable");
        assert!(
            close(result.statistic, 3.220_470_240_730_159_5),
            "{result:?}"
        );
        assert!(
            close(result.p_value, 0.048_566_856_559_801_02),
            "{result:?}"
        );
        assert_eq!(result.df, Some(3.0));
        assert!(paired_t(&a, &sample(&[1.0, 2.0])).is_err());
        assert!(paired_t(&sample(&[1.0]), &sample(&[2.0])).is_err());
        let shifted = sample(&[2.0, 3.0, 4.0, 5.0]);
        assert_eq!(
            paired_t(&a, &shifted).unwrap_err().to_string(),
            "the paired differences are all equal"
        );
    }

    #[test]
    fn mann_whitney_exact_by_hand() {
        // scipy.stats.mannwhitneyu(b, a): no ties, small → exact.
        let a = sample(&[1.1, 3.4, 2.2, 5.0]);
        let b = sample(&[4.1, 6.3, 5.5, 7.2, 0.5]);
        let result = mann_whitney_u(&a, &b).expect("applicable");
        assert_eq!(result.method, "exact");
        assert_eq!(result.statistic, 15.0);
        assert!(close(result.p_value, 0.285_714_285_714_285_7), "{result:?}");
        // Complete separation: p = 2 / C(9, 4).
        let low = sample(&[1.0, 2.0, 3.0, 4.0]);
        let high = sample(&[5.0, 6.0, 7.0, 8.0, 9.0]);
        let result = mann_whitney_u(&low, &high).expect("applicable");
        assert_eq!(result.statistic, 20.0);
        assert!(close(result.p_value, 2.0 / 126.0), "{result:?}");
        // Single observations are fine for the exact test.
        let result = mann_whitney_u(&sample(&[1.0]), &sample(&[2.0])).expect("applicable");
        assert_eq!(result.p_value, 1.0);
    }

    #[test]
    fn mann_whitney_asymptotic_with_ties() {
        // scipy.stats.mannwhitneyu(b, a): ties → asymptotic.
        let a = sample(&[1.0, 2.0, 2.0, 3.0, 3.0]);
        let b = sample(&[2.0, 3.0, 4.0, 4.0, 5.0]);
        let result = mann_whitney_u(&a, &b).expect("applicable");
        assert_eq!(result.method, "asymptotic");
        assert_eq!(result.statistic, 21.0);
        assert!(
            close(result.p_value, 0.085_673_439_552_316_86),
            "{result:?}"
        );
        assert_eq!(
            mann_whitney_u(&sample(&[3.0, 3.0]), &sample(&[3.0]))
                .unwrap_err()
                .to_string(),
            "every observation in both samples is equal"
        );
    }

    #[test]
    fn wilcoxon_methods_by_hand() {
        // scipy.stats.wilcoxon(b, a); differences 1, -2, 3, 4, 5, 6: exact.
        let a = sample(&[0.0; 6]);
        let b = sample(&[1.0, -2.0, 3.0, 4.0, 5.0, 6.0]);
        let result = wilcoxon_signed_rank(&a, &b).expect("applicable");
        assert_eq!(result.method, "exact");
        assert_eq!(result.statistic, 2.0);
        assert!(close(result.p_value, 0.093_75), "{result:?}");
        // A zero difference and a tie: permutation over sign flips.
        let b = sample(&[0.0, -2.0, 2.0, 4.0, 5.0, 6.0]);
        let result = wilcoxon_signed_rank(&a, &b).expect("applicable");
        assert_eq!(result.method, "permutation");
        assert_eq!(result.statistic, 1.5);
        assert!(close(result.p_value, 0.1875), "{result:?}");
        assert_eq!(
            wilcoxon_signed_rank(&a, &a).unwrap_err().to_string(),
            "every paired difference is zero"
        );
        assert!(wilcoxon_signed_rank(&a, &sample(&[1.0])).is_err());
    }

    #[test]
    fn wilcoxon_asymptotic_with_ties() {
        // 20 pairs with ties → asymptotic (n > 13).
        let a = sample(&[0.0; 20]);
        let differences: Vec<f64> = (0..20).map(|i| f64::from(i % 7) - 2.0).collect();
        let result = wilcoxon_signed_rank(&a, &sample(&differences)).expect("applicable");
        assert_eq!(result.method, "asymptotic");
        assert_eq!(result.statistic, 39.0);
        assert!(
            close(result.p_value, 0.072_793_237_154_804_93),
            "{result:?}"
        );
    }

    #[test]
    fn exact_mann_whitney_tail_matches_enumeration() {
        // Brute force: U over all C(7, 3) = 35 placements of the small sample.
        let (small, large) = (3usize, 4usize);
        let mut u_counts = vec![0usize; small * large + 1];
        for mask in 0u32..(1 << (small + large)) {
            if mask.count_ones() as usize != small {
                continue;
            }
            // U counts, for each chosen position, the unchosen ones below it.
            let u: usize = (0..small + large)
                .filter(|bit| mask >> bit & 1 == 1)
                .map(|bit| (0..bit).filter(|lower| mask >> lower & 1 == 0).count())
                .sum();
            u_counts[u] += 1;
        }
        for u in 0..=small * large {
            let expected = u_counts[u..].iter().sum::<usize>() as f64 / 35.0;
            let actual = mann_whitney_exact_upper_tail(small, large, u);
            assert!(
                (actual - expected).abs() < 1e-12,
                "u = {u}: {actual} vs {expected}"
            );
        }
    }
}
