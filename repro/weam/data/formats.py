"""Readers and writers for the standard corpus formats the full tier runs on.

- fast_align parallel text: one `src ||| tgt` pair per line, words separated by spaces
  (https://github.com/clab/fast_align#input-format);
- Moses style: two files, line i of one translates line i of the other
  (https://www.statmt.org/moses/?n=Moses.SupportTools);
- Tatoeba retrieval as XTREME ships it (Hu et al. 2020, https://arxiv.org/abs/2003.11080;
  https://github.com/google-research/xtreme): `tatoeba.<xxx>-eng.<xxx>` and
  `tatoeba.<xxx>-eng.eng`, one sentence per line, line i matches line i (LASER's layout,
  https://github.com/facebookresearch/LASER/tree/main/data/tatoeba/v1);
- XNLI TSV (Conneau et al. 2018, https://arxiv.org/abs/1809.05053): a header row naming at
  least `language`, `gold_label`, `sentence1`, `sentence2` (the 1.0 dev/test files carry more
  columns; they are found by name).

Text is whitespace-tokenised (these formats come pre-tokenised or are tokenised downstream).
Malformed input raises `CorpusFormatError` naming the file and the 1-based line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from repro.weam.data.types import ParallelCorpus, ParallelPair

SEPARATOR = " ||| "
XNLI_LABELS = ("entailment", "neutral", "contradiction")
_XNLI_COLUMNS = ("language", "gold_label", "sentence1", "sentence2")


class CorpusFormatError(ValueError):
    """Malformed corpus input; the message starts with `path:line:`."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path, self.line = Path(path), line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class XnliExample:
    """One XNLI row: premise (`sentence1`), hypothesis (`sentence2`), gold label."""

    language: str
    label: str
    premise: str
    hypothesis: str


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its end) of a UTF-8 file; decoding errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CorpusFormatError(path, None, f"not UTF-8 ({e.reason} at byte {e.start})") from e
    # Split on "\n" only: `str.splitlines` would also break at U+2028, U+0085... inside sentences.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    for lineno, line in enumerate(lines, start=1):
        yield lineno, line.removesuffix("\r")


def read_fast_align(path: Path | str, src_lang: str, tgt_lang: str) -> ParallelCorpus:
    """Pairs from `src ||| tgt` lines. Raises `CorpusFormatError` for a line without exactly one
    separator or with an empty side."""
    path = Path(path)
    pairs = []
    for lineno, line in _lines(path):
        parts = line.split(" ||| ")
        if len(parts) != 2:
            raise CorpusFormatError(
                path, lineno, f"expected one ' ||| ' separator, found {len(parts) - 1}"
            )
        src, tgt = parts[0].split(), parts[1].split()
        if not src or not tgt:
            raise CorpusFormatError(path, lineno, "empty source or target side")
        pairs.append(ParallelPair(tuple(src), tuple(tgt)))
    return ParallelCorpus(src_lang, tgt_lang, tuple(pairs))


def write_fast_align(corpus: ParallelCorpus, path: Path | str) -> None:
    """Write `corpus` as `src ||| tgt` lines (the inverse of `read_fast_align`)."""
    lines = (" ".join(p.src) + SEPARATOR + " ".join(p.tgt) + "\n" for p in corpus.pairs)
    Path(path).write_text("".join(lines), encoding="utf-8", newline="\n")


def _read_sentences(path: Path, *, allow_empty: bool) -> list[tuple[str, ...]]:
    out = []
    for lineno, line in _lines(path):
        words = tuple(line.split())
        if not words and not allow_empty:
            raise CorpusFormatError(path, lineno, "empty sentence")
        out.append(words)
    return out


