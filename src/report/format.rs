//! Number formatting for human tables: digits chosen per metric, CIs as
//! `41.0 [39.8, 42.1]`, p-values as `0.012` or `<0.001`.

use crate::stats::Interval;

/// Significant digits of a metric's typical value.
const SIGNIFICANT: i32 = 3;

/// Decimals that give a metric's typical magnitude three significant digits, shared by
/// every row so a column lines up: `[41.03, 39.8]` → 1 decimal; `[662.1, 481]` → 0.
pub fn decimals_for(values: impl IntoIterator<Item = f64>) -> usize {
    let mut magnitudes: Vec<f64> = values
        .into_iter()
        .map(f64::abs)
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if magnitudes.is_empty() {
        return 0;
    }
    magnitudes.sort_by(f64::total_cmp);
    let typical = magnitudes[magnitudes.len() / 2];
    let exponent = typical.log10().floor() as i32;
    (SIGNIFICANT - 1 - exponent).clamp(0, 6) as usize
}

pub fn number(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "–".to_owned();
    }
    let text = format!("{value:.decimals$}");
    // "-0.0" reads as a sign error in a paper.
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_owned()
    } else {
        text
    }
}

pub fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| number(v, decimals))
}

/// `41.0 [39.8, 42.1]`, or the bare value when there is no interval.
pub fn with_ci(value: f64, interval: Option<&Interval>, decimals: usize) -> String {
    match interval {
        Some(ci) => format!(
            "{} [{}, {}]",
            number(value, decimals),
            number(ci.low, decimals),
            number(ci.high, decimals)
        ),
        None => number(value, decimals),
    }
}

pub fn p_value(p: Option<f64>) -> String {
    match p {
        None => "n/a".to_owned(),
        Some(p) if p < 0.001 => "<0.001".to_owned(),
        Some(p) => format!("{p:.3}"),
    }
}

/// A ratio as `1.12×`.
pub fn ratio(value: f64) -> String {
    format!("{value:.3}×")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_follow_the_typical_magnitude() {
        assert_eq!(decimals_for([41.03, 39.8, 42.1]), 1);
        assert_eq!(decimals_for([662.1, 481.0, 702.0]), 0);
        assert_eq!(decimals_for([0.14, 0.12]), 3);
        assert_eq!(decimals_for([]), 0);
        assert_eq!(decimals_for([0.0, f64::NAN]), 0);
        assert_eq!(decimals_for([123_456.0]), 0);
    }

    #[test]
    fn intervals_and_p_values_read_like_a_paper() {
        let ci = Interval {
            low: 39.84,
            high: 42.12,
        };
        assert_eq!(with_ci(41.03, Some(&ci), 1), "41.0 [39.8, 42.1]");
        assert_eq!(with_ci(41.03, None, 1), "41.0");
        assert_eq!(number(-0.01, 1), "0.0");
        assert_eq!(number(-1.26, 1), "-1.3");
        assert_eq!(p_value(Some(0.0004)), "<0.001");
        assert_eq!(p_value(Some(0.01234)), "0.012");
        assert_eq!(p_value(None), "n/a");
        assert_eq!(ratio(1.1234), "1.123×");
    }
}
