"""Synthetic languages with gold word alignments, generated deterministically from a seed.

The controlled setup of Dufter & Schuetze 2020, "Identifying Necessary Elements for BERT's
Multilinguality" (Fake-English, https://arxiv.org/abs/2005.00396) and K et al. 2020,
"Cross-Lingual Ability of Multilingual BERT: An Empirical Study"
(https://arxiv.org/abs/1912.07840): a base language and derived languages whose distance from
it we choose, realised in parallel so that every sentence pair carries its gold alignment.

The base language `en` has a Zipfian vocabulary split into word classes and a small generative
grammar (SVO clauses of determiner/number + adjectives + noun phrases, optional adverbs,
clauses joined by conjunctions, a final full stop). Derived languages, by increasing distance:

- level 1 (`x1`): vocabulary permutation only (each base word gets a fresh form);
- level 2 (`x2`): plus one-to-two word splits and adjective-noun swap (local reordering);
- level 3 (`x3`): plus clause-order inversion and polysemy (two base nouns share one form).

Derived forms never collide with base forms or with another language's forms (they are drawn
from one global pool of unused syllable strings); punctuation and numbers are shared, the
"anchor" tokens of real languages. Monolingual corpora come from the same grammar with their own
random stream, so they never repeat the parallel sentences except by chance.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from types import MappingProxyType

from repro.weam.data.types import Link, ParallelCorpus, ParallelPair, Sentence

# Word classes of the base grammar and their share of the open vocabulary.
_OPEN_CLASSES = (("noun", 0.5), ("verb", 0.25), ("adj", 0.2), ("adv", 0.05))
_N_DET, _N_CONJ = 4, 4
_SHARED = (".", "1", "2", "3", "4", "5", "6", "7", "8", "9")  # same form in every language
_NUMBERS = _SHARED[1:]
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
# One alphabet per language for `disjoint_scripts` (14 consonants + 5 vowels each, in the order
# of `_CONSONANTS + _VOWELS`): Latin, Greek, Cyrillic, Latin capitals, Armenian, Georgian.
_SCRIPTS = (
    _CONSONANTS + _VOWELS,
    "βδφγκλμνπρστθζαειου",
    "бдфгклмнпрствзаеиоу",
    "BDFGKLMNPRSTVZAEIOU",
    "բդֆգկլմնպրստվզաեիօը",
    "ბდფგკლმნპრსტვზაეიოუ",
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and distances of a synthetic world; `languages[0]` is the base language.

    `n_sentences` monolingual sentences per language; `n_parallel` base sentences realised in
    every derived language (the same base sentences for all of them: multi-way parallel).
    """

    seed: int = 0
    vocab_size: int = 2000
    n_sentences: int = 20000
    n_parallel: int = 2000
    languages: tuple[str, ...] = ("en", "x1", "x2", "x3")
    zipf_exponent: float = 1.0
    split_fraction: float = 0.15  # level >= 2: share of open-class words realised as two words
    polysemy_fraction: float = 0.2  # level >= 3: share of nouns merged pairwise into one form
    max_clauses: int = 3
    # distance level per language (None: 0 for the base, then 1, 2, 3, 3, ...)
    levels: tuple[int, ...] | None = None
    # each language writes its words in its own alphabet (Fake-English's shifted ids at the
    # character level), so that only `_SHARED` tokens can coincide between languages
    disjoint_scripts: bool = False
    # topics: each open-class word belongs to one of `n_topics` topics (by frequency rank, so
    # every topic is Zipfian); a sentence draws a topic and each open-class word comes from it
    # with probability `topic_coherence`. Context then predicts words (what MLM can learn,
    # and co-occurrence structure that all languages share); 0 topics: no such structure.
    n_topics: int = 0
    topic_coherence: float = 0.9
    # anchors: this share of the nouns is written as in the base language by every language
    # (names and loanwords: what real languages share across scripts), with no split and no
    # polysemy. Drawn from a stream of their own, so 0 leaves every other form unchanged.
    anchor_fraction: float = 0.0

    def __post_init__(self) -> None:
        if len(self.languages) < 2 or len(set(self.languages)) != len(self.languages):
            raise ValueError(
                f"need a base and at least one distinct derived language: {self.languages}"
            )
        if self.levels is not None and (
            len(self.levels) != len(self.languages) or self.levels[0] != 0
            or any(not 1 <= lv <= 3 for lv in self.levels[1:])
        ):
            raise ValueError(f"levels must be 0 for the base, then 1..3 per language: {self.levels}")
        if self.disjoint_scripts and len(self.languages) > len(_SCRIPTS):
            raise ValueError(f"at most {len(_SCRIPTS)} languages have their own script")
        if not 0.0 <= self.anchor_fraction <= 1.0:
            raise ValueError(f"anchor_fraction must be in [0, 1], got {self.anchor_fraction}")
        if self.vocab_size < 50:
            raise ValueError(f"vocab_size must be at least 50, got {self.vocab_size}")


