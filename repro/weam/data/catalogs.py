"""Real parallel text from Django's gettext catalogs: English -> ~100 locales, naturally imbalanced.

Django (https://www.djangoproject.com/, translations at https://app.transifex.com/django/)
ships compiled catalogs, `django/conf/locale/<loc>/LC_MESSAGES/django.mo` and
`django/contrib/<app>/locale/<loc>/LC_MESSAGES/{django,djangojs}.mo`, human translations of its
user-facing messages. How much of each catalog is translated differs between locales, which
gives the natural imbalance that data-imbalance studies need, from a pinned package version.

Construction (deterministic, so the committed file can be rebuilt byte for byte):

1. Every catalog is read with the standard library's `gettext.GNUTranslations`; its sha256
   goes into the header so a manifest can pin the source.
2. Entries: the `msgid` (context prefix `ctxt\\x04` dropped) pairs with its `msgstr`. A plural
   entry keeps only the English singular, paired with the translation form the locale uses for
   n = 1 (`plural(1)`); `GNUTranslations` does not keep the English plural msgid.
3. Cleaning, the same on both sides: format placeholders (`%(name)s`, `%s`, `%d`, `{0}`,
   `{name}`) and HTML tags are removed; entries left empty on either side, or with no English
   letter left (bare separators such as ","), are skipped.
4. Tokenisation: Unicode words (letters, digits and combining marks, so Indic scripts keep
   their vowel signs), every other non-space character alone, and each Han/kana character as
   its own word (Chinese and Japanese do not separate words with spaces). Thai, Lao, Khmer and
   Burmese runs stay whole: a basic tokeniser, stated as such.
5. Distinct (locale, English, translation) triples, sorted; the source locale `en` is skipped.

CLI: `python -m repro.weam.data.catalogs build --out repro/data/django-parallel.jsonl`
and `python -m repro.weam.data.catalogs sizes [--path FILE]`.
"""

from __future__ import annotations

import argparse
import gettext
import hashlib
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from repro.weam.data.types import ParallelCorpus, ParallelPair, Sentence

FORMAT = "weam-django-parallel/1"
SOURCE_LANG = "en"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "django-parallel.jsonl"

_PLACEHOLDER = re.compile(
    r"%%"  # a literal percent sign: kept as "%" (see `_unplaceholder`)
    r"|%\([^)]*\)[-#0+]*\d*(?:\.\d+)?[a-zA-Z]"  # %(name)s, %(count)d
    r"|%[-#0+]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"  # %s, %d, %.2f (no space flag: "% f" is prose)
    r"|\{[^{}\s]*\}"  # {0}, {name}, {}
    r"|<[^<>]+>"  # HTML tags such as <a href="...">, </b>
)


def _unplaceholder(match: re.Match[str]) -> str:
    return "%" if match.group() == "%%" else " "


def _char_class(predicate: object) -> str:
    chars = [chr(c) for c in range(0x10000) if predicate(chr(c))]  # type: ignore[operator]
    return "".join(re.escape(c) for c in chars)


# Combining marks (Mn, Mc, Me) are not `\w` in Python's `re`, which would cut Devanagari,
# Bengali, Tamil... words at every vowel sign; so words are runs of `[^\W_]` or marks.
_MARKS = _char_class(lambda ch: unicodedata.category(ch).startswith("M"))
_HAN_KANA = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_LETTER = re.compile(r"[^\W\d_]")
_TOKEN = re.compile(rf"[{_HAN_KANA}]|(?:[^\W_{_HAN_KANA}]|[{_MARKS}])+|\S")


@dataclass(frozen=True)
class CatalogFile:
    """One compiled catalog: `relpath` inside the django package, its locale and digest."""

    relpath: str
    locale: str
    sha256: str


def tokenize(text: str) -> Sentence:
    """Placeholders and tags removed, then the basic Unicode tokenisation of the module notes."""
    return tuple(_TOKEN.findall(_PLACEHOLDER.sub(_unplaceholder, text)))


def django_root() -> Path:
    """The installed django package directory."""
    import django  # type: ignore[import-untyped]  # lazily: only catalog building needs Django

    return Path(django.__file__).resolve().parent


def find_catalogs(root: Path) -> list[CatalogFile]:
    """Every `*.mo` under `root/**/locale/<loc>/LC_MESSAGES/`, sorted by relative path."""
    out = []
    for path in sorted(root.glob("**/locale/*/LC_MESSAGES/*.mo")):
        rel = path.relative_to(root).as_posix()
        out.append(
            CatalogFile(rel, path.parent.parent.name, hashlib.sha256(path.read_bytes()).hexdigest())
        )
    return out


