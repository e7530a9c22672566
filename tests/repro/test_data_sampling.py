"""Language sampling: temperature smoothing, imbalance ratios, seeded counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from repro.weam.data.sampling import (
    MBERT_ALPHA,
    XLMR_ALPHA,
    imbalance_sizes,
    sample_counts,
    sample_indices,
    temperature_probs,
)

sizes_st = st.dictionaries(
    st.sampled_from(["en", "de", "fr", "sw", "yo", "fy", "am", "ta"]),
    st.integers(min_value=1, max_value=10**7),
    min_size=1,
)
alpha_st = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(sizes_st, alpha_st)
def test_probabilities_sum_to_one(sizes: dict[str, int], alpha: float) -> None:
    q = temperature_probs(sizes, alpha)
    assert list(q) == list(sizes)
    assert math.isclose(sum(q.values()), 1.0, rel_tol=1e-9)
    assert all(v > 0 for v in q.values())


@given(sizes_st, alpha_st, alpha_st)
def test_lower_alpha_never_shrinks_the_smallest_language(
    sizes: dict[str, int], a: float, b: float
) -> None:
    low, high = min(a, b), max(a, b)
    smallest = min(sizes, key=lambda k: sizes[k])
    assert (
        temperature_probs(sizes, low)[smallest] >= temperature_probs(sizes, high)[smallest] - 1e-12
    )


def test_known_values() -> None:
    sizes = {"hi": 900, "lo": 100}
    assert temperature_probs(sizes, 1.0) == pytest.approx({"hi": 0.9, "lo": 0.1})
    assert temperature_probs(sizes, 0.0) == pytest.approx({"hi": 0.5, "lo": 0.5})
    q = temperature_probs(sizes, 0.5)  # 3 : 1
    assert q == pytest.approx({"hi": 0.75, "lo": 0.25})
    assert (
        temperature_probs(sizes, XLMR_ALPHA)["lo"]
        > temperature_probs(sizes, MBERT_ALPHA)["lo"]
        > 0.1
    )


def test_zero_sized_language_gets_nothing_and_bad_input_fails() -> None:
    assert temperature_probs({"a": 10, "b": 0}, 0.3)["b"] == 0.0
    with pytest.raises(ValueError, match="no languages"):
        temperature_probs({}, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        temperature_probs({"a": 1}, -0.1)
    with pytest.raises(ValueError, match="not all zero"):
        temperature_probs({"a": 0}, 0.5)


@pytest.mark.parametrize(("ratio", "low"), [(1, 10000), (10, 1000), (100, 100)])
def test_imbalance_ratios(ratio: int, low: int) -> None:
    sizes = imbalance_sizes("en", ["x1", "x2"], 10000, ratio)
    assert sizes == {"en": 10000, "x1": low, "x2": low}


def test_imbalance_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="ratio"):
        imbalance_sizes("en", ["x1"], 100, 0.5)
    with pytest.raises(ValueError, match="both"):
        imbalance_sizes("en", ["en"], 100, 10)
    assert imbalance_sizes("en", ["x1"], 10, 1000)["x1"] == 1


@given(sizes_st, alpha_st, st.integers(0, 10**6), st.integers(0, 2**32 - 1))
def test_counts_are_seeded_and_sum_to_budget(
    sizes: dict[str, int], alpha: float, budget: int, seed: int
) -> None:
    counts = sample_counts(sizes, alpha, budget, seed)
    assert sum(counts.values()) == budget
    assert counts == sample_counts(sizes, alpha, budget, seed)


def test_counts_follow_probabilities() -> None:
    sizes = {"en": 100000, "x1": 1000}
    counts = sample_counts(sizes, 0.3, 100000, seed=0)
    expected = temperature_probs(sizes, 0.3)["x1"] * 100000
    assert abs(counts["x1"] - expected) < 5 * math.sqrt(expected)


def test_indices_cover_each_epoch_before_repeating() -> None:
    idx = sample_indices(7, 17, seed=1)
    assert len(idx) == 17
    assert sorted(idx[:7]) == list(range(7)) and sorted(idx[7:14]) == list(range(7))
    assert np.array_equal(idx, sample_indices(7, 17, seed=1))
    assert len(sample_indices(5, 0, seed=0)) == 0
