"""The bundled papers under manifests/ pass Gate 0 as committed: seals match the committed bundles."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.intake import validate_papers

REPO = Path(__file__).resolve().parent.parent


def test_there_are_bundled_papers() -> None:
    papers = sorted(p.parent.name for p in (REPO / "manifests").glob("*/manifest.yaml"))
    assert "ba8256cb" in papers


@pytest.mark.parametrize("paper", sorted(p.parent.name for p in (REPO / "manifests").glob("*/manifest.yaml")))
def test_bundled_paper_validates(paper: str, tmp_path: Path) -> None:
    (result,) = validate_papers(REPO, tmp_path / "home", [paper])
    assert result.error is None, f"{result.error} (after changing repro/, run `verify seal {paper}`)"
