//! Corrections for testing many hypotheses at once (Holm–Bonferroni).

/// Holm–Bonferroni adjusted p-values, in the order of the input.
///
/// With the p-values sorted ascending, the i-th smallest (0-based) is
/// multiplied by `m − i`; a running maximum keeps the step-down monotone and
/// results are capped at 1. p-values are expected in [0, 1]; a NaN one stays
/// NaN in the output rather than poisoning the others.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&x, &y| p_values[x].total_cmp(&p_values[y]));
    let mut adjusted = vec![0.0; m];
    let mut running_max = 0.0f64;
    for (rank, &index) in order.iter().enumerate() {
        let scaled = (p_values[index] * (m - rank) as f64).min(1.0);
        running_max = if scaled.is_nan() {
            scaled
        } else {
            running_max.max(scaled)
        };
        adjusted[index] = running_max;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn holm_by_hand() {
        // statsmodels multipletests([0.01, 0.04, 0.03, 0.2], method='holm')
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.2]);
        let expected = [0.04, 0.09, 0.09, 0.2];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[]), Vec::<f64>::new());
        assert_eq!(holm(&[0.3]), vec![0.3]);
        assert_eq!(holm(&[0.5, 0.6]), vec![1.0, 1.0]);
    }

    proptest! {
        #[test]
        fn holm_is_bounded_and_order_preserving(p in prop::collection::vec(0.0f64..=1.0, 0..40)) {
            let adjusted = holm(&p);
            prop_assert_eq!(adjusted.len(), p.len());
            for i in 0..p.len() {
                prop_assert!(adjusted[i] >= p[i] && adjusted[i] <= 1.0);
                for j in 0..p.len() {
                    if p[i] <= p[j] {
                        prop_assert!(adjusted[i] <= adjusted[j]);
                    }
                }
            }
        }
    }
}
