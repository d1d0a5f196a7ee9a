//! Agreement with scipy: the inputs in `tests/fixtures/stats/samples.json` and
//! scipy/numpy's answers in `expected.json` (written by
//! `scripts/stats_oracle.py`) must match what this module computes.
//!
//! Tolerances: deterministic numbers agree to a relative 1e-6 (plus an
//! absolute 1e-12 so that values at zero compare sensibly); each bootstrap
//! endpoint agrees to within 10% of scipy's interval width, since Rust draws
//! its own 2,000 ChaCha resamples where scipy drew 20,000 from numpy. The
//! method that scipy's `method='auto'` picked must be the one Rust reports.
//! Every mismatch is collected so that one run lists them all.

use std::process::Command;

use serde_json::Value;

use super::{Bootstrap, Interval, Sample, TestResult, compare, holm, pareto_front, summarize};

const RELATIVE_TOLERANCE: f64 = 1e-6;
const ABSOLUTE_FLOOR: f64 = 1e-12;
const BOOTSTRAP_WIDTH_FRACTION: f64 = 0.10;

const SAMPLES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/stats/samples.json"
));
const EXPECTED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/stats/expected.json"
));

/// Accumulates mismatches, each labelled with where it was found.
#[derive(Default)]
struct Mismatches(Vec<String>);

impl Mismatches {
    fn number(&mut self, at: &str, actual: f64, expected: &Value) {
        let Some(expected) = expected.as_f64() else {
            self.0
                .push(format!("{at}: got {actual}, expected {expected}"));
            return;
        };
        let allowed = RELATIVE_TOLERANCE * expected.abs() + ABSOLUTE_FLOOR;
        let error = (actual - expected).abs();
        // A NaN from Rust must count as a mismatch, hence the explicit check.
        if error.is_nan() || error > allowed {
            self.0
                .push(format!("{at}: got {actual:e}, expected {expected:e}"));
        }
    }

    fn optional_number(&mut self, at: &str, actual: Option<f64>, expected: &Value) {
        match actual {
            Some(actual) => self.number(at, actual, expected),
            None if expected.is_null() => {}
            None => self.0.push(format!("{at}: got None, expected {expected}")),
        }
    }

    fn interval(&mut self, at: &str, actual: Option<Interval>, expected: &Value) {
        match (actual, expected.as_array()) {
            (None, None) if expected.is_null() => {}
            (Some(actual), Some(bounds)) if bounds.len() == 2 => {
                self.number(&format!("{at}.low"), actual.low, &bounds[0]);
                self.number(&format!("{at}.high"), actual.high, &bounds[1]);
            }
            (actual, _) => self
                .0
                .push(format!("{at}: got {actual:?}, expected {expected}")),
        }
    }

    fn bootstrap_interval(&mut self, at: &str, actual: Option<Interval>, expected: &Value) {
        let bounds: Option<Vec<f64>> = expected
            .as_array()
            .map(|bounds| bounds.iter().filter_map(Value::as_f64).collect());
        match (actual, bounds) {
            (None, None) if expected.is_null() => {}
            (Some(actual), Some(bounds)) if bounds.len() == 2 => {
                let allowed =
                    BOOTSTRAP_WIDTH_FRACTION * (bounds[1] - bounds[0]).abs() + ABSOLUTE_FLOOR;
                if (actual.low - bounds[0]).abs() > allowed
                    || (actual.high - bounds[1]).abs() > allowed
                {
                    self.0.push(format!(
                        "{at}: got [{}, {}], scipy [{}, {}] (allowed ±{allowed:e})",
                        actual.low, actual.high, bounds[0], bounds[1]
                    ));
                }
            }
            (actual, _) => self
                .0
                .push(format!("{at}: got {actual:?}, expected {expected}")),
        }
    }

