"""Masking, TLM layout, WEAM counterpart labels, code-switching and contrastive losses.

A hand-built WordPiece vocabulary makes every expected id readable: source
words a0..a9, target words b0..b9, and two-subword words `cx`/`dy`.
"""

from __future__ import annotations

import random

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from repro.weam.model import IGNORE_INDEX
from repro.weam.objectives.batching import PairExample
from repro.weam.objectives.codeswitch import CodeSwitchObjective
from repro.weam.objectives.contrastive import additive_margin_softmax, info_nce, mean_pool
from repro.weam.objectives.masking import corrupt
from repro.weam.objectives.mlm import MLMObjective
from repro.weam.objectives.tlm import TLMObjective
from repro.weam.objectives.weam import WEAMObjective, matched_random_links
from repro.weam.tokenizer import CLS_ID, MASK_ID, SEP_ID, SPECIAL_TOKENS, WeamTokenizer

TOKENS = (
    *SPECIAL_TOKENS,
    *(f"a{i}" for i in range(10)),
    *(f"b{i}" for i in range(10)),
    "c",
    "d",
    "##x",
    "##y",
)
ID = {t: i for i, t in enumerate(TOKENS)}


@pytest.fixture(scope="module")
def tok() -> WeamTokenizer:
    wp = Tokenizer(models.WordPiece(vocab=dict(ID), unk_token="[UNK]"))
    wp.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return WeamTokenizer(wp)


def example(tok: WeamTokenizer) -> PairExample:
    # a1<->b1, a2<->b2, cx<->dy (two subwords each), a3<->b3; plus a 1-to-2 link on a4.
    src = ("a1", "a2", "cx", "a3", "a4")
    tgt = ("b3", "dy", "b1", "b2", "b4", "b5")
    links = ((0, 2), (1, 3), (2, 1), (3, 0), (4, 4), (4, 5))
    return PairExample(tok.encode_words(src), tok.encode_words(tgt), links)


COUNTERPART = {"a1": "b1", "a2": "b2", "c": "d", "a3": "b3"}
COUNTERPART |= {v: k for k, v in COUNTERPART.items()}