@dataclass(frozen=True)
class SyntheticWorld:
    """Everything generated from one config: corpora, gold alignments and the gold lexicon.

    `lexicon[lang][base word]` is the tuple of forms the word takes in `lang` (two forms for a
    split word); it is the gold dictionary for bilingual lexicon induction.
    """

    config: SyntheticConfig
    languages: tuple[str, ...]
    monolingual: Mapping[str, tuple[Sentence, ...]]
    parallel: Mapping[str, ParallelCorpus]
    lexicon: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    anchors: frozenset[str] = frozenset()  # base words every language writes the same way

    def level(self, lang: str) -> int:
        """Distance level of `lang`: 0 for the base, 1 to 3 for derived languages (capped at 3)."""
        k = self.languages.index(lang)
        return self.config.levels[k] if self.config.levels else min(k, 3)


@dataclass(frozen=True)
class _Vocab:
    """Base vocabulary: word forms per class with Zipfian cumulative weights for sampling."""

    words: Mapping[str, tuple[str, ...]]
    cum_weights: Mapping[str, tuple[float, ...]]


# A base sentence as structure: clauses of segments (kind, base words); an "np<k>" segment is
# k determiner/number words, then adjectives, then the noun.
_Segment = tuple[str, tuple[str, ...]]
_Clause = tuple[_Segment, ...]


@dataclass(frozen=True)
class _BaseSentence:
    clauses: tuple[_Clause, ...]
    conjunctions: tuple[str, ...]  # len(clauses) - 1 words joining the clauses


def _new_form(rng: random.Random, used: set[str], n_syllables: int) -> str:
    """A fresh syllable string not in `used` (which it then joins): no collisions by design."""
    while True:
        form = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(n_syllables))
        if form not in used:
            used.add(form)
            return form
        n_syllables += rng.random() < 0.1  # rarely, lengthen so the loop always ends


def _build_vocab(config: SyntheticConfig, rng: random.Random, used: set[str]) -> _Vocab:
    n_open = config.vocab_size - _N_DET - _N_CONJ - len(_SHARED)
    words: dict[str, tuple[str, ...]] = {
        "det": tuple(_new_form(rng, used, 1) for _ in range(_N_DET)),
        "conj": tuple(_new_form(rng, used, 1) for _ in range(_N_CONJ)),
    }
    for name, share in _OPEN_CLASSES:
        n = max(2, round(n_open * share))
        # Frequent (low-rank) words are short, as in natural languages (Zipf's law of abbreviation).
        words[name] = tuple(_new_form(rng, used, 2 if r < 100 else 3) for r in range(n))
    open_names = [name for name, _ in _OPEN_CLASSES]
    for name in open_names:  # topic t of a class: its words of rank t, t + n, t + 2n, ...
        for t in range(config.n_topics):
            words[f"{name}@{t}"] = words[name][t :: config.n_topics] or words[name][:1]
    cum = {
        name: tuple(accumulate(1.0 / (r + 1) ** config.zipf_exponent for r in range(len(ws))))
        for name, ws in words.items()
    }
    return _Vocab(MappingProxyType(words), MappingProxyType(cum))


@dataclass(frozen=True)
class _Topic:
    """The sentence's topic and how often an open-class word keeps to it."""

    index: int
    coherence: float


def _pick(rng: random.Random, vocab: _Vocab, cls: str, topic: _Topic | None = None) -> str:
    if topic is not None and rng.random() < topic.coherence:
        cls = f"{cls}@{topic.index}"
    # Inverse-CDF draw; what `rng.choices(..., cum_weights=...)` does, at a third of the cost.
    cum = vocab.cum_weights[cls]
    return vocab.words[cls][bisect_right(cum, rng.random() * cum[-1])]


