"""Badges: shields-style SVG, no scripts, accessible, escaped; `verify badge PAPER`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import RootFactory, manifest_document
from verifier.badge import COLOR_FOR_STATUS, Badge, markdown_snippet, render_svg, text_width
from verifier.cli import main
from verifier.executor import Options, verify_claims

SVG = "{http://www.w3.org/2000/svg}"
# XML 1.0 forbids most control characters; a manifest cannot carry them either (YAML/JSON strings).
xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60)


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _assert_safe(root: ET.Element) -> None:
    """No script, no event handler, no reference outside the document."""
    for element in root.iter():
        assert element.tag != f"{SVG}script" and element.tag != "script"
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            if name.endswith("href"):
                assert value.startswith("#"), value
            assert "url(" not in value or value.startswith("url(#"), value


class TestRender:
    def test_accessible_name_title_and_shape(self) -> None:
        root = _parse(render_svg(Badge("verify", "9 of 12 verified", COLOR_FOR_STATUS["partial"])))
        assert root.get("role") == "img"
        assert root.get("aria-label") == "verify: 9 of 12 verified"
        assert root.find(f"{SVG}title").text == "verify: 9 of 12 verified"  # type: ignore[union-attr]
        assert root.get("height") == "20"
        texts = [t.text for t in root.iter(f"{SVG}text")]
        assert texts.count("verify") == 2 and texts.count("9 of 12 verified") == 2  # text and its shadow
        _assert_safe(root)

    @given(label=xml_text, message=xml_text)
    def test_any_text_stays_text(self, label: str, message: str) -> None:
        root = _parse(render_svg(Badge(label, message, "#4c1"), ids="x\"><script>"))
        _assert_safe(root)
        assert root.get("aria-label") == f"{label}: {message}"
        assert [t.text or "" for t in root.iter(f"{SVG}text")][1] == label

    @given(a=st.text(max_size=30), b=st.text(max_size=30))
    def test_width_grows_with_the_text(self, a: str, b: str) -> None:
        assert text_width(a + b) == pytest.approx(text_width(a) + text_width(b))
        assert text_width(a + "W") > text_width(a)

    def test_markdown_snippet(self) -> None:
        badge = Badge("verify", "1 of 2 verified", "#a4a61d")
        assert markdown_snippet(badge, image_url="https://x/b.svg", link_url="https://x/p.html") == (
            "[![verify: 1 of 2 verified](https://x/b.svg)](https://x/p.html)"
        )


class TestCommand:
    @pytest.fixture
    def root(self, make_root: RootFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
        monkeypatch.delenv("VERIFY_HOME", raising=False)
        path = make_root(manifest_document("demo-paper")).path
        verify_claims(Options(root=path, home=path / ".verify", backend="process"), ["demo-paper"])
        return path

    def test_writes_the_svg_and_prints_the_snippet(self, root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        out = tmp_path / "badge.svg"
        assert main(["--root", str(root), "badge", "demo-paper", "-o", str(out),
                     "--image-url", "https://example.org/b.svg", "--link", "https://example.org/p"]) == 0
        assert capsys.readouterr().out == "[![verify: 1 of 1 verified](https://example.org/b.svg)](https://example.org/p)\n"
        svg = _parse(out.read_text())
        assert svg.get("aria-label") == "verify: 1 of 1 verified"
        assert COLOR_FOR_STATUS["verified"] in out.read_text()

    def test_never_verified_is_grey(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root(manifest_document("other-paper")).path
        assert main(["--root", str(root), "badge", "other-paper"]) == 0
        svg = capsys.readouterr().out
        assert 'aria-label="verify: 0 of 1 verified"' in svg and COLOR_FOR_STATUS["unverified"] in svg

    def test_unknown_paper_is_one_line(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["--root", str(root), "badge", "nope-paper"]) == 2
        assert capsys.readouterr().err == "verify: error: unknown paper 'nope-paper': no manifests/nope-paper/manifest.yaml\n"
