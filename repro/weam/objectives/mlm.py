"""Masked language modelling on single sentences: the mBERT analogue.

mBERT (Devlin et al. 2019, https://arxiv.org/abs/1810.04805) is BERT's MLM
trained on the concatenated Wikipedias of 104 languages with no parallel
signal at all; here each example is one monolingual sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from repro.weam.model import WeamModel
from repro.weam.objectives.batching import Batch, PairExample, collate, single_row
from repro.weam.objectives.masking import encode_batch, mask_for_mlm, masked_lm_loss
from repro.weam.tokenizer import Encoded


@dataclass(frozen=True)
class MLMObjective:
    """15% masking with 80/10/10 on `[CLS] sentence [SEP]`."""

    vocab_size: int
    n_special: int = 5
    max_len: int = 64
    mask_prob: float = 0.15
    name: str = "mlm"
    paired: bool = False  # examples are single sentences

    def make_batch(self, examples: Sequence[Encoded], gen: torch.Generator) -> Batch:
        batch = collate([single_row(e, self.max_len) for e in examples])
        return mask_for_mlm(
            batch, gen, prob=self.mask_prob, n_special=self.n_special, vocab_size=self.vocab_size
        )

    def loss(self, model: WeamModel, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        loss = masked_lm_loss(model, encode_batch(model, batch), batch.labels)
        return loss, {"mlm": float(loss.detach())}


@dataclass(frozen=True)
class PairMLMObjective:
    """MLM on both sentences of translation pairs, each encoded on its own.

    The compute-matched control for TLM and WEAM: the same parallel sentences and the same
    15% of targets, but no sentence ever sees its translation, so no cross-lingual signal.
    """

    vocab_size: int
    n_special: int = 5
    max_len: int = 64
    mask_prob: float = 0.15
    name: str = "pair-mlm"
    paired: bool = True

    def make_batch(self, examples: Sequence[PairExample], gen: torch.Generator) -> Batch:
        rows = [single_row(s, self.max_len) for e in examples for s in (e.src, e.tgt)]
        return mask_for_mlm(
            collate(rows), gen, prob=self.mask_prob, n_special=self.n_special, vocab_size=self.vocab_size
        )

    def loss(self, model: WeamModel, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        loss = masked_lm_loss(model, encode_batch(model, batch), batch.labels)
        return loss, {"pair-mlm": float(loss.detach())}
