"""A claim's history: its verdicts, when it last passed, and what changed since."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verifier.ledger import Ledger, diff_runs
from verifier.manifests import split_claim_id


def claim_history(home: Path, claim_id: str, *, limit: int = 20) -> dict[str, Any]:
    """Verdicts newest first; the last pass; the run-key inputs that differ since then.

    Raises `IntakeError` for a malformed claim id.
    """
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
