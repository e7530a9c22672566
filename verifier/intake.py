"""Validate many papers at once (Gate 0 for `verify validate` and `verify ci`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.errors import IntakeError
from verifier.manifests import LoadedManifest, load_manifest
from verifier.root import VerificationRoot
from verifier.seal import StatCache


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
            model = self.manifest.model
            return f"{self.paper}: valid ({len(model.claims)} claims, {len(model.repros)} repros, sealed)"
        return f"{self.paper}: invalid"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"paper": self.paper, "ok": self.ok, "error": self.error}
        if self.manifest is not None:
            out.update(
                digest=self.manifest.digest,
                claims=len(self.manifest.model.claims),
                repros=len(self.manifest.model.repros),
            )
        return out


def validate_papers(root_dir: Path, home: Path, paper_ids: list[str]) -> list[IntakeResult]:
    """Load every named paper (all under manifests/ when none is named).

    Raises `IntakeError` when the root itself is not a directory; a bad
    paper is reported in its result, so one broken manifest does not hide
    the others. Side effects: updates the stat cache under `home`.
    """
    root = VerificationRoot.at(root_dir)
    ids = paper_ids or root.paper_ids()
    cache = StatCache(home)
    results = []
    for paper in ids:
        try:
            results.append(IntakeResult(paper, load_manifest(root, paper, cache=cache), None))
        except IntakeError as e:
            results.append(IntakeResult(paper, None, e.diagnostics()))
    cache.flush()
    return results
