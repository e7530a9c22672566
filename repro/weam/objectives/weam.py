"""WEAM: masked aligned words predict their counterpart in the other language.

Yang et al. 2021, "Bilingual Alignment Pre-Training for Zero-Shot
Cross-Lingual Transfer" (MRQA, https://aclanthology.org/2021.mrqa-1.10/)
describe WEAM as using "the statistical alignment information as the prior
knowledge to guide cross-lingual word prediction"; the authors summarise it
as using "one language's context representation to predict the token in the
other language". Their full text and code could not be obtained, so this is
our reading (READING.md has the details):

1. lay out a translation pair as TLM does, `[CLS] src [SEP] tgt [SEP]`;
2. keep the word links that are 1-to-1 (each word in at most one link) and
   select each with probability `link_prob`;
3. mask every subword of both words of a selected link (80/10/10), and train
   the first subword position of each to predict the FIRST subword of its
   counterpart through the shared, tied MLM head (no word-level head);
4. run TLM's 15% masking on the positions that are left;
5. loss = TLM + lambda * WEAM.

The links come from outside: the statistical aligner (the paper's prior),
the gold alignment (an oracle control) or `random_links` (a control that
keeps the number of links but destroys their meaning).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from repro.weam.align import one_to_one
from repro.weam.model import IGNORE_INDEX, WeamModel
from repro.weam.objectives.batching import (
    Batch,
    Link,
    PairExample,
    collate,
    pair_row,
    random_order,
    word_positions,
)
from repro.weam.objectives.masking import corrupt, encode_batch, mask_for_mlm, masked_lm_loss


def matched_random_links(
    n_src: int, n_tgt: int, n_links: int, rng: random.Random
) -> tuple[Link, ...]:
    """`n_links` 1-to-1 links between random words: the random-prior control.

    Unlike `repro.weam.align.random_links` (a full matching), the count is
    chosen by the caller, so the control can keep exactly as many links as
    the aligner's 1-to-1 set and differ only in which words they join.
    """
    n = min(n_links, n_src, n_tgt)
    return tuple(sorted(zip(rng.sample(range(n_src), n), rng.sample(range(n_tgt), n), strict=True)))


def select_links(
    example: PairExample, budget: int, prob: float, gen: torch.Generator
) -> list[tuple[list[int], list[int]]]:
    """Pick links to mask; return the (src positions, tgt positions) of each.

    Links to a word that truncation cut off are skipped. Offsets are those of
    `pair_row`: src starts at 1, tgt after `[SEP]`.
    """
    s_pos = word_positions(example.src, 1, budget)
    t_off = 2 + min(len(example.src.ids), budget)
    t_pos = word_positions(example.tgt, t_off, budget)
    links = [(i, j) for i, j in sorted(one_to_one(set(example.links))) if i in s_pos and j in t_pos]
    if not links:
        return []
    keep = torch.rand(len(links), generator=gen) < prob
    return [(s_pos[i], t_pos[j]) for (i, j), k in zip(links, keep.tolist(), strict=True) if k]


@dataclass(frozen=True)
class WEAMObjective:
    """TLM + lambda * (counterpart prediction at masked aligned word pairs)."""

    vocab_size: int
    n_special: int = 5
    max_len: int = 64
    mask_prob: float = 0.15
    link_prob: float = 0.15
    lam: float = 1.0
    name: str = "weam"
    paired: bool = True
    swap_prob: float = 0.5  # pair order randomised: see batching.random_order
    # When set, WEAM and TLM targets together make this share of the batch's ordinary tokens
    # (TLM's 15%): the TLM rate on the untouched positions is lowered by what WEAM took, so
    # that WEAM is not compared with TLM at a larger prediction budget.
    target_rate: float | None = None

    def tlm_prob(self, batch: Batch, aux: torch.Tensor, word_mask: torch.Tensor) -> float:
        """The TLM rate on positions WEAM left that brings all targets to `target_rate`."""
        if self.target_rate is None:
            return self.mask_prob
        eligible = int((~batch.special).sum())
        left = int((~batch.special & ~word_mask).sum())
        taken = int((aux != IGNORE_INDEX).sum())
        if left == 0:
            return 0.0
        return min(1.0, max(0.0, (self.target_rate * eligible - taken) / left))

    def make_batch(self, examples: Sequence[PairExample], gen: torch.Generator) -> Batch:
        if self.swap_prob:
            examples = random_order(examples, gen, self.swap_prob)
        budget = (self.max_len - 3) // 2
        rows, picks = [], []
        for e in examples:
            rows.append(pair_row(e.src, e.tgt, self.max_len)[0])
            picks.append(select_links(e, budget, self.link_prob, gen))
        batch = collate(rows)
        aux = torch.full_like(batch.input_ids, IGNORE_INDEX)
        word_mask = torch.zeros_like(batch.special)
        for b, chosen in enumerate(picks):
            for s_pos, t_pos in chosen:
                # First subword predicts the counterpart's first subword, both ways.
                aux[b, s_pos[0]] = batch.input_ids[b, t_pos[0]]
                aux[b, t_pos[0]] = batch.input_ids[b, s_pos[0]]
                word_mask[b, s_pos + t_pos] = True
        batch.aux_labels = aux
        prob = self.tlm_prob(batch, aux, word_mask)
        batch.input_ids = corrupt(
            batch.input_ids, word_mask, gen, n_special=self.n_special, vocab_size=self.vocab_size
        )
        # TLM on what is left; labels come from positions WEAM did not touch.
        return mask_for_mlm(
            batch,
            gen,
            prob=prob,
            n_special=self.n_special,
            vocab_size=self.vocab_size,
            exclude=word_mask,
        )

    def loss(self, model: WeamModel, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        assert batch.aux_labels is not None
        hidden = encode_batch(model, batch)  # (B, T, C)
        tlm = masked_lm_loss(model, hidden, batch.labels)
        weam = masked_lm_loss(model, hidden, batch.aux_labels)
        loss = tlm + self.lam * weam
        return loss, {"tlm": float(tlm.detach()), "weam": float(weam.detach())}
