"""Experiment entrypoints of the `repro` bundle: `python -m repro.experiments.<name>`.

Each reads `$REPRO_PARAMS` (a JSON file; `{"tier": "smoke"}` or `{"tier": "full"}`),
`$REPRO_SEED` and writes `$REPRO_OUT/results.json`, as CONTRACT.md describes.
"""
