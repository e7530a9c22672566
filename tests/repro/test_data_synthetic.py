"""Synthetic languages: determinism, gold links that hold by construction, the promised distances."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from repro.weam.data.synthetic import SyntheticConfig, SyntheticWorld, generate_world

SMALL = SyntheticConfig(seed=3, vocab_size=300, n_sentences=400, n_parallel=300)


@pytest.fixture(scope="module")
def world() -> SyntheticWorld:
    return generate_world(SMALL)


def test_same_seed_same_world_other_seed_other_world(world: SyntheticWorld) -> None:
    again = generate_world(SMALL)
    assert again.monolingual == world.monolingual
    assert again.parallel == world.parallel
    other = generate_world(SyntheticConfig(seed=4, vocab_size=300, n_sentences=400, n_parallel=300))
    assert other.monolingual["en"] != world.monolingual["en"]


def test_languages_and_sizes(world: SyntheticWorld) -> None:
    assert world.languages == ("en", "x1", "x2", "x3")
    assert set(world.parallel) == {"x1", "x2", "x3"}
    for lang in world.languages:
        assert len(world.monolingual[lang]) == SMALL.n_sentences
    for corpus in world.parallel.values():
        assert corpus.src_lang == "en" and len(corpus) == SMALL.n_parallel


def test_gold_links_point_at_translations(world: SyntheticWorld) -> None:
    """Every gold link joins a base word to one of the forms the lexicon gives it."""
    for lang, corpus in world.parallel.items():
        lex = world.lexicon[lang]
        for pair in corpus.pairs:
            assert pair.gold is not None
            for i, j in pair.gold:
                assert pair.tgt[j] in lex[pair.src[i]]
            # every target word is covered exactly once; every source word at least once
            assert sorted(j for _, j in pair.gold) == list(range(len(pair.tgt)))
            assert {i for i, _ in pair.gold} == set(range(len(pair.src)))


def test_distances(world: SyntheticWorld) -> None:
    """x1 is monotone one-to-one, x2 adds splits and reordering, x3 adds polysemy."""

    def crossings(lang: str) -> int:
        return sum(
            1
            for p in world.parallel[lang].pairs
            for (i, j) in p.gold or ()
            for (k, m) in p.gold or ()
            if i < k and j > m
        )

    x1 = world.parallel["x1"].pairs
    assert all(p.gold == tuple((i, i) for i in range(len(p.src))) for p in x1)
    assert crossings("x1") == 0 < crossings("x2") < crossings("x3")
    fertile = sum(1 for p in world.parallel["x2"].pairs if len(p.tgt) > len(p.src))
    assert fertile > 0
    forms = Counter(f for w, fs in world.lexicon["x3"].items() for f in fs if w.isalpha())
    assert max(forms.values()) == 2  # polysemy: two base words share a form
    assert max(Counter(f for fs in world.lexicon["x2"].values() for f in fs).values()) == 1


def test_forms_never_collide_across_languages(world: SyntheticWorld) -> None:
    shared = {".", *"123456789"}
    vocab = {
        lang: {w for s in world.monolingual[lang] for w in s} - shared for lang in world.languages
    }
    for a in world.languages:
        for b in world.languages:
            if a < b:
                assert not vocab[a] & vocab[b], (a, b)


def test_base_is_zipfian(world: SyntheticWorld) -> None:
    counts = sorted(
        Counter(w for s in world.monolingual["en"] for w in s if w.isalpha()).values(), reverse=True
    )
    assert counts[0] > 5 * counts[len(counts) // 2] > 0


def test_generation_is_fast() -> None:
    """A quarter of the default size; the full 20k x 4 languages takes about 3 s on 2 cores."""
    start = time.perf_counter()
    generate_world(SyntheticConfig(n_sentences=5000, n_parallel=500))
    assert time.perf_counter() - start < 8  # generous: shared CI cores are often busy


def test_config_rejects_bad_languages() -> None:
    with pytest.raises(ValueError, match="distinct derived"):
        SyntheticConfig(languages=("en", "en"))


def test_monolingual_differs_from_parallel(world: SyntheticWorld) -> None:
    parallel_base = {p.src for p in world.parallel["x1"].pairs}
    mono = world.monolingual["en"]
    assert sum(s in parallel_base for s in mono) < 0.2 * len(mono)  # short sentences may recur
    assert world.level("en") == 0 and world.level("x3") == 3
