#!/usr/bin/env python3
"""scipy/numpy oracle for the Rust statistics module (src/stats).

Reads tests/fixtures/stats/samples.json and writes
tests/fixtures/stats/expected.json with what scipy and numpy compute for the
same inputs; src/stats/oracle_tests.rs asserts that Rust agrees.

Usage (from the repository root):
  python3 scripts/stats_oracle.py                    # rewrite expected.json
  python3 scripts/stats_oracle.py --check            # recompute, compare, exit 1 on mismatch
  python3 scripts/stats_oracle.py --generate-inputs  # rewrite samples.json (done once)

Deviations that the oracle encodes on purpose (scipy returns NaN or a value,
Rust returns NotApplicable), recorded as null:
  * a test whose p-value scipy reports as NaN (too few runs, no variation);
  * Mann-Whitney when every observation of both samples is equal (scipy
    divides by a zero standard error and clips the result to p = 1);
  * Wilcoxon when every paired difference is zero (scipy's permutation
    branch would answer p = 1, which says nothing).
"""

import argparse
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "stats"
SAMPLES = FIXTURES / "samples.json"
EXPECTED = FIXTURES / "expected.json"

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 20_000
BOOTSTRAP_SEED = 20_261_204
# --check: deterministic numbers must agree to this relative tolerance, and
# bootstrap endpoints to this fraction of the interval's width.
CHECK_RELATIVE = 1e-9
CHECK_BOOTSTRAP_WIDTH = 0.10
BOOTSTRAP_KEYS = {"boot_ci", "diff_ci", "ratio_ci"}

# scipy warns about precision loss on the deliberately constant samples, whose
# tests are recorded as null anyway.
warnings.filterwarnings("ignore", category=RuntimeWarning)


# ---------------------------------------------------------------- inputs


def generate_inputs():
    """Deterministic inputs; run once, the result is committed."""
    rng = np.random.default_rng(20_261_204)

    def normal(n, loc, scale, decimals=4):
        return np.round(rng.normal(loc, scale, n), decimals).tolist()

    def integers(n, low, high):
        return rng.integers(low, high, n).astype(float).tolist()

    cases = []

    def case(name, a, b, paired=False):
        cases.append({"name": name, "a": a, "b": b, "paired": paired})

    case("small_exact", normal(5, 100, 10, 3), normal(6, 108, 10, 3))
    case("small_ties", integers(7, 1, 6), integers(7, 2, 7))
    case("medium_continuous", normal(60, 50, 8), normal(60, 53, 9))
    case("medium_ties", np.round(rng.normal(50, 4, 60)).tolist(),
         np.round(rng.normal(51, 4, 60)).tolist())
    case("unequal_exact", normal(4, 20, 3), normal(40, 22, 3))
    case("unequal_lognormal", np.round(rng.lognormal(3, 0.5, 25), 4).tolist(),
         np.round(rng.lognormal(3.2, 0.6, 70), 4).tolist())
    case("one_constant", [5.0] * 6, normal(6, 6, 1))
    case("single_run", [3.2], normal(5, 3, 0.5))
    case("both_constant", [2.0] * 4, [2.0] * 4, paired=True)
    a = normal(12, 30, 5)
    case("paired_exact", a, np.round(np.array(a) + rng.normal(0.8, 1.5, 12), 4).tolist(), True)
    a = integers(10, 10, 20)
    case("paired_zeros_small", a, (np.array(a) + rng.integers(-2, 4, 10)).tolist(), True)
    a = integers(30, 10, 30)
    case("paired_ties_medium", a, (np.array(a) + rng.integers(-3, 5, 30)).tolist(), True)
    a = normal(60, 100, 15)
    case("paired_large", a, np.round(np.array(a) + rng.normal(1.0, 3.0, 60), 4).tolist(), True)
    a = normal(45, 10, 2)
    case("paired_exact_45", a, np.round(np.array(a) + rng.normal(0.3, 1.0, 45), 4).tolist(), True)

    holm = [
        np.round(rng.uniform(0, 0.2, 8), 6).tolist(),
        [0.01, 0.04, 0.03, 0.2, 0.04, 1.0, 0.5],
        [0.3],
        [],
    ]
    pareto = [
        [[10.0, 5.0], [8.0, 3.0], [9.0, 6.0], [12.0, 9.0], [8.0, 3.0], [7.0, 3.0], [12.0, 10.0]],
        rng.integers(0, 8, (30, 2)).astype(float).tolist(),
        np.round(rng.uniform(0, 100, (50, 2)), 3).tolist(),
    ]
    return {
        "about": "Inputs of the scipy oracle; see scripts/stats_oracle.py.",
        "cases": cases,
        "holm": holm,
        "pareto": pareto,
    }


