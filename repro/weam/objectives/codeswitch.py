"""Code-switching reading of WEAM ("Word-Exchange"), kept as an ablation.

The name Word-Exchange Aligning Model also admits this reading: on a
concatenated pair, EXCHANGE the two words of selected 1-to-1 links in the
input (the source word's subwords move to the target side and vice versa)
and train the model to predict, at each exchanged word's first subword, the
first subword of the word that was originally there. TLM's 15% masking runs
on the untouched positions; loss = TLM + lambda * exchange loss. Related
input-side code-switching: Qin et al. 2020 (CoSDA-ML,
https://arxiv.org/abs/2006.06402). See READING.md for why the main WEAM
module uses the masked-counterpart reading instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from repro.weam.align import one_to_one
from repro.weam.model import IGNORE_INDEX, WeamModel
from repro.weam.objectives.batching import (
    Batch,
    PairExample,
    collate,
    pair_row,
    random_order,
    truncate,
)
from repro.weam.objectives.masking import encode_batch, mask_for_mlm, masked_lm_loss
from repro.weam.tokenizer import Encoded


def _words(enc: Encoded) -> dict[int, list[int]]:
    """Subword ids of each word, in order."""
    out: dict[int, list[int]] = {}
    for tok, w in zip(enc.ids, enc.word_of, strict=True):
        out.setdefault(w, []).append(tok)
    return out


def exchange(own: Encoded, other: Encoded, swap: dict[int, int]) -> tuple[Encoded, list[int]]:
    """Replace word w of `own` by word swap[w] of `other`.

    Returns the new encoding (word indices of `own` kept) and, per subword,
    the original first subword to predict (IGNORE_INDEX where nothing changed).
    """
    own_words, other_words = _words(own), _words(other)
    ids: list[int] = []
    word_of: list[int] = []
    labels: list[int] = []
    for w, subs in own_words.items():
        new = other_words[swap[w]] if w in swap else subs
        ids.extend(new)
        word_of.extend([w] * len(new))
        labels.extend([subs[0] if w in swap else IGNORE_INDEX] + [IGNORE_INDEX] * (len(new) - 1))
    return Encoded(tuple(ids), tuple(word_of)), labels


@dataclass(frozen=True)
class CodeSwitchObjective:
    """TLM + lambda * (predict the original word at exchanged positions)."""

    vocab_size: int
    n_special: int = 5
    max_len: int = 64
    mask_prob: float = 0.15
    link_prob: float = 0.15
    lam: float = 1.0
    name: str = "codeswitch"
    paired: bool = True
    swap_prob: float = 0.5  # pair order randomised: see batching.random_order

    def _swaps(self, e: PairExample, gen: torch.Generator) -> dict[int, int]:
        links = sorted(one_to_one(set(e.links)))
        if not links:
            return {}
        keep = (torch.rand(len(links), generator=gen) < self.link_prob).tolist()
        return {i: j for (i, j), k in zip(links, keep, strict=True) if k}

    def make_batch(self, examples: Sequence[PairExample], gen: torch.Generator) -> Batch:
        if self.swap_prob:
            examples = random_order(examples, gen, self.swap_prob)
        budget = (self.max_len - 3) // 2
        rows, aux_rows = [], []
        for e in examples:
            fwd = self._swaps(e, gen)
            src, src_lab = exchange(e.src, e.tgt, fwd)
            tgt, tgt_lab = exchange(e.tgt, e.src, {j: i for i, j in fwd.items()})
            row, s_off, t_off = pair_row(src, tgt, self.max_len)
            aux = [IGNORE_INDEX] * len(row.ids)
            n_s, n_t = len(truncate(src, budget).ids), len(truncate(tgt, budget).ids)
            aux[s_off : s_off + n_s] = src_lab[:n_s]
            aux[t_off : t_off + n_t] = tgt_lab[:n_t]
            rows.append(row)
            aux_rows.append(aux)
        batch = collate(rows)
        aux_t = torch.full_like(batch.input_ids, IGNORE_INDEX)
        for b, aux in enumerate(aux_rows):
            aux_t[b, : len(aux)] = torch.tensor(aux, dtype=torch.long)
        batch.aux_labels = aux_t
        # Exchanged first subwords carry their own target, so TLM skips them;
        # later subwords of an exchanged word may still be TLM targets (harmless).
        return mask_for_mlm(
            batch,
            gen,
            prob=self.mask_prob,
            n_special=self.n_special,
            vocab_size=self.vocab_size,
            exclude=aux_t != IGNORE_INDEX,
        )

    def loss(self, model: WeamModel, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        assert batch.aux_labels is not None
        hidden = encode_batch(model, batch)  # (B, T, C)
        tlm = masked_lm_loss(model, hidden, batch.labels)
        cs = masked_lm_loss(model, hidden, batch.aux_labels)
        return tlm + self.lam * cs, {"tlm": float(tlm.detach()), "codeswitch": float(cs.detach())}
