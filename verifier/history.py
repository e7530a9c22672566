"""History: a claim's verdicts and what changed since it last passed; a paper's evaluations over time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verifier.models import RunRecord


@dataclass(frozen=True)
class HistoryPoint:
    """One evaluation of the paper: when, how many checkable claims were verified, and each claim's status."""

    evaluated: str
    verified: int
    checkable: int
    statuses: dict[str, str]


def last_verdicts(root: Path, home: Path) -> list[dict[str, Any]]:
    """Every claim of every paper with its last verdict (`verify list`), or the paper's error.

    A row is `{claim, kind, status, evaluated}` (status None when never
    judged), or `{paper, error}` for a paper whose manifest fails intake.

    Raises `LedgerError` if the ledger cannot be read.
    """
    from verifier.intake import validate_papers
    from verifier.ledger import Ledger

    rows: list[dict[str, Any]] = []
    with Ledger.open(home) as ledger:
        for result in validate_papers(root, home, []):
            if result.manifest is None:
                rows.append({"paper": result.paper, "error": result.error})
                continue
            claims = result.manifest.model.claims
            last = ledger.last_verdicts(f"{result.paper}/{c.id}" for c in claims)
            for c in claims:
                v = last.get(f"{result.paper}/{c.id}")
                rows.append({"claim": f"{result.paper}/{c.id}", "kind": c.kind,
                             "status": v.status if v else None, "evaluated": v.evaluated if v else None})
    return rows


def claim_history(home: Path, claim_id: str, *, limit: int = 20) -> dict[str, Any]:
    """Verdicts newest first; the last pass; the run-key inputs that differ since then.

    Raises `IntakeError` for a malformed claim id.
    """
    from verifier.ledger import Ledger
    from verifier.manifests import split_claim_id

    split_claim_id(claim_id)
    with Ledger.open(home) as ledger:
        verdicts = ledger.verdict_history(claim_id, limit=limit)
        passed = ledger.last_passed(claim_id)
        changes: list[str] = []
        then_id = passed.run.id if passed is not None and passed.run else None
        now_id = verdicts[0].run.id if verdicts and verdicts[0].run else None
        if then_id is not None and now_id is not None and then_id != now_id:
            then = ledger.get_run(then_id)
            now = ledger.get_run(now_id)
            if then is not None and now is not None:
                changes = diff_runs(then, now)
        if passed is not None and verdicts and verdicts[0].check != passed.check:
            changes.append(f"check: {passed.check} -> {verdicts[0].check}")
    return {
        "claim": claim_id,
        "verdicts": [{"evaluated": v.evaluated, "status": v.status, "line": v.line or v.reason} for v in verdicts],
        "last_passed": passed.evaluated if passed else None,
        "changed_since_pass": changes,
    }


_RUN_INPUT_FIELDS = ("seal", "entrypoint", "params_digest", "inputs", "backend", "sealed", "seed")


def diff_runs(before: RunRecord, after: RunRecord) -> list[str]:
    """What differs between two runs' inputs, one short line each: "what changed since it passed".

    Compares what goes into a run (seal, entrypoint, params, inputs,
    backend, seed) and the environment fingerprint key by key, e.g.
    `seal sha256:1a2b3c4d5e6f -> sha256:9f8e7d6c5b4a`, `environment.python 3.11.7 -> 3.12.1`.
    Empty when the runs differ only in their outcome.
    """
    lines = [
        f"{name} {_short(getattr(before, name))} -> {_short(getattr(after, name))}"
        for name in _RUN_INPUT_FIELDS
        if getattr(before, name) != getattr(after, name)
    ]
    env_a, env_b = before.environment, after.environment
    for name in sorted(env_a.keys() | env_b.keys()):
        if env_a.get(name) != env_b.get(name):
            lines.append(
                f"environment.{name} {_short(env_a.get(name))} -> {_short(env_b.get(name))}"
            )
    return lines


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if text.startswith("sha256:") and len(text) == 71:
        return text[:19]  # sha256: + 12 hex digits, as git abbreviates
    return text if len(text) <= 60 else text[:57] + "..."