def catalog_entries(path: Path) -> Iterator[tuple[str, str]]:
    """(English msgid, translation) pairs of one catalog, as described in the module notes.

    `GNUTranslations` has no public way to list its messages, so this reads its `_catalog`
    dict: keys are msgids (`ctxt\\x04msgid` with a context) or `(msgid, form index)` for plurals.
    """
    with path.open("rb") as fh:
        trans = gettext.GNUTranslations(fh)
    singular_form = trans.plural(1)  # type: ignore[attr-defined]  # set by _parse, untyped
    catalog: dict[str | tuple[str, int], str] = trans._catalog  # type: ignore[attr-defined]
    for key, msgstr in catalog.items():
        if isinstance(key, tuple):
            msgid, form = key
            if form != singular_form:
                continue
        else:
            msgid = key
        msgid = msgid.rpartition("\x04")[2]
        if msgid and msgstr:
            yield msgid, msgstr


def build_rows(root: Path) -> tuple[list[CatalogFile], list[tuple[str, Sentence, Sentence]]]:
    """All catalogs under `root` and the sorted distinct (locale, src words, tgt words) rows."""
    catalogs = find_catalogs(root)
    rows: set[tuple[str, Sentence, Sentence]] = set()
    for cat in catalogs:
        if cat.locale == SOURCE_LANG:
            continue
        for msgid, msgstr in catalog_entries(root / cat.relpath):
            src, tgt = tokenize(msgid), tokenize(msgstr)
            # Skip entries with no English word left (bare separators such as "," or ": ").
            if tgt and any(_LETTER.match(w) for w in src):
                rows.add((cat.locale, src, tgt))
    return catalogs, sorted(rows)


def render_jsonl(
    django_version: str,
    catalogs: Sequence[CatalogFile],
    rows: Sequence[tuple[str, Sentence, Sentence]],
) -> str:
    """The file's text: a header object, then one `{"lang", "src", "tgt"}` object per row.

    Words are joined by single spaces (tokens never contain whitespace); keys sorted, no ASCII
    escaping, `\\n` line ends: the bytes depend on the rows alone.
    """
    header = {
        "format": FORMAT,
        "django": django_version,
        "source_lang": SOURCE_LANG,
        "n_pairs": len(rows),
        "sources": {c.relpath: c.sha256 for c in catalogs},
    }
    lines = [_dumps(header)]
    lines.extend(
        _dumps({"lang": lang, "src": " ".join(s), "tgt": " ".join(t)}) for lang, s, t in rows
    )
    return "\n".join(lines) + "\n"


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def build(out: Path) -> dict[str, object]:
    """Build the corpus from the installed Django into `out`; returns the header."""
    import django

    catalogs, rows = build_rows(django_root())
    text = render_jsonl(django.get_version(), catalogs, rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8", newline="\n")
    header: dict[str, object] = json.loads(text.partition("\n")[0])
    return header


def read_header(path: Path) -> dict[str, object]:
    """The header object of a corpus file. Raises `ValueError` if the format is not ours."""
    with path.open(encoding="utf-8") as fh:
        header = json.loads(fh.readline())
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path}: line 1 is not a {FORMAT} header")
    return header


def load_parallel_jsonl(path: Path | str = DEFAULT_PATH) -> dict[str, ParallelCorpus]:
    """English -> locale corpora from a built file, keyed by locale, in file (sorted) order.

    Raises `ValueError` naming the line if the file is not a well-formed corpus.
    """
    path = Path(path)
    header = read_header(path)
    by_lang: dict[str, list[ParallelPair]] = {}
    with path.open(encoding="utf-8") as fh:
        next(fh)
        for lineno, line in enumerate(fh, start=2):
            try:
                row = json.loads(line)
                lang, src, tgt = row["lang"], row["src"], row["tgt"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{lineno}: malformed row: {e}") from e
            by_lang.setdefault(lang, []).append(
                ParallelPair(tuple(src.split(" ")), tuple(tgt.split(" ")))
            )
    src_lang = str(header["source_lang"])
    return {lang: ParallelCorpus(src_lang, lang, tuple(pairs)) for lang, pairs in by_lang.items()}


def language_sizes(corpora: dict[str, ParallelCorpus]) -> dict[str, int]:
    """Pairs per language, largest first (ties by name): the natural imbalance of the corpus."""
    sizes = Counter({lang: len(c.pairs) for lang, c in corpora.items()})
    return dict(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])))


def main(argv: list[str] | None = None) -> int:
    """`build --out FILE` or `sizes [--path FILE]`; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m repro.weam.data.catalogs", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build the parallel corpus from the installed Django")
    p_build.add_argument("--out", type=Path, default=DEFAULT_PATH)
    p_sizes = sub.add_parser("sizes", help="print pairs per language of a built corpus")
    p_sizes.add_argument("--path", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    if args.command == "build":
        header = build(args.out)
        n_sources = len(header["sources"])  # type: ignore[arg-type]
        print(
            f"wrote {args.out}: {header['n_pairs']} pairs from {n_sources} catalogs (Django {header['django']})",
            file=sys.stderr,
        )
    else:
        for lang, n in language_sizes(load_parallel_jsonl(args.path)).items():
            print(f"{lang}\t{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
