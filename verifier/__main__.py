"""`python -m verifier` runs the `verify` command."""

from __future__ import annotations

from verifier.cli import console

if __name__ == "__main__":
    console()
