"""The real-language cell of the imbalance study: Django's translation catalogs.

Languages by their real share of the committed catalogs (`repro/data/django-parallel.jsonl`):
the tier's `real_high` (the two with the most en-x pairs) and `real_lows` (two with few). The
test set is the last `real_test` English strings (sorted) translated into all four; the rest
is training text. The same discipline as the synthetic grid: one tokenizer learnt on a fixed
balanced sample (up to the smallest language's size per language), MLM from the seed's
initial weights, `mlm_cont` and `weam` continued from it with MLM interleaved, a contrastive
stage on the high-resource pairs only, and the untrained floor. Small: a few hundred UI
strings per language, so its numbers are indicative only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from repro.experiments.tiers import Tier


def run_real(tier: Tier, seed: int) -> dict[str, Any]:
    from repro.experiments import imbalance as im
    from repro.weam.data.catalogs import load_parallel_jsonl
    from repro.weam.data.types import ParallelCorpus
    from repro.weam.evaluate import retrieval_accuracy
    from repro.weam.tokenizer import train_tokenizer
    from repro.weam.train import CorpusSpec

    path = Path(__file__).resolve().parent.parent / "data" / "django-parallel.jsonl"
    corpora = load_parallel_jsonl(path)
    langs = (*tier.real_high, *tier.real_lows)
    by_src = {lg: {p.src: p for p in corpora[lg].pairs} for lg in langs}
    common = sorted(set.intersection(*(set(d) for d in by_src.values())))
    test_src = common[-tier.real_test :]
    test_set = set(test_src)
    test = {lg: tuple(by_src[lg][s] for s in test_src) for lg in langs}
    par = {lg: ParallelCorpus("en", lg, tuple(p for p in corpora[lg].pairs if p.src not in test_set)) for lg in langs}
    mono: dict[str, tuple[Any, ...]] = {lg: tuple(p.tgt for p in par[lg].pairs) for lg in langs}
    mono["en"] = tuple(sorted({p.src for lg in langs for p in par[lg].pairs}))
    links: dict[tuple[str, int], Any] = {}
    spec = CorpusSpec(monolingual=mono, parallel=par, links={lg: im.aligner_links(pc, tier, links) for lg, pc in par.items()})
    n_tok = min(len(v) for v in mono.values())
    tok = train_tokenizer({lg: list(v[:n_tok]) for lg, v in mono.items()}, vocab_size=tier.real_tokenizer_vocab, alpha=1.0, seed=seed)
    out: dict[str, Any] = {
        "languages": {"high": list(tier.real_high), "low": list(tier.real_lows)},
        "train_pairs": {lg: len(pc.pairs) for lg, pc in par.items()},
        "n_test": len(test_src),
        "arms": {},
    }
    con_pairs = tuple(p for lg in tier.real_high for p in par[lg].pairs)

    def score(model: Any) -> dict[str, float]:
        acc = {lg: retrieval_accuracy(model, tok, test[lg], max_len=tier.max_len)[f"layer{model.cfg.layers}/mean"] for lg in langs}
        return {
            "high_acc_last": im.r6(sum(acc[lg] for lg in tier.real_high) / len(tier.real_high)),
            "low_acc_last": im.r6(sum(acc[lg] for lg in tier.real_lows) / len(tier.real_lows)),
        }

    t0 = time.perf_counter()
    examples = im.Examples(spec, tok, tier, seed)
    contrastive = im.Examples.of_pairs(con_pairs, tok, tier, seed)
    untrained = im.initial_model(tier, tok, seed)
    mlm, _ = im.pretrain_mlm(examples, tok, tier, seed, 1.0)
    models = {"untrained": untrained, **{arm: im.continue_arm(mlm, arm, examples, tok, tier, seed, 1.0)[0] for arm in ("mlm_cont", "weam")}}
    for arm, model in models.items():
        out["arms"][arm] = score(model)
        out["arms"][f"{arm}_C"] = score(im.contrastive_stage(model, contrastive, tok, tier, seed)[0])
    im.log(f"real cell done in {time.perf_counter() - t0:.0f}s: {out['arms']}")
    return out
