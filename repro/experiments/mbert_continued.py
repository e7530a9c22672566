"""Full tier of ba8256cb C4/C5: continue pre-training mBERT with WEAM, then zero-shot XNLI / MLQA.

Yang et al. 2021 (https://aclanthology.org/2021.mrqa-1.10/) report that WEAM "can
significantly improve the zero-shot performance" of mBERT on MLQA and XNLI. This repro
runs that comparison on user-supplied local files (the sandbox has no network):

1. the baseline: the user's mBERT checkpoint (`init_dir`, a `BertForMaskedLM` directory:
   `config.json` + weights + either our `tokenizer.json` or BERT's `vocab.txt`, which is
   converted so that the five special tokens take ids 0-4, the embedding rows permuted
   to match), fine-tuned on English, evaluated on every other language (zero-shot);
2. the same checkpoint after `steps` of WEAM continued pre-training (`train.pretrain(...,
   init_dir=...)`) on user-supplied parallel text (`src ||| tgt` files, statistical links
   from `repro.weam.align`), fine-tuned and evaluated the same way;
3. `results.json`: `/<task>/baseline/<lang>`, `/<task>/weam/<lang>`, their zero-shot
   averages, and `/<task>/gain` (WEAM minus baseline, zero-shot average), in accuracy
   (XNLI) or token F1 (MLQA, SQuAD-style JSON).

Params: `{"tier": "full", "task": "xnli"|"mlqa", "init_dir": DIR, "parallel": [{"path": F,
"lang": L}], "train": F, "eval": F, "train_lang": "en", "steps": N, "finetune_steps": N,
"batch_size": B, "lr": X, "finetune_lr": X, "max_len": T, "aligner": "ibm1"}`; relative
paths are read under `$REPRO_INPUTS`. The tests run it on a tiny checkpoint and tiny files.
"""

from __future__ import annotations

import json
import os
import re
import string
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from repro.weam.data.formats import read_fast_align, read_xnli_tsv
from repro.weam.data.types import ParallelCorpus
from repro.weam.model import WeamModel
from repro.weam.objectives.batching import CLS_ID, SEP_ID, Row, collate, truncate
from repro.weam.tokenizer import SPECIAL_TOKENS, WeamTokenizer
from repro.weam.train import CorpusSpec, TrainConfig, pretrain, set_determinism

LABELS = ("entailment", "neutral", "contradiction")


def log(msg: str) -> None:
    print(f"[mbert_continued] {msg}", file=sys.stderr, flush=True)


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# --- the checkpoint ---------------------------------------------------------------------


