"""The imbalance study: pre-training data share x objective x sampling alpha -> zero-shot retrieval.

Question: how does a language's share of multilingual pre-training data change the
zero-shot cross-lingual sentence retrieval of a contrastively trained encoder, and does
alignment-guided pre-training (WEAM, Yang et al. 2021, https://aclanthology.org/2021.mrqa-1.10/)
change it?

Setup (one run = one seed = the whole grid; `$REPRO_SEED` picks the seed):

- a synthetic world (`repro.weam.data.synthetic`, seeded by the run's seed): `en` and `x1`
  (vocabulary permutation of `en`) are high-resource; `x2` (+ word splits, local reordering)
  and `x3` (+ clause inversion, polysemy) are low-resource, with 1/ratio of the high
  languages' data (ratio 1, 10, 100);
- pre-training objectives: `mlm` (monolingual text), `tlm` and `weam` (en-xk translation
  pairs, WEAM with statistical `ibm1` links learnt on the same pairs);
- the contrastive stage: `contrastive` = MLM pre-training, then LaBSE's additive-margin
  translation ranking on en-x1 pairs ONLY; `weam+contrastive` = WEAM pre-training, then the
  same contrastive stage. Retrieval on en-x2 / en-x3 is therefore zero-shot;
- languages are sampled with q ~ p^alpha (alpha 1.0, 0.7, 0.3) for the objectives in
  `alpha_objectives` at the most imbalanced ratio;
- evaluation on held-out multi-way test sentences: Tatoeba-style accuracy@1 in both
  directions (mean-pooled last layer; the middle layer is recorded too), embedding-based
  word alignment AER and BLI P@1 on en-x2, and the aligner's own AER against gold as its
  training data grows;
- a real-language cell on the Django catalogs (`repro/data/django-parallel.jsonl`): en, es
  high-resource (contrastive stage on en-es), fr and it at 1:real_ratio.

Outputs in `$REPRO_OUT`: `results.json` (deterministic bytes for a seed on CPU), `timings.json`,
figures (`fig_share.png`, `fig_alpha.png`, `fig_alignment.png`) and `report.md` of this seed.
`python -m repro.experiments.imbalance report --runs DIR... --out DIR` aggregates seeds
(mean, bootstrap CI, per-seed values) into the same figures and a report.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from repro.experiments.tiers import Tier, tier_from_params

HIGH, LOWS = "x1", ("x2", "x3")
PRETRAIN_OF = {
    "mlm": "mlm",
    "tlm": "tlm",
    "weam": "weam",
    "contrastive": "mlm",
    "weam+contrastive": "weam",
}
CONTRASTIVE = frozenset({"contrastive", "weam+contrastive"})
# (a, b) pairs whose per-seed difference a - b results.json reports under /gaps
GAP_PAIRS = (
    ("weam+contrastive", "contrastive"),
    ("weam", "mlm"),
    ("weam", "tlm"),
    ("tlm", "mlm"),
    ("contrastive", "mlm"),
)


def log(msg: str) -> None:
    print(f"[imbalance] {msg}", file=sys.stderr, flush=True)


def r6(x: float) -> float:
    return round(float(x), 6)


def cell_key(objective: str, ratio: int, alpha: float) -> str:
    return f"{objective}/r{ratio}/a{alpha}"


# --- data -------------------------------------------------------------------------------


def synthetic_data(tier: Tier, seed: int) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(world, train corpora, test pairs): train pairs come first, test pairs are the last n_test."""
    from repro.weam.data.synthetic import SyntheticConfig, generate_world

    cfg = SyntheticConfig(
        seed=seed,
        vocab_size=tier.vocab_size,
        n_sentences=tier.n_mono_high,
        n_parallel=tier.n_par_high + tier.n_test,
        max_clauses=tier.max_clauses,
    )
    world = generate_world(cfg)
    test = {lang: world.parallel[lang].pairs[-tier.n_test :] for lang in world.parallel}
    return world, dict(world.parallel), test


