"""The checker's statistics: scipy's, plus what scipy does not do for us.

Every interval and test comes from `scipy.stats` (Student-t and Welch
intervals via `ttest_1samp`/`ttest_rel`/`ttest_ind`, the exact order-statistic
interval of a median via `quantile_test`, BCa via `bootstrap`, Page's trend
test via `page_trend_test`). This module adds only the glue scipy leaves to
the caller:

* scipy is imported lazily, inside the functions: a cached `verify ci` over
  single-value claims never pays its import (about half a second);
* verdicts never depend on chance: the bootstrap draws from a fixed seed;
* degenerate inputs get a defined answer instead of NaN (a median interval
  that the sample size cannot bound is unbounded, not NaN);
* Page's test needs two rows; one series (one seed) gets the equivalent exact
  permutation test of its order, and `smallest_trend_p` says what p-value an
  experiment of that size can reach at best, so a 3-point trend on one seed
  is reported as unable to reach the confidence, not as a pass.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

StatisticName = Literal["mean", "median"]
Direction = Literal["increasing", "decreasing"]

BOOTSTRAP_SEED = 20260623
"""Seed of the BCa bootstrap: fixed, so a verdict never depends on chance."""

BCA_MIN_SAMPLES = 10
"""Fewest samples for a BCa interval: below this its acceleration estimate is unreliable."""

EXACT_PAGE_MAX_POINTS = 8
EXACT_PAGE_MAX_SEEDS = 20
"""Page's test is exact up to these sizes; beyond them scipy's exact recursion takes seconds."""

EXACT_SINGLE_MAX_POINTS = 9
"""One series is tested by enumerating all n! orders up to this length (9! = 362,880)."""


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval of a statistic (`low`/`high` may be infinite)."""

    method: str  # t | paired-t | welch | bca | order-statistic
    confidence: float
    n: int
    n_other: int | None
    estimate: float
    low: float
    high: float


def _scipy_stats() -> Any:
    import scipy.stats  # type: ignore[import-untyped]

    return scipy.stats


def _finite_or(x: Any, fallback: float) -> float:
    value = float(x)
    return value if math.isfinite(value) else fallback


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean, correctly rounded (`math.fsum`); order-independent.

    Raises `ValueError` if `values` is empty.
    """
    if not values:
        raise ValueError("mean of no values")
    try:
        return math.fsum(values) / len(values)
    except OverflowError:  # fsum refuses sums beyond the float range: divide first
        return math.fsum(v / len(values) for v in values)


def median(values: Sequence[float]) -> float:
    """Median; the mean of the two middle values for an even count.

    Raises `ValueError` if `values` is empty.
    """
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else mean(ordered[mid - 1 : mid + 1])


STATISTIC_FOR_NAME = {"mean": mean, "median": median}


def interval(
    values: Sequence[float],
    *,
    other: Sequence[float] | None = None,
    paired: bool = False,
    statistic: StatisticName = "mean",
    confidence: float = 0.95,
    method: Literal["t", "bca"] = "t",
    resamples: int = 2000,
) -> Interval:
    """The interval of `statistic(values)`, or of its difference with the other arm.

    `method="t"`: for a mean, Student-t (one arm, or the per-seed differences
    of two `paired` arms) or Welch (two independent arms); for a median, the
    exact order-statistic interval (of the paired differences with two arms).
    `method="bca"`: the bias-corrected accelerated bootstrap (needs
    `BCA_MIN_SAMPLES` per arm).

    Raises `ValueError` for arguments that cannot give an interval: empty
    arms, paired arms of different lengths, BCa with too few samples, or the
    median difference of two independent arms without BCa (no exact method).
    """
    if not values or (other is not None and not other):
        raise ValueError("interval of an empty arm")
    if paired and (other is None or len(other) != len(values)):
        raise ValueError("paired arms need the same number of samples")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence} is outside (0, 1)")
    stat = STATISTIC_FOR_NAME[statistic]
    if other is not None and paired:
        diffs = [a - b for a, b in zip(values, other, strict=True)]
        estimate = stat(diffs)
    else:
        estimate = stat(values) - (stat(other) if other is not None else 0.0)
    n, n_other = len(values), (len(other) if other is not None else None)
    if method == "bca":
        return _bca(values, other, paired, statistic, confidence, resamples, estimate)
    st = _scipy_stats()
    with warnings.catch_warnings():  # identical samples: scipy warns, then answers [v, v]
        warnings.simplefilter("ignore", RuntimeWarning)
        if statistic == "median":
            if other is not None and not paired:
                raise ValueError("no exact interval for a difference of two independent medians: use interval: bca")
            sample = diffs if other is not None else list(values)
            ci = st.quantile_test(sample, q=estimate, p=0.5).confidence_interval(confidence)
            return Interval("order-statistic", confidence, n, n_other, estimate,
                            _finite_or(ci.low, -math.inf), _finite_or(ci.high, math.inf))
        if other is None:
            ci, name = st.ttest_1samp(values, 0.0).confidence_interval(confidence), "t"
        elif paired:
            ci, name = st.ttest_rel(values, other).confidence_interval(confidence), "paired-t"
        else:
            ci, name = st.ttest_ind(values, other, equal_var=False).confidence_interval(confidence), "welch"
    low, high = float(ci.low), float(ci.high)
    if math.isnan(low) or math.isnan(high):  # one sample per arm: no spread, no interval
        low, high = -math.inf, math.inf
    return Interval(name, confidence, n, n_other, estimate, low, high)


def _bca(
    values: Sequence[float],
    other: Sequence[float] | None,
    paired: bool,
    statistic: StatisticName,
    confidence: float,
    resamples: int,
    estimate: float,
) -> Interval:
    if len(values) < BCA_MIN_SAMPLES or (other is not None and len(other) < BCA_MIN_SAMPLES):
        raise ValueError(f"a BCa interval needs at least {BCA_MIN_SAMPLES} samples per arm")
    import numpy as np

    st = _scipy_stats()
    reduce = np.mean if statistic == "mean" else np.median
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    if other is None:
        data: tuple[Any, ...] = (np.asarray(values, dtype=float),)

        def stat(x: Any, axis: int = -1) -> Any:
            return reduce(x, axis=axis)
    elif paired:
        data = (np.asarray(values, dtype=float) - np.asarray(other, dtype=float),)

        def stat(x: Any, axis: int = -1) -> Any:
            return reduce(x, axis=axis)
    else:
        data = (np.asarray(values, dtype=float), np.asarray(other, dtype=float))

        def stat(x: Any, y: Any, axis: int = -1) -> Any:  # type: ignore[misc]
            return reduce(x, axis=axis) - reduce(y, axis=axis)
    with warnings.catch_warnings():  # degenerate resamples: scipy warns and gives NaN
        warnings.simplefilter("ignore")
        ci = st.bootstrap(data, stat, confidence_level=confidence, n_resamples=resamples,
                          method="BCa", rng=rng, vectorized=True).confidence_interval
    low, high = float(ci.low), float(ci.high)
    if math.isnan(low) or math.isnan(high):  # constant data: the statistic cannot move
        low = high = estimate if all(v == data[0][0] for v in data[0].tolist()) else math.nan
        if math.isnan(low):
            low, high = -math.inf, math.inf
    return Interval("bca", confidence, len(values), len(other) if other is not None else None, estimate, low, high)


# --------------------------------------------------------------------------- trends


@dataclass(frozen=True)
class TrendTest:
    """An exact (or, beyond the exact sizes, asymptotic/Monte Carlo) test of a trend's order."""

    p_value: float  # one-sided, in the claimed direction
    p_opposite: float  # one-sided, in the other direction
    method: str  # "exact Page test", "exact permutation test", ...
    rho: float | None  # mean Spearman rho over the series (None if every series is flat)
    smallest_p: float  # the best p-value an experiment of this size can give


