"""The checker's statistics: coverage of the intervals it judges by, known answers, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import stats

DRAWS = 20_000


def _t_bounds(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Student-t bounds of each row's mean, vectorized (checked against `stats.interval` below)."""
    n = samples.shape[1]
    mean = samples.mean(axis=1)
    half = scipy.stats.t.ppf(0.5 + confidence / 2, n - 1) * samples.std(axis=1, ddof=1) / math.sqrt(n)
    return mean - half, mean + half


@pytest.mark.parametrize("n", [4, 10])
def test_the_t_interval_covers_the_true_mean_95_percent_of_the_time(n: int) -> None:
    rng = np.random.default_rng(20260623 + n)
    samples = rng.normal(loc=3.0, scale=2.0, size=(DRAWS, n))
    low, high = _t_bounds(samples, 0.95)
    # The vectorized bounds are the verifier's own: stats.interval gives the same on every 40th draw.
    for row in range(0, DRAWS, 40):
        ci = stats.interval(samples[row].tolist(), confidence=0.95)
        assert (ci.method, ci.low, ci.high) == ("t", pytest.approx(low[row], abs=1e-12), pytest.approx(high[row], abs=1e-12))
    coverage = float(np.mean((low <= 3.0) & (high >= 3.0)))
    assert 0.94 <= coverage <= 0.96, coverage


def test_the_percentile_bootstrap_of_four_seeds_does_not_reach_95_percent() -> None:
    """Why the verifier no longer judges by it: its nominal 95% is about 80% at n = 4."""
    rng = np.random.default_rng(7)
    n, resamples, covered = 4, 1000, 0
    for _ in range(DRAWS // 1000):
        samples = rng.normal(loc=3.0, scale=2.0, size=(1000, n))
        picks = rng.integers(0, n, size=(1000, resamples, n))
        means = samples[np.arange(1000)[:, None, None], picks].mean(axis=2)
        low, high = np.quantile(means, [0.025, 0.975], axis=1)
        covered += int(np.sum((low <= 3.0) & (high >= 3.0)))
    coverage = covered / DRAWS
    assert coverage < 0.90, coverage


def test_known_answers() -> None:
    assert stats.mean([1, 2, 3, 4]) == 2.5
    assert stats.mean([1e308, 1e308]) == 1e308  # no intermediate overflow
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    ci = stats.interval([1.0, 2.0, 3.0, 4.0])
    # mean 2.5, s = 1.291, t(0.975, 3) = 3.182: 2.5 ± 2.054
    assert (ci.low, ci.high) == (pytest.approx(0.44574, abs=1e-5), pytest.approx(4.55426, abs=1e-5))
    assert stats.interval([2.0, 2.0, 2.0]).low == stats.interval([2.0, 2.0, 2.0]).high == 2.0


def test_one_sample_has_no_interval() -> None:
    ci = stats.interval([1.0])
    assert (ci.low, ci.high) == (-math.inf, math.inf)


@pytest.mark.parametrize(
    "kwargs",
    [{"method": "bca"}, {"statistic": "median", "other": [1.0, 2.0]}, {"other": [1.0], "paired": True},
     {"confidence": 1.0}],
)
def test_interval_refuses_what_it_cannot_answer(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        stats.interval([1.0, 2.0, 3.0], **kwargs)  # type: ignore[arg-type]


def test_smallest_trend_p() -> None:
    assert stats.smallest_trend_p(3, 1) == pytest.approx(1 / 6)
    assert stats.smallest_trend_p(3, 4) == pytest.approx(1 / 1296)
    assert stats.smallest_trend_p(5, 1) == pytest.approx(1 / 120)


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
samples = st.lists(finite, min_size=2, max_size=12)
confidences = st.sampled_from([0.8, 0.9, 0.95, 0.99])


@settings(max_examples=80, deadline=None)
@given(samples, confidences, confidences, st.sampled_from(["mean", "median"]))
def test_intervals_are_nested_in_confidence_and_hold_the_estimate(
    values: list[float], a: float, b: float, statistic: str
) -> None:
    lo_c, hi_c = sorted((a, b))
    narrow = stats.interval(values, confidence=lo_c, statistic=statistic)  # type: ignore[arg-type]
    wide = stats.interval(values, confidence=hi_c, statistic=statistic)  # type: ignore[arg-type]
    slack = 1e-9 * max(1.0, abs(narrow.estimate), max(abs(v) for v in values))
    assert wide.low <= narrow.low + slack and narrow.high <= wide.high + slack
    assert narrow.low - slack <= narrow.estimate <= narrow.high + slack


@settings(max_examples=60, deadline=None)
@given(samples, samples, confidences)
def test_welch_is_antisymmetric_in_its_arms(a: list[float], b: list[float], confidence: float) -> None:
    ab = stats.interval(a, other=b, confidence=confidence)
    ba = stats.interval(b, other=a, confidence=confidence)
    slack = 1e-7 * max(1.0, *(abs(v) for v in a + b))
    if math.isfinite(ab.low):
        assert ab.low == pytest.approx(-ba.high, abs=slack) and ab.high == pytest.approx(-ba.low, abs=slack)


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 6), st.integers(1, 5), st.sampled_from(["increasing", "decreasing"]))
def test_a_perfect_order_reaches_the_smallest_p(points: int, seeds: int, direction: str) -> None:
    x = list(range(points))
    row = [float(v) for v in x] if direction == "increasing" else [float(-v) for v in x]
    test = stats.trend_test(x, [row] * seeds, direction)  # type: ignore[arg-type]
    assert test.p_value == pytest.approx(stats.smallest_trend_p(points, seeds), rel=1e-6)
    assert test.p_opposite == pytest.approx(1.0)