def _noun_phrase(rng: random.Random, vocab: _Vocab, topic: _Topic | None = None) -> _Segment:
    words: list[str] = []
    r = rng.random()
    if r < 0.7:
        words.append(_pick(rng, vocab, "det"))
    elif r < 0.8:
        words.append(rng.choice(_NUMBERS))
    r = rng.random()
    n_adj = 0 if r < 0.55 else 1 if r < 0.9 else 2
    words.extend(_pick(rng, vocab, "adj", topic) for _ in range(n_adj))
    words.append(_pick(rng, vocab, "noun", topic))
    # The kind records how many words precede the adjectives, so that the noun can move.
    return (f"np{len(words) - n_adj - 1}", tuple(words))


def _base_sentence(
    rng: random.Random, vocab: _Vocab, max_clauses: int, n_topics: int = 0, coherence: float = 0.0
) -> _BaseSentence:
    # No draw at all without topics, so worlds without them keep their old random stream.
    topic = _Topic(rng.randrange(n_topics), coherence) if n_topics else None
    n_clauses = 1
    while n_clauses < max_clauses and rng.random() < 0.35:
        n_clauses += 1
    clauses = []
    for _ in range(n_clauses):
        verb = ("v", (_pick(rng, vocab, "verb", topic),))
        clause: list[_Segment] = [_noun_phrase(rng, vocab, topic), verb]
        clause.append(_noun_phrase(rng, vocab, topic))
        if rng.random() < 0.3:
            clause.append(("adv", (_pick(rng, vocab, "adv", topic),)))
        clauses.append(tuple(clause))
    conjunctions = tuple(_pick(rng, vocab, "conj") for _ in range(n_clauses - 1))
    return _BaseSentence(tuple(clauses), conjunctions)


def _linearise(sentence: _BaseSentence, level: int) -> list[tuple[str, int]]:
    """Base words of `sentence` in the word order of a level-`level` language, each with its
    position in the base linearisation (the source index of its gold link)."""
    if level < 2:  # base order: a fast path, since half of all sentences need nothing more
        base = _base_words(sentence)
        return list(zip(base, range(len(base)), strict=True))
    # (1): number the base words in base order.
    pos = 0
    numbered: list[list[list[tuple[str, int]]]] = []  # clauses -> segments -> words
    conj_pos: list[tuple[str, int]] = []
    for c, clause in enumerate(sentence.clauses):
        if c:
            conj_pos.append((sentence.conjunctions[c - 1], pos))
            pos += 1
        segs = []
        for _, words in clause:
            segs.append([(w, pos + k) for k, w in enumerate(words)])
            pos += len(words)
        numbered.append(segs)
    # (2): local reordering: the noun moves before its adjectives (level >= 2).
    if level >= 2:
        for c, clause in enumerate(sentence.clauses):
            for s, (kind, _) in enumerate(clause):
                if kind.startswith("np"):
                    seg, n_pre = numbered[c][s], int(kind[2:])
                    numbered[c][s] = [*seg[:n_pre], seg[-1], *seg[n_pre:-1]]
    # (3): clause-order inversion (level >= 3); conjunctions stay between clauses.
    order = list(range(len(numbered)))
    conjs = list(conj_pos)
    if level >= 3:
        order.reverse()
        conjs.reverse()
    out: list[tuple[str, int]] = []
    for k, c in enumerate(order):
        if k:
            out.append(conjs[k - 1])
        out.extend(w for seg in numbered[c] for w in seg)
    out.append((".", pos))
    return out


def _base_words(sentence: _BaseSentence) -> list[str]:
    words: list[str] = []
    for c, clause in enumerate(sentence.clauses):
        if c:
            words.append(sentence.conjunctions[c - 1])
        for _, seg in clause:
            words.extend(seg)
    words.append(".")
    return words


