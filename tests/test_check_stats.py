"""Pure-Python statistics of the checker: known answers and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import stats

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


def test_known_answers() -> None:
    assert stats.mean([1, 2, 3, 4]) == 2.5
    assert stats.mean([1e308, 1e308]) == 1e308  # no intermediate overflow
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4]
    assert stats.ranks([3, 3, 3]) == [2, 2, 2]
    assert stats.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8207826816681233)
    assert stats.spearman([1, 2, 3], [3, 2, 1]) == -1
    assert stats.spearman([1, 2, 3], [1, 1, 1]) is None
    assert stats.quantile([1, 2, 3, 4], 0.5) == 2.5
    assert stats.quantile([1, 2, 3, 4], 0.0) == 1
    assert stats.quantile([1, 2, 3, 4], 1.0) == 4


def test_bootstrap_known_answer_is_stable() -> None:
    # Pinned: the bootstrap is seeded, so a verdict never changes between runs.
    lo, hi = stats.bootstrap_ci([0.49, 0.5, 0.51, 0.5, 0.495], resamples=2000)
    assert (lo, hi) == stats.bootstrap_ci([0.49, 0.5, 0.51, 0.5, 0.495], resamples=2000)
    assert 0.49 <= lo < 0.499 < hi <= 0.51


@pytest.mark.parametrize(
    "kwargs",
    [{"confidence": 1.0}, {"confidence": 0.0}, {"resamples": 0}, {"other": []}],
)
def test_bootstrap_refuses_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="bootstrap"):
        stats.bootstrap_ci([1.0, 2.0], **kwargs)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(finite, min_size=1, max_size=12),
    st.sampled_from(["mean", "median"]),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_bootstrap_interval_contains_the_statistic(
    values: list[float], name: str, confidence: float
) -> None:
    lo, hi = stats.bootstrap_ci(values, statistic=name, confidence=confidence, resamples=200)  # type: ignore[arg-type]
    value = stats.STATISTIC_FOR_NAME[name](values)
    slack = 1e-9 * max(1.0, abs(value))  # the resampled means round differently
    assert lo - slack <= value <= hi + slack


@given(st.lists(finite, min_size=2, max_size=30, unique=True))
def test_spearman_of_a_strictly_increasing_series_is_one(xs: list[float]) -> None:
    xs.sort()
    series = [0.5 * i * i - 3.0 for i in range(len(xs))]  # strictly increasing, not linear
    assert stats.spearman(xs, series) == 1.0
    assert stats.spearman(xs, [-v for v in series]) == -1.0


@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=20))
def test_spearman_is_bounded_and_symmetric(pairs: list[tuple[float, float]]) -> None:
    x = [p[0] for p in pairs]
    y = [p[1] for p in pairs]
    rho = stats.spearman(x, y)
    assert rho == stats.spearman(y, x)
    assert rho is None or -1 <= rho <= 1


@given(st.lists(finite, min_size=1, max_size=20))
def test_ranks_sum_and_median_bounds(values: list[float]) -> None:
    r = stats.ranks(values)
    n = len(values)
    assert math.fsum(r) == n * (n + 1) / 2
    assert min(values) <= stats.median(values) <= max(values)
