"""The imbalance study: pre-training data share x continued-training arm -> zero-shot retrieval.

Question: how does a language's share of multilingual pre-training data change the zero-shot
cross-lingual sentence retrieval of a contrastively trained encoder, and does continuing
pre-training with WEAM (Yang et al. 2021, https://aclanthology.org/2021.mrqa-1.10/) change it?

One run = one seed = the whole grid (`$REPRO_SEED` picks the seed):

- a synthetic world (`repro.weam.data.synthetic`): `en` and `x1` high-resource, `x2`, `x3`
  low-resource, every derived language at distance level 3, each written in its own
  alphabet so that only "." and the digits are shared; sentences have topics, so context
  predicts words (what MLM learns from);
- ONE WordPiece tokenizer per seed, learnt on a fixed balanced sample held out of every
  cell's training data, shared by every cell and arm;
- cells (data mixes): design "imbalance" (high-resource amount fixed, low = high / ratio) and
  design "scarcity" (low-resource amount fixed, high = low x ratio); they meet at the largest
  ratio;
- per cell: MLM from scratch (`mlm`), then arms that CONTINUE from that checkpoint with MLM
  interleaved, for the same number of steps: `mlm_cont` (MLM on the pair sentences, each
  alone), `tlm`, `weam` (statistical `ibm1` links), `weam_random` (as many random links),
  `weam_gold` (gold links); WEAM's targets are matched to TLM's 15%;
- a contrastive stage (LaBSE's additive margin, en-x1 pairs ONLY, the same pairs in every
  cell) on some arms, `untrained` included: retrieval on en-x2/x3 is zero-shot;
- the floor: the encoder with its initial weights (`untrained`), and `untrained_C`;
- evaluation on 1000 held-out multi-way test pairs: accuracy@1 at the middle and last layer,
  BUCC-style mining F1 with the threshold chosen on a dev split, BLI P@1 without the shared
  tokens; the aligner's AER per pair; MLM loss against the unigram entropy of the cell's
  training subwords; subword overlap and pieces per word per language.

Outputs in `$REPRO_OUT`: `results.json` (deterministic bytes for a seed on CPU), `timings.json`
and, unless `figures` is false, this seed's figures and `report.md`.
`python -m repro.experiments.imbalance report --runs DIR... --out DIR` aggregates seeds.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from repro.experiments.tiers import Tier, tier_from_params

EN, HIGH, LOWS = "en", "x1", ("x2", "x3")
METRICS = ("low_acc_last", "low_acc_mid", "high_acc_last", "high_acc_mid", "low_bucc_last", "high_bucc_last", "low_bli", "high_bli")
SHARED = frozenset({".", "1", "2", "3", "4", "5", "6", "7", "8", "9"})  # by construction
# continued arm -> (pair objective, link source)
ARMS = {
    "mlm_cont": ("pair-mlm", None),
    "tlm": ("tlm", None),
    "weam": ("weam", "aligner"),
    "weam_random": ("weam", "random"),
    "weam_gold": ("weam", "gold"),
}


def log(msg: str) -> None:
    print(f"[imbalance] {msg}", file=sys.stderr, flush=True)


def r6(x: float) -> float:
    return round(float(x), 6)


@dataclass(frozen=True)
class Cell:
    """One data mix: sentences per language (monolingual) and en-x pairs per language."""

    name: str
    design: str
    ratio: int
    alpha: float
    mono: dict[str, int]
    par: dict[str, int]


def plan(tier: Tier) -> list[Cell]:
    """The grid's cells, imbalance design first; the scarcity design meets it at max ratio."""
    rmax = max(tier.imbalance_ratios)
    low_m, low_p = max(1, round(tier.n_mono_high / rmax)), max(1, round(tier.n_par_high / rmax))

    def sizes(hm: int, lm: int, hp: int, lp: int) -> tuple[dict[str, int], dict[str, int]]:
        mono = {EN: hm, HIGH: hm, **dict.fromkeys(LOWS, lm)}
        return mono, {HIGH: hp, **dict.fromkeys(LOWS, lp)}

    cells = []
    for r in tier.imbalance_ratios:
        m, p = sizes(tier.n_mono_high, max(1, round(tier.n_mono_high / r)), tier.n_par_high, max(1, round(tier.n_par_high / r)))
        cells.append(Cell(f"imb_r{r}", "imbalance", r, 1.0, m, p))
    for r in tier.scarcity_ratios:
        if r == rmax:
            continue  # that cell is imb_r{rmax}
        m, p = sizes(low_m * r, low_m, low_p * r, low_p)
        cells.append(Cell(f"scar_r{r}", "scarcity", r, 1.0, m, p))
    for a in tier.alphas:
        if a != 1.0:
            m, p = sizes(tier.n_mono_high, low_m, tier.n_par_high, low_p)
            cells.append(Cell(f"imb_r{rmax}_a{a}", "imbalance", rmax, a, m, p))
    return cells


