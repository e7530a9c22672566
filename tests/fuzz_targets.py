"""Every host-side parser of text someone else wrote, as `target(raw) -> Outcome`, and a measuring worker.

A target returns the outcome the contract allows ("parsed", or "refused"
with one line and its exit status) and lets anything else escape: the
tests count an escaped exception as a crash.

Run as a script (`python tests/fuzz_targets.py TARGET FILE...`), it first
measures the target on the costliest input its caps admit (`at_the_caps`),
then feeds each file (decompressed if it ends in .gz) to the target twice,
once timed (CPU and wall) and once under tracemalloc (peak Python heap), and
prints one JSON line per input. `tests/test_fuzz_host.py` runs it in a
subprocess so that a hang or a blow-up cannot take pytest down with it, and
judges each file's CPU against the first line's: a cap that holds keeps any
input about as cheap as the largest input it lets through, on any machine.
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
from verifier.safeload import MANIFEST_CAPS, POLICY_CAPS, RECORD_CAPS, RESULTS_CAPS, Caps


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


CAPS: dict[str, Caps] = {
    "manifest": MANIFEST_CAPS, "record": RECORD_CAPS, "policy": POLICY_CAPS, "results": RESULTS_CAPS,
}
AT_THE_CAPS = "(at the caps)"


def at_the_caps(target: str) -> bytes:
    """A mapping holding one list of strings, just under the target's node and byte caps.

    Legitimate input can be this large, so its cost is the yardstick for every other input.
    """
    caps = CAPS[target]
    items = caps.max_nodes - 10  # the mapping, its key and the list are nodes too
    width = max(1, (caps.max_bytes - 1024) // items - 8)  # quotes, separators and indent per item
    if target == "results":
        return json.dumps({"items": ["x" * width] * items}).encode()
    return ("items:\n" + "".join(f"  - {'x' * width}\n" for _ in range(items))).encode()


def read_input(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def measure(target: Callable[[bytes], Outcome], raw: bytes, *, traced: bool = True) -> dict[str, object]:
    """Run `target` on `raw` timed, then (if `traced`) again for its peak heap; a crash is reported, not raised."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        result = asdict(target(raw))
    except Exception as e:  # a crash is what the suite looks for; report it
        result = {"outcome": "crash", "status": None, "line": f"{type(e).__name__}: {e}"[:300]}
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    row = {**result, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "peak_mb": None}
    if traced:
        gc.collect()
        tracemalloc.start()
        with contextlib.suppress(Exception):  # already reported by the timed run
            target(raw)
        row["peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 1)
        tracemalloc.stop()
    return row


def main(argv: list[str]) -> None:
    target = TARGETS[argv[0]]
    target(b"{}")  # import everything first, so no input pays for the imports
    inputs = [(AT_THE_CAPS, at_the_caps(argv[0]))] + [(Path(name).name, read_input(Path(name))) for name in argv[1:]]
    for label, raw in inputs:
        row = measure(target, raw, traced=label != AT_THE_CAPS)
        print(json.dumps({"target": argv[0], "input": label, **row}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
