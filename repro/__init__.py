"""Repro bundles: self-contained code the verifier only ever runs (see DESIGN.md)."""
