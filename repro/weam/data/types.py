"""Corpus types shared by every reader and generator in `repro.weam.data`.

Sentences are tuples of words (already tokenised); links are `(src index, tgt index)` pairs
in the Pharaoh / fast_align convention `i-j`.
"""

from __future__ import annotations

from dataclasses import dataclass

Sentence = tuple[str, ...]
Link = tuple[int, int]


@dataclass(frozen=True)
class ParallelPair:
    """One translation pair; `gold` holds word links when they are known (synthetic data)."""

    src: Sentence
    tgt: Sentence
    gold: tuple[Link, ...] | None = None


@dataclass(frozen=True)
class ParallelCorpus:
    """Sentence-aligned text from `src_lang` to `tgt_lang`, in a fixed order."""

    src_lang: str
    tgt_lang: str
    pairs: tuple[ParallelPair, ...]

    def __len__(self) -> int:
        return len(self.pairs)
