"""The bundled papers under manifests/ as committed: seals match the bundles (Gate 0), and lint finds nothing unwaived."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.intake import validate_papers
from verifier.lint import lint_paper
from verifier.manifests import load_manifest
from verifier.root import VerificationRoot

REPO = Path(__file__).resolve().parent.parent


def test_there_are_bundled_papers() -> None:
    papers = sorted(p.parent.name for p in (REPO / "manifests").glob("*/manifest.yaml"))
    assert "ba8256cb" in papers


@pytest.mark.parametrize("paper", sorted(p.parent.name for p in (REPO / "manifests").glob("*/manifest.yaml")))
def test_bundled_paper_validates(paper: str, tmp_path: Path) -> None:
    (result,) = validate_papers(REPO, tmp_path / "home", [paper])
    assert result.error is None, f"{result.error} (after changing repro/, run `verify seal {paper}`)"


@pytest.mark.parametrize("paper", sorted(p.parent.name for p in (REPO / "manifests").glob("*/manifest.yaml")))
def test_bundled_paper_has_no_unwaived_lint_finding(paper: str) -> None:
    """Every weakness `verify lint` finds in a bundled claim is fixed, or waived with a reason."""
    manifest = load_manifest(VerificationRoot.at(REPO), paper, check_seals=False)
    result = lint_paper(manifest)
    assert result.findings == [], "\n".join(f.line() for f in result.findings)
    for claim in manifest.model.claims:
        if claim.lint is not None:
            assert len(claim.lint.why.split()) >= 20, f"{paper}/{claim.id}: a waiver says why in a sentence or more"
