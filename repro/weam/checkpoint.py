"""Checkpoints: weights, tokenizer and a JSON sidecar that says how they were made.

Layout of a checkpoint directory (nanochat's `meta_{step:06d}.json` idea):

    <dir>/config.json, model.safetensors   BertForMaskedLM.save_pretrained
    <dir>/tokenizer.json                    the shared tokenizer (if any)
    <dir>/meta_{step:06d}.json              model/train config, seeds, step, git hash

The weights directory is a plain Hugging Face one, so `WeamModel.from_pretrained_dir`
reads both our checkpoints and a user's local mBERT directory.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from repro.weam.model import WeamModel
from repro.weam.tokenizer import WeamTokenizer


def git_hash(cwd: str | Path | None = None) -> str | None:
    """The current commit, or None when git or a repository is absent (the sandbox)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd or Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def save_checkpoint(
    directory: str | Path,
    model: WeamModel,
    *,
    step: int,
    meta: dict[str, Any],
    tokenizer: WeamTokenizer | None = None,
) -> Path:
    """Write weights, tokenizer and `meta_{step:06d}.json`; returns the sidecar path.

    Side effects: creates `directory` and overwrites files of the same names.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    model.mlm.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save(out / "tokenizer.json")
    sidecar = {
        "step": step,
        "model_config": model.cfg.to_dict(),
        "git_hash": git_hash(),
        **meta,
    }
    path = out / f"meta_{step:06d}.json"
    path.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return path


def load_checkpoint(
    directory: str | Path,
) -> tuple[WeamModel, WeamTokenizer | None, dict[str, Any]]:
    """Load weights, tokenizer (if saved) and the latest sidecar (empty if none)."""
    d = Path(directory)
    model = WeamModel.from_pretrained_dir(d)
    tok_path = d / "tokenizer.json"
    tokenizer = WeamTokenizer.load(tok_path) if tok_path.exists() else None
    sidecars = sorted(d.glob("meta_*.json"))
    meta = json.loads(sidecars[-1].read_text()) if sidecars else {}
    return model, tokenizer, meta


def load_bert_dir(directory: str | Path) -> tuple[WeamModel, WeamTokenizer]:
    """Load a user's local BERT/mBERT directory (`config.json`, weights, `vocab.txt`).

    Our code keeps the special tokens at ids 0-4 ([PAD] [UNK] [CLS] [SEP]
    [MASK]); Google's vocabularies put them at 0 and 100-103. Rather than
    thread the ids through every objective, the vocabulary is permuted
    (specials first, every other token in its original order) and the
    embedding rows and the MLM decoder bias with it, which gives the same
    function under the new numbering. Raises `ValueError` if a special token
    is missing from `vocab.txt`.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    from repro.weam.tokenizer import SPECIAL_TOKENS

    d = Path(directory)
    tokens = (d / "vocab.txt").read_text(encoding="utf-8").splitlines()
    missing = [s for s in SPECIAL_TOKENS if s not in tokens]
    if missing:
        raise ValueError(f"{d / 'vocab.txt'} lacks special tokens {missing}")
    old_id = {t: i for i, t in enumerate(tokens)}
    order = [old_id[s] for s in SPECIAL_TOKENS]
    order += [i for i, t in enumerate(tokens) if t not in SPECIAL_TOKENS]
    model = WeamModel.from_pretrained_dir(d)
    _permute_vocab(model, order)
    vocab = {tokens[i]: new for new, i in enumerate(order)}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    lower = bool(getattr(model.mlm.config, "do_lower_case", False))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lower, strip_accents=None)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return model, WeamTokenizer(tok)


def _permute_vocab(model: WeamModel, order: list[int]) -> None:
    """New token k is old token order[k]: permute input embeddings and decoder bias."""
    import torch

    idx = torch.tensor(order)
    emb = model.mlm.get_input_embeddings()
    with torch.no_grad():
        emb.weight.copy_(emb.weight[idx])  # the decoder is tied to these rows
        bias = model.mlm.cls.predictions.bias
        bias.copy_(bias[idx])
