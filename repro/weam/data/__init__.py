"""Data for WEAM: synthetic languages with gold alignments, Django's translation catalogs,
standard corpus formats and language sampling.

Start with `synthetic.generate_world`, `catalogs.load_parallel_jsonl` and
`sampling.temperature_probs`; the shared types live in `types`.
"""

from __future__ import annotations

from repro.weam.data.types import Link, ParallelCorpus, ParallelPair, Sentence

__all__ = ["Link", "ParallelCorpus", "ParallelPair", "Sentence"]