def corpus_for_ratio(world: Any, tier: Tier, ratio: int, links: dict[tuple[str, int], Any]) -> Any:
    """CorpusSpec with high languages at full size and the low ones at 1/ratio."""
    from repro.weam.data.types import ParallelCorpus
    from repro.weam.train import CorpusSpec

    mono, par, lk = {}, {}, {}
    for lang in world.languages:
        n = tier.n_mono_high if lang in ("en", HIGH) else max(1, round(tier.n_mono_high / ratio))
        mono[lang] = tuple(world.monolingual[lang][:n])
    for lang, pc in world.parallel.items():
        n = tier.n_par_high if lang == HIGH else max(1, round(tier.n_par_high / ratio))
        par[lang] = ParallelCorpus(pc.src_lang, pc.tgt_lang, pc.pairs[:n])
        lk[lang] = aligner_links(par[lang], tier, links)
    return CorpusSpec(monolingual=mono, parallel=par, links=lk)


def aligner_links(pc: Any, tier: Tier, cache: dict[tuple[str, int], Any]) -> Any:
    """Statistical links for a corpus, learnt on that corpus alone (cached by language and size)."""
    from repro.weam.align import align

    key = (pc.tgt_lang, len(pc.pairs))
    if key not in cache:
        cache[key] = align([(p.src, p.tgt) for p in pc.pairs], method=tier.aligner, seed=0)
    return cache[key]


# --- training and evaluation ------------------------------------------------------------


def model_config(tier: Tier, vocab_size: int) -> Any:
    from repro.weam.model import ModelConfig

    return ModelConfig(
        vocab_size=vocab_size,
        hidden=tier.hidden,
        layers=tier.layers,
        heads=tier.heads,
        intermediate=tier.intermediate,
        max_positions=max(128, 2 * tier.max_len),
    )


