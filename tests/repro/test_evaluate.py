"""Evaluation on cases with known answers: a sentence retrieves itself, faiss agrees with numpy."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from repro.weam.data.types import ParallelPair
from repro.weam.evaluate import (
    bli_precision_at_1,
    bucc_f1,
    embedding_alignments,
    faiss_search,
    mlm_perplexity,
    numpy_search,
    retrieval_accuracy,
    sentence_embeddings,
    word_alignment_aer,
)
from repro.weam.model import ModelConfig, WeamModel
from repro.weam.tokenizer import WeamTokenizer, train_tokenizer

Setup = tuple[WeamModel, WeamTokenizer, list[ParallelPair]]


def sentences(n: int, seed: int) -> list[tuple[str, ...]]:
    rng = random.Random(seed)
    words = [f"w{k}" for k in range(40)]
    return [tuple(rng.sample(words, rng.randint(4, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def setup() -> Setup:
    sents = sentences(60, 0)
    tok = train_tokenizer({"xx": sents}, vocab_size=80)
    torch.manual_seed(0)
    model = WeamModel(ModelConfig(vocab_size=tok.vocab_size, hidden=32, layers=2, heads=2))
    model.eval()
    # Identical "translations": every metric has a known perfect answer.
    pairs = [ParallelPair(s, s, tuple((i, i) for i in range(len(s)))) for s in sents]
    return model, tok, pairs


def test_identical_sentences_retrieve_themselves(setup: Setup) -> None:
    model, tok, pairs = setup
    acc = retrieval_accuracy(model, tok, pairs)
    assert acc["chance"] == pytest.approx(1 / 60)
    for layer in (1, 2):
        assert acc[f"layer{layer}/src2tgt"] == acc[f"layer{layer}/tgt2src"] == 1.0


def test_embeddings_are_unit_length_and_deterministic(setup: Setup) -> None:
    model, tok, pairs = setup
    a = sentence_embeddings(model, tok, [p.src for p in pairs], [2])
    b = sentence_embeddings(model, tok, [p.src for p in pairs], [2], batch_size=7)
    assert np.allclose(np.linalg.norm(a[2], axis=1), 1.0, atol=1e-5)
    assert np.allclose(a[2], b[2], atol=1e-5)  # batching and padding do not change the result


def test_word_level_metrics_are_perfect_on_identical_pairs(setup: Setup) -> None:
    model, tok, pairs = setup
    links = embedding_alignments(model, tok, pairs[:10])
    assert links == [set(p.gold or ()) for p in pairs[:10]]
    assert word_alignment_aer(model, tok, pairs) == pytest.approx(0.0)
    bli = bli_precision_at_1(model, tok, pairs)
    assert bli["p_at_1"] == 1.0 and bli["n_queries"] >= 30


def test_bucc_mining_finds_pairs_among_distractors(setup: Setup) -> None:
    model, tok, pairs = setup
    distract = sentences(40, 1)
    res = bucc_f1(model, tok, pairs[:20], distract[:20], distract[20:])
    assert res["f1"] == 1.0


def test_perplexity_is_finite_and_per_language(setup: Setup) -> None:
    model, tok, pairs = setup
    ppl = mlm_perplexity(model, tok, {"a": [p.src for p in pairs], "b": [p.src for p in pairs]})
    assert ppl["a"] == ppl["b"]  # same text, same seeded mask
    assert 1.0 < ppl["a"] < 10 * tok.vocab_size


@pytest.mark.parametrize("k", [1, 5])
def test_faiss_and_numpy_give_the_same_neighbours(k: int) -> None:
    rng = np.random.default_rng(0)
    keys = rng.standard_normal((2000, 16)).astype(np.float32)
    queries = rng.standard_normal((300, 16)).astype(np.float32)
    fs, fi = faiss_search(queries, keys, k)
    ns, ni = numpy_search(queries, keys, k, chunk=128)
    assert np.array_equal(fi, ni)
    assert np.allclose(fs, ns, atol=1e-4)
