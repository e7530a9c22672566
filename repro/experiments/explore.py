"""Exploratory probes of the imbalance study, for exploratory seeds only (report.md, section 15).

Nothing here feeds a claim. Two questions the confirmatory runs left open:

- `stage`: why does the contrastive stage train the MLM-continued start so much more slowly
  than the untrained one? Each variant takes the balanced cell's MLM-continued encoder (or
  the untrained one), optionally grafts a group of its parameters back to the seed's initial
  weights, and runs the contrastive stage; it prints en-x1 and zero-shot accuracy@1, the
  final loss, and the first step at which the 50-step mean loss reaches `--target`.
- `anchors`: with a share of nouns written alike in every language (`anchor_fraction`), does
  MLM pre-training beat the floor zero-shot, and does the share then matter? Runs the smoke
  grid's two imbalance cells with the floor and MLM-continued only.

    python -m repro.experiments.explore stage --seed 0 --variant '{"graft": ["attn"]}' ...
    python -m repro.experiments.explore anchors --seed 0 --fraction 0.1 --out DIR

Both take `--overrides JSON` (tier fields), which the tests use for a seconds-long stand-in.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from repro.experiments import imbalance as im
from repro.experiments.tiers import Tier, tier_from_params

# parameter groups of the BERT encoder, by name
GROUPS: dict[str, Callable[[str], bool]] = {
    "word": lambda n: "word_embeddings" in n,
    "position": lambda n: "position_embeddings" in n or "token_type" in n,
    "embedding_norm": lambda n: "embeddings.LayerNorm" in n,
    "layers": lambda n: ".encoder.layer." in n,
    "layer_norms": lambda n: ".encoder.layer." in n and "LayerNorm" in n,
    "attn": lambda n: ".attention." in n and "LayerNorm" not in n,
    "ffn": lambda n: ".encoder.layer." in n and ".attention." not in n and "LayerNorm" not in n,
    "layer0": lambda n: ".encoder.layer.0." in n,
    "layer1": lambda n: ".encoder.layer.1." in n,
}


def graft(model: Any, initial: Any, groups: list[str]) -> int:
    """Copy the parameters of `groups` from `initial` into `model`; returns how many."""
    import torch

    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown parameter groups {unknown}; known: {sorted(GROUPS)}")
    source = dict(initial.named_parameters())
    n = 0
    with torch.no_grad():
        for name, p in model.named_parameters():
            if any(GROUPS[g](name) for g in groups):
                p.copy_(source[name])
                n += p.numel()
    return n


def group_norms(model: Any, groups: tuple[str, ...] = ("word", "attn", "ffn")) -> dict[str, float]:
    """The L2 norm of each group's parameters taken together."""
    return {g: round(sum(float(p.detach().pow(2).sum()) for n, p in model.named_parameters() if GROUPS[g](n)) ** 0.5, 3) for g in groups}


def first_step_at(losses: list[float], target: float, window: int = 50) -> int | None:
    """The first step whose `window`-step mean loss is at or below `target` (None: never)."""
    for i in range(window, len(losses) + 1):
        if sum(losses[i - window : i]) / window <= target:
            return i
    return None


def stage(tier: Tier, seed: int, variants: list[dict[str, Any]], target: float) -> list[dict[str, Any]]:
    from repro.weam.objectives.registry import build_objective
    from repro.weam.tokenizer import train_tokenizer
    from repro.weam.train import train

    data = im.make_data(tier, seed)
    tok = train_tokenizer(data.tok_sample, vocab_size=tier.tokenizer_vocab, alpha=1.0, seed=seed)
    examples = im.Examples(im.corpus(data, im.plan(tier)[0], tier, {}), tok, tier, seed)
    contrastive = im.Examples.of_pairs(data.contrastive, tok, tier, seed)
    mlm, _ = im.pretrain_mlm(examples, tok, tier, seed, 1.0)
    starts = {"untrained": im.initial_model(tier, tok, seed), "mlm_cont": im.continue_arm(mlm, "mlm_cont", examples, tok, tier, seed, 1.0)[0]}
    norms = {start: group_norms(m) for start, m in starts.items()}
    print(json.dumps({"norms_before_the_stage": norms}), flush=True)
    rows = []
    for v in variants:
        model = copy.deepcopy(starts[v.get("start", "mlm_cont")])
        grafted = graft(model, starts["untrained"], list(v.get("graft", [])))
        obj = build_objective("contrastive", vocab_size=tok.vocab_size, max_len=tier.max_len)
        if "loss" in v:
            obj = dataclasses.replace(obj, kind=v["loss"])
        steps = int(v.get("steps", tier.contrastive_steps))
        cfg = im.train_cfg(tier, steps, float(v.get("lr", tier.contrastive_lr)), seed + 7919, 1.0)
        res = train(model, obj, contrastive.get(paired=True), cfg)
        ev = im.evaluate(model, tok, data, tier)
        row = {
            "variant": v,
            "grafted_parameters": grafted,
            "loss": im.tail(res.losses),
            "steps_to_target": first_step_at(res.losses, target),
            "high_acc_last": ev["high_acc_last"],
            "low_acc_last": ev["low_acc_last"],
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def anchors(params: dict[str, Any], seed: int, fraction: float, out: Path) -> dict[str, Any]:
    over = {**params.get("overrides", {}), "anchor_fraction": fraction, "continued": ["mlm_cont"], "contrastive": ["untrained", "mlm_cont"], "scarcity_ratios": []}
    res = im.run({**params, "figures": False, "overrides": over}, seed, out)
    summary = {
        "fraction": fraction,
        "seed": seed,
        "overlap_with_en": res["tokenizer"]["overlap_with_en"],
        "acc": {cell: {arm: {k: a[k] for k in ("high_acc_last", "low_acc_last")} for arm, a in arms.items()} for cell, arms in res["acc"].items()},
        "share_did": res["diff"]["share_did"],
    }
    print(json.dumps(summary), flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m repro.experiments.explore")
    sub = ap.add_subparsers(dest="probe", required=True)
    s = sub.add_parser("stage", help="graft parameter groups back to init before the contrastive stage")
    s.add_argument("--variant", action="append", default=[], help='JSON: {"start", "graft", "loss", "steps", "lr"}')
    s.add_argument("--target", type=float, default=1.3, help="loss whose first crossing is reported")
    a = sub.add_parser("anchors", help="the two imbalance cells with anchor nouns")
    a.add_argument("--fraction", type=float, required=True)
    a.add_argument("--out", type=Path, required=True)
    for p in (s, a):
        p.add_argument("--seed", type=int, required=True)
        p.add_argument("--overrides", type=json.loads, default={}, help="tier fields, as JSON")
    args = ap.parse_args(argv)
    params = {"tier": "smoke", "overrides": args.overrides}
    if args.probe == "stage":
        import torch

        torch.set_num_threads(1)
        stage(tier_from_params(params), args.seed, [json.loads(v) for v in args.variant] or [{}], args.target)
    else:
        anchors(params, args.seed, args.fraction, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
