"""Sandboxes that run repros: the registry and `auto` selection.

`BACKEND_FOR_NAME` maps a `--backend` name to its class; `select_backend`
returns a ready instance, choosing for `auto` the first sealed backend that
works here: bwrap, else a reachable Docker API (with the image present when
one is named). The unsealed `process` backend is never chosen automatically.

Raises `SandboxUnavailableError` (exit 3) when no sealed backend works, with
one line saying how to get one.

The names below are imported on first use (PEP 562), so that a light
submodule (`fingerprint`, `probe`) can be used without loading every backend.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verifier.sandbox.base import Limits, Sandbox, SandboxRequest, SandboxResult
    from verifier.sandbox.outcome import RunOutcome, judge_outcome
    from verifier.sandbox.registry import AUTO_ORDER, BACKEND_FOR_NAME, HOW_TO_SEAL, select_backend

_HOME: dict[str, str] = {
    "Limits": "base",
    "Sandbox": "base",
    "SandboxRequest": "base",
    "SandboxResult": "base",
    "RunOutcome": "outcome",
    "judge_outcome": "outcome",
    "AUTO_ORDER": "registry",
    "BACKEND_FOR_NAME": "registry",
    "HOW_TO_SEAL": "registry",
    "select_backend": "registry",
}

__all__ = [
    "AUTO_ORDER",
    "BACKEND_FOR_NAME",
    "HOW_TO_SEAL",
    "Limits",
    "RunOutcome",
    "Sandbox",
    "SandboxRequest",
    "SandboxResult",
    "judge_outcome",
    "select_backend",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'verifier.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"verifier.sandbox.{home}"), name)
    globals()[name] = value
    return value