# ---------------------------------------------------------------- oracle


def finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


def test_result(statistic, p_value, **extra):
    if not math.isfinite(float(p_value)):
        return None
    return {"statistic": float(statistic), "p_value": float(p_value), **extra}


def percentile_ci(data, statistic, paired=False):
    """scipy's percentile bootstrap; a constant input gives a point."""
    if all(np.ptp(d) == 0 for d in data):
        value = float(statistic(*data, axis=-1))
        return [value, value]
    result = stats.bootstrap(
        data,
        statistic,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        paired=paired,
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return [float(result.confidence_interval.low), float(result.confidence_interval.high)]


def summary(x):
    n = len(x)
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1)) if n > 1 else None
    if n < 2:
        t_ci = None
    elif sd == 0:
        t_ci = [mean, mean]
    else:
        low, high = stats.t.interval(CONFIDENCE, n - 1, loc=mean, scale=sd / math.sqrt(n))
        t_ci = [float(low), float(high)]
    return {
        "n": n,
        "mean": mean,
        "sd": sd,
        "median": float(np.median(x)),
        "p5": float(np.quantile(x, 0.05)),
        "p95": float(np.quantile(x, 0.95)),
        "min": float(np.min(x)),
        "max": float(np.max(x)),
        "t_ci": t_ci,
        "boot_ci": percentile_ci((x,), np.mean) if n > 1 else None,
    }


def mann_whitney(a, b):
    """scipy.stats.mannwhitneyu(b, a) and the method its 'auto' picked."""
    if np.ptp(np.concatenate([a, b])) == 0:
        return None  # deviation, see the module docstring
    result = stats.mannwhitneyu(b, a)
    # scipy 1.17 _mwu_choose_method: asymptotic if both n > 8, else if ties.
    has_ties = len(np.unique(np.concatenate([a, b]))) < len(a) + len(b)
    method = "asymptotic" if (len(a) > 8 and len(b) > 8) or has_ties else "exact"
    explicit = stats.mannwhitneyu(b, a, method=method)
    assert np.allclose(explicit.pvalue, result.pvalue, equal_nan=True), "auto rule drifted"
    return test_result(result.statistic, result.pvalue, method=method)


def wilcoxon(a, b):
    """scipy.stats.wilcoxon(b, a) and the method its 'auto' picked."""
    d = b - a
    if np.all(d == 0):
        return None  # deviation, see the module docstring
    result = stats.wilcoxon(b, a)
    nonzero = np.abs(d[d != 0])
    has_ties = len(np.unique(nonzero)) < len(nonzero)
    has_zeros = np.any(d == 0)
    # scipy 1.17 _wilcoxon_nd: n > 50 -> asymptotic; no ties/zeros -> exact;
    # n <= 13 -> exact permutation test; otherwise asymptotic.
    if len(d) > 50:
        method, explicit = "asymptotic", "asymptotic"
    elif not (has_ties or has_zeros):
        method, explicit = "exact", "exact"
    elif len(d) <= 13:
        method, explicit = "permutation", stats.PermutationMethod()
    else:
        method, explicit = "asymptotic", "asymptotic"
    check = stats.wilcoxon(b, a, method=explicit)
    assert np.allclose(check.pvalue, result.pvalue), "auto rule drifted"
    return test_result(result.statistic, result.pvalue, method=method)


def hedges_g(a, b):
    n_a, n_b = len(a), len(b)
    if n_a + n_b < 3:
        return None
    spread = lambda x: np.sum((x - np.mean(x)) ** 2)  # noqa: E731
    pooled = math.sqrt((spread(a) + spread(b)) / (n_a + n_b - 2))
    if pooled == 0:
        return None
    correction = 1 - 3 / (4 * (n_a + n_b) - 9)
    return float((np.mean(b) - np.mean(a)) / pooled * correction)


def cliffs_delta(a, b):
    return float(np.mean(np.sign(b[:, None] - a[None, :])))


def mean_diff(a, b, axis=-1):
    return np.mean(b, axis=axis) - np.mean(a, axis=axis)


def mean_ratio(a, b, axis=-1):
    return np.mean(b, axis=axis) / np.mean(a, axis=axis)


