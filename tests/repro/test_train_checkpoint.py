"""Continued pre-training from a user's BERT directory (Google vocab layout, specials at 100+)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from repro.weam.checkpoint import load_bert_dir
from repro.weam.data.types import ParallelCorpus, ParallelPair
from repro.weam.tokenizer import CLS_ID, SEP_ID
from repro.weam.train import CorpusSpec, TrainConfig, pretrain

WORDS = ["hello", "world", "big", "small", "##s", "##er"]


@pytest.fixture()
def bert_dir(tmp_path: Path) -> Path:
    # mBERT's layout: [PAD] 0, [unusedN] fillers, [UNK] [CLS] [SEP] [MASK] at 100-103.
    tokens = ["[PAD]", *(f"[unused{i}]" for i in range(1, 100))]
    tokens += ["[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (tmp_path / "vocab.txt").write_text("\n".join(tokens) + "\n")
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(tokens), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=32,
    )  # fmt: skip
    BertForMaskedLM(cfg).save_pretrained(tmp_path)
    return tmp_path


def test_remapped_model_computes_the_same_function(bert_dir: Path) -> None:
    original = BertForMaskedLM.from_pretrained(str(bert_dir), local_files_only=True).eval()
    model, tok = load_bert_dir(bert_dir)
    enc = tok.encode_words(("hellos", "world", "smaller"))
    assert tok.decode(enc.ids) == ["hello", "##s", "world", "small", "##er"]
    assert enc.word_of == (0, 0, 1, 2, 2)
    new_ids = torch.tensor([[CLS_ID, *enc.ids, SEP_ID]])
    old_vocab = (bert_dir / "vocab.txt").read_text().splitlines()
    old_ids = torch.tensor([[old_vocab.index(t) for t in ["[CLS]", *tok.decode(enc.ids), "[SEP]"]]])
    with torch.no_grad():
        old = original(input_ids=old_ids).logits  # (1, T, V)
        new = model.eval().mlm(input_ids=new_ids).logits
    order = [old_vocab.index(tok.decode([k])[0]) for k in range(tok.vocab_size)]
    assert torch.allclose(new, old[..., order], atol=1e-5)


def test_pretrain_continues_from_a_bert_dir(bert_dir: Path) -> None:
    pairs = tuple(ParallelPair(("hello", "world"), ("big", "smalls")) for _ in range(8))
    corpus = CorpusSpec(
        monolingual={"en": [("hello", "worlds")] * 8, "xx": [("smaller", "big")] * 8},
        parallel={"xx": ParallelCorpus("en", "xx", pairs)},
    )
    for objective in ("mlm", "tlm"):
        run = pretrain(
            corpus, objective, init_dir=bert_dir, max_len=16,
            train_cfg=TrainConfig(steps=3, batch_size=4, log_every=0),
        )  # fmt: skip
        # A batch may draw no masked token (loss 0 by design); some must be positive.
        assert len(run.result.losses) == 3 and max(run.result.losses) > 0
