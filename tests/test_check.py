"""The checker: known-answer tables and properties of every op."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.check import (
    MISSING,
    CheckResult,
    compare,
    describe_tolerance,
    precision_tolerance,
    tolerance_of,
    validate_check,
)
from verifier.errors import IntakeError
from verifier.models import Check, Evidence, Reported, Samples

OTHER = Evidence(repro="R2", output="/acc")


def rep(value: float | None, text: str | None = None) -> Reported:
    return Reported(value=value, text=text)


# --------------------------------------------------------------------------- known answers

# (check fields, reported value, computed, outcome, reason)
SCALAR_TABLE: list[tuple[dict[str, Any], float | None, Any, str, str | None]] = [
    (
        {"op": "approx", "rel_tol": 0.05, "abs_tol": 0.0},
        5e-05,
        5e-05,
        "pass",
        "computed 5e-05 matches expected 5e-05 (tolerance=5.0%)",
    ),
    (
        {"op": "approx", "rel_tol": 0.05},
        0.5,
        0.41,
        "fail",
        "computed 0.41 does not match expected 0.5 (tolerance=5.0%)",
    ),
    ({"op": "approx", "rel_tol": 0.05}, 0.5, 0.525, "pass", None),  # on the edge
    ({"op": "approx", "rel_tol": 0.05}, 0.5, 0.5251, "fail", None),
    ({"op": "approx", "rel_tol": 0.05, "abs_tol": 0.01}, 0.0, 0.009, "pass", None),  # abs floor
    ({"op": "approx", "rel_tol": 0.05}, 0.0, 1e-300, "fail", None),  # no floor, zero expected
    ({"op": "approx", "rel_tol": 0.07}, 1.0, 1.07, "pass", None),
    ({"op": "eq"}, 3.0, 3, "pass", "computed 3 equals expected 3"),
    ({"op": "eq"}, 3.0, 3.0000001, "fail", "computed 3 does not equal expected 3"),
    ({"op": "eq", "abs_tol": 0.01}, 3.0, 3.005, "pass", None),
    ({"op": "lt"}, 0.5, 0.4, "pass", "computed 0.4 < 0.5 (reported)"),
    ({"op": "lt"}, 0.5, 0.5, "fail", "computed 0.5 is not < 0.5 (reported)"),
    ({"op": "le"}, 0.5, 0.5, "pass", "computed 0.5 <= 0.5 (reported)"),
    ({"op": "gt"}, 0.5, 0.5, "fail", None),
    ({"op": "ge"}, 0.5, 0.5, "pass", None),
    (
        {"op": "gt", "margin": 0.02},
        0.55,
        0.56,
        "fail",
        "computed 0.56 is not > 0.55 + 0.02 (reported)",
    ),
    ({"op": "gt", "margin": -0.1}, 0.55, 0.5, "pass", "computed 0.5 > 0.55 - 0.1 (reported)"),
    (
        {"op": "between", "low": 0.4, "high": 0.6},
        None,
        0.4,
        "pass",
        "computed 0.4 is within [0.4, 0.6]",
    ),
    (
        {"op": "between", "low": 0.4, "high": 0.6},
        None,
        0.61,
        "fail",
        "computed 0.61 is outside [0.4, 0.6]",
    ),
]


@pytest.mark.parametrize(("fields", "value", "computed", "outcome", "reason"), SCALAR_TABLE)
def test_scalar_known_answers(
    fields: dict[str, Any], value: float | None, computed: Any, outcome: str, reason: str | None
) -> None:
    result = compare(Check(**fields), reported=rep(value), computed=computed)
    assert result.outcome == outcome, result.reason
    if reason is not None:
        assert result.reason == reason


def test_contract_line_and_result_fields() -> None:
    check = Check(op="approx", rel_tol=0.05, abs_tol=0.0)
    result = compare(check, reported=rep(5e-05, "5e-05"), computed=5e-05)
    assert result == CheckResult(
        outcome="pass",
        reason="computed 5e-05 matches expected 5e-05 (tolerance=5.0%)",
        expected=5e-05,
        computed=5e-05,
        tolerance="5.0%",
    )
    assert result.passed


def test_comparative_claim_uses_the_other_arm() -> None:
    check = Check(op="gt", against=OTHER)
    result = compare(check, reported=None, computed=0.62, reference=0.55)
    assert (result.outcome, result.reason) == ("pass", "computed 0.62 > 0.55 (other arm)")
    assert result.expected == 0.55


def test_a_given_reference_needs_no_reported_value() -> None:
    result = compare(Check(op="approx", rel_tol=0.1), reported=None, computed=1.05, reference=1.0)
    assert (result.outcome, result.reason) == (
        "pass",
        "computed 1.05 matches expected 1 (tolerance=10.0%)",
    )


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        (math.nan, "reference value (other arm) is NaN"),
        (MISSING, "reference value (other arm) is missing"),
        ("0.5", "reference value (other arm) is a string, not a number"),
    ],
)
def test_broken_other_arm_is_inconclusive(reference: Any, reason: str) -> None:
    result = compare(
        Check(op="gt", against=OTHER), reported=None, computed=0.6, reference=reference
    )
    assert (result.outcome, result.reason) == ("inconclusive", reason)


@pytest.mark.parametrize(
    ("computed", "outcome", "reason"),
    [
        (math.nan, "fail", "computed value at /x is NaN"),
        (math.inf, "fail", "computed value at /x is infinite"),
        (-math.inf, "fail", "computed value at /x is infinite"),
        (10**400, "fail", "computed value at /x is infinite"),
        (MISSING, "inconclusive", "computed value at /x is missing"),
        (None, "inconclusive", "computed value at /x is null"),
        (True, "inconclusive", "computed value at /x is a boolean, not a number"),
        ("5e-05", "inconclusive", "computed value at /x is a string, not a number"),
        ([5e-05], "inconclusive", "computed value at /x is a list, not a number"),
        ({"v": 1}, "inconclusive", "computed value at /x is an object, not a number"),
    ],
)
def test_non_numbers(computed: Any, outcome: str, reason: str) -> None:
    check = Check(op="approx", rel_tol=0.05)
    result = compare(check, reported=rep(5e-05), computed=computed, output="/x")
    assert (result.outcome, result.reason) == (outcome, reason)


# --------------------------------------------------------------------------- precision


@pytest.mark.parametrize(
    ("text", "value", "tolerance"),
    [
        ("5e-05", 5e-05, 5e-06),
        ("5.0e-05", 5e-05, 5e-07),
        ("77.3", 77.3, 0.05),
        ("77.3%", 77.3, 0.05),
        ("1,200", 1200.0, 0.5),
        ("1.2e3", 1200.0, 50.0),
        ("\u22120.25", -0.25, 0.005),
        ("0.10", 0.1, 0.005),
    ],
)
def test_precision_from_text(text: str, value: float, tolerance: float) -> None:
    amount, source = precision_tolerance(rep(value, text))
    assert amount == pytest.approx(tolerance, rel=1e-12)
    assert source == "precision"


@pytest.mark.parametrize(
    ("value", "tolerance", "source"),
    [
        (5e-05, 5e-06, "precision of 5e-05, from value"),
        (1200.0, 0.5, "precision of 1200, from value"),
        (0.125, 0.0005, "precision of 0.125, from value"),
    ],
)
def test_precision_from_value(value: float, tolerance: float, source: str) -> None:
    for text in (None, "about that"):
        amount, said = precision_tolerance(rep(value, text))
        assert amount == pytest.approx(tolerance, rel=1e-12)
        assert said == source


def test_precision_is_maxed_with_other_tolerances() -> None:
    check = Check(op="approx", precision=True, rel_tol=0.01)
    reported = rep(77.3, "77.3")
    assert tolerance_of(check, reported) == pytest.approx(0.773)
    assert describe_tolerance(check, reported) == "max(1.0%, ±0.05 precision)"
    result = compare(Check(op="approx", precision=True), reported=reported, computed=77.34)
    assert result.reason == "computed 77.34 matches expected 77.3 (tolerance=±0.05 precision)"
    assert (
        compare(Check(op="approx", precision=True), reported=reported, computed=77.36).outcome
        == "fail"
    )


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"op": "approx", "rel_tol": 0.05}, "5.0%"),
        ({"op": "approx", "rel_tol": 0.001}, "0.1%"),
        ({"op": "approx", "rel_tol": 0.0005}, "0.05%"),
        ({"op": "approx", "abs_tol": 0.01}, "abs 0.01"),
        ({"op": "approx", "rel_tol": 0.05, "abs_tol": 0.01}, "max(5.0%, abs 0.01)"),
        ({"op": "eq"}, "exact"),
        ({"op": "gt"}, None),
    ],
)
def test_describe_tolerance(fields: dict[str, Any], text: str | None) -> None:
    assert describe_tolerance(Check(**fields), rep(1.0)) == text


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("fields", "reported", "match"),
    [
        ({"op": "approx", "rel_tol": 0.05}, None, "reported.value, which is missing"),
        ({"op": "gt"}, rep(None), "reported.value, which is missing"),
        ({"op": "between", "low": 0, "high": 1, "against": OTHER}, None, "takes no 'against'"),
        ({"op": "approx", "precision": True, "against": OTHER}, rep(1.0), "precision: true"),
        ({"op": "trend", "direction": "increasing", "x": [1, 1, 1]}, None, "all equal"),
    ],
)
def test_invalid_checks_are_intake_errors(
    fields: dict[str, Any], reported: Reported | None, match: str
) -> None:
    check = Check(**fields)
    with pytest.raises(IntakeError, match=match):
        validate_check(check, reported)
    with pytest.raises(IntakeError, match=match):
        compare(check, reported=reported, computed=0.5)


# --------------------------------------------------------------------------- trend

INC = Check(op="trend", direction="increasing", x=[1, 2, 4, 8])
DEC = Check(op="trend", direction="decreasing", x=[1, 2, 4, 8], min_rho=0.9)


@pytest.mark.parametrize(
    ("check", "series", "outcome", "reason"),
    [
        (INC, [0.1, 0.2, 0.25, 0.3], "pass",
         "series rises with x (exact permutation test p=0.0416667 < 0.05; Spearman rho=1 >= 0.8)"),
        # rho 0.8: 4 of the 24 orders do as well, p = 1/6: no evidence of a trend, not a pass.
        (INC, [0.1, 0.3, 0.2, 0.4], "inconclusive",
         "the order of the series is not significant: exact permutation test p=0.166667 >= 0.05 (Spearman rho=0.8)"),
        (INC, [0.3, 0.1, 0.2, 0.4], "inconclusive",
         "the order of the series is not significant: exact permutation test p=0.375 >= 0.05 (Spearman rho=0.4)"),
        (DEC, [4, 3, 2, 1], "pass",
         "series falls with x (exact permutation test p=0.0416667 < 0.05; Spearman rho=-1 <= -0.9)"),
        (DEC, [1, 2, 3, 4], "fail",
         "series rises with x, the claim says it falls (exact permutation test p=0.0416667 for a rise; Spearman rho=1)"),
        (INC, [2, 2, 2, 2], "fail", "series is flat: it has no direction (Spearman rho undefined)"),
        (INC, [1, 2, 3], "inconclusive", "series has 3 values for 4 x values"),
        (INC, [1, 2, math.nan, 4], "fail", "computed value (series)[2] is NaN"),
        (
            INC,
            [1, 2, "3", math.nan],
            "inconclusive",
            "computed value (series)[2] is a string, not a number",
        ),
        (INC, 0.5, "inconclusive", "computed value (series) is a number, not a list of numbers"),
    ],
)
def test_trend(check: Check, series: Any, outcome: str, reason: str) -> None:
    result = compare(check, reported=None, computed=series)
    assert (result.outcome, result.reason) == (outcome, reason)


# --------------------------------------------------------------------------- multi-seed

SEEDS = Samples(min_seeds=3, resamples=1000)


def test_samples_inside_the_tolerance_pass() -> None:
    check = Check(op="approx", rel_tol=0.05, samples=SEEDS)
    result = compare(check, reported=rep(0.5), computed=[0.49, 0.5, 0.51, 0.5, 0.495])
    assert result.outcome == "pass"
    ci = result.interval
    assert ci is not None and ci.method == "t" and 0.475 <= ci.low <= ci.high <= 0.525
    # scipy's Student-t: mean 0.499, s = 0.00742, t(0.975, 4) = 2.776 -> half-width 0.00921
    assert (ci.low, ci.high) == pytest.approx((0.48979, 0.50821), abs=1e-5)
    assert result.reason == "mean 0.499 over 5 seeds, 95% t-interval [0.4898, 0.5082] matches expected 0.5 (tolerance=5.0%)"


def test_approx_passes_only_when_the_whole_interval_is_within_the_tolerance() -> None:
    # The mean 0.5 is dead on, but four noisy seeds give a t-interval wider than ±5%.
    check = Check(op="approx", rel_tol=0.05, samples=SEEDS)
    result = compare(check, reported=rep(0.5), computed=[0.45, 0.55, 0.47, 0.53])
    assert result.outcome == "inconclusive"
    assert "95% t-interval [" in result.reason and "straddles 0.475, an edge of expected 0.5" in result.reason


def test_samples_straddling_are_inconclusive() -> None:
    check = Check(op="gt", samples=SEEDS)
    result = compare(check, reported=rep(0.5), computed=[0.41, 0.57, 0.5, 0.45, 0.6])
    assert result.outcome == "inconclusive"
    assert result.reason.endswith("straddles 0.5 (reported)")


def test_one_seed_above_a_threshold_keeps_the_t_interval_from_passing() -> None:
    # weam-imbalance C9's shape: the mean is below 0.05, one seed (0.055) is not.
    check = Check(op="lt", samples=SEEDS)
    result = compare(check, reported=rep(0.05), computed=[0.02, 0.055, 0.03, 0.01])
    assert result.outcome == "inconclusive"


def test_samples_outside_fail() -> None:
    check = Check(op="approx", rel_tol=0.05, samples=SEEDS)
    result = compare(check, reported=rep(0.5), computed=[0.3, 0.31, 0.29])
    assert result.outcome == "fail"
    assert "does not match expected 0.5" in result.reason


def test_too_few_seeds() -> None:
    check = Check(op="approx", rel_tol=0.05, samples=SEEDS)
    result = compare(check, reported=rep(0.5), computed=[0.5, 0.5])
    assert (result.outcome, result.reason) == ("inconclusive", "3 seeds needed, 2 given")
    other = compare(
        Check(op="gt", against=OTHER, samples=SEEDS),
        reported=None,
        computed=[1, 1, 1],
        reference=[0, 0],
    )
    assert (other.outcome, other.reason) == (
        "inconclusive",
        "3 seeds needed, 2 given for the other arm",
    )


def test_two_arms_difference_welch_and_paired() -> None:
    check = Check(op="gt", against=OTHER, samples=SEEDS)
    a, b = [0.62, 0.63, 0.61], [0.55, 0.56, 0.54]
    result = compare(check, reported=None, computed=a, reference=b)
    assert result.outcome == "pass"
    assert result.statistic == pytest.approx(0.07)
    assert result.interval is not None and result.interval.method == "welch"
    assert result.reason.startswith("mean difference 0.07 over 3 vs 3 seeds, 95% Welch interval [")
    assert result.reason.endswith("> 0 (other arm)")
    paired = compare(check, reported=None, computed=a, reference=b, paired=True)
    assert paired.interval is not None and paired.interval.method == "paired-t"
    assert paired.reason.startswith("mean paired difference 0.07 over 3 vs 3 seeds, 95% paired t-interval [0.07, 0.07]")
    flipped = compare(check, reported=None, computed=b, reference=a)
    assert flipped.outcome == "fail"


def test_paired_differences_can_decide_where_welch_cannot() -> None:
    # Seeds move both arms together: the arms overlap, their per-seed gap is steady.
    a, b = [0.50, 0.60, 0.70, 0.80], [0.48, 0.585, 0.68, 0.785]
    check = Check(op="gt", against=OTHER, samples=SEEDS)
    assert compare(check, reported=None, computed=a, reference=b).outcome == "inconclusive"
    assert compare(check, reported=None, computed=a, reference=b, paired=True).outcome == "pass"


def test_median_uses_the_exact_order_statistic_interval() -> None:
    check = Check(op="gt", samples=Samples(statistic="median", min_seeds=3))
    few = compare(check, reported=rep(0.0), computed=[1.0, 2.0, 3.0, 4.0])
    # Four samples cannot bound a median at 95% (the order statistics give at most 87.5%).
    assert few.outcome == "inconclusive" and "order-statistic interval [-inf, inf]" in few.reason
    many = compare(check, reported=rep(0.0), computed=[float(v) for v in range(1, 13)])
    assert many.outcome == "pass" and many.interval is not None and many.interval.low == 3.0


def test_bca_needs_ten_seeds() -> None:
    check = Check(op="gt", samples=Samples(min_seeds=3, interval="bca"))
    few = compare(check, reported=rep(0.0), computed=[1.0, 2.0, 3.0, 4.0])
    assert (few.outcome, few.reason) == ("inconclusive", "no interval: a BCa interval needs at least 10 samples per arm")
    many = compare(check, reported=rep(0.0), computed=[float(v) for v in range(1, 13)])
    assert many.outcome == "pass" and many.interval is not None and many.interval.method == "bca"
    assert "95% BCa interval [" in many.reason


def test_samples_are_deterministic() -> None:
    for samples in (Samples(statistic="median"), Samples(interval="bca")):
        check = Check(op="approx", rel_tol=0.05, samples=samples)
        values = [0.48, 0.52, 0.5, 0.47, 0.51, 0.53, 0.49, 0.5, 0.5, 0.52]
        first = compare(check, reported=rep(0.5), computed=values)
        assert compare(check, reported=rep(0.5), computed=list(values)) == first


def test_a_nan_seed_fails() -> None:
    check = Check(op="approx", rel_tol=0.05, samples=SEEDS)
    result = compare(check, reported=rep(0.5), computed=[0.5, math.nan, 0.5])
    assert (result.outcome, result.reason) == ("fail", "computed value (samples)[1] is NaN")


# --------------------------------------------------------------------------- trends over seeds

TREND3 = Check(op="trend", direction="increasing", x=[1, 2, 3], samples=Samples(min_seeds=2))


def test_a_three_point_trend_on_one_seed_is_inconclusive() -> None:
    single = compare(Check(op="trend", direction="increasing", x=[1, 2, 3]), reported=None, computed=[1, 2, 3])
    assert single.outcome == "inconclusive"
    assert single.reason.startswith("3 points on 1 seed cannot reach p < 0.05: the smallest p an exact test")
    assert compare(TREND3, reported=None, computed=[[1, 2, 3]]).reason == "2 seeds needed, 1 given"
    # Two seeds can reach p = 1/36 < 0.05 at best: the test is run, and a perfect order passes.
    assert compare(TREND3, reported=None, computed=[[1, 2, 3], [1, 2, 3]]).outcome == "pass"


def test_three_points_on_four_ordered_seeds_verify() -> None:
    result = compare(TREND3, reported=None, computed=[[0.1, 0.2, 0.3], [0.2, 0.3, 0.5], [0.1, 0.4, 0.6], [0.0, 0.1, 0.2]])
    assert result.outcome == "pass"
    assert result.p_value is not None and result.p_value < 0.01
    assert result.reason == ("series rises with x over 4 seeds (exact Page test p=0.000771605 < 0.05; "
                             "mean Spearman rho=1 >= 0.8)")


@pytest.mark.parametrize(
    "series",
    [
        [[1, 2, 3], [3, 1, 2], [2, 3, 1], [1, 3, 2]],
        [[3, 2, 1], [2, 1, 3], [1, 3, 2], [3, 1, 2]],
        [[3, 2, 1], [3, 2, 1], [3, 2, 1], [3, 2, 1]],
    ],
)
def test_shuffled_orders_never_verify(series: list[list[float]]) -> None:
    assert compare(TREND3, reported=None, computed=series).outcome in ("fail", "inconclusive")


def test_the_trend_test_has_its_stated_size() -> None:
    # With no trend, each of the 6^4 assignments of orders to 4 seeds is equally likely: an exact
    # test at confidence 0.99 may pass at most 1% of them (a test that passes more lies about p).
    from itertools import permutations, product

    orders = list(permutations([1.0, 2.0, 3.0]))
    check = Check(op="trend", direction="increasing", x=[1, 2, 3], samples=Samples(min_seeds=4, confidence=0.99))
    passed = [rows for rows in product(orders, repeat=4)
              if compare(check, reported=None, computed=[list(r) for r in rows]).passed]
    assert ((1.0, 2.0, 3.0),) * 4 in passed
    assert 0 < len(passed) / 6**4 <= 0.01


# --------------------------------------------------------------------------- properties

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
tols = st.floats(min_value=0, max_value=10, allow_nan=False)
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])


@given(finite, finite, tols, tols, tols, tols)
def test_approx_is_monotone_in_tolerances(
    expected: float, computed: float, rel: float, abs_: float, more_rel: float, more_abs: float
) -> None:
    base = compare(
        Check(op="approx", rel_tol=rel, abs_tol=abs_), reported=rep(expected), computed=computed
    )
    wider = Check(op="approx", rel_tol=rel + more_rel, abs_tol=abs_ + more_abs)
    if base.passed:
        assert compare(wider, reported=rep(expected), computed=computed).passed


def _all_checks() -> list[Check]:
    return [
        Check(op="approx", rel_tol=0.5, abs_tol=1e300),
        Check(op="eq", abs_tol=1e300),
        Check(op="lt"),
        Check(op="le"),
        Check(op="gt"),
        Check(op="ge"),
        Check(op="between", low=-1e308, high=1e308),
        Check(op="gt", against=OTHER),
    ]


@given(non_finite, finite)
def test_nan_and_inf_never_pass(bad: float, expected: float) -> None:
    for check in _all_checks():
        ref = expected if check.against else None
        assert not compare(check, reported=rep(expected), computed=bad, reference=ref).passed
        if check.against:
            assert not compare(check, reported=None, computed=expected, reference=bad).passed
        multi = check.model_copy(update={"samples": SEEDS})
        assert not compare(
            multi, reported=rep(expected), computed=[expected, bad, expected], reference=ref
        ).passed
    trend = Check(op="trend", direction="increasing", x=[1, 2, 3])
    assert not compare(trend, reported=None, computed=[1.0, 2.0, bad]).passed


@given(finite, finite, finite)
def test_between_agrees_with_chained_comparison(a: float, b: float, x: float) -> None:
    low, high = min(a, b), max(a, b)
    result = compare(Check(op="between", low=low, high=high), reported=None, computed=x)
    assert result.passed == (low <= x <= high)


@given(finite, finite, finite)
def test_gt_and_le_are_complements(reference: float, computed: float, margin: float) -> None:
    gt = compare(Check(op="gt", margin=margin), reported=rep(reference), computed=computed)
    le = compare(Check(op="le", margin=margin), reported=rep(reference), computed=computed)
    assert gt.passed != le.passed
    lt = compare(Check(op="lt", margin=margin), reported=rep(reference), computed=computed)
    ge = compare(Check(op="ge", margin=margin), reported=rep(reference), computed=computed)
    assert lt.passed != ge.passed


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=5)
    | st.just(MISSING),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(json_like, json_like)
def test_compare_never_raises(computed: Any, reference: Any) -> None:
    checks = [
        *_all_checks(),
        Check(op="trend", direction="decreasing", x=[1, 2, 3]),
        Check(op="approx", rel_tol=0.05, samples=Samples(min_seeds=2, resamples=100)),
        Check(op="gt", against=OTHER, samples=Samples(min_seeds=2, resamples=100)),
        Check(op="approx", precision=True),
    ]
    for check in checks:
        ref = reference if check.against else None
        result = compare(check, reported=rep(0.5, "0.50"), computed=computed, reference=ref)
        assert result.outcome in ("pass", "fail", "inconclusive")
        assert "\n" not in result.reason