def _derive_lexicon(
    vocab: _Vocab, level: int, config: SyntheticConfig, rng: random.Random, used: set[str]
) -> dict[str, tuple[str, ...]]:
    """Base word -> forms in a level-`level` language (a random relabelling of the vocabulary)."""
    lexicon: dict[str, tuple[str, ...]] = {w: (w,) for w in _SHARED}
    for cls, words in vocab.words.items():
        if "@" in cls:  # a topic's view of a class: its words were relabelled already
            continue
        for w in words:
            n_syl = max(1, len(w) // 2)
            lexicon[w] = (_new_form(rng, used, n_syl),)
            if (
                level >= 2
                and cls in ("noun", "verb", "adj")
                and rng.random() < config.split_fraction
            ):
                lexicon[w] = (_new_form(rng, used, 1), _new_form(rng, used, 2))
    if level >= 3:
        # Polysemy: pairs of distinct nouns share the first one's form(s).
        nouns = list(vocab.words["noun"])
        rng.shuffle(nouns)
        n_pairs = int(len(nouns) * config.polysemy_fraction / 2)
        for a, b in zip(nouns[:n_pairs], nouns[n_pairs : 2 * n_pairs], strict=True):
            lexicon[b] = lexicon[a]
    return lexicon


def _realise(
    sentence: _BaseSentence, level: int, lexicon: Mapping[str, tuple[str, ...]]
) -> tuple[Sentence, tuple[Link, ...]]:
    words: list[str] = []
    links: list[Link] = []
    for base_word, src_pos in _linearise(sentence, level):
        for form in lexicon[base_word]:
            links.append((src_pos, len(words)))
            words.append(form)
    return tuple(words), tuple(sorted(links))


def _anchors(vocab: _Vocab, config: SyntheticConfig) -> frozenset[str]:
    nouns = vocab.words["noun"]
    rng = random.Random(f"weam-synthetic-{config.seed}-anchors")
    return frozenset(rng.sample(nouns, round(len(nouns) * config.anchor_fraction)))


def generate_world(config: SyntheticConfig) -> SyntheticWorld:
    """Generate the base and derived languages of `config`, deterministically from its seed."""
    used = set(_SHARED)
    rng = random.Random(f"weam-synthetic-{config.seed}-vocab")
    vocab = _build_vocab(config, rng, used)
    base, *derived = config.languages
    lv = config.levels or tuple(min(i, 3) for i in range(len(config.languages)))
    lexicons = {
        lang: _derive_lexicon(vocab, lv[i + 1], config, rng, used)
        for i, lang in enumerate(derived)
    }
    lexicons[base] = {w: (w,) for ws in vocab.words.values() for w in ws}
    lexicons[base] |= {w: (w,) for w in _SHARED}
    if config.disjoint_scripts:
        for k, lang in enumerate(config.languages):
            table = str.maketrans(_CONSONANTS + _VOWELS, _SCRIPTS[k])
            lexicons[lang] = {
                w: tuple(f if f in _SHARED else f.translate(table) for f in forms)
                for w, forms in lexicons[lang].items()
            }
    anchors = _anchors(vocab, config)
    for lang in derived:
        lexicons[lang] |= {w: (w,) for w in anchors}
    levels = dict(zip(config.languages, config.levels or [min(i, 3) for i in range(len(config.languages))], strict=True))

    # Parallel: one stream of base sentences realised in every language.
    prng = random.Random(f"weam-synthetic-{config.seed}-parallel")
    topics = (config.n_topics, config.topic_coherence)
    shared = [_base_sentence(prng, vocab, config.max_clauses, *topics) for _ in range(config.n_parallel)]
    base_side = [_realise(s, 0, lexicons[base])[0] for s in shared]
    parallel = {}
    for lang in derived:
        pairs = []
        for src, sent in zip(base_side, shared, strict=True):
            tgt, gold = _realise(sent, levels[lang], lexicons[lang])
            pairs.append(ParallelPair(src, tgt, gold))
        parallel[lang] = ParallelCorpus(base, lang, tuple(pairs))

    # Monolingual: a separate stream per language, so languages share no sentences by design.
    monolingual = {}
    for lang in config.languages:
        mrng = random.Random(f"weam-synthetic-{config.seed}-mono-{lang}")
        monolingual[lang] = tuple(
            _realise(_base_sentence(mrng, vocab, config.max_clauses, *topics), levels[lang], lexicons[lang])[
                0
            ]
            for _ in range(config.n_sentences)
        )
    return SyntheticWorld(
        config=config,
        languages=config.languages,
        monolingual=MappingProxyType(monolingual),
        parallel=MappingProxyType(parallel),
        lexicon=MappingProxyType({k: MappingProxyType(v) for k, v in lexicons.items()}),
        anchors=anchors,
    )