# --- data -------------------------------------------------------------------------------


@dataclass
class Data:
    world: Any
    mono_train: dict[str, tuple[Any, ...]]
    tok_sample: dict[str, list[Any]]
    heldout: dict[str, tuple[Any, ...]]
    par_train: dict[str, tuple[Any, ...]]
    contrastive: tuple[Any, ...]  # en-x1
    test: dict[str, tuple[Any, ...]]


def make_data(tier: Tier, seed: int) -> Data:
    """The world and its disjoint slices: training, tokenizer sample, held-out, contrastive, test."""
    from repro.weam.data.synthetic import SyntheticConfig, generate_world

    n_mono = tier.n_mono_high + tier.n_tok_sample + tier.n_heldout
    n_par = tier.n_par_high + tier.n_contrastive + tier.n_test
    world = generate_world(
        SyntheticConfig(
            seed=seed,
            vocab_size=tier.vocab_size,
            n_sentences=n_mono,
            n_parallel=n_par,
            max_clauses=tier.max_clauses,
            levels=tier.levels,
            disjoint_scripts=tier.disjoint_scripts,
            n_topics=tier.n_topics,
            topic_coherence=tier.topic_coherence,
            anchor_fraction=tier.anchor_fraction,
        )
    )
    h, t = tier.n_mono_high, tier.n_mono_high + tier.n_tok_sample
    mono = world.monolingual
    p, c = tier.n_par_high, tier.n_par_high + tier.n_contrastive
    return Data(
        world=world,
        mono_train={lg: mono[lg][:h] for lg in world.languages},
        tok_sample={lg: list(mono[lg][h:t]) for lg in world.languages},
        heldout={lg: mono[lg][t:] for lg in world.languages},
        par_train={lg: world.parallel[lg].pairs[:p] for lg in world.parallel},
        contrastive=world.parallel[HIGH].pairs[p:c],
        test={lg: world.parallel[lg].pairs[c:] for lg in world.parallel},
    )


def corpus(data: Data, cell: Cell, tier: Tier, links: dict[tuple[str, int], Any]) -> Any:
    from repro.weam.data.types import ParallelCorpus
    from repro.weam.train import CorpusSpec

    mono = {lg: data.mono_train[lg][: cell.mono[lg]] for lg in data.mono_train}
    par, lk = {}, {}
    for lg, pairs in data.par_train.items():
        par[lg] = ParallelCorpus(EN, lg, pairs[: cell.par[lg]])
        lk[lg] = aligner_links(par[lg], tier, links)
    return CorpusSpec(monolingual=mono, parallel=par, links=lk)


def aligner_links(pc: Any, tier: Tier, cache: dict[tuple[str, int], Any]) -> Any:
    """Statistical links for a corpus, learnt on that corpus alone (cached by language and size)."""
    from repro.weam.align import align

    key = (pc.tgt_lang, len(pc.pairs))
    if key not in cache:
        cache[key] = align([(p.src, p.tgt) for p in pc.pairs], method=tier.aligner, seed=0)
    return cache[key]


