"""Verify research claims against sealed, reproducible evidence.

Start at `verifier.cli` for the commands, `verifier.models` for the contracts
(docs/reference/contract.md), and `verifier.gates` for how a verdict is reached.
"""

from __future__ import annotations

__version__ = "0.1.0"
