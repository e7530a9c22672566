"""The one clock a verdict's `evaluated` time is read from, in the contract's form.

The slow path (`verifier.gates`) and the cached-verdict fast path
(`verifier.fastpath`) both stamp verdicts here, so the two agree on the form
(`2026-01-31T12:00:00.123456Z`), and a test can stop the clock in one place.
"""

from __future__ import annotations

from datetime import UTC, datetime


def evaluated_now() -> str:
    """Now, UTC, ISO 8601 with a `Z`."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
