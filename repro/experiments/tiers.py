"""Sizes of the imbalance study: one dataclass, two named tiers, overrides from params.

`smoke` answers the study's questions at toy scale on one CPU core per seed in a few
minutes (calibrated on the 2-core CI box, see manifests/weam-imbalance/report.md);
`full` is the same grid at a scale for a GPU or hours of CPU. Params may override any
field (`{"tier": "smoke", "overrides": {"pretrain_steps": 5}}`), which the tests use
for a seconds-long stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Tier:
    name: str
    # synthetic world: en + x1 are high-resource, x2 + x3 low-resource
    vocab_size: int = 400
    max_clauses: int = 2
    n_mono_high: int = 2000  # monolingual sentences of a high-resource language (MLM)
    n_par_high: int = 1000  # en-x1 pairs (TLM/WEAM; also the contrastive stage's data)
    n_test: int = 200  # held-out multi-way parallel test sentences per pair
    ratios: tuple[int, ...] = (1, 10, 100)  # high : low data
    # objectives: pre-training alone, or pre-training then contrastive on en-x1
    objectives: tuple[str, ...] = ("mlm", "tlm", "weam", "contrastive", "weam+contrastive")
    alphas: tuple[float, ...] = (1.0, 0.7, 0.3)  # language-sampling exponent
    alpha_objectives: tuple[str, ...] = ("contrastive",)
    alpha_ratio: int = 100
    # model and optimisation
    hidden: int = 64
    layers: int = 2
    heads: int = 2
    intermediate: int = 256
    tokenizer_vocab: int = 600
    max_len: int = 64
    pretrain_steps: int = 100
    contrastive_steps: int = 60
    batch_size: int = 32
    lr: float = 2e-3
    contrastive_lr: float = 1e-3
    aligner: str = "ibm1"
    align_sizes: tuple[int, ...] = (10, 30, 100, 300, 1000)
    word_eval: bool = True  # embedding AER / BLI on en-x2 for the alpha = 1 grid
    # real-language cell (Django catalogs): high es, low fr/it at 1:real_ratio
    real: bool = False  # on in the full tier; too slow for the smoke budget (see report)
    real_high: str = "es"
    real_lows: tuple[str, ...] = ("fr", "it")
    real_ratio: int = 10
    real_test: int = 150
    real_tokenizer_vocab: int = 1500
    device: str = "cpu"


SMOKE = Tier(name="smoke")

FULL = Tier(
    name="full",
    vocab_size=4000,
    max_clauses=3,
    n_mono_high=100_000,
    n_par_high=50_000,
    n_test=1000,
    ratios=(1, 10, 100, 1000),
    hidden=256,
    layers=4,
    heads=4,
    intermediate=1024,
    tokenizer_vocab=8000,
    max_len=96,
    pretrain_steps=20_000,
    contrastive_steps=3000,
    batch_size=128,
    lr=5e-4,
    contrastive_lr=2e-4,
    aligner="eflomal",
    align_sizes=(50, 500, 5000, 50_000),
    real=True,
    real_ratio=10,
    real_tokenizer_vocab=4000,
    alpha_objectives=("contrastive", "weam+contrastive"),
    device="auto",
)

TIERS = {t.name: t for t in (SMOKE, FULL)}


def tier_from_params(params: dict[str, Any]) -> Tier:
    """The named tier with `params["overrides"]` applied (lists become tuples)."""
    name = params.get("tier", "smoke")
    if name not in TIERS:
        raise ValueError(f"unknown tier {name!r}; known: {sorted(TIERS)}")
    known = {f.name for f in fields(Tier)}
    over = dict(params.get("overrides") or {})
    bad = sorted(set(over) - known)
    if bad:
        raise ValueError(f"unknown tier fields {bad}")
    over = {k: tuple(v) if isinstance(v, list) else v for k, v in over.items()}
    return replace(TIERS[name], **over)