def smallest_trend_p(points: int, series: int) -> float:
    """The smallest one-sided p-value an exact order test of `series` x `points` can reach.

    Every series perfectly ordered: each of the `points!` orders is equally
    likely under the null, independently per series.
    """
    return float(math.factorial(points)) ** -series


def trend_test(x: Sequence[float], series: Sequence[Sequence[float]], direction: Direction) -> TrendTest:
    """Test that every series moves with `x` in `direction`: Page's L across the series.

    One series gets the exact permutation test of its order (Page's test
    needs two rows; for one row it is Spearman's exact test). Ties share
    their ranks.

    Raises `ValueError` if a series's length differs from `x`'s or there are
    fewer than 3 points.
    """
    n, m = len(x), len(series)
    if n < 3 or any(len(s) != n for s in series) or m < 1:
        raise ValueError(f"a trend test needs series of {n} >= 3 points, one per x")
    import numpy as np

    st = _scipy_stats()
    order = np.argsort(np.asarray(x, dtype=float), kind="stable")
    data = np.asarray(series, dtype=float)[:, order]  # columns in increasing x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a flat series: spearmanr warns and answers NaN
        rhos = [float(st.spearmanr(np.arange(n), row).statistic) for row in data]
    finite = [r for r in rhos if math.isfinite(r)]
    rho = mean(finite) if finite else None
    ascending = list(range(1, n + 1))
    up, down = (ascending, ascending[::-1])
    if m >= 2:
        method = "exact" if n <= EXACT_PAGE_MAX_POINTS and m <= EXACT_PAGE_MAX_SEEDS else "asymptotic"
        p_up = float(st.page_trend_test(data, ranked=False, predicted_ranks=up, method=method).pvalue)
        p_down = float(st.page_trend_test(data, ranked=False, predicted_ranks=down, method=method).pvalue)
        label = f"{method} Page test"
    else:
        p_up, p_down, label = _single_series(st, data[0])
    p, q = (p_up, p_down) if direction == "increasing" else (p_down, p_up)
    return TrendTest(p_value=p, p_opposite=q, method=label, rho=rho, smallest_p=smallest_trend_p(n, m))


def _single_series(st: Any, row: Any) -> tuple[float, float, str]:
    """One-sided p-values (up, down) of one series's order: all n! orders, or Monte Carlo beyond."""
    import numpy as np

    n = len(row)
    ranks = st.rankdata(row)
    position = np.arange(1, n + 1, dtype=float)

    def page_l(r: Any, axis: int = -1) -> Any:
        return np.sum(r * position, axis=axis)

    exact = n <= EXACT_SINGLE_MAX_POINTS
    resamples = math.factorial(n) if exact else 100_000
    out = []
    for alternative in ("greater", "less"):
        result = st.permutation_test((ranks,), page_l, permutation_type="pairings", alternative=alternative,
                                     n_resamples=resamples, vectorized=True,
                                     rng=np.random.default_rng(BOOTSTRAP_SEED))
        out.append(float(result.pvalue))
    return out[0], out[1], "exact permutation test" if exact else "Monte Carlo permutation test"
