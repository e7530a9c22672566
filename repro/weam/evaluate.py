"""Zero-shot evaluation: sentence retrieval, bitext mining, word alignment, BLI, perplexity.

- Retrieval as XTREME's Tatoeba task (Hu et al. 2020, https://arxiv.org/abs/2003.11080,
  and its `run_retrieval.py`): mean-pool the hidden states of one layer over
  non-pad tokens, L2-normalise, take the exact nearest neighbour by inner
  product (faiss `IndexFlatIP`), report accuracy@1 in both directions. We
  report a middle layer (XTREME used layer 8 of mBERT's 12) and the last one.
- BUCC-style mining (Zweigenbaum et al. 2018) with ratio-margin scores
  (Artetxe & Schwenk 2019, https://arxiv.org/abs/1811.01136, k = 4): the
  true pairs hidden among distractor sentences on both sides; F1 at the best
  threshold (an oracle threshold: BUCC tunes it on its training split).
- Word alignment from embedding similarity (SimAlign's ArgMax, Jalili Sabet
  et al. 2020, https://arxiv.org/abs/2004.08728): word vectors are the mean
  of their subwords' states, a link is kept when each word is the other's
  argmax; AER against gold links.
- Bilingual lexicon induction: word-type vectors averaged over their
  contexts, P@1 of the nearest target type against the gold-linked types.
- MLM perplexity per language: exp of the mean masked-token cross-entropy
  under a fixed, seeded 15% mask.

All functions run under `@torch.no_grad()` with the model in eval mode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import faiss
import numpy as np
import torch
import torch.nn.functional as F

from repro.weam.align import alignment_error_rate
from repro.weam.data.types import Link, ParallelCorpus, ParallelPair
from repro.weam.model import WeamModel
from repro.weam.objectives.batching import collate, single_row
from repro.weam.objectives.masking import mask_for_mlm
from repro.weam.tokenizer import Encoded, Sentence, WeamTokenizer


def default_layers(model: WeamModel) -> tuple[int, int]:
    """(middle, last) indices into `hidden_states` (0 is the embedding layer)."""
    n = model.cfg.layers
    return (max(1, n // 2), n)


@torch.no_grad()
def token_states(
    model: WeamModel,
    encs: Sequence[Encoded],
    layers: Sequence[int],
    *,
    batch_size: int = 128,
    max_len: int = 64,
) -> dict[int, list[torch.Tensor]]:
    """Per layer, per sentence: the states of its subwords (n_i, C), specials dropped."""
    model.eval()
    out: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for start in range(0, len(encs), batch_size):
        chunk = encs[start : start + batch_size]
        b = collate([single_row(e, max_len) for e in chunk])
        hs = _states(model, b.input_ids, b.attention_mask)
        for layer in layers:
            h = hs[layer].float().cpu()  # (B, T, C)
            for i, e in enumerate(chunk):
                out[layer].append(h[i, 1 : 1 + min(len(e.ids), max_len - 2)])
    return out


@torch.no_grad()
def sentence_embeddings(
    model: WeamModel,
    tokenizer: WeamTokenizer,
    sentences: Sequence[Sentence],
    layers: Sequence[int] | None = None,
    *,
    batch_size: int = 128,
    max_len: int = 64,
    token_layer: int | None = None,
    tokens_out: list[torch.Tensor] | None = None,
) -> dict[int, np.ndarray]:
    """Mean-pooled (over non-pad tokens, [CLS]/[SEP] included as in XTREME), L2-normalised.

    With `token_layer` and `tokens_out`, the same forward pass also appends each sentence's
    subword states at that layer (specials dropped) to `tokens_out`, for `type_vectors`.
    """
    model.eval()
    layers = tuple(layers or default_layers(model))
    encs = tokenizer.encode_many(sentences)
    out: dict[int, list[np.ndarray]] = {layer: [] for layer in layers}
    for start in range(0, len(encs), batch_size):
        chunk = encs[start : start + batch_size]
        b = collate([single_row(e, max_len) for e in chunk])
        hs = _states(model, b.input_ids, b.attention_mask)
        m = b.attention_mask.unsqueeze(-1).float()  # (B, T, 1)
        for layer in layers:
            pooled = (hs[layer].float().cpu() * m).sum(1) / m.sum(1)  # (B, C)
            out[layer].append(F.normalize(pooled, dim=-1).numpy())
        if token_layer is not None and tokens_out is not None:
            h = hs[token_layer].float().cpu()
            tokens_out.extend(h[i, 1 : 1 + min(len(e.ids), max_len - 2)] for i, e in enumerate(chunk))
    return {k: np.ascontiguousarray(np.concatenate(v), dtype=np.float32) for k, v in out.items()}


def _states(
    model: WeamModel, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """All hidden layers, computed on the model's device (CPU or GPU)."""
    dev = next(model.parameters()).device
    return model.hidden_states(input_ids.to(dev), attention_mask.to(dev), all_layers=True)


