"""A 30-second throughput probe: steps per second of the study's three kinds of step.

    python -m repro.experiments.probe [--tier full] [--seconds 30] [--device auto] [--procs 12]

Builds the tier's model on a small world of the tier's shape and times, for about a third of
`--seconds` each, (1) MLM pre-training steps, (2) continued steps (WEAM with gold links plus
interleaved MLM, the costliest arm) and (3) contrastive steps, with the study's own `train`
loop (bf16 autocast on a GPU). It prints steps/s for each and the wall time one seed's grid
needs at that rate, so the tier can be sized on the day a GPU is lent.

GPU path: `--device auto` picks CUDA when present. On the GPU the grid runs `--procs`
processes at once (e.g. 3 shares x 4 seeds = 12 on one H200); one probe process cannot
measure that contention, so the printed estimate divides by `--procs` only as an upper bound
on the speed-up. The CPU path is what the tests run (on a tiny tier).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from typing import Any

from repro.experiments.tiers import Tier, tier_from_params


def _timed(run_steps: Any, budget_s: float) -> float:
    """Steps per second: a 3-step warm-up, a 3-step calibration, then about `budget_s` seconds."""
    run_steps(3)
    t0 = time.perf_counter()
    run_steps(3)
    per = max(1e-6, (time.perf_counter() - t0) / 3)
    n = max(3, int(budget_s / per))
    t0 = time.perf_counter()
    run_steps(n)
    return n / max(1e-9, time.perf_counter() - t0)


def probe(tier: Tier, seconds: float) -> dict[str, Any]:
    from repro.experiments import imbalance as im
    from repro.weam.objectives.registry import build_objective
    from repro.weam.tokenizer import train_tokenizer
    from repro.weam.train import build_examples, resolve_device, train

    small = replace(tier, n_mono_high=min(tier.n_mono_high, 2000), n_par_high=min(tier.n_par_high, 1000), n_contrastive=min(tier.n_contrastive, 500), n_test=min(tier.n_test, 100), n_tok_sample=min(tier.n_tok_sample, 500), n_heldout=10)
    data = im.make_data(small, 0)
    tok = train_tokenizer(data.tok_sample, vocab_size=tier.tokenizer_vocab, alpha=1.0, seed=0)
    cell = im.plan(small)[0]
    spec = im.corpus(data, cell, small, {})
    model = im.initial_model(tier, tok, 0)
    mlm = build_objective("mlm", vocab_size=tok.vocab_size, max_len=tier.max_len)
    mono = build_examples(spec, tok, paired=False, link_source=None, aligner=tier.aligner, seed=0)
    weam = build_objective("weam", vocab_size=tok.vocab_size, max_len=tier.max_len, target_rate=tier.target_rate)
    pairs = build_examples(spec, tok, paired=True, link_source="gold", aligner=tier.aligner, seed=0)
    con = build_objective("contrastive", vocab_size=tok.vocab_size, max_len=tier.max_len)
    con_data = {"x1": pairs["x1"]}
    import io

    def cfg(n: int) -> Any:
        return im.train_cfg(tier, n, tier.lr, 0, 1.0)

    quiet = io.StringIO()
    third = seconds / 3
    rates = {
        "mlm": _timed(lambda n: train(model, mlm, mono, cfg(n), log=quiet), third),
        "continued": _timed(lambda n: train(model, weam, pairs, cfg(n), log=quiet, interleave=(mlm, mono)), third),
        "contrastive": _timed(lambda n: train(model, con, con_data, cfg(n), log=quiet), third),
    }
    cells = len(im.plan(tier))
    per_cell = (
        tier.pretrain_steps / rates["mlm"]
        + len(tier.continued) * tier.continued_steps / rates["continued"]
        + len(tier.contrastive) * tier.contrastive_steps / rates["contrastive"]
    )
    return {
        "tier": tier.name,
        "device": str(resolve_device(tier.device)),
        "params": sum(p.numel() for p in model.parameters()),
        "steps_per_s": {k: round(v, 2) for k, v in rates.items()},
        "cells_per_seed": cells,
        "train_s_per_seed": round(per_cell * cells, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m repro.experiments.probe", description=__doc__.split("\n")[0])
    ap.add_argument("--tier", default="full")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--device", default=None, help="auto (GPU when present), cpu or cuda; default: the tier's")
    ap.add_argument("--procs", type=int, default=12, help="processes the grid runs at once on the device")
    ap.add_argument("--overrides", default="{}", help="JSON tier overrides (the tests use a tiny tier)")
    a = ap.parse_args(argv)
    over = json.loads(a.overrides)
    if a.device:
        over["device"] = a.device
    tier = tier_from_params({"tier": a.tier, "overrides": over})
    res = probe(tier, a.seconds)
    for k, v in res["steps_per_s"].items():
        print(f"{k}: {v:.2f} steps/s")
    wall = res["train_s_per_seed"]
    print(f"one seed's grid ({res['cells_per_seed']} cells): {wall:.0f} s of training at these rates on {res['device']}; with {a.procs} processes sharing the device, at best {wall / max(1, a.procs) * 4:.0f} s for 4 seeds x all cells (perfect scaling, an upper bound on speed)")
    print(json.dumps(res, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
