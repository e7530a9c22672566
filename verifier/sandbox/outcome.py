"""Turn a finished sandbox run and its out dir into a judged `RunOutcome`.

The order of the checks is the order of blame: a run that timed out or hit
a limit is judged by that, whatever it left behind; then a crash; then the
shape of `$REPRO_OUT` (every entry a regular file or a directory) and of
`results.json` (a UTF-8 JSON object within `safeload.RESULTS_CAPS`). Only `ok` carries results forward to
`check.py`.

Side effects: reads (and hashes) every file under the out dir; never follows
a symlink the repro made.
"""

from __future__ import annotations

import os
import signal as signals
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from verifier.digest import file_digest
from verifier.errors import IntakeError
from verifier.safeload import RESULTS_CAPS, load_json, read_capped
from verifier.sandbox.base import SandboxResult

Status = Literal[
    "ok", "crashed", "timeout", "memory", "processes", "output-limit", "no-results",
    "invalid-results",
]
RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class RunOutcome:
    """The judged outcome of a run; `status == "ok"` is the only usable one."""

    status: Status
    reason: str
    results: dict[str, Any] | None
    outputs: dict[str, str]


class OutputError(Exception):
    """The out dir holds something that is not a regular file or a directory."""


def hash_outputs(out_dir: Path) -> dict[str, str]:
    """Every file under `out_dir` as relative posix path -> "sha256:<hex>".

    Raises `OutputError` for a symlink, FIFO, socket or device: an output
    must be plain data, and following a link could read the host.
    """
    outputs: dict[str, str] = {}
    for dirpath, dirnames, files in os.walk(out_dir):
        for name in sorted(dirnames + files):
            path = Path(dirpath) / name
            mode = os.lstat(path).st_mode
            rel = path.relative_to(out_dir).as_posix()
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise OutputError(f"$REPRO_OUT/{rel} is not a regular file")
            outputs[rel] = file_digest(path, follow_symlinks=False)
    return dict(sorted(outputs.items()))


def _limit_outcome(result: SandboxResult) -> tuple[Status, str] | None:
    """The status and reason for a timeout or a hit limit, if any."""
    limits = result.limits
    if result.timed_out:
        return "timeout", f"repro exceeded its {limits.timeout_s:g} s time limit and was killed"
    if result.limit == "memory":
        return "memory", f"repro exceeded its {limits.memory_mb} MB memory limit"
    if result.limit == "processes":
        return "processes", f"repro exceeded its limit of {limits.max_procs} processes"
    if result.limit == "output":
        return "output-limit", f"repro exceeded its {limits.max_output_mb} MB output limit"
    return None


def _crash_reason(result: SandboxResult) -> str | None:
    if result.signal is not None:
        try:
            name = signals.Signals(result.signal).name
        except ValueError:
            name = f"signal {result.signal}"
        return f"repro was killed by {name}"
    if result.exit_code not in (0, None):
        return f"repro exited with status {result.exit_code}"
    if result.exit_code is None:
        return "repro ended without an exit status"
    return None


def _read_results(out_dir: Path) -> tuple[Status, str, dict[str, Any] | None]:
    path = out_dir / RESULTS_FILE
    if not path.is_file():
        return "no-results", f"repro wrote no $REPRO_OUT/{RESULTS_FILE}", None
    shown = f"$REPRO_OUT/{RESULTS_FILE}"
    try:
        value = load_json(read_capped(path, RESULTS_CAPS, file=shown), file=shown, caps=RESULTS_CAPS, allow_nonfinite=True)
    except IntakeError as e:  # over a cap, not UTF-8, not JSON, a duplicate key: no answer, whatever it says
        return "invalid-results", e.diagnostics(), None
    except OSError as e:
        return "invalid-results", f"{shown}: cannot read: {e.strerror}", None
    if not isinstance(value, dict):
        kind = type(value).__name__
        return "invalid-results", f"$REPRO_OUT/{RESULTS_FILE} is a JSON {kind}, not an object", None
    return "ok", "repro finished and wrote a results object", value


def judge_outcome(result: SandboxResult, out_dir: Path) -> RunOutcome:
    """Judge a run: limits first, then the shape of the outputs, the exit, and results.json."""
    limit = _limit_outcome(result)
    problem: str | None
    try:
        outputs = hash_outputs(out_dir)
    except OutputError as e:
        outputs, problem = {}, str(e)
    else:
        problem = result.output_problem
    if limit is not None:
        return RunOutcome(limit[0], limit[1], None, outputs)
    if problem is not None:
        return RunOutcome("invalid-results", problem, None, outputs)
    crash = _crash_reason(result)
    if crash is not None:
        return RunOutcome("crashed", crash, None, outputs)
    status, reason, results = _read_results(out_dir)
    return RunOutcome(status, reason, results, outputs)
