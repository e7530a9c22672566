"""Fresh seeds from a nonce: deterministic, distinct, never the manifest's, and re-runnable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.replication import SEED_LIMIT, fresh_seeds, new_nonce, valid_nonce

nonces = st.text(alphabet="0123456789abcdef", min_size=8, max_size=64)


@given(nonces, st.integers(0, 50), st.lists(st.integers(0, SEED_LIMIT - 1), max_size=20))
def test_fresh_seeds_are_distinct_new_and_in_range(nonce: str, count: int, exclude: list[int]) -> None:
    seeds = fresh_seeds(nonce, count, exclude)
    assert len(seeds) == count == len(set(seeds))
    assert not set(seeds) & set(exclude)
    assert all(0 <= s < SEED_LIMIT for s in seeds)
    assert fresh_seeds(nonce, count, exclude) == seeds  # the nonce is all it takes to re-run them


@given(nonces, st.integers(1, 30), st.integers(0, 30))
def test_more_seeds_extend_fewer(nonce: str, n: int, more: int) -> None:
    assert fresh_seeds(nonce, n + more)[:n] == fresh_seeds(nonce, n)


@given(nonces, nonces)
def test_different_nonces_draw_different_seeds(a: str, b: str) -> None:
    if a != b:
        assert fresh_seeds(a, 4) != fresh_seeds(b, 4)


def test_new_nonces_are_valid_and_fresh() -> None:
    drawn = {new_nonce() for _ in range(100)}
    assert len(drawn) == 100 and all(valid_nonce(n) and len(n) == 16 for n in drawn)


@pytest.mark.parametrize("bad", ["", "abc", "ABCDEF01", "xyzxyzxy", "0" * 65])
def test_invalid_nonces_are_refused(bad: str) -> None:
    assert not valid_nonce(bad)
    with pytest.raises(ValueError):
        fresh_seeds(bad, 3)
