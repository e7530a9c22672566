"""Sentence-level contrastive training with in-batch negatives.

Each translation pair is a positive; every other sentence in the batch is a
negative. Sentences are encoded separately (`[CLS] s [SEP]`) and mean-pooled
over non-pad tokens, the pooling XTREME's retrieval tasks use
(Hu et al. 2020, https://arxiv.org/abs/2003.11080), then L2-normalised.

- InfoNCE (van den Oord et al. 2018, https://arxiv.org/abs/1807.03748):
  cross-entropy over cosine / temperature, both directions averaged.
- Additive margin softmax as in LaBSE (Feng et al. 2022,
  https://arxiv.org/abs/2007.01852, eq. 1-2): the margin m is subtracted from
  the positive's cosine before a scaled softmax, and the loss is
  bidirectional (source->target plus target->source).

`ContrastiveWEAMObjective` adds a contrastive term to WEAM on the same pairs:
loss = TLM + lambda * WEAM + mu * contrastive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from repro.weam.model import WeamModel
from repro.weam.objectives.batching import Batch, PairExample, collate, single_row
from repro.weam.objectives.masking import encode_batch
from repro.weam.objectives.weam import WEAMObjective

LossKind = Literal["infonce", "ams"]


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of non-pad token states: (B, T, C) -> (B, C)."""
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Symmetric InfoNCE on L2-normalised rows of a, b (B, C); positives on the diagonal."""
    sim = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T  # (B, B)
    target = torch.arange(sim.shape[0], device=sim.device)
    logits = sim.float() / temperature
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def additive_margin_softmax(
    a: torch.Tensor, b: torch.Tensor, margin: float = 0.3, scale: float = 20.0
) -> torch.Tensor:
    """LaBSE's bidirectional additive margin softmax on cosine similarities."""
    sim = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T  # (B, B)
    eye = torch.eye(sim.shape[0], dtype=torch.float32, device=sim.device)
    logits = scale * (sim.float() - margin * eye)  # the margin only hits positives
    target = torch.arange(sim.shape[0], device=sim.device)
    return F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)


def contrastive_loss(
    kind: LossKind,
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    temperature: float,
    margin: float,
    scale: float,
) -> torch.Tensor:
    if kind == "infonce":
        return info_nce(a, b, temperature)
    if kind == "ams":
        return additive_margin_softmax(a, b, margin, scale)
    raise ValueError(f"unknown contrastive loss {kind!r}")


@dataclass
class PairBatches:
    """Source and target sentences as two single-sentence batches (+ a WEAM batch)."""

    src: Batch
    tgt: Batch
    pair: Batch | None = None

    @property
    def n_tokens(self) -> int:
        extra = self.pair.n_tokens if self.pair is not None else 0
        return self.src.n_tokens + self.tgt.n_tokens + extra


def sentence_batches(examples: Sequence[PairExample], max_len: int) -> PairBatches:
    return PairBatches(
        src=collate([single_row(e.src, max_len) for e in examples]),
        tgt=collate([single_row(e.tgt, max_len) for e in examples]),
    )


def embed(model: WeamModel, batch: Batch) -> torch.Tensor:
    """Mean-pooled last layer (B, C)."""
    return mean_pool(encode_batch(model, batch), batch.attention_mask)


@dataclass(frozen=True)
class ContrastiveObjective:
    """In-batch-negative translation ranking (InfoNCE or LaBSE's AMS)."""

    vocab_size: int
    n_special: int = 5
    max_len: int = 64
    kind: LossKind = "ams"
    temperature: float = 0.05
    margin: float = 0.3
    scale: float = 20.0
    name: str = "contrastive"
    paired: bool = True

    def make_batch(self, examples: Sequence[PairExample], gen: torch.Generator) -> PairBatches:
        return sentence_batches(examples, self.max_len)

    def pair_loss(self, model: WeamModel, batch: PairBatches) -> torch.Tensor:
        return contrastive_loss(
            self.kind,
            embed(model, batch.src),
            embed(model, batch.tgt),
            temperature=self.temperature,
            margin=self.margin,
            scale=self.scale,
        )

    def loss(self, model: WeamModel, batch: PairBatches) -> tuple[torch.Tensor, dict[str, float]]:
        loss = self.pair_loss(model, batch)
        return loss, {self.kind: float(loss.detach())}


@dataclass(frozen=True)
class ContrastiveWEAMObjective:
    """WEAM on the concatenated pair plus mu * contrastive on the separate sentences."""

    weam: WEAMObjective
    contrastive: ContrastiveObjective
    mu: float = 1.0
    name: str = "weam+contrastive"
    paired: bool = True

    def make_batch(self, examples: Sequence[PairExample], gen: torch.Generator) -> PairBatches:
        batches = self.contrastive.make_batch(examples, gen)
        batches.pair = self.weam.make_batch(examples, gen)
        return batches

    def loss(self, model: WeamModel, batch: PairBatches) -> tuple[torch.Tensor, dict[str, float]]:
        assert batch.pair is not None
        weam_loss, stats = self.weam.loss(model, batch.pair)
        con = self.contrastive.pair_loss(model, batch)
        stats[self.contrastive.kind] = float(con.detach())
        return weam_loss + self.mu * con, stats