def pretrain_cell(spec: Any, objective: str, tokenizer: Any, tier: Tier, seed: int, alpha: float) -> Any:
    from repro.weam.train import TrainConfig, pretrain

    cfg = TrainConfig(
        steps=tier.pretrain_steps,
        batch_size=tier.batch_size,
        lr=tier.lr,
        alpha=alpha,
        seed=seed,
        log_every=max(1, tier.pretrain_steps // 3),
        device=tier.device,
    )
    return pretrain(
        spec,
        objective,
        tokenizer=tokenizer,
        model_cfg=model_config(tier, tokenizer.vocab_size),
        max_len=tier.max_len,
        train_cfg=cfg,
        aligner=tier.aligner,
        link_source="aligner",
    )


def contrastive_stage(pre: Any, pairs: Any, tier: Tier, seed: int) -> Any:
    """A copy of the pre-trained model, trained by translation ranking on `pairs` only."""
    from repro.weam.objectives.registry import build_objective
    from repro.weam.train import CorpusSpec, TrainConfig, build_examples, train

    model = copy.deepcopy(pre.model)
    obj = build_objective("contrastive", vocab_size=pre.tokenizer.vocab_size, max_len=tier.max_len)
    spec = CorpusSpec(monolingual={}, parallel={pairs.tgt_lang: pairs})
    data = build_examples(spec, pre.tokenizer, paired=True, link_source=None, aligner=tier.aligner, seed=seed)
    cfg = TrainConfig(
        steps=tier.contrastive_steps,
        batch_size=tier.batch_size,
        lr=tier.contrastive_lr,
        alpha=1.0,
        seed=seed + 7919,  # a fresh data stream, still fixed by the seed
        log_every=max(1, tier.contrastive_steps // 2),
        device=tier.device,
    )
    res = train(model, obj, data, cfg)
    return model, res


def retrieval(model: Any, tokenizer: Any, pairs: Any, max_len: int) -> dict[str, float]:
    from repro.weam.evaluate import retrieval_accuracy

    r = retrieval_accuracy(model, tokenizer, pairs, max_len=max_len)
    last, mid = model.cfg.layers, max(1, model.cfg.layers // 2)
    return {
        "acc": r6(r[f"layer{last}/mean"]),
        "src2tgt": r6(r[f"layer{last}/src2tgt"]),
        "tgt2src": r6(r[f"layer{last}/tgt2src"]),
        "acc_middle": r6(r[f"layer{mid}/mean"]),
        "chance": r6(r["chance"]),
    }


def evaluate_cell(model: Any, tokenizer: Any, test: dict[str, Any], langs: tuple[str, str, tuple[str, ...]], tier: Tier, word: bool) -> dict[str, Any]:
    from repro.weam.evaluate import bli_precision_at_1, word_alignment_aer

    _, high, lows = langs
    out: dict[str, Any] = {"retrieval": {lg: retrieval(model, tokenizer, test[lg], tier.max_len) for lg in (high, *lows)}}
    out["high_acc"] = out["retrieval"][high]["acc"]
    out["low_acc"] = r6(sum(out["retrieval"][lg]["acc"] for lg in lows) / len(lows))
    if word:
        pairs = test[lows[0]]
        out["word"] = {
            "aer": r6(word_alignment_aer(model, tokenizer, pairs)),
            "bli_p_at_1": r6(bli_precision_at_1(model, tokenizer, pairs)["p_at_1"]),
        }
    return out


# --- the grid ---------------------------------------------------------------------------


def plan(tier: Tier) -> list[tuple[str, int, float]]:
    cells = [(o, r, 1.0) for o in tier.objectives for r in tier.ratios]
    cells += [(o, tier.alpha_ratio, a) for o in tier.alpha_objectives for a in tier.alphas if a != 1.0]
    return cells


def run_grid(tier: Tier, seed: int) -> tuple[dict[str, Any], dict[str, float]]:
    from repro.weam.tokenizer import train_tokenizer

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    world, _, test = synthetic_data(tier, seed)
    links: dict[tuple[str, int], Any] = {}
    cells: dict[str, Any] = {}
    pretrained: dict[tuple[str, int, float], Any] = {}
    tokenizers: dict[tuple[int, float], Any] = {}
    specs: dict[int, Any] = {}
    todo = plan(tier)
    for i, (objective, ratio, alpha) in enumerate(todo):
        t0 = time.perf_counter()
        key = cell_key(objective, ratio, alpha)
        log(f"cell {i + 1}/{len(todo)} {key}")
        if ratio not in specs:
            specs[ratio] = corpus_for_ratio(world, tier, ratio, links)
        spec = specs[ratio]
        if (ratio, alpha) not in tokenizers:  # one tokenizer per data mix, shared by objectives
            tokenizers[(ratio, alpha)] = train_tokenizer(spec.texts(), vocab_size=tier.tokenizer_vocab, alpha=alpha, seed=seed)
        tok = tokenizers[(ratio, alpha)]
        base = PRETRAIN_OF[objective]
        if (base, ratio, alpha) not in pretrained:
            pretrained[(base, ratio, alpha)] = pretrain_cell(spec, base, tok, tier, seed, alpha)
        pre = pretrained[(base, ratio, alpha)]
        cell: dict[str, Any] = {"objective": objective, "pretrain": base, "ratio": ratio, "alpha": alpha}
        cell["pretrain_loss"] = r6(sum(pre.result.losses[-10:]) / len(pre.result.losses[-10:]))
        model = pre.model
        if objective in CONTRASTIVE:
            model, res = contrastive_stage(pre, spec.parallel[HIGH], tier, seed)
            cell["contrastive_loss"] = r6(sum(res.losses[-10:]) / len(res.losses[-10:]))
        word = tier.word_eval and alpha == 1.0
        cell.update(evaluate_cell(model, tok, test, ("en", HIGH, LOWS), tier, word))
        cells[key] = cell
        timings[key] = round(time.perf_counter() - t0, 2)
        log(f"  high {cell['high_acc']:.3f} low {cell['low_acc']:.3f} ({timings[key]:.1f}s)")
    # the aligner's quality against the amount of parallel text it learns from (en-x2)
    from repro.weam.align import alignment_error_rate

    t0 = time.perf_counter()
    aer = []
    pc = world.parallel[LOWS[0]]
    for n in tier.align_sizes:
        n = min(n, tier.n_par_high)
        from repro.weam.data.types import ParallelCorpus

        sub = ParallelCorpus(pc.src_lang, pc.tgt_lang, pc.pairs[:n])
        pred = aligner_links(sub, tier, links)
        aer.append(r6(alignment_error_rate(pred, [set(p.gold or ()) for p in sub.pairs])))
    timings["alignment"] = round(time.perf_counter() - t0, 2)
    results: dict[str, Any] = {"cells": cells, "alignment": {"sizes": list(tier.align_sizes), "aer_vs_size": aer}}
    if tier.real:
        t0 = time.perf_counter()
        results["real"] = run_real(tier, seed)
        timings["real"] = round(time.perf_counter() - t0, 2)
    timings["total"] = round(time.perf_counter() - t_start, 2)
    return results, timings


def run_real(tier: Tier, seed: int) -> dict[str, Any]:
    """Django catalogs: en-es high-resource, fr/it at 1:real_ratio; contrastive stage on en-es."""
    from repro.weam.data.catalogs import load_parallel_jsonl
    from repro.weam.data.types import ParallelCorpus
    from repro.weam.tokenizer import train_tokenizer
    from repro.weam.train import CorpusSpec

    path = Path(__file__).resolve().parent.parent / "data" / "django-parallel.jsonl"
    corpora = load_parallel_jsonl(path)
    langs = (tier.real_high, *tier.real_lows)
    by_src = {lg: {p.src: p for p in corpora[lg].pairs} for lg in langs}
    common = sorted(set.intersection(*(set(d) for d in by_src.values())))
    test_src = common[-tier.real_test :]  # deterministic: sorted English strings
    test_set = set(test_src)
    test = {lg: tuple(by_src[lg][s] for s in test_src) for lg in langs}
    par, mono = {}, {}
    for lg in langs:
        train_pairs = [p for p in corpora[lg].pairs if p.src not in test_set]
        n = len(train_pairs) if lg == tier.real_high else max(1, round(len(train_pairs) / tier.real_ratio))
        par[lg] = ParallelCorpus("en", lg, tuple(train_pairs[:n]))
        mono[lg] = tuple(p.tgt for p in par[lg].pairs)
    mono["en"] = tuple(p.src for p in corpora[tier.real_high].pairs if p.src not in test_set)
    links: dict[tuple[str, int], Any] = {}
    lk = {lg: aligner_links(pc, tier, links) for lg, pc in par.items()}
    spec = CorpusSpec(monolingual=mono, parallel=par, links=lk)
    tok = train_tokenizer(spec.texts(), vocab_size=tier.real_tokenizer_vocab, alpha=1.0, seed=seed)
    out: dict[str, Any] = {"languages": {"high": tier.real_high, "low": list(tier.real_lows)}, "ratio": tier.real_ratio, "n_test": len(test_src), "train_pairs": {lg: len(pc.pairs) for lg, pc in par.items()}}
    for objective in ("contrastive", "weam+contrastive"):
        log(f"real cell {objective}")
        pre = pretrain_cell(spec, PRETRAIN_OF[objective], tok, tier, seed, 1.0)
        model, _ = contrastive_stage(pre, par[tier.real_high], tier, seed)
        out[objective] = evaluate_cell(model, tok, test, ("en", tier.real_high, tier.real_lows), tier, False)
    return out


# --- derived numbers (what claims point at) -----------------------------------------------


def slug(objective: str) -> str:
    return objective.replace("+", "_")


def derive(results: dict[str, Any], tier: Tier) -> dict[str, Any]:
    cells = results["cells"]
    hi_r = max(tier.ratios)
    summary: dict[str, Any] = {
        "ratio": hi_r,
        "low_resource_acc": {},
        "high_resource_acc": {},
        "low_resource_acc_balanced": {},
        "high_resource_acc_balanced": {},
    }
    trend: dict[str, Any] = {"share": [r6(1 / r) for r in tier.ratios], "low_share_acc": {}, "high_acc": {}, "word_aer": {}}
    for o in tier.objectives:
        s = slug(o)
        summary["low_resource_acc"][s] = cells[cell_key(o, hi_r, 1.0)]["low_acc"]
        summary["high_resource_acc"][s] = cells[cell_key(o, hi_r, 1.0)]["high_acc"]
        summary["low_resource_acc_balanced"][s] = cells[cell_key(o, min(tier.ratios), 1.0)]["low_acc"]
        summary["high_resource_acc_balanced"][s] = cells[cell_key(o, min(tier.ratios), 1.0)]["high_acc"]
        trend["low_share_acc"][s] = [cells[cell_key(o, r, 1.0)]["low_acc"] for r in tier.ratios]
        trend["high_acc"][s] = [cells[cell_key(o, r, 1.0)]["high_acc"] for r in tier.ratios]
        if "word" in cells[cell_key(o, hi_r, 1.0)]:
            trend["word_aer"][s] = [cells[cell_key(o, r, 1.0)]["word"]["aer"] for r in tier.ratios]
    # how much of the balanced-data accuracy survives at the most imbalanced ratio
    summary["low_resource_drop"] = {
        s: r6(summary["low_resource_acc_balanced"][s] - summary["low_resource_acc"][s]) for s in summary["low_resource_acc"]
    }
    alpha: dict[str, Any] = {"alphas": list(tier.alphas), "ratio": tier.alpha_ratio}
    for o in tier.alpha_objectives:
        low = [cells[cell_key(o, tier.alpha_ratio, a)]["low_acc"] for a in tier.alphas]
        high = [cells[cell_key(o, tier.alpha_ratio, a)]["high_acc"] for a in tier.alphas]
        alpha[slug(o)] = {
            "low_acc": low,
            "high_acc": high,
            "low_gain": r6(low[-1] - low[0]),  # smallest alpha against alpha = 1
            "high_cost": r6(high[0] - high[-1]),
        }
    # paired contrasts: both arms from the same seed (same world, same initial weights),
    # so the seed-to-seed spread that both share cancels
    gaps: dict[str, float] = {}
    for a, b in GAP_PAIRS:
        if a in tier.objectives and b in tier.objectives:
            for r in tier.ratios:
                for m in ("low", "high"):
                    va, vb = cells[cell_key(a, r, 1.0)][f"{m}_acc"], cells[cell_key(b, r, 1.0)][f"{m}_acc"]
                    gaps[f"{slug(a)}_vs_{slug(b)}_{m}_r{r}"] = r6(va - vb)
    for o in tier.objectives:
        lo, hi = cells[cell_key(o, min(tier.ratios), 1.0)]["low_acc"], cells[cell_key(o, hi_r, 1.0)]["low_acc"]
        gaps[f"{slug(o)}_low_balanced_vs_r{hi_r}"] = r6(lo - hi)
    out = {"summary": summary, "trend": trend, "alpha": alpha, "gaps": gaps}
    if "real" in results:
        real = results["real"]
        out["real_summary"] = {slug(o): {"low_acc": real[o]["low_acc"], "high_acc": real[o]["high_acc"]} for o in ("contrastive", "weam+contrastive")}
    return out


# --- entrypoint -------------------------------------------------------------------------


def read_params() -> dict[str, Any]:
    path = os.environ.get("REPRO_PARAMS")
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        params: dict[str, Any] = json.load(fh)
    return params


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def run(params: dict[str, Any], seed: int, out: Path) -> dict[str, Any]:
    tier = tier_from_params(params)
    log(f"tier {tier.name}, seed {seed}, {len(plan(tier))} cells")
    import faiss

    faiss.omp_set_num_threads(1)
    results, timings = run_grid(tier, seed)
    results.update(derive(results, tier))
    results.update({"tier": tier.name, "seed": seed, "config": asdict(tier)})
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(dump(results), encoding="utf-8")
    (out / "timings.json").write_text(dump(timings), encoding="utf-8")
    if params.get("figures", True):
        from repro.experiments.imbalance_report import write_report

        write_report([results], out)
    log(f"done in {timings['total']:.0f}s")
    return results


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "report":
        import argparse

        from repro.experiments.imbalance_report import write_report

        ap = argparse.ArgumentParser(prog="python -m repro.experiments.imbalance report")
        ap.add_argument("--runs", nargs="+", type=Path, required=True, help="run directories holding results.json")
        ap.add_argument("--out", type=Path, required=True)
        a = ap.parse_args(argv[1:])
        runs = [json.loads((d / "results.json").read_text(encoding="utf-8")) for d in a.runs]
        a.out.mkdir(parents=True, exist_ok=True)
        write_report(runs, a.out)
        return 0
    params = read_params()
    seed = int(os.environ.get("REPRO_SEED", "0"))
    out = Path(os.environ.get("REPRO_OUT", "out"))
    run(params, seed, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