def tokenizer_stats(tok: Any, data: Data) -> dict[str, Any]:
    """Pieces per word per language and subword overlap of each language's test text with en's."""
    pieces: dict[str, Counter[int]] = {}
    ppw = {}
    for lg in data.world.languages:
        sents = [p.src for p in data.test[HIGH]] if lg == EN else [p.tgt for p in data.test[lg]]
        c: Counter[int] = Counter()
        words = 0
        for s in sents:
            c.update(tok.encode_words(s).ids)
            words += len(s)
        pieces[lg] = c
        ppw[lg] = r6(sum(c.values()) / max(1, words))
    overlap = {}
    for lg in (HIGH, *LOWS):
        shared = set(pieces[lg]) & set(pieces[EN])
        shared_words = {i for i in shared if tok.decode([i])[0].lstrip("#") not in SHARED}
        overlap[lg] = {
            "token_share": r6(sum(pieces[lg][i] for i in shared) / max(1, sum(pieces[lg].values()))),
            "types": len(shared),
            "types_beyond_shared_tokens": len(shared_words),
        }
    return {"vocab_size": tok.vocab_size, "pieces_per_word": ppw, "overlap_with_en": overlap}


def unigram_entropy(tok: Any, spec: Any, alpha: float) -> float:
    """Entropy (nats) of the subword distribution MLM trains on: languages mixed by q ~ p^alpha."""
    from repro.weam.data.sampling import temperature_probs

    q = temperature_probs({lg: len(spec.monolingual[lg]) for lg in sorted(spec.monolingual)}, alpha)
    mix: Counter[int] = Counter()
    dist: dict[int, float] = {}
    for lg, sents in spec.monolingual.items():
        mix = Counter()
        for s in sents:
            mix.update(tok.encode_words(s).ids)
        n = sum(mix.values())
        for i, c in mix.items():
            dist[i] = dist.get(i, 0.0) + q[lg] * c / n
    return -sum(p * math.log(p) for p in dist.values() if p > 0)


# --- training ---------------------------------------------------------------------------


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


