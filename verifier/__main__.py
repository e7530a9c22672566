"""`python -m verifier` runs the `verify` command."""

from __future__ import annotations

from verifier.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
