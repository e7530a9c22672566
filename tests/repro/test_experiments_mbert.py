"""The full-tier mBERT continued pre-training repro (ba8256cb C4/C5) on tiny stand-ins."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM

from repro.experiments import mbert_continued as mc
from repro.weam.data.formats import XnliExample, write_xnli_tsv

WORDS = ["the", "cat", "dog", "sat", "on", "a", "mat", "die", "katze", "hund", "sass", "auf", "einer", "matte", "le", "chat", "chien"]


def _hf_bert(tmp: Path) -> Path:
    """A tiny BERT directory laid out like Google's: specials at 0 and 100-103."""
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *WORDS]
    d = tmp / "mbert"
    d.mkdir()
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertForMaskedLM(cfg).save_pretrained(d)
    return d


def test_vocab_conversion_keeps_the_function(tmp_path: Path) -> None:
    src = _hf_bert(tmp_path)
    conv, tok = mc.load_init(src, tmp_path)
    assert conv != src and tok.vocab_size == 104 + 1 + len(WORDS)
    old = BertForMaskedLM.from_pretrained(str(src)).eval()
    new = BertForMaskedLM.from_pretrained(str(conv)).eval()
    vocab = (src / "vocab.txt").read_text().split()
    sent = ["[CLS]", "the", "cat", "sat", "[SEP]"]
    ids_old = torch.tensor([[vocab.index(w) for w in sent]])
    ids_new = torch.tensor([[tok.tok.token_to_id(w) for w in sent]])
    with torch.no_grad():
        lo, ln = old(ids_old).logits[0], new(ids_new).logits[0]
    # the same logits, columns permuted by the vocabulary map
    perm = torch.tensor([vocab.index(tok.tok.id_to_token(i)) for i in range(tok.vocab_size)])
    torch.testing.assert_close(ln, lo[:, perm], atol=1e-5, rtol=1e-5)


def _files(tmp: Path) -> dict[str, str]:
    xnli = [
        XnliExample(lang, lab, p, h)
        for lang, p, h in (("en", "the cat sat on a mat", "the cat sat"), ("de", "die katze sass auf einer matte", "die katze sass"), ("fr", "le chat", "le chien"))
        for lab in ("entailment", "neutral", "contradiction")
    ]
    write_xnli_tsv(xnli, tmp / "xnli.tsv")
    (tmp / "en-de.txt").write_text("the cat sat ||| die katze sass\nthe dog sat ||| der hund sass\na mat ||| einer matte\n" * 4)
    squad = {"data": [{"paragraphs": [{"context": "the cat sat on a mat .", "qas": [{"question": "where sat the cat", "answers": [{"text": "a mat", "answer_start": 15}]}]}]}]}
    (tmp / "train-en.json").write_text(json.dumps(squad))
    squad_de = {"data": [{"paragraphs": [{"context": "die katze sass auf einer matte .", "qas": [{"question": "wo sass die katze", "answers": [{"text": "einer matte", "answer_start": 19}]}]}]}]}
    (tmp / "test-context-de-question-de.json").write_text(json.dumps(squad_de))
    return {"xnli": "xnli.tsv", "par": "en-de.txt"}


def test_xnli_and_mlqa_standins_run_end_to_end(tmp_path: Path) -> None:
    _hf_bert(tmp_path)
    _files(tmp_path)
    common = {"init_dir": "mbert", "parallel": [{"path": "en-de.txt", "lang": "de"}], "steps": 2, "finetune_steps": 2, "batch_size": 4, "max_len": 32, "device": "cpu"}
    res = mc.run({**common, "task": "xnli", "train": "xnli.tsv", "eval": "xnli.tsv"}, 0, tmp_path, tmp_path / "out")
    x = res["xnli"]
    assert set(x["baseline"]) == {"en", "de", "fr"} and all(0 <= v <= 1 for v in x["weam"].values())
    assert x["gain"] == round(x["weam_zero_shot"] - x["baseline_zero_shot"], 6)
    assert json.loads((tmp_path / "out" / "results.json").read_text())["xnli"] == x
    res = mc.run({**common, "task": "mlqa", "train": "train-en.json", "eval": ["test-context-de-question-de.json"]}, 0, tmp_path, tmp_path / "out2")
    assert set(res["mlqa"]["baseline"]) == {"de"} and res["metric"] == "token_f1"


def test_squad_reader_and_f1(tmp_path: Path) -> None:
    _files(tmp_path)
    (ex,) = mc.read_squad(tmp_path / "test-context-de-question-de.json")
    assert ex.lang == "de" and ex.context[ex.start : ex.end + 1] == ("einer", "matte")
    assert mc.token_f1(["a", "mat"], ["mat"]) == 1.0
    assert mc.token_f1(["cat"], ["mat"]) == 0.0
