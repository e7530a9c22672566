"""`verify site`: one page per paper, an index with badges, linked files copied, relative links only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.cli import main
from verifier.executor import Options, verify_claims
from verifier.site import build_site

VERIFIED_LINE = (
    "Verified (Gate 2): unsealed formula repro: computed 5e-05 matches expected 5e-05 (tolerance=5.0%)"
)


@pytest.fixture
def root(make_root: RootFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two papers: `demo-paper` verified (process backend), `other-paper` never verified."""
    monkeypatch.delenv("VERIFY_HOME", raising=False)
    path = make_root(manifest_document("demo-paper"), manifest_document("other-paper")).path
    verify_claims(Options(root=path, home=path / ".verify", backend="process"), ["demo-paper"])
    return path


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_index_and_pages_with_badges(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = build_site(root, root / ".verify", out)
    assert result.failed == [] and len(result.pages) == 2
    index = (out / "index.html").read_text()
    assert 'class="badge verified">Verified<' in index
    assert 'class="badge unverified">Unverified<' in index
    assert 'href="papers/demo-paper.html"' in index and 'href="papers/other-paper.html"' in index
    page = (out / "papers" / "demo-paper.html").read_text()
    assert VERIFIED_LINE in page and 'id="claim-C1"' in page
    assert "not yet verified" in (out / "papers" / "other-paper.html").read_text()


def test_every_link_is_relative_and_resolves_offline(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = build_site(root, root / ".verify", out)
    assert result.copied >= 2  # at least the logs and results.json of the one run
    page = out / "papers" / "demo-paper.html"
    local = [h for h in _hrefs(page.read_text()) if not h.startswith("https://")]
    assert any("artifacts/sha256/" in h for h in local)
    for href in local:
        assert not href.startswith(("/", "file:")), href
        assert (page.parent / href).resolve().is_file(), href


def test_a_bad_manifest_is_listed_not_fatal(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / "manifests" / "broken-paper").mkdir()
    (root / "manifests" / "broken-paper" / "manifest.yaml").write_text("contract: nope\n")
    out = tmp_path / "site"
    assert main(["--root", str(root), "site", str(out)]) == 2
    assert "broken-paper" in (out / "index.html").read_text()
    assert (out / "papers" / "demo-paper.html").is_file()
    assert "verify: warning: broken-paper" in capsys.readouterr().err


def test_rebuilding_over_read_only_copies(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(root, root / ".verify", out)
    # Store objects are 0444; a second build must replace them, not fail.
    assert build_site(root, root / ".verify", out).copied >= 2
