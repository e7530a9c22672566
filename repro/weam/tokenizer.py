"""A shared WordPiece tokenizer for every language of a pre-training run.

mBERT (Devlin et al. 2019, https://arxiv.org/abs/1810.04805) and XLM
(Conneau & Lample 2019, https://arxiv.org/abs/1901.07291) train one subword
vocabulary on text drawn with exponentially smoothed language probabilities
(q_i proportional to p_i^alpha, alpha = 0.7 for mBERT, 0.5 for XLM), so that
low-resource languages get more of the vocabulary than their share of the
data. The special tokens [PAD] [UNK] [CLS] [SEP] [MASK] are shared across
languages. Sentences arrive already split into words (`Sentence`), and
`encode_words` keeps, for every subword, the index of the word it came from,
which is what projecting word alignments onto subwords needs.

The vocabulary is learnt by a small deterministic count-based procedure
(`learn_vocab`) and served by a `tokenizers` WordPiece model; the
`tokenizers` trainer is available (`method="hf"`) but is not the default
because its tie-breaking follows Rust hash-map order (see `train_tokenizer`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from repro.weam.data.sampling import temperature_probs

Sentence = tuple[str, ...]

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))


@dataclass(frozen=True)
class Encoded:
    """Subword ids of one sentence and, per subword, the index of its word."""

    ids: tuple[int, ...]
    word_of: tuple[int, ...]

    def first_subword(self) -> dict[int, int]:
        """Map each word index to the position of its first subword."""
        first: dict[int, int] = {}
        for k, w in enumerate(self.word_of):
            first.setdefault(w, k)
        return first


def smoothed_sample(
    texts: Mapping[str, Sequence[Sentence]], alpha: float, total: int, seed: int
) -> list[Sentence]:
    """Draw `total` sentences with language probabilities q_i ~ p_i^alpha.

    Languages are visited in sorted order and sampled with a seeded RNG so the
    result does not depend on dict order. Sampling is with replacement, which
    up-samples small languages exactly as mBERT's smoothing intends.
    """
    sizes = {lang: len(texts[lang]) for lang in sorted(texts) if texts[lang]}
    rng = random.Random(seed)
    out: list[Sentence] = []
    for lang, q in temperature_probs(sizes, alpha).items():
        pool = texts[lang]
        out.extend(pool[rng.randrange(len(pool))] for _ in range(round(q * total)))
    return out


class WeamTokenizer:
    """A thin wrapper around a `tokenizers.Tokenizer` (WordPiece, whitespace words)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tok = tokenizer
        for i, name in enumerate(SPECIAL_TOKENS):
            # Fail early if a loaded file puts the specials anywhere else: the
            # masking code relies on ids 0..4 being the special tokens.
            if tokenizer.token_to_id(name) != i:
                raise ValueError(f"special token {name} must have id {i}")

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    @property
    def n_special(self) -> int:
        return len(SPECIAL_TOKENS)

    def encode_words(self, words: Sentence) -> Encoded:
        """Encode pre-split words without specials, keeping each subword's word index."""
        if not words:
            return Encoded((), ())
        enc = self.tok.encode(list(words), is_pretokenized=True, add_special_tokens=False)
        word_of = tuple(-1 if w is None else int(w) for w in enc.word_ids)
        return Encoded(tuple(enc.ids), word_of)

    def encode_many(self, sentences: Sequence[Sentence]) -> list[Encoded]:
        """Encode a batch of sentences (sequentially: deterministic and cheap at our sizes)."""
        return [self.encode_words(s) for s in sentences]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tok.id_to_token(i) or "[UNK]" for i in ids]

    def save(self, path: str | Path) -> None:
        self.tok.save(str(path))

    @classmethod
    def load(cls, path: str | Path) -> WeamTokenizer:
        return cls(Tokenizer.from_file(str(path)))


def train_tokenizer(
    texts: Mapping[str, Sequence[Sentence]],
    *,
    vocab_size: int = 2000,
    alpha: float = 0.7,
    sample_size: int = 20000,
    seed: int = 0,
    method: str = "counts",
) -> WeamTokenizer:
    """Learn one WordPiece vocabulary on alpha-smoothed multilingual text.

    `texts` maps a language code to its sentences (tuples of words); the
    learner sees `sample_size` sentences drawn by `smoothed_sample`.

    `method="counts"` (default) is `learn_vocab`, fully deterministic.
    `method="hf"` runs `tokenizers`' WordPieceTrainer, which breaks ties
    between equally frequent merges in Rust hash-map order: its token set can
    change from one run to the next, which the deterministic tiers forbid.
    Both give a `tokenizers` WordPiece model, so encoding is the same code.
    Raises `ValueError` for an unknown method.
    """
    sample = smoothed_sample(texts, alpha, sample_size, seed)
    if method == "counts":
        return WeamTokenizer(_wordpiece(learn_vocab(sample, vocab_size)))
    if method != "hf":
        raise ValueError(f"unknown tokenizer method {method!r}; choose 'counts' or 'hf'")
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False
    )
    tok.train_from_iterator((" ".join(s) for s in sample), trainer=trainer)
    # The trainer also numbers tokens in hash-map order; WordPiece encoding is
    # a greedy longest match, so re-numbering (sorted) changes no segmentation.
    return WeamTokenizer(_wordpiece(sorted(t for t in tok.get_vocab() if t not in SPECIAL_TOKENS)))


def learn_vocab(sentences: Sequence[Sentence], vocab_size: int) -> list[str]:
    """A deterministic WordPiece vocabulary: every character, then the best pieces.

    Candidates are each word type's prefixes (word-initial pieces) and
    suffixes (`##` continuation pieces) of two or more characters, the whole
    word included; a piece scores (occurrences of words carrying it) x (its
    length - 1), the subwords it saves per use. The top pieces by (score desc,
    piece asc) fill the vocabulary after the characters, which keep every word
    encodable ([UNK]-free on the training alphabet).
    """
    counts: dict[str, int] = {}
    for sent in sentences:
        for w in sent:
            counts[w] = counts.get(w, 0) + 1
    chars = sorted({c for w in counts for c in w})
    base = [*chars, *(f"##{c}" for c in chars)]
    score: dict[str, int] = {}
    for w, c in counts.items():
        for k in range(2, len(w) + 1):
            score[w[:k]] = score.get(w[:k], 0) + c * (k - 1)
            if k < len(w):
                suffix = "##" + w[-k:]
                score[suffix] = score.get(suffix, 0) + c * (k - 1)
    budget = max(0, vocab_size - len(SPECIAL_TOKENS) - len(base))
    best = sorted(score, key=lambda t: (-score[t], t))[:budget]
    return sorted({*base, *best})


def _wordpiece(tokens: Sequence[str]) -> Tokenizer:
    """A WordPiece tokenizer with the specials at ids 0-4, then `tokens` in order."""
    vocab = {t: i for i, t in enumerate((*SPECIAL_TOKENS, *tokens))}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    # Words are already split; WhitespaceSplit matches `is_pretokenized=True`.
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


def vocab_digest(tokenizer: WeamTokenizer) -> str:
    """A stable JSON dump of the vocabulary (for determinism tests and sidecars)."""
    return json.dumps(sorted(tokenizer.tok.get_vocab().items()), separators=(",", ":"))
