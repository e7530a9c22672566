"""The pieces the confirmatory imbalance study added: disjoint scripts, topics, matched WEAM
targets, the pair-MLM control, interleaved continued training, BUCC with a dev threshold,
BLI without shared tokens, and the throughput probe's CPU path."""

from __future__ import annotations

import dataclasses
import functools
import io
import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.weam.data.synthetic import _SHARED, SyntheticConfig, generate_world
from repro.weam.data.types import ParallelPair
from repro.weam.evaluate import (
    best_threshold,
    bli_precision_at_1,
    bucc_dev_test,
    f1_at_threshold,
    mining_candidates,
)
from repro.weam.model import IGNORE_INDEX, ModelConfig, WeamModel
from repro.weam.objectives.batching import PairExample
from repro.weam.objectives.mlm import MLMObjective, PairMLMObjective
from repro.weam.objectives.weam import WEAMObjective
from repro.weam.tokenizer import train_tokenizer
from repro.weam.train import CorpusSpec, TrainConfig, build_examples, train

CFG = SyntheticConfig(seed=1, vocab_size=120, n_sentences=300, n_parallel=200, disjoint_scripts=True, levels=(0, 3, 3, 3), n_topics=4)


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return generate_world(CFG)


def test_disjoint_scripts_share_only_the_shared_tokens(world) -> None:  # type: ignore[no-untyped-def]
    chars = {lg: {c for s in world.monolingual[lg] for w in s if w not in _SHARED for c in w} for lg in world.languages}
    langs = list(chars)
    for i, a in enumerate(langs):
        for b in langs[i + 1 :]:
            assert not chars[a] & chars[b], (a, b)
    words = {lg: {w for s in world.monolingual[lg] for w in s} for lg in world.languages}
    assert words["en"] & words["x2"] <= set(_SHARED)
    # gold links still join translations
    lex = world.lexicon["x3"]
    for p in world.parallel["x3"].pairs[:50]:
        assert all(p.tgt[j] in lex[p.src[i]] for i, j in p.gold)


def test_anchors_are_written_alike_and_change_nothing_else(world) -> None:  # type: ignore[no-untyped-def]
    anchored, half = (generate_world(dataclasses.replace(CFG, anchor_fraction=f)) for f in (0.1, 0.5))
    # anchors are base-language words (nouns), and their number grows with the fraction
    assert anchored.anchors <= set(world.lexicon["en"]) - set(_SHARED)
    assert 4 <= len(half.anchors) / len(anchored.anchors) <= 6
    for lg in ("x1", "x2", "x3"):
        lex, old = anchored.lexicon[lg], world.lexicon[lg]
        assert all(lex[a] == (a,) for a in anchored.anchors)  # the base form, in the base script
        assert {w for w in old if lex[w] != old[w]} <= anchored.anchors  # every other form kept
    # what the languages share beyond "." and the digits is exactly the anchors in use
    words = {lg: {w for s in anchored.monolingual[lg] for w in s} for lg in anchored.languages}
    assert words["en"] & words["x2"] - set(_SHARED) <= anchored.anchors
    assert words["en"] & words["x2"] & anchored.anchors
    # the anchors are a stream of their own: the unanchored world is the same as before
    assert generate_world(dataclasses.replace(CFG, anchor_fraction=0.0)).monolingual == world.monolingual
    with pytest.raises(ValueError, match="anchor_fraction"):
        SyntheticConfig(anchor_fraction=1.5)


def test_levels_override_and_old_worlds_unchanged() -> None:
    w = generate_world(SyntheticConfig(seed=2, vocab_size=80, n_sentences=50, n_parallel=50, levels=(0, 3, 3, 3)))
    assert w.level("x1") == 3
    # worlds without the new options keep their old random stream
    a = generate_world(SyntheticConfig(seed=2, vocab_size=80, n_sentences=50, n_parallel=50))
    b = generate_world(SyntheticConfig(seed=2, vocab_size=80, n_sentences=50, n_parallel=50, topic_coherence=0.5))
    assert a.monolingual == b.monolingual
    with pytest.raises(ValueError, match="levels"):
        SyntheticConfig(levels=(0, 4, 1, 1))


def test_topics_make_context_predictive() -> None:
    """Within a sentence, nouns share a topic far more often with topics than without."""

    def same_topic_rate(n_topics: int) -> float:
        cfg = SyntheticConfig(seed=0, vocab_size=200, n_sentences=800, n_parallel=10, n_topics=n_topics, max_clauses=2)
        w = generate_world(cfg)
        from repro.weam.data.synthetic import _build_vocab

        vocab = _build_vocab(cfg, random.Random(f"weam-synthetic-{cfg.seed}-vocab"), set(_SHARED))
        rank = {x: r for r, x in enumerate(vocab.words["noun"])}
        hits = total = 0
        for s in w.monolingual["en"]:
            nouns = [rank[x] % 4 for x in s if x in rank]
            for i in range(len(nouns) - 1):
                hits += nouns[i] == nouns[i + 1]
                total += 1
        return hits / total

    assert same_topic_rate(4) > same_topic_rate(0) + 0.3


@functools.lru_cache
def _small(seed: int):  # type: ignore[no-untyped-def]
    world = generate_world(SyntheticConfig(seed=seed, vocab_size=60, n_sentences=20, n_parallel=40, languages=("en", "x1")))
    return world, train_tokenizer(CorpusSpec.from_world(world).texts(), vocab_size=150, seed=0)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), rate=st.sampled_from([0.15, 0.3]))