def convert_bert_vocab(init_dir: Path, out_dir: Path) -> Path:
    """A copy of a BERT checkpoint whose vocabulary puts SPECIAL_TOKENS at ids 0..4.

    BERT's `vocab.txt` has [PAD]=0 but [UNK]/[CLS]/[SEP]/[MASK] at 100-103; our masking
    code needs the specials first. Rows of the word embeddings and of the MLM decoder
    bias are permuted the same way, so the converted model computes the same function.
    """
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece
    from transformers import BertForMaskedLM

    vocab = (init_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ValueError(f"{init_dir}/vocab.txt lacks special tokens {missing}")
    order = [vocab.index(t) for t in SPECIAL_TOKENS]
    order += [i for i in range(len(vocab)) if i not in set(order)]
    mlm = BertForMaskedLM.from_pretrained(str(init_dir), local_files_only=True)
    perm = torch.tensor(order)
    with torch.no_grad():
        emb = mlm.bert.embeddings.word_embeddings.weight
        emb.copy_(emb[perm].clone())
        bias = mlm.cls.predictions.decoder.bias if mlm.cls.predictions.decoder.bias is not None else mlm.cls.predictions.bias
        bias.copy_(bias[perm].clone())
    mlm.config.pad_token_id = 0
    mlm.save_pretrained(out_dir)
    new_vocab = {vocab[i]: k for k, i in enumerate(order)}
    tok = Tokenizer(WordPiece(new_vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.save(str(out_dir / "tokenizer.json"))
    return out_dir


def load_init(init_dir: Path, work: Path) -> tuple[Path, WeamTokenizer]:
    """(a checkpoint dir with a WeamTokenizer-compatible tokenizer.json, that tokenizer)."""
    if (init_dir / "tokenizer.json").exists():
        try:
            return init_dir, WeamTokenizer.load(init_dir / "tokenizer.json")
        except ValueError:
            pass  # specials elsewhere (HF's own tokenizer.json): convert from vocab.txt
    conv = convert_bert_vocab(init_dir, work / "converted")
    return conv, WeamTokenizer.load(conv / "tokenizer.json")


# --- fine-tuning heads ------------------------------------------------------------------


def pair_input(tok: WeamTokenizer, a: Sequence[str], b: Sequence[str], max_len: int) -> tuple[Row, list[int]]:
    """`[CLS] a [SEP] b [SEP]` with continuous positions (BERT fine-tuning); b's word -> first position."""
    ea, eb = tok.encode_words(tuple(a)), tok.encode_words(tuple(b))
    eb = truncate(eb, max(1, max_len - 3 - min(len(ea.ids), max_len // 2)))
    ea = truncate(ea, max_len - 3 - len(eb.ids))
    row = Row()
    row.add([CLS_ID], 0, special=True)
    row.add(list(ea.ids), 0, special=False)
    row.add([SEP_ID], 0, special=True)
    off = row.add(list(eb.ids), 1, special=False)
    row.add([SEP_ID], 1, special=True)
    first: dict[int, int] = {}
    for k, w in enumerate(eb.word_of):
        first.setdefault(w, off + k)
    return row, [first.get(w, 0) for w in range(len(b))]


@dataclass
class QAExample:
    lang: str
    question: tuple[str, ...]
    context: tuple[str, ...]
    answers: list[tuple[str, ...]]
    start: int  # word index of the first answer in `context` (-1 if not found)
    end: int


def read_squad(path: Path, lang: str | None = None) -> list[QAExample]:
    """SQuAD v1 / MLQA JSON (`data[].paragraphs[].qas[]`); language from the file name or `lang`."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    m = re.search(r"context-(\w+)-question", path.name)
    lang = lang or (m.group(1) if m else "en")
    out = []
    for art in doc["data"]:
        for par in art["paragraphs"]:
            ctx = par["context"]
            ctx_words = words(ctx)
            starts, pos = [], 0
            for w in ctx_words:  # char offset of every word
                pos = ctx.index(w, pos)
                starts.append(pos)
                pos += len(w)
            for qa in par["qas"]:
                ans = qa["answers"]
                s = e = -1
                if ans:
                    a0, c0 = ans[0]["text"], ans[0]["answer_start"]
                    inside = [i for i, st in enumerate(starts) if c0 <= st < c0 + len(a0)]
                    if inside:
                        s, e = inside[0], inside[-1]
                out.append(QAExample(lang, words(qa["question"]), ctx_words, [words(a["text"]) for a in ans], s, e))
    return out


def _norm(ws: Sequence[str]) -> list[str]:
    table = str.maketrans("", "", string.punctuation)
    return [t for t in (w.lower().translate(table) for w in ws) if t and t not in ("a", "an", "the")]


def token_f1(pred: Sequence[str], gold: Sequence[str]) -> float:
    """SQuAD's token F1 (lower-cased, punctuation and English articles dropped)."""
    p, g = _norm(pred), _norm(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g:
        return float(p == g)
    if common == 0:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


class Head(nn.Module):
    def __init__(self, model: WeamModel, n_out: int) -> None:
        super().__init__()
        self.model = model
        self.out = nn.Linear(model.cfg.hidden, n_out)

    def forward(self, batch: Any) -> torch.Tensor:
        h = self.model.hidden_states(batch.input_ids, batch.attention_mask, batch.token_type_ids)[0]
        return self.out(h)  # (B, T, n_out)


def finetune_and_eval(init_dir: Path, tok: WeamTokenizer, task: str, train: list[Any], evals: list[Any], p: dict[str, Any], seed: int) -> dict[str, float]:
    """Fine-tune a fresh copy of the checkpoint on `train`, score `evals` per language."""
    set_determinism(seed, int(p.get("threads", 1)))
    model = WeamModel.from_pretrained_dir(init_dir)
    head = Head(model, 3 if task == "xnli" else 2)
    opt = torch.optim.AdamW(head.parameters(), lr=float(p.get("finetune_lr", 3e-5)))
    gen = torch.Generator().manual_seed(seed)
    max_len, bs = int(p.get("max_len", 128)), int(p.get("batch_size", 16))

    def encode(ex: Any) -> tuple[Row, Any]:
        if task == "xnli":
            row, _ = pair_input(tok, words(ex.premise), words(ex.hypothesis), max_len)
            return row, LABELS.index(ex.label)
        row, first = pair_input(tok, ex.question, ex.context, max_len)
        return row, (first, ex.start, ex.end)

    head.train()
    for _ in range(int(p.get("finetune_steps", 100))):
        idx = torch.randint(len(train), (bs,), generator=gen).tolist()
        rows, ys = zip(*(encode(train[i]) for i in idx), strict=True)
        batch = collate(list(rows))
        logits = head(batch)
        if task == "xnli":
            loss = nn.functional.cross_entropy(logits[:, 0], torch.tensor(ys))
        else:
            tgt = [(f[s] if 0 <= s < len(f) and f[s] else 0, f[e] if 0 <= e < len(f) and f[e] else 0) for f, s, e in ys]
            st, en = torch.tensor([t[0] for t in tgt]), torch.tensor([t[1] for t in tgt])
            loss = nn.functional.cross_entropy(logits[..., 0], st) + nn.functional.cross_entropy(logits[..., 1], en)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
        opt.step()
    head.eval()
    scores: dict[str, list[float]] = {}
    with torch.no_grad():
        for ex in evals:
            row, y = encode(ex)
            logits = head(collate([row]))[0]
            if task == "xnli":
                score = float(int(logits[0].argmax()) == y)
            else:
                first = y[0]
                s_log = [float(logits[f, 0]) if f else -1e9 for f in first]
                e_log = [float(logits[f, 1]) if f else -1e9 for f in first]
                best, bs_ = (0, 0), -1e18
                for i in range(len(first)):
                    for j in range(i, min(len(first), i + 30)):
                        if s_log[i] + e_log[j] > bs_:
                            best, bs_ = (i, j), s_log[i] + e_log[j]
                pred = ex.context[best[0] : best[1] + 1]
                score = max((token_f1(pred, g) for g in ex.answers), default=0.0)
            scores.setdefault(ex.lang if task == "mlqa" else ex.language, []).append(score)
    return {lg: round(sum(v) / len(v), 6) for lg, v in sorted(scores.items())}


def zero_shot_avg(scores: dict[str, float], train_lang: str) -> float:
    zs = [v for k, v in scores.items() if k != train_lang]
    return round(sum(zs) / len(zs), 6) if zs else float("nan")


# --- entrypoint -------------------------------------------------------------------------


def resolve(path: str, inputs: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else inputs / p


def run(params: dict[str, Any], seed: int, inputs: Path, out: Path) -> dict[str, Any]:
    task = params.get("task", "xnli")
    if task not in ("xnli", "mlqa"):
        raise ValueError(f"task must be xnli or mlqa, got {task!r}")
    train_lang = params.get("train_lang", "en")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        init, tok = load_init(resolve(params["init_dir"], inputs), work)
        if task == "xnli":
            train = read_xnli_tsv(resolve(params["train"], inputs), languages=[train_lang])
            evals = read_xnli_tsv(resolve(params["eval"], inputs))
        else:
            train = read_squad(resolve(params["train"], inputs), train_lang)
            evals = [ex for f in params["eval"] if isinstance(params["eval"], list) for ex in read_squad(resolve(f, inputs))] if isinstance(params["eval"], list) else read_squad(resolve(params["eval"], inputs))
        log(f"{task}: {len(train)} training and {len(evals)} evaluation examples")
        base = finetune_and_eval(init, tok, task, train, evals, params, seed)
        log(f"baseline {base}")
        par: dict[str, ParallelCorpus] = {}
        for item in params["parallel"]:
            par[item["lang"]] = read_fast_align(resolve(item["path"], inputs), "en", item["lang"])
        cfg = TrainConfig(
            steps=int(params.get("steps", 1000)),
            batch_size=int(params.get("batch_size", 16)),
            lr=float(params.get("lr", 5e-5)),
            alpha=float(params.get("alpha", 0.7)),
            seed=seed,
            log_every=max(1, int(params.get("steps", 1000)) // 10),
            out_dir=str(work / "weam"),
            device=params.get("device", "auto"),
        )
        pretrain(
            CorpusSpec(monolingual={}, parallel=par),
            "weam",
            init_dir=init,
            tokenizer=tok,
            max_len=int(params.get("max_len", 128)),
            train_cfg=cfg,
            aligner=params.get("aligner", "ibm1"),
        )
        weam = finetune_and_eval(work / "weam", tok, task, train, evals, params, seed)
        log(f"weam {weam}")
    res = {
        "baseline": base,
        "weam": weam,
        "baseline_zero_shot": zero_shot_avg(base, train_lang),
        "weam_zero_shot": zero_shot_avg(weam, train_lang),
    }
    res["gain"] = round(res["weam_zero_shot"] - res["baseline_zero_shot"], 6)
    results = {task: res, "seed": seed, "metric": "accuracy" if task == "xnli" else "token_f1"}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return results


def main() -> int:
    path = os.environ.get("REPRO_PARAMS")
    params = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    run(
        params,
        int(os.environ.get("REPRO_SEED", "0")),
        Path(os.environ.get("REPRO_INPUTS", ".")),
        Path(os.environ.get("REPRO_OUT", "out")),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