def faiss_search(
    queries: np.ndarray, keys: np.ndarray, k: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product k-NN with `IndexFlatIP`: (scores, indices), each (Q, k)."""
    index = faiss.IndexFlatIP(keys.shape[1])
    index.add(np.ascontiguousarray(keys, dtype=np.float32))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def numpy_search(
    queries: np.ndarray, keys: np.ndarray, k: int = 1, chunk: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """The same exact search in numpy, in query chunks to bound memory (Q_chunk x N)."""
    scores, idx = [], []
    for s in range(0, len(queries), chunk):
        sim = queries[s : s + chunk] @ keys.T  # (q, N)
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k > 1 else sim.argmax(1)[:, None]
        top_s = np.take_along_axis(sim, top, 1)
        order = np.argsort(-top_s, axis=1, kind="stable")
        idx.append(np.take_along_axis(top, order, 1))
        scores.append(np.take_along_axis(top_s, order, 1))
    return np.concatenate(scores), np.concatenate(idx)


def accuracy_at_1(src: np.ndarray, tgt: np.ndarray) -> float:
    """Share of rows i of `src` whose nearest row of `tgt` is i."""
    _, idx = faiss_search(src, tgt, 1)
    return float(np.mean(idx[:, 0] == np.arange(len(src))))


@torch.no_grad()
def retrieval_accuracy(
    model: WeamModel,
    tokenizer: WeamTokenizer,
    pairs: Sequence[ParallelPair] | ParallelCorpus,
    layers: Sequence[int] | None = None,
    *,
    max_len: int = 64,
) -> dict[str, float]:
    """Tatoeba-style accuracy@1 both ways per layer, plus their mean and chance (1/n).

    Keys: `layer{L}/src2tgt`, `layer{L}/tgt2src`, `layer{L}/mean`, `chance`.
    """
    if isinstance(pairs, ParallelCorpus):
        pairs = pairs.pairs
    layers = tuple(layers or default_layers(model))
    src = sentence_embeddings(model, tokenizer, [p.src for p in pairs], layers, max_len=max_len)
    tgt = sentence_embeddings(model, tokenizer, [p.tgt for p in pairs], layers, max_len=max_len)
    out: dict[str, float] = {"chance": 1.0 / len(pairs)}
    for layer in layers:
        fwd, bwd = accuracy_at_1(src[layer], tgt[layer]), accuracy_at_1(tgt[layer], src[layer])
        out[f"layer{layer}/src2tgt"] = fwd
        out[f"layer{layer}/tgt2src"] = bwd
        out[f"layer{layer}/mean"] = (fwd + bwd) / 2
    return out


def margin_scores(x: np.ndarray, y: np.ndarray, k: int = 4) -> np.ndarray:
    """Ratio margin: cos(x, y) / (mean top-k cos of x + mean top-k cos of y) / 2, (X, Y)."""
    k = min(k, len(x), len(y))
    sim = x @ y.T  # (X, Y)
    knn_x = np.sort(sim, axis=1)[:, -k:].mean(1)  # (X,)
    knn_y = np.sort(sim, axis=0)[-k:, :].mean(0)  # (Y,)
    return sim / ((knn_x[:, None] + knn_y[None, :]) / 2)


@torch.no_grad()
def bucc_f1(
    model: WeamModel,
    tokenizer: WeamTokenizer,
    pairs: Sequence[ParallelPair],
    src_distractors: Sequence[Sentence],
    tgt_distractors: Sequence[Sentence],
    layer: int | None = None,
) -> dict[str, float]:
    """Mine pairs among true pairs + distractors; F1 at the best margin threshold."""
    layer = layer or default_layers(model)[0]
    src_s = [p.src for p in pairs] + list(src_distractors)
    tgt_s = [p.tgt for p in pairs] + list(tgt_distractors)
    x = sentence_embeddings(model, tokenizer, src_s, [layer])[layer]
    y = sentence_embeddings(model, tokenizer, tgt_s, [layer])[layer]
    scores = margin_scores(x, y)
    best = scores.argmax(1)  # each source proposes its best target
    cand = sorted(((float(scores[i, j]), i, int(j)) for i, j in enumerate(best)), reverse=True)
    n_gold, hits, out = (
        len(pairs),
        0,
        {"f1": 0.0, "precision": 0.0, "recall": 0.0, "threshold": 0.0},
    )
    for rank, (score, i, j) in enumerate(cand, start=1):
        hits += int(i == j and i < n_gold)
        p, r = hits / rank, hits / n_gold
        f1 = 2 * p * r / (p + r) if hits else 0.0
        if f1 > out["f1"]:
            out = {"f1": f1, "precision": p, "recall": r, "threshold": score}
    return out


def mining_candidates(x: np.ndarray, y: np.ndarray, k: int = 4) -> list[tuple[float, int, int]]:
    """Each source row's best target by ratio margin: (score, i, j), best first."""
    scores = margin_scores(x, y, k)
    best = scores.argmax(1)
    return sorted(((float(scores[i, j]), i, int(j)) for i, j in enumerate(best)), reverse=True)


def f1_at_threshold(cands: Sequence[tuple[float, int, int]], n_gold: int, threshold: float) -> float:
    """F1 of the candidates scoring >= threshold; gold pairs are (i, i) for i < n_gold."""
    kept = [(i, j) for s, i, j in cands if s >= threshold]
    hits = sum(1 for i, j in kept if i == j and i < n_gold)
    if not hits:
        return 0.0
    p, r = hits / len(kept), hits / n_gold
    return 2 * p * r / (p + r)


def best_threshold(cands: Sequence[tuple[float, int, int]], n_gold: int) -> float:
    """The candidate score that maximises F1 (ties: the higher threshold); +inf if none helps."""
    best, best_f1, hits = float("inf"), 0.0, 0
    for rank, (score, i, j) in enumerate(cands, start=1):
        hits += int(i == j and i < n_gold)
        if hits:
            p, r = hits / rank, hits / n_gold
            f1 = 2 * p * r / (p + r)
            if f1 > best_f1:
                best, best_f1 = score, f1
    return best


def bucc_dev_test(
    dev: tuple[np.ndarray, np.ndarray, int], test: tuple[np.ndarray, np.ndarray, int], k: int = 4
) -> dict[str, float]:
    """BUCC-style mining F1 on `test` at the margin threshold that is best on `dev`.

    Each split is (source embeddings, target embeddings, n_gold): rows i < n_gold of both
    sides are translations, the rest are distractors. The dev split picks the threshold
    (as BUCC tunes it on its training split), so the test F1 is not an oracle.
    """
    threshold = best_threshold(mining_candidates(dev[0], dev[1], k), dev[2])
    cands = mining_candidates(test[0], test[1], k)
    return {
        "f1": f1_at_threshold(cands, test[2], threshold),
        "threshold": threshold,
        "oracle_f1": f1_at_threshold(cands, test[2], best_threshold(cands, test[2])),
    }


def _word_vectors(states: torch.Tensor, enc: Encoded) -> torch.Tensor:
    """Mean of each word's subword states: (n_words, C), words in index order."""
    word_of = torch.tensor(enc.word_of[: len(states)])
    n_words = int(word_of.max()) + 1 if len(word_of) else 0
    sums = torch.zeros(n_words, states.shape[1]).index_add_(0, word_of, states)
    counts = torch.bincount(word_of, minlength=n_words).clamp_min(1).unsqueeze(1)
    return sums / counts


@torch.no_grad()
def embedding_alignments(
    model: WeamModel,
    tokenizer: WeamTokenizer,
    pairs: Sequence[ParallelPair],
    layer: int | None = None,
) -> list[set[Link]]:
    """SimAlign ArgMax links: (i, j) where j = argmax_j sim(i, .) and i = argmax_i sim(., j)."""
    layer = layer or default_layers(model)[0]
    s_enc = tokenizer.encode_many([p.src for p in pairs])
    t_enc = tokenizer.encode_many([p.tgt for p in pairs])
    s_states = token_states(model, s_enc, [layer])[layer]
    t_states = token_states(model, t_enc, [layer])[layer]
    out = []
    for se, te, ss, ts in zip(s_enc, t_enc, s_states, t_states, strict=True):
        a = F.normalize(_word_vectors(ss, se), dim=-1)
        b = F.normalize(_word_vectors(ts, te), dim=-1)
        if len(a) == 0 or len(b) == 0:
            out.append(set())
            continue
        sim = a @ b.T  # (n_src_words, n_tgt_words)
        fwd, bwd = sim.argmax(1).tolist(), sim.argmax(0).tolist()
        out.append({(i, j) for i, j in enumerate(fwd) if bwd[j] == i})
    return out


def word_alignment_aer(
    model: WeamModel,
    tokenizer: WeamTokenizer,
    pairs: Sequence[ParallelPair],
    layer: int | None = None,
) -> float:
    """AER of `embedding_alignments` against the pairs' gold links (sure = possible = gold)."""
    pred = embedding_alignments(model, tokenizer, pairs, layer)
    return alignment_error_rate(pred, [set(p.gold or ()) for p in pairs])


@torch.no_grad()
def bli_precision_at_1(
    model: WeamModel,
    tokenizer: WeamTokenizer,
    pairs: Sequence[ParallelPair],
    layer: int | None = None,
    *,
    min_count: int = 2,
    exclude: frozenset[str] = frozenset(),
    src_vectors: Mapping[str, np.ndarray] | None = None,
    tgt_vectors: Mapping[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """P@1 of lexicon induction from context-averaged word-type vectors and gold links.

    Words in `exclude` (tokens every language shares by construction, whose translation is
    the identical string) are neither queries nor candidates. `src_vectors` reuses the source
    side's type vectors (`type_vectors`) when several targets share one source text, and
    `tgt_vectors` the target side's (computed with the retrieval pass).
    """
    layer = layer or default_layers(model)[0]
    src_vec = src_vectors if src_vectors is not None else type_vectors(model, tokenizer, [p.src for p in pairs], layer)
    tgt_vec = tgt_vectors if tgt_vectors is not None else type_vectors(model, tokenizer, [p.tgt for p in pairs], layer)
    gold: dict[str, set[str]] = {}
    freq: dict[str, int] = {}
    for p in pairs:
        for w in p.src:
            freq[w] = freq.get(w, 0) + 1
        for i, j in p.gold or ():
            gold.setdefault(p.src[i], set()).add(p.tgt[j])
    queries = sorted(w for w in gold if freq[w] >= min_count and w in src_vec and w not in exclude)
    keys = sorted(w for w in tgt_vec if w not in exclude)
    if not queries or not keys:
        return {"p_at_1": 0.0, "n_queries": 0.0, "chance": 0.0}
    q = np.stack([src_vec[w] for w in queries])
    k = np.stack([tgt_vec[w] for w in keys])
    _, idx = faiss_search(q, k, 1)
    hits = [keys[i] in gold[w] for w, i in zip(queries, idx[:, 0], strict=True)]
    return {
        "p_at_1": float(np.mean(hits)),
        "n_queries": float(len(queries)),
        "chance": 1 / len(keys),
    }


@torch.no_grad()
def type_vectors(
    model: WeamModel,
    tokenizer: WeamTokenizer,
    sentences: Sequence[Sentence],
    layer: int,
    states: Sequence[torch.Tensor] | None = None,
) -> dict[str, np.ndarray]:
    """Normalised sum over a word type's occurrences of the mean of its subwords' states.

    Vectorised: one `index_add` from subwords to word occurrences, one from occurrences to
    types (a Python loop per word was most of an evaluation's time).
    """
    encs = tokenizer.encode_many(sentences)
    if states is None:
        states = token_states(model, encs, [layer])[layer]
    types: dict[str, int] = {}
    occ_of_sub: list[int] = []
    type_of_occ: list[int] = []
    for sent, enc, st in zip(sentences, encs, states, strict=True):
        base = len(type_of_occ)
        words = enc.word_of[: len(st)]
        n = max(words) + 1 if words else 0
        occ_of_sub.extend(base + w for w in words)
        type_of_occ.extend(types.setdefault(sent[w], len(types)) for w in range(n))
    if not types:
        return {}
    flat = torch.cat(list(states))  # (S, C)
    occ = torch.tensor(occ_of_sub)
    sums = torch.zeros(len(type_of_occ), flat.shape[1]).index_add_(0, occ, flat)
    counts = torch.bincount(occ, minlength=len(type_of_occ)).clamp_min(1).unsqueeze(1)
    per_type = torch.zeros(len(types), flat.shape[1]).index_add_(0, torch.tensor(type_of_occ), sums / counts)
    vecs = F.normalize(per_type, dim=-1).numpy().astype(np.float32)
    return {w: vecs[i] for w, i in types.items()}


@torch.no_grad()
def mlm_perplexity(
    model: WeamModel,
    tokenizer: WeamTokenizer,
    sentences: Mapping[str, Sequence[Sentence]],
    *,
    mask_prob: float = 0.15,
    seed: int = 0,
    batch_size: int = 128,
    max_len: int = 64,
) -> dict[str, float]:
    """exp(mean masked-token CE) per language under a seeded BERT mask."""
    model.eval()
    out: dict[str, float] = {}
    for lang in sorted(sentences):
        gen = torch.Generator().manual_seed(seed)
        encs = tokenizer.encode_many(sentences[lang])
        total, count = 0.0, 0
        for s in range(0, len(encs), batch_size):
            b = collate([single_row(e, max_len) for e in encs[s : s + batch_size]])
            b = mask_for_mlm(
                b,
                gen,
                prob=mask_prob,
                n_special=tokenizer.n_special,
                vocab_size=tokenizer.vocab_size,
            )
            dev = next(model.parameters()).device
            h = model.hidden_states(b.input_ids.to(dev), b.attention_mask.to(dev))[0]
            logits, targets = model.mlm_logits(h, b.labels.to(dev))
            total += float(F.cross_entropy(logits.float(), targets, reduction="sum"))
            count += int(targets.numel())
        out[lang] = math.exp(total / max(1, count))
    return out


def evaluate_all(
    model: WeamModel, tokenizer: WeamTokenizer, pairs: Sequence[ParallelPair], **kw: Any
) -> dict[str, float]:
    """Retrieval, AER and BLI on one parallel test set, flattened into one dict."""
    out = {f"retrieval/{k}": v for k, v in retrieval_accuracy(model, tokenizer, pairs).items()}
    if all(p.gold is not None for p in pairs):
        out["word/aer"] = word_alignment_aer(model, tokenizer, pairs)
        out.update({f"bli/{k}": v for k, v in bli_precision_at_1(model, tokenizer, pairs).items()})
    return out