def test_weam_targets_match_the_rate(seed: int, rate: float) -> None:
    """WEAM (link_prob 0.15 takes well under 15%) plus TLM make `rate` of the tokens."""
    world, tok = _small(seed % 3)
    obj = WEAMObjective(vocab_size=tok.vocab_size, target_rate=rate, link_prob=0.15)
    ex = [PairExample(tok.encode_words(p.src), tok.encode_words(p.tgt), p.gold or ()) for p in world.parallel["x1"].pairs]
    b = obj.make_batch(ex, torch.Generator().manual_seed(seed))
    assert b.aux_labels is not None
    n = int((~b.special).sum())
    targets = int((b.labels != IGNORE_INDEX).sum() + (b.aux_labels != IGNORE_INDEX).sum())
    assert int((b.aux_labels != IGNORE_INDEX).sum()) > 0
    # TLM's Bernoulli draw: within 5 standard deviations of the matched total
    assert abs(targets - rate * n) < 5 * np.sqrt(n * rate) + 2


def test_pair_mlm_encodes_each_sentence_alone() -> None:
    world = generate_world(SyntheticConfig(seed=0, vocab_size=60, n_sentences=20, n_parallel=8, languages=("en", "x1")))
    tok = train_tokenizer(CorpusSpec.from_world(world).texts(), vocab_size=150, seed=0)
    ex = [PairExample(tok.encode_words(p.src), tok.encode_words(p.tgt)) for p in world.parallel["x1"].pairs]
    b = PairMLMObjective(vocab_size=tok.vocab_size).make_batch(ex, torch.Generator().manual_seed(0))
    assert b.input_ids.shape[0] == 2 * len(ex)
    assert int(b.token_type_ids.sum()) == 0  # no second segment: no sentence sees its translation


def test_interleaved_training_draws_both_streams_and_is_deterministic() -> None:
    world = generate_world(SyntheticConfig(seed=0, vocab_size=60, n_sentences=60, n_parallel=60, languages=("en", "x1")))
    spec = CorpusSpec.from_world(world)
    tok = train_tokenizer(spec.texts(), vocab_size=150, seed=0)
    pairs = build_examples(spec, tok, paired=True, link_source="gold", aligner="ibm1", seed=0)
    mono = build_examples(spec, tok, paired=False, link_source=None, aligner="ibm1", seed=0)
    cfg = ModelConfig(vocab_size=tok.vocab_size, hidden=32, layers=1, heads=2, intermediate=64, max_positions=64)

    def once() -> list[float]:
        torch.manual_seed(0)
        m = WeamModel(cfg)
        tc = TrainConfig(steps=4, batch_size=8, lr=1e-3, log_every=0)
        res = train(m, WEAMObjective(vocab_size=tok.vocab_size, target_rate=0.15), pairs, tc, interleave=(MLMObjective(vocab_size=tok.vocab_size), mono), log=io.StringIO())
        assert "interleaved/mlm" in res.stats[-1] and "weam" in res.stats[-1]
        return res.losses

    assert once() == once()


def _unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def test_bucc_threshold_comes_from_dev() -> None:
    rng = np.random.default_rng(0)

    def split(n: int, noise: float) -> tuple[np.ndarray, np.ndarray, int]:
        x = rng.normal(size=(2 * n, 16))
        y = x.copy()
        y[:n] += noise * rng.normal(size=(n, 16))
        y[n:] = rng.normal(size=(n, 16))
        return _unit(x), _unit(y), n

    good = bucc_dev_test(split(100, 0.3), split(100, 0.3))
    assert good["f1"] > 0.8 and good["f1"] <= good["oracle_f1"] + 1e-12
    noise = bucc_dev_test(split(50, 50.0), split(50, 50.0))
    assert noise["f1"] < 0.3


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 2), st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=20))
def test_best_threshold_is_the_f1_maximum(cands: list[tuple[float, int, int]]) -> None:
    cands = sorted(cands, reverse=True)
    th = best_threshold(cands, 5)
    best = f1_at_threshold(cands, 5, th) if th != float("inf") else 0.0
    assert all(f1_at_threshold(cands, 5, s) <= best + 1e-12 for s, _, _ in cands)
    assert mining_candidates(_unit(np.eye(3) + 0.01), _unit(np.eye(3)))[0][1:] in {(0, 0), (1, 1), (2, 2)}


def test_bli_excludes_shared_tokens() -> None:
    sents = [(*tuple(random.Random(k).sample([f"w{i}" for i in range(20)], 5)), ".", "7") for k in range(40)]
    pairs = [ParallelPair(s, tuple(w.upper() if w not in _SHARED else w for w in s), tuple((i, i) for i in range(len(s)))) for s in sents]
    tok = train_tokenizer({"a": [p.src for p in pairs], "b": [p.tgt for p in pairs]}, vocab_size=120)
    torch.manual_seed(0)
    model = WeamModel(ModelConfig(vocab_size=tok.vocab_size, hidden=32, layers=2, heads=2))
    full = bli_precision_at_1(model, tok, pairs)
    clean = bli_precision_at_1(model, tok, pairs, exclude=frozenset(_SHARED))
    assert clean["n_queries"] == full["n_queries"] - 2  # "." and "7" dropped


def test_probe_cpu_path_prints_steps_per_second(capsys: pytest.CaptureFixture[str]) -> None:
    from repro.experiments import probe

    tiny = '{"vocab_size": 60, "n_mono_high": 80, "n_par_high": 40, "n_contrastive": 20, "n_test": 16, "n_tok_sample": 30, "hidden": 32, "intermediate": 64, "tokenizer_vocab": 150, "batch_size": 4, "max_len": 32, "device": "cpu"}'
    assert probe.main(["--tier", "smoke", "--seconds", "1.5", "--overrides", tiny]) == 0
    out = capsys.readouterr().out
    for kind in ("mlm", "continued", "contrastive"):
        assert f"{kind}: " in out and "steps/s" in out
