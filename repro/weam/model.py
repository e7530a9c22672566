"""A BERT-style multilingual encoder built from a config (never from a hub).

The architecture is mBERT's (Devlin et al. 2019, https://arxiv.org/abs/1810.04805):
a Transformer encoder with a masked-LM head whose decoder is tied to the
input embeddings. One vocabulary, one position table and one set of special
tokens serve every language, which is the setting in which XLM (Conneau &
Lample 2019, https://arxiv.org/abs/1901.07291) and WEAM (Yang et al. 2021,
MRQA, https://aclanthology.org/2021.mrqa-1.10/) train. The model is sized by
parameter count (`config_for_params`) so that experiments can name "a 1M
model" rather than hidden sizes.

`WeamModel.mlm_logits` only runs the LM head on the positions that carry a
label: with a vocabulary of V and T tokens per sequence this avoids a
(B, T, V) logit tensor, which is most of the cost of a small model's step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import BertConfig, BertForMaskedLM

IGNORE_INDEX = -100  # the label value cross-entropy skips (PyTorch and HF convention)


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the encoder; everything else follows BERT's defaults."""

    vocab_size: int
    hidden: int = 128
    layers: int = 2
    heads: int = 2
    intermediate: int = 512
    max_positions: int = 128
    type_vocab_size: int = 2
    dropout: float = 0.1

    def to_bert(self) -> BertConfig:
        return BertConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            intermediate_size=self.intermediate,
            max_position_embeddings=self.max_positions,
            type_vocab_size=self.type_vocab_size,
            hidden_dropout_prob=self.dropout,
            attention_probs_dropout_prob=self.dropout,
            pad_token_id=0,
            tie_word_embeddings=True,
        )

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


def count_params(cfg: ModelConfig) -> int:
    """Parameters of `BertForMaskedLM` for `cfg` (tied decoder counted once).

    Closed form, so that sizing needs no model instantiation; a test checks
    it against `sum(p.numel())`.
    """
    h, i, v = cfg.hidden, cfg.intermediate, cfg.vocab_size
    embeddings = (v + cfg.max_positions + cfg.type_vocab_size) * h + 2 * h
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    head = (h * h + h) + 2 * h + v  # transform dense + LayerNorm + decoder bias
    return embeddings + cfg.layers * layer + head


# (hidden, layers) ladder with BERT-like proportions, from a smoke-test model
# to BERT-base; sizing picks the rung whose parameter count is closest.
SIZE_LADDER: tuple[tuple[int, int], ...] = (
    (64, 2),
    (128, 2),
    (128, 4),
    (192, 4),
    (256, 4),
    (256, 6),
    (384, 6),
    (512, 8),
    (768, 8),
    (768, 12),
)


def config_for_params(target: int, vocab_size: int, *, max_positions: int = 128) -> ModelConfig:
    """Pick the `SIZE_LADDER` rung whose parameter count is closest to `target`.

    Heads are 64 wide (32 below hidden 128) and the FFN is 4 x hidden, as in BERT.
    """

    def build(hidden: int, layers: int) -> ModelConfig:
        head_dim = 64 if hidden >= 128 else 32
        return ModelConfig(
            vocab_size=vocab_size,
            hidden=hidden,
            layers=layers,
            heads=hidden // head_dim,
            intermediate=4 * hidden,
            max_positions=max_positions,
        )

    candidates = [build(h, n) for h, n in SIZE_LADDER]
    return min(candidates, key=lambda c: abs(count_params(c) - target))


class WeamModel(nn.Module):
    """`BertForMaskedLM` plus the pieces our objectives and evaluation need."""

    def __init__(self, cfg: ModelConfig, mlm: BertForMaskedLM | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        # "eager" attention: deterministic and, at T <= 128, as fast as SDPA on CPU.
        self.mlm = mlm if mlm is not None else BertForMaskedLM(cfg.to_bert())

    @classmethod
    def from_pretrained_dir(cls, path: str | Path) -> WeamModel:
        """Load a local checkpoint directory (e.g. a user's mBERT) for continued pre-training.

        Only local files are read (`local_files_only=True`): the sandbox has no hub.
        """
        mlm = BertForMaskedLM.from_pretrained(str(path), local_files_only=True)
        c = mlm.config
        cfg = ModelConfig(
            vocab_size=c.vocab_size,
            hidden=c.hidden_size,
            layers=c.num_hidden_layers,
            heads=c.num_attention_heads,
            intermediate=c.intermediate_size,
            max_positions=c.max_position_embeddings,
            type_vocab_size=c.type_vocab_size,
            dropout=c.hidden_dropout_prob,
        )
        return cls(cfg, mlm)

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        all_layers: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """Encoder outputs: the last layer (B, T, C), or every layer incl. embeddings."""
        out = self.mlm.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            output_hidden_states=all_layers,
        )
        if all_layers:
            return tuple(out.hidden_states)  # (L+1) x (B, T, C)
        return (out.last_hidden_state,)

    def mlm_logits(
        self, hidden: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """LM-head logits for labelled positions only: (N, V) and their targets (N,)."""
        sel = labels != IGNORE_INDEX  # (B, T)
        picked = hidden[sel]  # (N, C)
        return self.mlm.cls(picked), labels[sel]

    def configure_optimizers(
        self, lr: float, weight_decay: float = 0.01, betas: tuple[float, float] = (0.9, 0.999)
    ) -> torch.optim.AdamW:
        """AdamW with BERT's split: no weight decay on biases and LayerNorm weights."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)
        groups = [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        # fused: one kernel per step instead of ~10 per tensor (a small model has
        # many small tensors); deterministic on CPU, a test pins it.
        return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=True)
