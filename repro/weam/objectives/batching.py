"""Turning encoded sentences and translation pairs into padded tensor batches.

Single sentences are laid out BERT-style, `[CLS] s [SEP]`. Translation pairs
follow XLM's TLM layout `[CLS] src [SEP] tgt [SEP]` with two choices written
down in READING.md: positions restart at 0 for the target sentence, as XLM
does ("we reset the positional embeddings of the target sentence",
Conneau & Lample 2019, sec. 3.3), and the segment id (token_type) is 0 for
the source and 1 for the target: a language-agnostic segment embedding,
because a per-language embedding would give the encoder an explicit
language signal that mBERT does not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from repro.weam.tokenizer import CLS_ID, PAD_ID, SEP_ID, Encoded

Link = tuple[int, int]


@dataclass(frozen=True)
class PairExample:
    """An encoded translation pair and its word links (`(src word, tgt word)`)."""

    src: Encoded
    tgt: Encoded
    links: tuple[Link, ...] = ()


@dataclass
class Batch:
    """Padded model inputs and targets; every tensor is (B, T)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor
    position_ids: torch.Tensor
    special: torch.Tensor  # True for [CLS]/[SEP]/[PAD]: never a target
    labels: torch.Tensor  # MLM/TLM targets, IGNORE_INDEX elsewhere
    aux_labels: torch.Tensor | None = None  # WEAM counterparts / code-switch originals
    extra: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def n_tokens(self) -> int:
        return int(self.attention_mask.sum())


@dataclass
class Row:
    """One sequence under construction (plain lists: cheap to append to)."""

    ids: list[int] = field(default_factory=list)
    types: list[int] = field(default_factory=list)
    pos: list[int] = field(default_factory=list)
    special: list[bool] = field(default_factory=list)

    def add(self, ids: Sequence[int], seg: int, *, special: bool, restart: bool = False) -> int:
        """Append tokens of segment `seg`; return the offset of the first one."""
        start = len(self.ids)
        first_pos = 0 if restart else (self.pos[-1] + 1 if self.pos else 0)
        self.ids.extend(ids)
        self.types.extend([seg] * len(ids))
        self.pos.extend(range(first_pos, first_pos + len(ids)))
        self.special.extend([special] * len(ids))
        return start


def random_order(
    examples: Sequence[PairExample], gen: torch.Generator, prob: float = 0.5
) -> list[PairExample]:
    """Put the target sentence first with probability `prob` (links flipped to match).

    Without this the base language would always be segment 0 and every other
    language segment 1, so single sentences of the other languages, which
    retrieval encodes as segment 0, would look unlike anything seen in training.
    """
    flips = (torch.rand(len(examples), generator=gen) < prob).tolist()
    return [
        PairExample(e.tgt, e.src, tuple(sorted((j, i) for i, j in e.links))) if f else e
        for e, f in zip(examples, flips, strict=True)
    ]


def truncate(enc: Encoded, n: int) -> Encoded:
    """Keep at most `n` subwords (a cut word keeps its first subwords)."""
    return enc if len(enc.ids) <= n else Encoded(enc.ids[:n], enc.word_of[:n])


def single_row(enc: Encoded, max_len: int) -> Row:
    """`[CLS] s [SEP]` for one sentence."""
    row = Row()
    row.add([CLS_ID], 0, special=True)
    row.add(truncate(enc, max_len - 2).ids, 0, special=False)
    row.add([SEP_ID], 0, special=True)
    return row


def pair_row(src: Encoded, tgt: Encoded, max_len: int) -> tuple[Row, int, int]:
    """`[CLS] src [SEP] tgt [SEP]`; returns the row and the src/tgt start offsets."""
    budget = (max_len - 3) // 2
    row = Row()
    row.add([CLS_ID], 0, special=True)
    s_off = row.add(truncate(src, budget).ids, 0, special=False)
    row.add([SEP_ID], 0, special=True)
    # Positions restart for the target sentence (XLM); see the module docstring.
    t_off = row.add(truncate(tgt, budget).ids, 1, special=False, restart=True)
    row.add([SEP_ID], 1, special=True)
    return row, s_off, t_off


def collate(rows: Sequence[Row]) -> Batch:
    """Right-pad rows to the longest one; labels start as all-ignored."""
    width = max(len(r.ids) for r in rows)

    def pad(values: list[list[int]], fill: int) -> torch.Tensor:
        return torch.tensor([v + [fill] * (width - len(v)) for v in values], dtype=torch.long)

    ids = pad([r.ids for r in rows], PAD_ID)  # (B, T)
    attn = pad([[1] * len(r.ids) for r in rows], 0)
    special = pad([[int(s) for s in r.special] for r in rows], 1).bool()
    return Batch(
        input_ids=ids,
        attention_mask=attn,
        token_type_ids=pad([r.types for r in rows], 0),
        position_ids=pad([r.pos for r in rows], 0),
        special=special,
        labels=torch.full_like(ids, -100),
    )


def word_positions(enc: Encoded, offset: int, limit: int) -> dict[int, list[int]]:
    """Row positions of each word's subwords, for subwords kept by truncation."""
    out: dict[int, list[int]] = {}
    for k, w in enumerate(enc.word_of[:limit]):
        out.setdefault(w, []).append(offset + k)
    return out
