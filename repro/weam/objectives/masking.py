"""BERT's masking recipe, shared by every masked-LM objective.

Devlin et al. 2019 (https://arxiv.org/abs/1810.04805, sec. 3.1): choose 15%
of the tokens as targets; replace 80% of them by [MASK], 10% by a random
token and leave 10% unchanged. Special tokens ([CLS], [SEP], [PAD]) are never
chosen, and random replacements are drawn from ordinary tokens only, so a
special token never appears where the text had a word.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from repro.weam.model import IGNORE_INDEX, WeamModel
from repro.weam.objectives.batching import Batch
from repro.weam.tokenizer import MASK_ID


def choose_targets(eligible: torch.Tensor, prob: float, gen: torch.Generator) -> torch.Tensor:
    """Bernoulli(prob) over eligible positions (bool (B, T))."""
    draw = torch.rand(eligible.shape, generator=gen) < prob
    return draw & eligible


def corrupt(
    input_ids: torch.Tensor,
    targets: torch.Tensor,
    gen: torch.Generator,
    *,
    n_special: int,
    vocab_size: int,
) -> torch.Tensor:
    """Apply 80/10/10 to the `targets` positions; returns new input ids (B, T)."""
    u = torch.rand(input_ids.shape, generator=gen)
    out = input_ids.clone()
    out[targets & (u < 0.8)] = MASK_ID
    swap = targets & (u >= 0.8) & (u < 0.9)
    random_ids = torch.randint(n_special, vocab_size, input_ids.shape, generator=gen)
    out[swap] = random_ids[swap]
    return out


def mask_for_mlm(
    batch: Batch,
    gen: torch.Generator,
    *,
    prob: float,
    n_special: int,
    vocab_size: int,
    exclude: torch.Tensor | None = None,
) -> Batch:
    """Choose and corrupt MLM targets in place; `exclude` marks positions already used."""
    eligible = ~batch.special
    if exclude is not None:
        eligible &= ~exclude
    targets = choose_targets(eligible, prob, gen)
    batch.labels = torch.where(targets, batch.input_ids, batch.labels)
    batch.input_ids = corrupt(
        batch.input_ids, targets, gen, n_special=n_special, vocab_size=vocab_size
    )
    return batch


def masked_lm_loss(model: WeamModel, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over labelled positions; 0 (with a graph) when there are none."""
    logits, targets = model.mlm_logits(hidden, labels)  # (N, V), (N,)
    if targets.numel() == 0:
        # Keep the graph so backward() works; a batch without targets adds nothing.
        return hidden.sum() * 0.0
    return F.cross_entropy(logits.float(), targets, ignore_index=IGNORE_INDEX)


def encode_batch(model: WeamModel, batch: Batch) -> torch.Tensor:
    """Last hidden layer for a batch (B, T, C)."""
    return model.hidden_states(
        batch.input_ids, batch.attention_mask, batch.token_type_ids, batch.position_ids
    )[0]