def compare(case):
    a = np.asarray(case["a"], dtype=float)
    b = np.asarray(case["b"], dtype=float)
    both = len(a) > 1 and len(b) > 1
    welch = stats.ttest_ind(b, a, equal_var=False)
    out = {
        "summary_a": summary(a),
        "summary_b": summary(b),
        "diff": float(np.mean(b) - np.mean(a)),
        "ratio": float(np.mean(b) / np.mean(a)) if np.mean(a) != 0 else None,
        "diff_ci": percentile_ci((a, b), mean_diff) if both else None,
        "ratio_ci": percentile_ci((a, b), mean_ratio) if both and np.mean(a) != 0 else None,
        "welch": test_result(welch.statistic, welch.pvalue, df=finite_or_none(welch.df)),
        "mann_whitney": mann_whitney(a, b),
        "hedges_g": hedges_g(a, b),
        "cliffs_delta": cliffs_delta(a, b),
    }
    if case["paired"]:
        d = b - a
        constant = np.ptp(d) == 0
        rel = stats.ttest_rel(b, a)
        out["paired"] = {
            "n_pairs": len(d),
            "diff": float(np.mean(d)),
            "diff_ci": percentile_ci((d,), np.mean) if len(d) > 1 else None,
            "t": None if constant else test_result(rel.statistic, rel.pvalue, df=float(rel.df)),
            "wilcoxon": wilcoxon(a, b),
        }
    return out


def holm(p_values):
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled) if m else scaled
    return adjusted.tolist()


def pareto_front(points):
    """Quadratic definition: x maximised, y minimised."""
    def dominates(p, q):
        return p[0] >= q[0] and p[1] <= q[1] and (p[0] > q[0] or p[1] < q[1])

    front = [i for i, q in enumerate(points) if not any(dominates(p, q) for p in points)]
    return sorted(front, key=lambda i: (points[i][1], i))


def compute(samples):
    return {
        "scipy_version": scipy.__version__,
        "numpy_version": np.__version__,
        "bootstrap": {
            "method": "percentile",
            "n_resamples": BOOTSTRAP_RESAMPLES,
            "confidence": CONFIDENCE,
            "seed": BOOTSTRAP_SEED,
        },
        "cases": {case["name"]: compare(case) for case in samples["cases"]},
        "holm": [holm(p) for p in samples["holm"]],
        "pareto": [pareto_front(points) for points in samples["pareto"]],
    }


# ---------------------------------------------------------------- --check


def differences(expected, actual, path=""):
    """Human-readable mismatches between two expected.json documents."""
    name = path.rsplit(".", 1)[-1]
    if name in {"scipy_version", "numpy_version"}:
        return []
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            return [f"{path}: keys {sorted(expected)} != {sorted(actual)}"]
        found = []
        for key in expected:
            found += differences(expected[key], actual[key], f"{path}.{key}")
        return found
    if (
        name in BOOTSTRAP_KEYS
        and isinstance(expected, list)
        and isinstance(actual, list)
        and len(expected) == len(actual) == 2
    ):
        width = abs(expected[1] - expected[0])
        if all(abs(e - a) <= CHECK_BOOTSTRAP_WIDTH * width + 1e-12 for e, a in zip(expected, actual)):
            return []
        return [f"{path}: bootstrap {actual} vs committed {expected}"]
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: length {len(actual)} vs committed {len(expected)}"]
        found = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            found += differences(e, a, f"{path}[{i}]")
        return found
    both_numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (expected, actual))
    if both_numbers:
        if abs(expected - actual) <= CHECK_RELATIVE * abs(expected) + 1e-12:
            return []
        return [f"{path}: {actual!r} vs committed {expected!r}"]
    return [] if expected == actual else [f"{path}: {actual!r} vs committed {expected!r}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed expected.json")
    parser.add_argument("--generate-inputs", action="store_true", help="rewrite samples.json")
    args = parser.parse_args()
    print(f"scipy {scipy.__version__}, numpy {np.__version__}")

    if args.generate_inputs:
        FIXTURES.mkdir(parents=True, exist_ok=True)
        SAMPLES.write_text(json.dumps(generate_inputs(), indent=1) + "\n")
        print(f"wrote {SAMPLES}")
        return 0

    samples = json.loads(SAMPLES.read_text())
    actual = compute(samples)
    if args.check:
        committed = json.loads(EXPECTED.read_text())
        if committed.get("scipy_version") != actual["scipy_version"]:
            print(f"note: expected.json was made with scipy {committed.get('scipy_version')}")
        problems = differences(committed, actual)
        for problem in problems:
            print(problem)
        print("expected.json is current" if not problems else f"{len(problems)} mismatches")
        return 1 if problems else 0
    EXPECTED.write_text(json.dumps(actual, indent=1) + "\n")
    print(f"wrote {EXPECTED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
