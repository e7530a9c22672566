"""Every host-side parser of text someone else wrote, as `target(raw) -> Outcome`, and a measuring worker.

A target returns the outcome the contract allows ("parsed", or "refused"
with one line and its exit status) and lets anything else escape: the
tests count an escaped exception as a crash.

Run as a script (`python tests/fuzz_targets.py TARGET FILE...`), it feeds each
file (decompressed if it ends in .gz) to the target twice, once timed
(CPU and wall) and once under tracemalloc (peak Python heap), and prints
one JSON line per file. `tests/test_fuzz_host.py` runs it in a subprocess
so that a hang or a blow-up cannot take pytest down with it.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import json
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from verifier.errors import IntakeError


@dataclass(frozen=True)
class Outcome:
    outcome: str  # "parsed" | "refused"
    status: int  # the exit status the CLI gives (0 when it parses)
    line: str = ""


def _refused(e: IntakeError) -> Outcome:
    return Outcome("refused", e.exit_status, e.diagnostics())


def manifest(raw: bytes) -> Outcome:
    """Gate 0 steps 1-3, as `verify validate` runs them: parse, then schema and model."""
    from verifier.manifests import parse_document, validate_document

    shown = "manifests/fuzz/manifest.yaml"
    try:
        validate_document(parse_document(raw, shown), shown)
    except IntakeError as e:
        return _refused(e)
    return Outcome("parsed", 0)


def record(raw: bytes) -> Outcome:
    """A correction record, as `verify audit` and `verify correct` read one."""
    from verifier.corrections import parse_record

    try:
        parse_record(raw, source="manifests/fuzz/corrections/0001.yaml")
    except IntakeError as e:
        return _refused(e)
    return Outcome("parsed", 0)


def policy(raw: bytes) -> Outcome:
    """A quality policy file."""
    from verifier.quality import parse_policy

    try:
        parse_policy(raw)
    except IntakeError as e:
        return _refused(e)
    return Outcome("parsed", 0)


def results(raw: bytes) -> Outcome:
    """`$REPRO_OUT/results.json`, read from an out dir as the host reads a finished run's."""
    from verifier.sandbox.outcome import RESULTS_FILE, _read_results

    with tempfile.TemporaryDirectory() as out:
        (Path(out) / RESULTS_FILE).write_bytes(raw)
        status, reason, _ = _read_results(Path(out))
    if status == "ok":
        return Outcome("parsed", 0)
    return Outcome("refused", 3, reason)  # invalid-results: the claim is inconclusive


TARGETS: dict[str, Callable[[bytes], Outcome]] = {
    "manifest": manifest, "record": record, "policy": policy, "results": results,
}


def read_input(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def measure(target: Callable[[bytes], Outcome], raw: bytes) -> dict[str, object]:
    """Run `target` on `raw` timed, then again traced; a crash is reported, not raised."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        result = asdict(target(raw))
    except Exception as e:  # a crash is what the suite looks for; report it
        result = {"outcome": "crash", "status": None, "line": f"{type(e).__name__}: {e}"[:300]}
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    gc.collect()
    tracemalloc.start()
    with contextlib.suppress(Exception):  # already reported by the timed run
        target(raw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {**result, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "peak_mb": round(peak / 1e6, 1)}


def main(argv: list[str]) -> None:
    target = TARGETS[argv[0]]
    target(b"{}")  # import everything first, so no input pays for the imports
    for name in argv[1:]:
        path = Path(name)
        row = measure(target, read_input(path))
        print(json.dumps({"target": argv[0], "input": path.name, **row}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
