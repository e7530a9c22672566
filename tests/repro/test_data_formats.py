"""Corpus format readers on small files the tests write; writers round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repro.weam.data.formats import (
    CorpusFormatError,
    XnliExample,
    read_fast_align,
    read_moses,
    read_tatoeba,
    read_xnli_tsv,
    tatoeba_paths,
    write_fast_align,
    write_moses,
    write_xnli_tsv,
)
from repro.weam.data.types import ParallelCorpus, ParallelPair

# Words: no whitespace (what `str.split` splits at) and never the separator's bars alone.
word_st = st.text(
    st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"))
    | st.just("é")
    | st.just("|"),
    min_size=1,
    max_size=4,
).filter(lambda w: w.split() == [w] and w != "|||")
sentence_st = st.lists(word_st, min_size=1, max_size=4).map(tuple)
corpus_st = st.lists(st.tuples(sentence_st, sentence_st), max_size=5).map(
    lambda ps: ParallelCorpus("de", "en", tuple(ParallelPair(s, t) for s, t in ps))
)
# too_slow: generation is cheap, but shared CI cores under load trip the health check.
SETTINGS = settings(
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


class TestFastAlign:
    def test_reads_pairs(self, tmp_path: Path) -> None:
        path = write(tmp_path / "c.txt", "das Haus ||| the house\r\nein Hund ||| a dog\n")
        corpus = read_fast_align(path, "de", "en")
        assert [(p.src, p.tgt) for p in corpus.pairs] == [
            (("das", "Haus"), ("the", "house")),
            (("ein", "Hund"), ("a", "dog")),
        ]
        assert corpus.pairs[0].gold is None

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("a ||| b\nno separator\n", r"c\.txt:2: expected one ' \|\|\| ' separator, found 0"),
            ("a ||| b ||| c\n", r"c\.txt:1: .*found 2"),
            ("a |||  \n", r"c\.txt:1: empty source or target"),
        ],
    )
    def test_malformed_lines_name_file_and_line(
        self, tmp_path: Path, text: str, match: str
    ) -> None:
        with pytest.raises(CorpusFormatError, match=match) as info:
            read_fast_align(write(tmp_path / "c.txt", text), "de", "en")
        assert isinstance(info.value, ValueError)

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "c.txt"
        path.write_bytes(b"caf\xe9 ||| x\n")
        with pytest.raises(CorpusFormatError, match="not UTF-8"):
            read_fast_align(path, "fr", "en")

    @SETTINGS
    @given(corpus=corpus_st)
    def test_round_trip(self, tmp_path: Path, corpus: ParallelCorpus) -> None:
        write_fast_align(corpus, tmp_path / "rt.txt")
        assert read_fast_align(tmp_path / "rt.txt", "de", "en") == corpus


class TestMoses:
    def test_reads_and_checks_line_counts(self, tmp_path: Path) -> None:
        src = write(tmp_path / "c.de", "das Haus\nein Hund\n")
        tgt = write(tmp_path / "c.en", "the house\na dog\n")
        assert len(read_moses(src, tgt, "de", "en")) == 2
        short = write(tmp_path / "s.en", "the house\n")
        with pytest.raises(
            CorpusFormatError, match=r"s\.en:2: missing line: .* has 2 lines, .* has 1"
        ):
            read_moses(src, short, "de", "en")

    def test_empty_line(self, tmp_path: Path) -> None:
        src = write(tmp_path / "c.de", "das Haus\n\n")
        tgt = write(tmp_path / "c.en", "the house\nx\n")
        with pytest.raises(CorpusFormatError, match=r"c\.de:2: empty sentence"):
            read_moses(src, tgt, "de", "en")
        assert read_moses(src, tgt, "de", "en", allow_empty=True).pairs[1].src == ()

    @SETTINGS
    @given(corpus=corpus_st)
    def test_round_trip(self, tmp_path: Path, corpus: ParallelCorpus) -> None:
        write_moses(corpus, tmp_path / "rt.de", tmp_path / "rt.en")
        assert read_moses(tmp_path / "rt.de", tmp_path / "rt.en", "de", "en") == corpus


class TestTatoeba:
    def test_xtreme_naming(self, tmp_path: Path) -> None:
        xx, eng = tatoeba_paths(tmp_path, "deu")
        assert (xx.name, eng.name) == ("tatoeba.deu-eng.deu", "tatoeba.deu-eng.eng")
        write(xx, "Ich bin hier .\nDanke !\n")
        write(eng, "I am here .\nThanks !\n")
        corpus = read_tatoeba(tmp_path, "deu")
        assert (corpus.src_lang, corpus.tgt_lang) == ("deu", "eng")
        assert corpus.pairs[1] == ParallelPair(("Danke", "!"), ("Thanks", "!"))

    def test_missing_file(self, tmp_path: Path) -> None:
        write(tmp_path / "tatoeba.fra-eng.fra", "Bonjour\n")
        with pytest.raises(CorpusFormatError, match=r"tatoeba\.fra-eng\.eng: missing Tatoeba file"):
            read_tatoeba(tmp_path, "fra")


XNLI_HEADER = "language\tgold_label\tsentence1_binary_parse\tsentence1\tsentence2\tpairID\n"


class TestXnli:
    def test_reads_named_columns_and_filters_languages(self, tmp_path: Path) -> None:
        path = write(
            tmp_path / "xnli.test.tsv",
            XNLI_HEADER
            + 'de\tentailment\t( x )\tEr sagte "ja".\tEr stimmte zu.\t1\n'
            + "fr\tneutral\t( y )\tIl pleut.\tIl fait froid.\t2\n",
        )
        rows = read_xnli_tsv(path)
        assert rows[0] == XnliExample("de", "entailment", 'Er sagte "ja".', "Er stimmte zu.")
        assert [r.language for r in read_xnli_tsv(path, languages=["fr"])] == ["fr"]

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("", r"x\.tsv:1: empty file"),
            ("language\tsentence1\tsentence2\n", r"x\.tsv:1: header lacks column\(s\) gold_label"),
            (
                XNLI_HEADER + "de\tentailment\tp\n",
                r"x\.tsv:2: expected 6 tab-separated fields, found 3",
            ),
            (XNLI_HEADER + "de\tmaybe\tp\ta\tb\t1\n", r"x\.tsv:2: unknown gold_label 'maybe'"),
        ],
    )
    def test_malformed(self, tmp_path: Path, text: str, match: str) -> None:
        with pytest.raises(CorpusFormatError, match=match):
            read_xnli_tsv(write(tmp_path / "x.tsv", text))

    @SETTINGS
    @given(
        rows=st.lists(
            st.builds(
                XnliExample,
                st.sampled_from(["de", "sw", "zh"]),
                st.sampled_from(["entailment", "neutral", "contradiction"]),
                # U+2028 and friends stay inside a field: lines end at "\n" only
                st.text(
                    st.characters(blacklist_categories=("Cs", "Cc")) | st.just("\u2028"),
                    max_size=20,
                ),
                st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
            ),
            max_size=6,
        )
    )
    def test_round_trip(self, tmp_path: Path, rows: list[XnliExample]) -> None:
        write_xnli_tsv(rows, tmp_path / "rt.tsv")
        assert read_xnli_tsv(tmp_path / "rt.tsv") == rows

    def test_writer_refuses_tabs(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="tab or line break"):
            write_xnli_tsv([XnliExample("de", "neutral", "a\tb", "c")], tmp_path / "x.tsv")
