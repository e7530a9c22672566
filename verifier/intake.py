"""Validate many papers at once (Gate 0 for `verify validate` and `verify ci`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.errors import IntakeError
from verifier.manifests import LoadedManifest, load_manifest
from verifier.root import VerificationRoot
from verifier.seal import StatCache
from verifier.validated import ValidatedCache


@dataclass(frozen=True)
class IntakeResult:
    """Gate 0 outcome of one paper: its loaded manifest, or the one-line error."""

    paper: str
    manifest: LoadedManifest | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        if self.manifest is not None:
            claims, repros = self.manifest.counts
            return f"{self.paper}: valid ({claims} claims, {repros} repros, sealed)"
        return f"{self.paper}: invalid"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"paper": self.paper, "ok": self.ok, "error": self.error}
        if self.manifest is not None:
            claims, repros = self.manifest.counts
            out.update(digest=self.manifest.digest, claims=claims, repros=repros)
        return out


def validate_papers(root_dir: Path, home: Path, paper_ids: list[str]) -> list[IntakeResult]:
    """Load every named paper (all under manifests/ when none is named).

    Raises `IntakeError` when the root itself is not a directory; a bad
    paper is reported in its result, so one broken manifest does not hide
    the others. Side effects: updates the stat cache and the validated
    cache (`verifier.validated`) under `home`.
    """
    root = VerificationRoot.at(root_dir)
    ids = paper_ids or root.paper_ids()
    cache = StatCache(home)
    validated = ValidatedCache(home)
    results = []
    for paper in ids:
        try:
            results.append(IntakeResult(paper, load_manifest(root, paper, cache=cache, validated=validated), None))
        except IntakeError as e:
            results.append(IntakeResult(paper, None, e.diagnostics()))
    cache.flush()
    validated.flush()
    return results
