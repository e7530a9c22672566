"""Django catalog corpus: the committed file rebuilds byte for byte; loading and sizes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from repro.weam.data import catalogs
from repro.weam.data.catalogs import (
    DEFAULT_PATH,
    language_sizes,
    load_parallel_jsonl,
    read_header,
    tokenize,
)

django = pytest.importorskip("django")
header = read_header(DEFAULT_PATH)


@pytest.mark.skipif(
    django.get_version() != header["django"],
    reason=f"committed corpus is from Django {header['django']}, installed is {django.get_version()}",
)
def test_rebuild_reproduces_committed_file(tmp_path: Path) -> None:
    out = tmp_path / "django-parallel.jsonl"
    assert catalogs.main(["build", "--out", str(out)]) == 0
    assert (
        hashlib.sha256(out.read_bytes()).hexdigest()
        == hashlib.sha256(DEFAULT_PATH.read_bytes()).hexdigest()
    )


def test_header_pins_every_source_catalog() -> None:
    sources = header["sources"]
    assert isinstance(sources, dict) and len(sources) > 1000
    assert all(len(d) == 64 for d in sources.values())
    assert "conf/locale/de/LC_MESSAGES/django.mo" in sources
    root = catalogs.django_root()
    if django.get_version() == header["django"]:
        rel = "contrib/admin/locale/fr/LC_MESSAGES/djangojs.mo"
        assert sources[rel] == hashlib.sha256((root / rel).read_bytes()).hexdigest()


def test_load_and_natural_imbalance() -> None:
    corpora = load_parallel_jsonl(DEFAULT_PATH)
    sizes = language_sizes(corpora)
    assert "en" not in sizes and len(sizes) > 90
    assert sum(sizes.values()) == header["n_pairs"]
    counts = list(sizes.values())
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > 10 * counts[-1]  # imbalance spans more than an order of magnitude
    de = corpora["de"]
    assert (de.src_lang, de.tgt_lang) == ("en", "de")
    pair = next(p for p in de.pairs if p.src == ("Sunday",))
    assert pair.tgt == ("Sonntag",) and pair.gold is None


class TestTokenize:
    def test_placeholders_and_tags_are_removed(self) -> None:
        assert tokenize("“%(value)s” has {0} <b>bad</b> %s %d%% format 100% f.") == (
            "“",
            "”",
            "has",
            "bad",
            "%",
            "format",
            "100",
            "%",
            "f",
            ".",
        )

    def test_scripts(self) -> None:
        assert tokenize("हिन्दी भाषा") == ("हिन्दी", "भाषा")  # vowel signs stay inside words
        assert tokenize("隠しフィールド") == ("隠", "し", "フ", "ィ", "ー", "ル", "ド")
        assert tokenize("Das ist\u2019s, oder?") == ("Das", "ist", "\u2019", "s", ",", "oder", "?")


def test_plural_entries_use_the_singular_form(tmp_path: Path) -> None:
    """Compile a tiny catalog with a plural entry and check which form pairs with the msgid."""
    mo = tmp_path / "locale" / "xx" / "LC_MESSAGES" / "django.mo"
    mo.parent.mkdir(parents=True)
    mo.write_bytes(
        _compile_mo(
            {
                "": "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n",
                "%(n)s apple\x00%(n)s apples": "%(n)s Apfel\x00%(n)s Äpfel",
                "menu\x04Open": "Öffnen",
            }
        )
    )
    assert sorted(catalogs.catalog_entries(mo)) == [
        ("%(n)s apple", "%(n)s Apfel"),
        ("Open", "Öffnen"),
    ]
    _, rows = catalogs.build_rows(tmp_path)
    assert rows == [("xx", ("Open",), ("Öffnen",)), ("xx", ("apple",), ("Apfel",))]


def _compile_mo(messages: dict[str, str]) -> bytes:
    """A GNU .mo file (the layout of Python's Tools/i18n/msgfmt.py), for test input only."""
    import struct

    keys = sorted(messages)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(messages[k].encode() + b"\0" for k in keys)
    n = len(keys)
    offsets, pos_i, pos_s = [], 0, 0
    for k in keys:
        offsets.append((len(k.encode()), pos_i, len(messages[k].encode()), pos_s))
        pos_i += len(k.encode()) + 1
        pos_s += len(messages[k].encode()) + 1
    key_start = 7 * 4 + 16 * n
    val_start = key_start + len(ids)
    koffsets = [x for lk, oi, _, _ in offsets for x in (lk, oi + key_start)]
    voffsets = [x for _, _, lv, os_ in offsets for x in (lv, os_ + val_start)]
    head = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + n * 8, 0, 0)
    return (
        head
        + struct.pack(f"{2 * n}i", *koffsets)
        + struct.pack(f"{2 * n}i", *voffsets)
        + ids
        + strs
    )
