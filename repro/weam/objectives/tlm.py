"""Translation language modelling: XLM's MLM on concatenated translation pairs.

Conneau & Lample 2019 (https://arxiv.org/abs/1901.07291, sec. 3.3): a pair
is concatenated and tokens are masked in both sentences, so a masked word
can be recovered from its context in either language. The layout
(`[CLS] src [SEP] tgt [SEP]`, target positions restarting at 0, segment ids
0/1) is described in `repro.weam.objectives.batching`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from repro.weam.model import WeamModel
from repro.weam.objectives.batching import Batch, PairExample, collate, pair_row, random_order
from repro.weam.objectives.masking import encode_batch, mask_for_mlm, masked_lm_loss


@dataclass(frozen=True)
class TLMObjective:
    """15% masking with 80/10/10 over both sentences of a pair."""

    vocab_size: int
    n_special: int = 5
    max_len: int = 64
    mask_prob: float = 0.15
    name: str = "tlm"
    paired: bool = True
    swap_prob: float = 0.5  # pair order randomised: see batching.random_order

    def make_batch(self, examples: Sequence[PairExample], gen: torch.Generator) -> Batch:
        if self.swap_prob:
            examples = random_order(examples, gen, self.swap_prob)
        batch = collate([pair_row(e.src, e.tgt, self.max_len)[0] for e in examples])
        return mask_for_mlm(
            batch, gen, prob=self.mask_prob, n_special=self.n_special, vocab_size=self.vocab_size
        )

    def loss(self, model: WeamModel, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        loss = masked_lm_loss(model, encode_batch(model, batch), batch.labels)
        return loss, {"tlm": float(loss.detach())}