def read_moses(
    src_path: Path | str,
    tgt_path: Path | str,
    src_lang: str,
    tgt_lang: str,
    *,
    allow_empty: bool = False,
) -> ParallelCorpus:
    """Pairs from two line-parallel files. Raises `CorpusFormatError` when the line counts differ
    (naming the first line one file lacks) or, unless `allow_empty`, for an empty line."""
    src_path, tgt_path = Path(src_path), Path(tgt_path)
    src = _read_sentences(src_path, allow_empty=allow_empty)
    tgt = _read_sentences(tgt_path, allow_empty=allow_empty)
    if len(src) != len(tgt):
        short = src_path if len(src) < len(tgt) else tgt_path
        raise CorpusFormatError(
            short,
            min(len(src), len(tgt)) + 1,
            f"missing line: {src_path} has {len(src)} lines, {tgt_path} has {len(tgt)}",
        )
    return ParallelCorpus(
        src_lang, tgt_lang, tuple(ParallelPair(s, t) for s, t in zip(src, tgt, strict=True))
    )


def write_moses(corpus: ParallelCorpus, src_path: Path | str, tgt_path: Path | str) -> None:
    """Write `corpus` as two line-parallel files (the inverse of `read_moses`)."""
    Path(src_path).write_text(
        "".join(" ".join(p.src) + "\n" for p in corpus.pairs), encoding="utf-8", newline="\n"
    )
    Path(tgt_path).write_text(
        "".join(" ".join(p.tgt) + "\n" for p in corpus.pairs), encoding="utf-8", newline="\n"
    )


def tatoeba_paths(directory: Path | str, lang: str) -> tuple[Path, Path]:
    """XTREME's names for one language: (`tatoeba.<lang>-eng.<lang>`, `tatoeba.<lang>-eng.eng`)."""
    directory = Path(directory)
    return directory / f"tatoeba.{lang}-eng.{lang}", directory / f"tatoeba.{lang}-eng.eng"


def read_tatoeba(directory: Path | str, lang: str) -> ParallelCorpus:
    """The `lang` -> English retrieval pairs of an XTREME/LASER Tatoeba directory.

    Raises `CorpusFormatError` naming the missing file, or as `read_moses` does.
    """
    xx, eng = tatoeba_paths(directory, lang)
    for path in (xx, eng):
        if not path.is_file():
            raise CorpusFormatError(path, None, f"missing Tatoeba file for {lang!r}")
    return read_moses(xx, eng, lang, "eng")


def read_xnli_tsv(path: Path | str, *, languages: Sequence[str] | None = None) -> list[XnliExample]:
    """XNLI rows (optionally only `languages`), in file order.

    Raises `CorpusFormatError` for a missing header column, a short row, or a label outside
    entailment/neutral/contradiction. Fields are split at tabs with no quoting, as the released
    files need (they contain bare `"` characters inside sentences).
    """
    path = Path(path)
    rows = iter(_lines(path))
    try:
        _, header_line = next(rows)
    except StopIteration:
        raise CorpusFormatError(path, 1, "empty file, expected a header row") from None
    header = header_line.split("\t")
    missing = [c for c in _XNLI_COLUMNS if c not in header]
    if missing:
        raise CorpusFormatError(path, 1, f"header lacks column(s) {', '.join(missing)}")
    idx = [header.index(c) for c in _XNLI_COLUMNS]
    wanted = None if languages is None else set(languages)
    out = []
    for lineno, line in rows:
        fields = line.split("\t")
        if len(fields) < len(header):
            raise CorpusFormatError(
                path, lineno, f"expected {len(header)} tab-separated fields, found {len(fields)}"
            )
        lang, label, premise, hypothesis = (fields[i] for i in idx)
        if label not in XNLI_LABELS:
            raise CorpusFormatError(
                path, lineno, f"unknown gold_label {label!r}; expected one of {XNLI_LABELS}"
            )
        if wanted is None or lang in wanted:
            out.append(XnliExample(lang, label, premise, hypothesis))
    return out


def write_xnli_tsv(examples: Sequence[XnliExample], path: Path | str) -> None:
    """Write the four named columns with a header (the inverse of `read_xnli_tsv`).

    Raises `ValueError` if a field contains a tab or a line break, which TSV cannot hold.
    """
    lines = ["\t".join(_XNLI_COLUMNS)]
    for ex in examples:
        fields = (ex.language, ex.label, ex.premise, ex.hypothesis)
        if any(c in f for f in fields for c in "\t\r\n"):
            raise ValueError(f"field with a tab or line break cannot be written as TSV: {ex}")
        lines.append("\t".join(fields))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
