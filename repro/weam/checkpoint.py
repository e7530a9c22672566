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
