"""Language sampling for multilingual pre-training: temperature smoothing and imbalance ratios.

Temperature sampling draws language i with probability q_i ∝ p_i^alpha, where p_i is its share of
the data: alpha = 1 keeps the natural distribution, alpha -> 0 tends to uniform. mBERT used
alpha = 0.7 (https://github.com/google-research/bert/blob/master/multilingual.md), XLM-R used
alpha = 0.3 (Conneau et al. 2020, https://arxiv.org/abs/1911.02116, section 3.1; XLM used 0.5,
https://arxiv.org/abs/1901.07291). Explicit ratios (1:1, 1:10, 1:100 against one high-resource
language) are the controlled imbalance of the data-imbalance studies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

MBERT_ALPHA = 0.7
XLMR_ALPHA = 0.3


def temperature_probs(sizes: Mapping[str, int], alpha: float) -> dict[str, float]:
    """q_i ∝ p_i^alpha over the languages of `sizes` (keys kept in the given order).

    Raises `ValueError` if `sizes` is empty, a size is negative, all sizes are zero, or
    `alpha` is negative. Languages of size 0 get probability 0 for every alpha.
    """
    if not sizes:
        raise ValueError("no languages to sample from")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    counts = np.array([sizes[k] for k in sizes], dtype=np.float64)
    if (counts < 0).any() or counts.sum() == 0:
        raise ValueError(f"sizes must be >= 0 and not all zero: {dict(sizes)}")
    p = counts / counts.sum()
    # Work in log space so that tiny shares raised to small alphas do not underflow.
    logq = np.full_like(p, -np.inf)
    nz = p > 0
    logq[nz] = alpha * np.log(p[nz])
    q = np.exp(logq - logq[nz].max())
    q /= q.sum()
    return {k: float(v) for k, v in zip(sizes, q, strict=True)}


def imbalance_sizes(
    high: str, lows: Sequence[str], total_high: int, ratio: float
) -> dict[str, int]:
    """Sizes for a 1:`ratio` imbalance: `high` gets `total_high`, each low `total_high / ratio`.

    Low sizes are rounded to the nearest integer but never below 1. Raises `ValueError` for a
    ratio below 1, a non-positive total, or `high` listed among `lows`.
    """
    if ratio < 1:
        raise ValueError(f"ratio must be >= 1 (1:ratio against {high!r}), got {ratio}")
    if total_high < 1:
        raise ValueError(f"total_high must be positive, got {total_high}")
    if high in lows:
        raise ValueError(f"{high!r} is both the high-resource language and a low one")
    low = max(1, round(total_high / ratio))
    return {high: total_high, **dict.fromkeys(lows, low)}


def sample_counts(sizes: Mapping[str, int], alpha: float, budget: int, seed: int) -> dict[str, int]:
    """How many sentences of each language a run of `budget` sentences sees.

    A multinomial draw over `temperature_probs(sizes, alpha)` from a seeded generator, so the
    same seed gives the same counts; counts may exceed a language's size (it is then
    up-sampled, as XLM-R does for low-resource languages). Counts sum to `budget`.
    """
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    probs = temperature_probs(sizes, alpha)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(budget, np.array(list(probs.values())))
    return {k: int(n) for k, n in zip(probs, draws, strict=True)}


def sample_indices(size: int, count: int, seed: int) -> np.ndarray:
    """`count` sentence indices into a corpus of `size`: whole shuffled epochs, then a partial one.

    Every sentence is seen before any is repeated (sampling without replacement per epoch),
    which is how up-sampled low-resource languages are usually fed.
    """
    if size < 1 and count > 0:
        raise ValueError("cannot draw sentences from an empty corpus")
    rng = np.random.default_rng(seed)
    n_epochs = -(-count // size) if size else 0
    order = np.concatenate([rng.permutation(size) for _ in range(n_epochs)] or [np.zeros(0, int)])
    return order[:count].astype(np.int64)