    fn test<E: std::fmt::Display>(
        &mut self,
        at: &str,
        actual: &Result<TestResult, E>,
        expected: &Value,
    ) {
        match actual {
            Err(why) if expected.is_null() => {
                assert!(!why.to_string().is_empty(), "{at}: empty explanation");
            }
            Err(why) => self
                .0
                .push(format!("{at}: not applicable ({why}), expected {expected}")),
            Ok(result) if expected.is_null() => {
                self.0
                    .push(format!("{at}: got {result:?}, scipy has no result"));
            }
            Ok(result) => {
                self.number(
                    &format!("{at}.statistic"),
                    result.statistic,
                    &expected["statistic"],
                );
                self.number(
                    &format!("{at}.p_value"),
                    result.p_value,
                    &expected["p_value"],
                );
                if let Some(df) = expected.get("df") {
                    self.optional_number(&format!("{at}.df"), result.df, df);
                }
                if let Some(method) = expected.get("method")
                    && method.as_str() != Some(result.method)
                {
                    self.0.push(format!(
                        "{at}.method: got {}, scipy {method}",
                        result.method
                    ));
                }
            }
        }
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is valid JSON")
}

fn sample_of(values: &Value) -> Sample {
    let values = values
        .as_array()
        .expect("array of numbers")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    Sample::new(values).expect("fixture samples are valid")
}

fn check_summary(found: &mut Mismatches, at: &str, sample: &Sample, stream: u64, expected: &Value) {
    let summary = summarize(sample, &Bootstrap::default(), stream);
    if Some(summary.n as u64) != expected["n"].as_u64() {
        found.0.push(format!(
            "{at}.n: got {}, expected {}",
            summary.n, expected["n"]
        ));
    }
    found.number(&format!("{at}.mean"), summary.mean, &expected["mean"]);
    found.optional_number(&format!("{at}.sd"), summary.sd, &expected["sd"]);
    found.number(&format!("{at}.median"), summary.median, &expected["median"]);
    found.number(&format!("{at}.p5"), summary.p5, &expected["p5"]);
    found.number(&format!("{at}.p95"), summary.p95, &expected["p95"]);
    found.number(&format!("{at}.min"), summary.min, &expected["min"]);
    found.number(&format!("{at}.max"), summary.max, &expected["max"]);
    found.interval(&format!("{at}.t_ci"), summary.t_ci, &expected["t_ci"]);
    found.bootstrap_interval(
        &format!("{at}.boot_ci"),
        summary.boot_ci,
        &expected["boot_ci"],
    );
}

#[test]
fn rust_agrees_with_scipy() {
    let samples = parse(SAMPLES);
    let expected = parse(EXPECTED);
    let boot = Bootstrap::default();
    let mut found = Mismatches::default();
    let cases = samples["cases"].as_array().expect("cases");
    assert!(
        cases.len() >= 12,
        "the oracle should cover at least 12 cases"
    );
    for (index, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().expect("case name");
        let want = &expected["cases"][name];
        assert!(
            want.is_object(),
            "expected.json lacks case {name}: rerun the oracle"
        );
        let a = sample_of(&case["a"]);
        let b = sample_of(&case["b"]);
        let stream = 3 * index as u64;
        check_summary(
            &mut found,
            &format!("{name}.summary_a"),
            &a,
            stream,
            &want["summary_a"],
        );
        check_summary(
            &mut found,
            &format!("{name}.summary_b"),
            &b,
            stream + 1,
            &want["summary_b"],
        );

        let paired = case["paired"].as_bool().unwrap_or(false);
        let comparison = compare(&a, &b, paired.then_some((&a, &b)), &boot, stream + 2);
        found.number(&format!("{name}.diff"), comparison.diff, &want["diff"]);
        found.optional_number(&format!("{name}.ratio"), comparison.ratio, &want["ratio"]);
        found.bootstrap_interval(
            &format!("{name}.diff_ci"),
            comparison.diff_ci,
            &want["diff_ci"],
        );
        found.bootstrap_interval(
            &format!("{name}.ratio_ci"),
            comparison.ratio_ci,
            &want["ratio_ci"],
        );
        found.test(&format!("{name}.welch"), &comparison.welch, &want["welch"]);
        found.test(
            &format!("{name}.mann_whitney"),
            &comparison.mann_whitney,
            &want["mann_whitney"],
        );
        found.optional_number(
            &format!("{name}.hedges_g"),
            comparison.hedges_g,
            &want["hedges_g"],
        );
        found.number(
            &format!("{name}.cliffs_delta"),
            comparison.cliffs_delta,
            &want["cliffs_delta"],
        );
        match (&comparison.paired, want.get("paired")) {
            (None, None) => {}
            (Some(paired), Some(want)) => {
                let at = format!("{name}.paired");
                if Some(paired.n_pairs as u64) != want["n_pairs"].as_u64() {
                    found
                        .0
                        .push(format!("{at}.n_pairs: got {}", paired.n_pairs));
                }
                found.number(&format!("{at}.diff"), paired.diff, &want["diff"]);
                found.bootstrap_interval(
                    &format!("{at}.diff_ci"),
                    paired.diff_ci,
                    &want["diff_ci"],
                );
                found.test(&format!("{at}.t"), &paired.t, &want["t"]);
                found.test(
                    &format!("{at}.wilcoxon"),
                    &paired.wilcoxon,
                    &want["wilcoxon"],
                );
            }
            (actual, _) => found.0.push(format!("{name}.paired: got {actual:?}")),
        }
    }

    let holm_inputs = samples["holm"].as_array().expect("holm inputs");
    for (index, p_values) in holm_inputs.iter().enumerate() {
        let p_values: Vec<f64> = p_values
            .as_array()
            .expect("p-values")
            .iter()
            .map(|p| p.as_f64().expect("number"))
            .collect();
        let adjusted = holm(&p_values);
        let want = expected["holm"][index].as_array().expect("holm results");
        assert_eq!(adjusted.len(), want.len(), "holm[{index}] length");
        for (i, (actual, want)) in adjusted.iter().zip(want).enumerate() {
            found.number(&format!("holm[{index}][{i}]"), *actual, want);
        }
    }

    let point_sets = samples["pareto"].as_array().expect("pareto inputs");
    for (index, points) in point_sets.iter().enumerate() {
        let points: Vec<(f64, f64)> = points
            .as_array()
            .expect("points")
            .iter()
            .map(|p| (p[0].as_f64().expect("x"), p[1].as_f64().expect("y")))
            .collect();
        let want: Vec<usize> = expected["pareto"][index]
            .as_array()
            .expect("pareto result")
            .iter()
            .map(|i| i.as_u64().expect("index") as usize)
            .collect();
        let front = pareto_front(&points);
        if front != want {
            found
                .0
                .push(format!("pareto[{index}]: got {front:?}, expected {want:?}"));
        }
    }

    assert!(
        found.0.is_empty(),
        "{} mismatches with scipy:\n{}",
        found.0.len(),
        found.0.join("\n")
    );
}

/// The committed expected.json must be what the oracle computes today; run
/// wherever scipy is importable, and required in CI (env var `CI` set).
#[test]
fn oracle_is_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    let scipy_importable = Command::new("python3")
        .args(["-c", "import scipy, numpy"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !scipy_importable {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but python3 cannot import scipy and numpy: install them (see scripts/stats_oracle.py)"
        );
        eprintln!("skipping oracle_is_current: python3 with scipy and numpy is not importable");
        return;
    }
    let output = Command::new("python3")
        .args(["scripts/stats_oracle.py", "--check"])
        .current_dir(root)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "scripts/stats_oracle.py --check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