def train_cfg(tier: Tier, steps: int, lr: float, seed: int, alpha: float) -> Any:
    from repro.weam.train import TrainConfig

    return TrainConfig(
        steps=steps,
        batch_size=tier.batch_size,
        lr=lr,
        warmup_frac=tier.warmup_frac,
        alpha=alpha,
        seed=seed,
        log_every=max(1, steps // 4),
        device=tier.device,
        threads=tier.threads,
    )


def initial_model(tier: Tier, tok: Any, seed: int) -> Any:
    """The seed's initial weights: the untrained floor, and where MLM pre-training starts."""
    import torch

    from repro.weam.model import WeamModel

    torch.manual_seed(seed)
    return WeamModel(model_config(tier, tok.vocab_size))


def tail(losses: list[float]) -> float:
    """Mean of the last tenth of the steps' losses (the final training loss)."""
    n = max(1, len(losses) // 10)
    return r6(sum(losses[-n:]) / n)


class Examples:
    """A corpus's training examples, encoded once and shared by every arm that trains on them
    (encoding is deterministic, so sharing changes no number)."""

    def __init__(self, spec: Any, tok: Any, tier: Tier, seed: int) -> None:
        self.spec, self.tok, self.tier, self.seed = spec, tok, tier, seed
        self._cache: dict[tuple[bool, str | None], dict[str, list[Any]]] = {}

    def get(self, paired: bool, link_source: str | None = None) -> dict[str, list[Any]]:
        from repro.weam.train import build_examples

        key = (paired, link_source)
        if key not in self._cache:
            self._cache[key] = build_examples(
                self.spec, self.tok, paired=paired, link_source=link_source, aligner=self.tier.aligner, seed=self.seed  # type: ignore[arg-type]
            )
        return self._cache[key]

    @classmethod
    def of_pairs(cls, pairs: Any, tok: Any, tier: Tier, seed: int) -> Examples:
        """The examples of en-x1 `pairs` alone (the contrastive stage's)."""
        from repro.weam.data.types import ParallelCorpus
        from repro.weam.train import CorpusSpec

        return cls(CorpusSpec(monolingual={}, parallel={HIGH: ParallelCorpus(EN, HIGH, tuple(pairs))}), tok, tier, seed)


def pretrain_mlm(examples: Examples, tok: Any, tier: Tier, seed: int, alpha: float) -> tuple[Any, Any]:
    from repro.weam.objectives.registry import build_objective
    from repro.weam.train import train

    model = initial_model(tier, tok, seed)
    obj = build_objective("mlm", vocab_size=tok.vocab_size, max_len=tier.max_len)
    res = train(model, obj, examples.get(paired=False), train_cfg(tier, tier.pretrain_steps, tier.lr, seed, alpha))
    return model, res


def continue_arm(base: Any, arm: str, examples: Examples, tok: Any, tier: Tier, seed: int, alpha: float) -> tuple[Any, Any]:
    """A copy of the MLM checkpoint trained by the arm's pair objective, MLM interleaved."""
    from repro.weam.objectives.registry import build_objective
    from repro.weam.train import train

    objective, links = ARMS[arm]
    kw = {"target_rate": tier.target_rate} if objective == "weam" else {}
    pair_obj = build_objective(objective, vocab_size=tok.vocab_size, max_len=tier.max_len, **kw)
    mlm = build_objective("mlm", vocab_size=tok.vocab_size, max_len=tier.max_len)
    model = copy.deepcopy(base)
    cfg = train_cfg(tier, tier.continued_steps, tier.continued_lr, seed + 1, alpha)
    res = train(model, pair_obj, examples.get(paired=True, link_source=links), cfg, interleave=(mlm, examples.get(paired=False)))
    return model, res


def contrastive_stage(base: Any, examples: Examples, tok: Any, tier: Tier, seed: int) -> tuple[Any, Any]:
    """A copy of `base`, trained by translation ranking on `examples` (en-x1 pairs) only."""
    from repro.weam.objectives.registry import build_objective
    from repro.weam.train import train

    model = copy.deepcopy(base)
    obj = build_objective("contrastive", vocab_size=tok.vocab_size, max_len=tier.max_len)
    # a data stream of its own, still fixed by the seed
    res = train(model, obj, examples.get(paired=True), train_cfg(tier, tier.contrastive_steps, tier.contrastive_lr, seed + 7919, 1.0))
    return model, res


# --- evaluation -------------------------------------------------------------------------


def heldout_loss(model: Any, tok: Any, data: Data, tier: Tier, seed: int) -> dict[str, float]:
    """Masked-token cross-entropy (nats) per language on held-out sentences, fixed mask."""
    from repro.weam.evaluate import mlm_perplexity

    ppl = mlm_perplexity(model, tok, data.heldout, seed=seed, max_len=tier.max_len)
    return {lg: r6(math.log(v)) for lg, v in ppl.items()}


def bucc_splits(n: int) -> tuple[tuple[slice, slice, slice], tuple[slice, slice, slice]]:
    """Dev and test splits of n test pairs: (gold, source distractors, target distractors).

    In each half, the first half are gold pairs, then source-side sentences whose
    translations are absent, then target-side sentences whose sources are absent.
    """
    out = []
    for start in (0, n // 2):
        m = n // 2
        g, s = start + m // 2, start + m // 2 + m // 4
        out.append((slice(start, g), slice(g, s), slice(s, start + m)))
    return out[0], out[1]


def evaluate(model: Any, tok: Any, data: Data, tier: Tier) -> dict[str, Any]:
    """Retrieval (middle and last layer), BUCC F1 (dev threshold), BLI without shared tokens."""
    import numpy as np

    from repro.weam.evaluate import (
        accuracy_at_1,
        bli_precision_at_1,
        bucc_dev_test,
        default_layers,
        sentence_embeddings,
        type_vectors,
    )

    layers = default_layers(model)
    names = {layers[0]: "mid", layers[1]: "last"}
    en_sents = [p.src for p in data.test[HIGH]]  # multi-way parallel: the same en side for all
    mid = layers[0] if tier.bli else None
    en_tok: list[Any] = []
    en = sentence_embeddings(model, tok, en_sents, layers, max_len=tier.max_len, token_layer=mid, tokens_out=en_tok)
    en_types = type_vectors(model, tok, en_sents, layers[0], states=en_tok) if tier.bli else {}
    out: dict[str, Any] = {"per_lang": {}}
    dev, test = bucc_splits(len(en_sents))
    for lg in (HIGH, *LOWS):
        x_sents = [p.tgt for p in data.test[lg]]
        x_tok: list[Any] = []
        xs = sentence_embeddings(model, tok, x_sents, layers, max_len=tier.max_len, token_layer=mid, tokens_out=x_tok)
        row: dict[str, float] = {}
        for layer, nm in names.items():
            a, b = en[layer], xs[layer]
            row[f"acc_{nm}"] = r6((accuracy_at_1(a, b) + accuracy_at_1(b, a)) / 2)

            def side(sp: tuple[slice, slice, slice], a: Any = a, b: Any = b) -> tuple[Any, Any, int]:
                g, s, t = sp
                return np.concatenate([a[g], a[s]]), np.concatenate([b[g], b[t]]), g.stop - g.start

            row[f"bucc_{nm}"] = r6(bucc_dev_test(side(dev), side(test))["f1"])
        if tier.bli:
            x_types = type_vectors(model, tok, x_sents, layers[0], states=x_tok)
            exclude = SHARED | data.world.anchors  # BLI scores only words no language shares
            bli = bli_precision_at_1(model, tok, data.test[lg], layers[0], exclude=exclude, src_vectors=en_types, tgt_vectors=x_types)
            row["bli"] = r6(bli["p_at_1"])
        out["per_lang"][lg] = row
    for key in out["per_lang"][HIGH]:
        out[f"high_{key}"] = out["per_lang"][HIGH][key]
        out[f"low_{key}"] = r6(sum(out["per_lang"][lg][key] for lg in LOWS) / len(LOWS))
    return out


# --- the grid ---------------------------------------------------------------------------


def floor_arms(data: Data, tok: Any, tier: Tier, seed: int, contrastive: Examples, timings: dict[str, float]) -> dict[str, Any]:
    """The floor: the seed's initial weights (`untrained`) and, where a cell asks for it, their
    contrastive stage (`untrained_C`). One tokenizer, one test set and one contrastive set per
    seed make them the same in every cell, so they are evaluated and trained once per seed."""
    t0 = time.perf_counter()
    untrained = initial_model(tier, tok, seed)
    arms: dict[str, Any] = {"untrained": {"eval": evaluate(untrained, tok, data, tier), "heldout_loss": heldout_loss(untrained, tok, data, tier, seed)}}
    timings["floor/untrained"] = round(time.perf_counter() - t0, 2)
    if "untrained" in (*tier.contrastive, *tier.side_contrastive):
        t0 = time.perf_counter()
        model, res = contrastive_stage(untrained, contrastive, tok, tier, seed)
        arms["untrained_C"] = {"loss": tail(res.losses), "eval": evaluate(model, tok, data, tier)}
        timings["floor/untrained_C"] = round(time.perf_counter() - t0, 2)
    return arms


def run_cell(
    cell: Cell,
    data: Data,
    tok: Any,
    tier: Tier,
    seed: int,
    links: dict[tuple[str, int], Any],
    timings: dict[str, float],
    floor: dict[str, Any],
    contrastive_examples: Examples,
) -> dict[str, Any]:
    """One cell's arms; the floor's (`floor_arms`) are copied in, not recomputed."""
    from repro.weam.align import alignment_error_rate

    spec = corpus(data, cell, tier, links)
    examples = Examples(spec, tok, tier, seed)
    out: dict[str, Any] = {"design": cell.design, "ratio": cell.ratio, "alpha": cell.alpha, "mono": cell.mono, "par": cell.par}
    out["aligner_aer"] = {
        lg: r6(alignment_error_rate([set(x) for x in spec.links[lg]], [set(p.gold or ()) for p in spec.parallel[lg].pairs]))
        for lg in sorted(spec.parallel)
    }
    out["entropy"] = r6(unigram_entropy(tok, spec, cell.alpha))
    arms: dict[str, Any] = {"untrained": copy.deepcopy(floor["untrained"])}
    t0 = time.perf_counter()
    mlm, res = pretrain_mlm(examples, tok, tier, seed, cell.alpha)
    arms["mlm"] = {"loss": tail(res.losses), "heldout_loss": heldout_loss(mlm, tok, data, tier, seed), "eval": evaluate(mlm, tok, data, tier)}
    out["mlm_loss"] = arms["mlm"]["loss"]
    out["entropy_minus_loss"] = r6(out["entropy"] - out["mlm_loss"])
    timings[f"{cell.name}/mlm"] = round(time.perf_counter() - t0, 2)
    main_cell = cell.design == "imbalance" and cell.alpha == 1.0
    continued = tier.continued if main_cell else tier.side_continued
    contrastive = tier.contrastive if main_cell else tier.side_contrastive
    models = {}
    for arm in continued:
        t0 = time.perf_counter()
        model, res = continue_arm(mlm, arm, examples, tok, tier, seed, cell.alpha)
        stats = res.stats[-max(1, len(res.stats) // 10) :]
        arms[arm] = {"loss": tail(res.losses), "eval": evaluate(model, tok, data, tier)}
        arms[arm]["loss_parts"] = {k: r6(sum(s.get(k, 0.0) for s in stats) / len(stats)) for k in sorted(stats[0])}
        models[arm] = model
        timings[f"{cell.name}/{arm}"] = round(time.perf_counter() - t0, 2)
    for arm in contrastive:
        if arm == "untrained":
            arms["untrained_C"] = copy.deepcopy(floor["untrained_C"])
            continue
        t0 = time.perf_counter()
        model, res = contrastive_stage(models[arm], contrastive_examples, tok, tier, seed)
        arms[f"{arm}_C"] = {"loss": tail(res.losses), "eval": evaluate(model, tok, data, tier)}
        timings[f"{cell.name}/{arm}_C"] = round(time.perf_counter() - t0, 2)
    out["arms"] = arms
    summary = ", ".join(f"{a} {v['eval']['low_acc_last']:.3f}/{v['eval']['high_acc_last']:.3f}" for a, v in arms.items())
    log(f"{cell.name}: entropy {out['entropy']:.2f} mlm loss {out['mlm_loss']:.2f}; low/high acc {summary}")
    return out


def run_grid(tier: Tier, seed: int) -> tuple[dict[str, Any], dict[str, float]]:
    from repro.weam.tokenizer import train_tokenizer

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    data = make_data(tier, seed)
    # one tokenizer per seed: a fixed balanced sample, shared by every cell, arm and alpha
    tok = train_tokenizer(data.tok_sample, vocab_size=tier.tokenizer_vocab, alpha=1.0, seed=seed)
    results: dict[str, Any] = {"tokenizer": tokenizer_stats(tok, data), "cells": {}}
    timings["data"] = round(time.perf_counter() - t_start, 2)
    links: dict[tuple[str, int], Any] = {}
    contrastive = Examples.of_pairs(data.contrastive, tok, tier, seed)
    floor = floor_arms(data, tok, tier, seed, contrastive, timings)
    cells = plan(tier)
    for i, cell in enumerate(cells):
        log(f"cell {i + 1}/{len(cells)} {cell.name}")
        results["cells"][cell.name] = run_cell(cell, data, tok, tier, seed, links, timings, floor, contrastive)
    if tier.real:
        t0 = time.perf_counter()
        from repro.experiments.real import run_real

        results["real"] = run_real(tier, seed)
        timings["real"] = round(time.perf_counter() - t0, 2)
    timings["total"] = round(time.perf_counter() - t_start, 2)
    return results, timings


# --- derived numbers (what claims point at) -----------------------------------------------


def derive(results: dict[str, Any], tier: Tier) -> dict[str, Any]:
    """Flat per-seed numbers: per cell and arm, and the contrasts claims test."""
    cells = results["cells"]
    rmax, rmin = max(tier.imbalance_ratios), min(tier.imbalance_ratios)
    bal, imb = f"imb_r{rmin}", f"imb_r{rmax}"
    acc: dict[str, Any] = {}
    for name, c in cells.items():
        acc[name] = {arm: {k: v for k, v in a["eval"].items() if k != "per_lang"} for arm, a in c["arms"].items()}
    low = "low_acc_last"
    d: dict[str, Any] = {"share_effect": {}, "share_did": {}}
    arms = list(cells[bal]["arms"])
    for arm in arms:
        # share effect in the imbalance design: balanced minus most imbalanced
        d["share_effect"][arm] = r6(acc[bal][arm][low] - acc[imb][arm][low])
    for arm in arms:
        if arm != "untrained":
            floor = "untrained_C" if arm.endswith("_C") else "untrained"
            d["share_did"][arm] = r6(d["share_effect"][arm] - d["share_effect"][floor])
    scar = f"scar_r{min(tier.scarcity_ratios)}" if tier.scarcity_ratios and min(tier.scarcity_ratios) != rmax else None
    if scar:
        # low-resource amount fixed: only the high-resource amount (the share) differs
        d["imbalance_at_fixed_low"] = {arm: r6(acc[scar][arm][low] - acc[imb][arm][low]) for arm in acc[scar]}
    pairs = (
        ("weam", "mlm_cont"), ("weam", "tlm"), ("weam", "weam_random"), ("weam_gold", "weam"), ("tlm", "mlm_cont"),
        ("mlm_cont", "untrained"), ("mlm", "untrained"), ("weam_random", "mlm_cont"), ("weam_random", "tlm"),
        ("weam_C", "mlm_cont_C"), ("weam_C", "weam_random_C"), ("mlm_cont_C", "untrained_C"), ("tlm_C", "mlm_cont_C"),
    )
    for x, y in pairs:
        for name in (bal, imb):
            a = acc[name]
            if x in a and y in a:
                d.setdefault(f"{x}_vs_{y}", {})[name] = {m: r6(a[x][m] - a[y][m]) for m in METRICS if m in a[x]}
    d["log2_ratio"] = log2_ratios(cells, bal, imb, 2 * tier.n_test)
    loss = {n: c["entropy_minus_loss"] for n, c in cells.items()}
    aer = {n: c["aligner_aer"] for n, c in cells.items()}
    return {"acc": acc, "diff": d, "entropy_minus_loss": loss, "min_entropy_minus_loss": r6(min(loss.values())), "aligner_aer": aer}


def low_correct(ev: dict[str, Any], queries: int) -> int:
    """Correct zero-shot retrievals at the last layer, summed over the low-resource languages.

    Each language's accuracy@1 averages both directions over the test sentences, so times
    `queries` (2 x n_test) it is a whole count.
    """
    counts = [ev["per_lang"][lg]["acc_last"] * queries for lg in LOWS]
    if any(abs(c - round(c)) > 1e-3 for c in counts):
        raise ValueError(f"accuracies {counts} are not counts of {queries} queries")
    return sum(round(c) for c in counts)


def log2_ratios(cells: dict[str, Any], bal: str, imb: str, queries: int) -> dict[str, Any]:
    """Relative contrasts of zero-shot low-resource accuracy@1, as log2 ratios of counts.

    Near the floor (about 37 of 4,000 queries in the smoke tier) an absolute difference
    hides how many times more an arm finds, so the CI tier states its effects relatively:
    `share` is balanced over most imbalanced, `vs_floor` an arm over the untrained encoder
    after the same stages. Counts get 0.5 each (Haldane) so that a zero count stays finite.
    """

    def lr(a: dict[str, Any], b: dict[str, Any]) -> float:
        return r6(math.log2((low_correct(a, queries) + 0.5) / (low_correct(b, queries) + 0.5)))

    arms = {name: {arm: a["eval"] for arm, a in c["arms"].items()} for name, c in cells.items()}
    out: dict[str, Any] = {"share": {arm: lr(arms[bal][arm], arms[imb][arm]) for arm in arms[bal]}, "vs_floor": {}}
    for name in (bal, imb):
        out["vs_floor"][name] = {
            arm: lr(ev, arms[name]["untrained_C" if arm.endswith("_C") else "untrained"])
            for arm, ev in arms[name].items()
            if not arm.startswith("untrained")
        }
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
    import torch

    torch.set_num_threads(tier.threads)  # before the first evaluation, not only in train()
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
