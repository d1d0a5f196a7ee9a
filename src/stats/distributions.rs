//! Special functions and the few distribution tails the statistics need:
//! log-gamma, the regularized incomplete beta and gamma functions, Student's
//! t (two-sided tail and quantile) and the standard normal tail.
//!
//! They are implemented here rather than pulled from a crate so the module
//! depends on nothing heavier than `rand`; each is checked against values from
//! scipy in the unit tests below and, through the tests built on them, by the
//! scipy oracle.

/// Iteration cap for the continued fractions and series. Convergence takes
/// O(sqrt(max(a, b))) steps, so this covers degrees of freedom in the millions.
const MAX_ITERATIONS: usize = 100_000;
/// Relative precision at which a continued fraction or series is accepted.
const EPSILON: f64 = 1e-15;
/// Smallest magnitude the modified Lentz algorithm lets a denominator take.
const TINY: f64 = 1e-300;

/// Natural log of the gamma function for `x > 0` (Lanczos approximation,
/// g = 7, nine coefficients; about 15 significant digits).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the approximation in the range where it is accurate.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut series = COEFFICIENTS[0];
    for (offset, coefficient) in COEFFICIENTS.iter().enumerate().skip(1) {
        series += coefficient / (x + offset as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

/// Regularized incomplete beta `I_x(a, b)`. The caller passes `1 - x` too so
/// that it can be computed without cancellation (e.g. `t²/(df + t²)`).
pub(crate) fn incomplete_beta(a: f64, b: f64, x: f64, one_minus_x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if one_minus_x <= 0.0 {
        return 1.0;
    }
    let log_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * one_minus_x.ln();
    let front = log_front.exp();
    // The continued fraction converges fast only on this side of the mean;
    // on the other side use the symmetry I_x(a, b) = 1 - I_{1-x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_continued_fraction(b, a, one_minus_x) / b
    }
}

/// Continued fraction for the incomplete beta, evaluated by modified Lentz.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    let guard = |value: f64| if value.abs() < TINY { TINY } else { value };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut result = d;
    for m in 1..MAX_ITERATIONS {
        let m = m as f64;
        let even_step = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + even_step * d);
        c = guard(1.0 + even_step / c);
        result *= d * c;
        let odd_step = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / guard(1.0 + odd_step * d);
        c = guard(1.0 + odd_step / c);
        let delta = d * c;
        result *= delta;
        if (delta - 1.0).abs() < EPSILON {
            break;
        }
    }
    result
}

/// Regularized upper incomplete gamma `Q(a, x)` for `a > 0`, `x >= 0`.
pub(crate) fn upper_incomplete_gamma(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let log_front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // The series for P converges quickly here; Q is then not small, so
        // taking the complement loses nothing that matters.
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut denominator = a;
        for _ in 0..MAX_ITERATIONS {
            denominator += 1.0;
            term *= x / denominator;
            sum += term;
            if term.abs() < sum.abs() * EPSILON {
                break;
            }
        }
        1.0 - sum * log_front.exp()
    } else {
        let guard = |value: f64| if value.abs() < TINY { TINY } else { value };
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut result = d;
        for i in 1..MAX_ITERATIONS {
            let i = i as f64;
            let an = -i * (i - a);
            b += 2.0;
            d = 1.0 / guard(an * d + b);
            c = guard(b + an / c);
            let delta = d * c;
            result *= delta;
            if (delta - 1.0).abs() < EPSILON {
                break;
            }
        }
        log_front.exp() * result
    }
}

/// Upper tail `P(Z > z)` of the standard normal distribution.
pub(crate) fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    // P(|Z| > |z|) = erfc(|z|/√2) = Q(1/2, z²/2), accurate far into the tail.
    let both_tails = upper_incomplete_gamma(0.5, 0.5 * z * z);
    if z >= 0.0 {
        0.5 * both_tails
    } else {
        1.0 - 0.5 * both_tails
    }
}

/// Two-sided tail `P(|T| > |t|)` of Student's t with `df` degrees of freedom.
pub(crate) fn student_t_two_sided(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    let t_squared = t * t;
    incomplete_beta(
        0.5 * df,
        0.5,
        df / (df + t_squared),
        t_squared / (df + t_squared),
    )
}