class TestMasking:
    def test_80_10_10_and_no_special_replacements(self) -> None:
        gen = torch.Generator().manual_seed(0)
        ids = torch.full((200, 100), 7)
        targets = torch.ones_like(ids, dtype=torch.bool)
        out = corrupt(ids, targets, gen, n_special=5, vocab_size=30)
        masked = (out == MASK_ID).float().mean().item()
        kept = (out == 7).float().mean().item()
        assert abs(masked - 0.8) < 0.01 and 0.09 < kept < 0.12  # 10% kept + random hits of 7
        assert int(out[out != MASK_ID].min()) >= 5

    @pytest.mark.parametrize("seed", range(5))
    def test_mlm_and_tlm_never_target_specials(self, tok: WeamTokenizer, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        ex = example(tok)
        for obj, items in (
            (MLMObjective(vocab_size=len(TOKENS), mask_prob=0.9), [ex.src, ex.tgt]),
            (TLMObjective(vocab_size=len(TOKENS), mask_prob=0.9), [ex, ex]),
        ):
            b = obj.make_batch(items, gen)
            assert (b.labels[b.special] == IGNORE_INDEX).all()
            assert (b.labels != IGNORE_INDEX).any()


class TestTLMLayout:
    def test_pair_layout_positions_reset_and_segments(self, tok: WeamTokenizer) -> None:
        b = TLMObjective(vocab_size=len(TOKENS), mask_prob=0.0, swap_prob=0.0).make_batch(
            [example(tok)], torch.Generator()
        )
        ids = b.input_ids[0].tolist()
        assert ids[0] == CLS_ID and ids.count(SEP_ID) == 2 and ids[-1] == SEP_ID
        sep = ids.index(SEP_ID)
        assert b.position_ids[0, : sep + 1].tolist() == list(range(sep + 1))
        assert b.position_ids[0, sep + 1] == 0  # XLM: target positions restart
        assert set(b.token_type_ids[0, : sep + 1].tolist()) == {0}
        assert set(b.token_type_ids[0, sep + 1 :].tolist()) == {1}


class TestWEAM:
    def test_labels_point_at_aligned_counterparts(self, tok: WeamTokenizer) -> None:
        obj = WEAMObjective(vocab_size=len(TOKENS), link_prob=1.0, mask_prob=0.0, swap_prob=0.0)
        ex = example(tok)
        row = TLMObjective(vocab_size=len(TOKENS), mask_prob=0.0, swap_prob=0.0).make_batch(
            [ex], torch.Generator()
        )
        original = [TOKENS[i] for i in row.input_ids[0].tolist()]
        b = obj.make_batch([ex], torch.Generator().manual_seed(0))
        got = {
            original[t]: TOKENS[int(b.aux_labels[0, t])]
            for t in range(b.aux_labels.shape[1])
            if b.aux_labels[0, t] != IGNORE_INDEX
        }
        # Every 1-to-1 link, both directions, first subword -> counterpart's first subword;
        # a4 (linked to two words) is not a 1-to-1 link and gets no label.
        assert got == COUNTERPART
        # Whole words are masked (both subwords of cx and dy), and never TLM targets.
        word_masked = [t for t, w in enumerate(original) if w in COUNTERPART or w in ("##x", "##y")]
        assert (b.labels[0, word_masked] == IGNORE_INDEX).all()

    @pytest.mark.parametrize("seed", range(10))
    def test_random_selection_keeps_invariants(self, tok: WeamTokenizer, seed: int) -> None:
        obj = WEAMObjective(vocab_size=len(TOKENS), link_prob=0.5, mask_prob=0.5, swap_prob=0.0)
        ex = example(tok)
        orig = TLMObjective(vocab_size=len(TOKENS), mask_prob=0.0, swap_prob=0.0).make_batch(
            [ex, ex], torch.Generator()
        )
        b = obj.make_batch([ex, ex], torch.Generator().manual_seed(seed))
        assert b.aux_labels is not None
        assert (b.aux_labels[b.special] == IGNORE_INDEX).all()
        assert (b.labels[b.special] == IGNORE_INDEX).all()
        both = (b.aux_labels != IGNORE_INDEX) & (b.labels != IGNORE_INDEX)
        assert not both.any()  # a position is either a WEAM or a TLM target
        for r, t in (b.aux_labels != IGNORE_INDEX).nonzero().tolist():
            word = TOKENS[int(orig.input_ids[r, t])]
            assert TOKENS[int(b.aux_labels[r, t])] == COUNTERPART[word]

    def test_swapped_pair_order_keeps_counterparts(self, tok: WeamTokenizer) -> None:
        ex = example(tok)
        kw = {"vocab_size": len(TOKENS), "mask_prob": 0.0, "swap_prob": 1.0}
        orig = TLMObjective(**kw).make_batch([ex], torch.Generator())  # type: ignore[arg-type]
        b = WEAMObjective(link_prob=1.0, **kw).make_batch([ex], torch.Generator())  # type: ignore[arg-type]
        words = [TOKENS[i] for i in orig.input_ids[0].tolist()]
        assert words[1:3] == ["b3", "d"]  # the target sentence now comes first
        assert b.aux_labels is not None
        got = {
            words[t]: TOKENS[int(v)]
            for t, v in enumerate(b.aux_labels[0].tolist())
            if v != IGNORE_INDEX
        }
        assert got == COUNTERPART

    def test_matched_random_links_are_one_to_one_with_the_count(self) -> None:
        links = matched_random_links(7, 5, 4, random.Random(0))
        assert len(links) == 4
        assert len({i for i, _ in links}) == 4 and len({j for _, j in links}) == 4
        assert all(0 <= i < 7 and 0 <= j < 5 for i, j in links)


class TestCodeSwitch:
    def test_exchanged_words_predict_originals(self, tok: WeamTokenizer) -> None:
        obj = CodeSwitchObjective(
            vocab_size=len(TOKENS), link_prob=1.0, mask_prob=0.0, swap_prob=0.0
        )
        b = obj.make_batch([example(tok)], torch.Generator().manual_seed(0))
        words = [TOKENS[i] for i in b.input_ids[0].tolist()]
        assert words == [
            "[CLS]", "b1", "b2", "d", "##y", "b3", "a4", "[SEP]",
            "a3", "c", "##x", "a1", "a2", "b4", "b5", "[SEP]",
        ]  # fmt: skip
        labels = {
            t: TOKENS[int(v)] for t, v in enumerate(b.aux_labels[0].tolist()) if v != IGNORE_INDEX
        }
        assert labels == {1: "a1", 2: "a2", 3: "c", 5: "a3", 8: "b3", 9: "d", 11: "b1", 12: "b2"}


class TestContrastive:
    def test_losses_reward_matching_pairs_and_are_symmetric(self) -> None:
        torch.manual_seed(0)
        a = torch.randn(8, 16)
        b = a + 0.01 * torch.randn(8, 16)
        shuffled = b[torch.randperm(8)]
        for loss in (info_nce, additive_margin_softmax):
            assert loss(a, b) < loss(a, shuffled)
            assert torch.allclose(loss(a, b), loss(b, a), atol=1e-6)
        assert additive_margin_softmax(a, b, margin=0.3) > additive_margin_softmax(a, b, margin=0.0)

    def test_mean_pool_ignores_padding(self) -> None:
        h = torch.tensor([[[1.0], [3.0], [100.0]]])  # (B=1, T=3, C=1)
        assert mean_pool(h, torch.tensor([[1, 1, 0]])).item() == 2.0
