//! Effect sizes of "B versus A": Hedges' g (standardised mean difference,
//! small-sample corrected) and Cliff's delta (probability of superiority).

use super::sample::Sample;

/// Hedges' g of B relative to A:
///
/// `g = (mean_b − mean_a) / s_pooled × J`, with
/// `s_pooled = sqrt(((n_a − 1)·var_a + (n_b − 1)·var_b) / (n_a + n_b − 2))`
/// and the small-sample bias correction `J = 1 − 3 / (4(n_a + n_b) − 9)`.
///
/// `None` when the pooled standard deviation is undefined (fewer than 3
/// observations in total) or zero (both samples constant).
pub fn hedges_g(a: &Sample, b: &Sample) -> Option<f64> {
    let (n_a, n_b) = (a.len(), b.len());
    let total = n_a + n_b;
    if total < 3 {
        return None;
    }
    // A single observation contributes no spread but still counts in n.
    let spread = |s: &Sample| s.variance().map_or(0.0, |v| v * (s.len() - 1) as f64);
    let pooled_sd = ((spread(a) + spread(b)) / (total - 2) as f64).sqrt();
    if pooled_sd == 0.0 {
        return None;
    }
    let correction = 1.0 - 3.0 / (4.0 * total as f64 - 9.0);
    Some((b.mean() - a.mean()) / pooled_sd * correction)
}

/// Cliff's delta `P(b > a) − P(b < a)` over all pairs, in [−1, 1].
///
/// Counted with binary searches in A's sorted copy, O(n_b log n_a), because
/// samples can hold 10⁵ observations and the pairwise definition is quadratic.
pub fn cliffs_delta(a: &Sample, b: &Sample) -> f64 {
    let sorted_a = a.sorted();
    let mut balance: i128 = 0;
    for &value in b.values() {
        let below = sorted_a.partition_point(|&x| x < value);
        let not_above = sorted_a.partition_point(|&x| x <= value);
        let above = sorted_a.len() - not_above;
        balance += below as i128 - above as i128;
    }
    balance as f64 / (a.len() as f64 * b.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(values: &[f64]) -> Sample {
        Sample::new(values.to_vec()).expect("valid test sample")
    }

    #[test]
    fn hedges_g_by_hand() {
        // means 2.5 and 6, variances 5/3 and 10 → s_pooled = sqrt(45/7),
        // J = 1 − 3/27.
        let a = sample(&[1.0, 2.0, 3.0, 4.0]);
        let b = sample(&[2.0, 4.0, 6.0, 8.0, 10.0]);
        let expected = 3.5 / (45.0f64 / 7.0).sqrt() * (1.0 - 3.0 / 27.0);
        let g = hedges_g(&a, &b).expect("defined");
        assert!((g - expected).abs() < 1e-12);
    }

    #[test]
    fn hedges_g_undefined_cases() {
        assert_eq!(hedges_g(&sample(&[1.0]), &sample(&[2.0])), None);
        assert_eq!(hedges_g(&sample(&[1.0, 1.0]), &sample(&[2.0, 2.0])), None);
        // One observation on a side is usable when the other side varies.
        assert!(hedges_g(&sample(&[1.0]), &sample(&[2.0, 3.0])).is_some());
    }

    #[test]
    fn cliffs_delta_by_hand() {
        let a = sample(&[1.0, 2.0, 3.0]);
        let b = sample(&[2.0, 4.0]);
        // Pairs (b, a): 2 beats 1, ties 2, loses to 3; 4 beats all three.
        assert!((cliffs_delta(&a, &b) - 3.0 / 6.0).abs() < 1e-15);
        assert_eq!(cliffs_delta(&b, &b), 0.0);
        assert_eq!(cliffs_delta(&sample(&[1.0]), &sample(&[5.0, 6.0])), 1.0);
    }

    fn quadratic_cliffs_delta(a: &[f64], b: &[f64]) -> f64 {
        let mut balance = 0i64;
        for y in b {
            for x in a {
                balance += i64::from(y > x) - i64::from(y < x);
            }
        }
        balance as f64 / (a.len() * b.len()) as f64
    }

    proptest! {
        #[test]
        fn cliffs_delta_matches_the_definition(
            // Small integers force plenty of ties.
            a in prop::collection::vec(-5i32..5, 1..30),
            b in prop::collection::vec(-5i32..5, 1..30),
        ) {
            let a: Vec<f64> = a.into_iter().map(f64::from).collect();
            let b: Vec<f64> = b.into_iter().map(f64::from).collect();
            let fast = cliffs_delta(&sample(&a), &sample(&b));
            prop_assert!((fast - quadratic_cliffs_delta(&a, &b)).abs() < 1e-12);
        }
    }
}