/// The `t > 0` with `P(|T| > t) = 1 - confidence`, i.e. the `(1 + confidence)/2`
/// quantile of Student's t, found by bisection (the tail is monotone in t).
pub(crate) fn student_t_critical(confidence: f64, df: f64) -> f64 {
    let alpha = 1.0 - confidence;
    let mut low = 0.0;
    let mut high = 1.0;
    // Grow the bracket: df = 1 at 99.9% already needs t ≈ 637.
    while student_t_two_sided(high, df) > alpha && high < 1e300 {
        low = high;
        high *= 2.0;
    }
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if middle <= low || middle >= high {
            break;
        }
        if student_t_two_sided(middle, df) > alpha {
            low = middle;
        } else {
            high = middle;
        }
    }
    0.5 * (low + high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_relative(actual: f64, expected: f64, tolerance: f64) {
        let error = (actual - expected).abs() / expected.abs().max(1e-300);
        assert!(
            error < tolerance,
            "actual {actual:e}, expected {expected:e}, relative error {error:e}"
        );
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        assert_relative(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-13);
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!(ln_gamma(2.0).abs() < 1e-14);
        // ln(10!) = ln(3628800)
        assert_relative(ln_gamma(11.0), 3_628_800f64.ln(), 1e-14);
        // scipy.special.gammaln(1e6)
        assert_relative(ln_gamma(1e6), 12_815_504.569_147_611, 1e-13);
    }

    #[test]
    fn normal_tail_matches_scipy() {
        // scipy.stats.norm.sf
        assert_relative(normal_sf(0.0), 0.5, 1e-14);
        assert_relative(normal_sf(1.959_963_984_540_054), 0.025, 1e-12);
        assert_relative(normal_sf(5.0), 2.866_515_718_791_933e-7, 1e-11);
        assert_relative(normal_sf(10.0), 7.619_853_024_160_47e-24, 1e-10);
        assert_relative(normal_sf(-1.0), 0.841_344_746_068_542_9, 1e-13);
    }

    #[test]
    fn student_t_matches_scipy() {
        // 2 * scipy.stats.t.sf(t, df)
        assert_relative(
            student_t_two_sided(2.0, 5.0),
            0.101_939_478_829_858_35,
            1e-12,
        );
        assert_relative(
            student_t_two_sided(0.3, 1.5),
            0.800_472_196_803_585_1,
            1e-10,
        );
        assert_relative(
            student_t_two_sided(12.0, 30.0),
            5.580_185_415_199_261e-13,
            1e-9,
        );
        assert_relative(student_t_two_sided(0.0, 7.0), 1.0, 1e-14);
        // Very large df: the tail is close to the normal one.
        assert_relative(
            student_t_two_sided(1.96, 1e7),
            0.049_995_818_025_314_23,
            1e-6,
        );
    }

    #[test]
    fn student_t_critical_matches_scipy() {
        // scipy.stats.t.ppf(0.975, df)
        assert_relative(student_t_critical(0.95, 1.0), 12.706_204_736_174_694, 1e-10);
        assert_relative(
            student_t_critical(0.95, 4.0),
            2.776_445_105_197_793_4,
            1e-10,
        );
        assert_relative(student_t_critical(0.95, 59.0), 2.000_995_378_088_267, 1e-10);
        assert_relative(student_t_critical(0.99, 10.0), 3.169_272_672_616_95, 1e-10);
    }
}

/// The `z > 0` with `P(|Z| > z) = 1 - confidence` (1.959964 at 95%), by bisection.
pub(crate) fn normal_critical(confidence: f64) -> f64 {
    let alpha = 1.0 - confidence;
    let (mut low, mut high) = (0.0_f64, 40.0_f64);
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if 2.0 * normal_sf(middle) > alpha {
            low = middle;
        } else {
            high = middle;
        }
    }
    0.5 * (low + high)
}

#[cfg(test)]
mod normal_critical_tests {
    #[test]
    fn matches_the_textbook_quantiles() {
        assert!((super::normal_critical(0.95) - 1.959_963_984_540_054).abs() < 1e-9);
        assert!((super::normal_critical(0.99) - 2.575_829_303_548_901).abs() < 1e-9);
    }
}
