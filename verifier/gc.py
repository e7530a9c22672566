"""`verify gc`: bound the state. Prune what no kept verdict, attestation or history entry needs.

What is kept:

* per claim, its newest `keep` verdicts (the history `verify history` shows);
* every run such a verdict names (any run id anywhere in its record: the
  evidence, the other arm, the baseline, each seed), and every run an
  attestation index names;
* every artifact a kept run names (logs, outputs, results) and every
  envelope an attestation index names.

Everything else goes: older verdicts and unneeded runs are *pruned* in the
ledger (`Ledger.prune`: the body is dropped, the entry's hashes stay, so the
chain still verifies), then unneeded objects are deleted from the artifact
store. Pruning comes first: a crash in between leaves only unreferenced
objects, which the next gc removes.

A running `verify` holds the home's gc lock shared (`Ledger.open`); gc takes
it exclusively, so it never deletes an object a running `verify ci` has just
re-used or is about to read, and a `verify` that starts during a gc waits
for it.

Side effects: writes the ledger and deletes artifact files under `home`
(nothing with `dry_run`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.ledger import Ledger, exclusive_gc_lock
from verifier.state_check import index_files, run_artifacts, stored_objects


@dataclass
class GcPlan:
    """What a gc removes: ledger entries to prune and artifacts to delete, with their sizes."""

    keep: int
    verdicts: list[int] = field(default_factory=list)  # seqs of verdict entries to prune
    runs: list[tuple[int, str]] = field(default_factory=list)  # (seq, run id) of run entries to prune
    artifacts: list[tuple[str, int]] = field(default_factory=list)  # (digest, bytes) of objects to delete
    kept_verdicts: int = 0
    kept_runs: int = 0
    kept_artifacts: int = 0

    @property
    def artifact_bytes(self) -> int:
        """How many bytes the artifact store shrinks by."""
        return sum(size for _, size in self.artifacts)

    def lines(self) -> Iterator[str]:
        """One line per thing that goes."""
        for seq in self.verdicts:
            yield f"verdict entry {seq}"
        for seq, run_id in self.runs:
            yield f"run {run_id} (entry {seq})"
        for digest, size in self.artifacts:
            yield f"artifact {digest} ({size} bytes)"

    def summary(self, *, dry_run: bool) -> str:
        """The closing line."""
        verb = "would remove" if dry_run else "removed"
        return (
            f"gc --keep {self.keep}: {verb} {len(self.verdicts)} verdicts, {len(self.runs)} runs,"
            f" {len(self.artifacts)} artifacts ({self.artifact_bytes} bytes); kept {self.kept_verdicts} verdicts,"
            f" {self.kept_runs} runs, {self.kept_artifacts} artifacts"
        )

    def as_json(self, *, dry_run: bool) -> dict[str, Any]:
        """The `--json` form."""
        return {
            "keep": self.keep,
            "dry_run": dry_run,
            "removed": {
                "verdict_entries": self.verdicts,
                "runs": [{"seq": s, "id": i} for s, i in self.runs],
                "artifacts": [{"digest": d, "bytes": b} for d, b in self.artifacts],
                "artifact_bytes": self.artifact_bytes,
            },
            "kept": {"verdicts": self.kept_verdicts, "runs": self.kept_runs, "artifacts": self.kept_artifacts},
        }


def collect(
    home: Path,
    *,
    keep: int,
    dry_run: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> GcPlan:
    """Plan the gc of `home` and, unless `dry_run`, carry it out; return the plan.

    `on_wait` is called once if a running `verify` holds the lock (gc then waits for it).

    Raises `ValueError` if `keep` < 1, `LedgerError` if the ledger cannot be read or written.
    """
    if keep < 1:
        raise ValueError("--keep must be at least 1")
    lock = exclusive_gc_lock(home, wait=False)
    if lock is None:
        if on_wait is not None:
            on_wait()
        lock = exclusive_gc_lock(home, wait=True)
    try:
        with Ledger.open(home, gc_lock=False) as ledger:
            plan = _plan(home, ledger, keep)
            if not dry_run:
                ledger.prune([*plan.verdicts, *(seq for seq, _ in plan.runs)])
                _delete(ledger, plan)
    finally:
        if lock is not None:
            os.close(lock)
    return plan


def _plan(home: Path, ledger: Ledger, keep: int) -> GcPlan:
    plan = GcPlan(keep=keep)
    runs: dict[str, tuple[int, dict[str, Any]]] = {}  # run id -> (seq, record)
    verdicts: dict[str, list[tuple[int, Any]]] = {}  # claim -> [(seq, record)], oldest first
    for seq, kind, body in ledger.live_entries():
        try:
            record = json.loads(body)
        except ValueError:
            continue  # damaged: never removed by gc, reported by `verify ledger check`
        if not isinstance(record, dict):
            continue
        if kind == "run" and isinstance(record.get("id"), str):
            runs[record["id"]] = (seq, record)
        elif kind == "verdict":
            verdicts.setdefault(str(record.get("claim")), []).append((seq, record))
    kept_runs: set[str] = set()
    for history in verdicts.values():
        kept, dropped = history[-keep:], history[:-keep]
        plan.verdicts += [seq for seq, _ in dropped]
        plan.kept_verdicts += len(kept)
        for _, record in kept:
            kept_runs.update(s for s in _strings(record) if s in runs)
    envelopes: set[str] = set()
    for index_file in index_files(home):
        index = _read_json(index_file)
        for run in index.get("runs", []) if isinstance(index.get("runs"), list) else []:
            if isinstance(run, dict):
                kept_runs.add(str(run.get("id")))
                envelopes.add(str(run.get("digest")))
        if isinstance(index.get("verdict"), dict):
            envelopes.add(str(index["verdict"].get("digest")))
    wanted = set(envelopes)
    for run_id, (seq, record) in sorted(runs.items(), key=lambda item: item[1][0]):
        if run_id in kept_runs:
            wanted |= run_artifacts(record)
        else:
            plan.runs.append((seq, run_id))
    plan.kept_runs = len(runs) - len(plan.runs)
    for digest, path in stored_objects(ledger.store).items():
        if digest in wanted:
            plan.kept_artifacts += 1
            continue
        with contextlib.suppress(FileNotFoundError):
            plan.artifacts.append((digest, path.stat().st_size))
    plan.verdicts.sort()
    return plan


def _strings(value: Any) -> Iterator[str]:
    """Every string anywhere in a JSON value (run ids, wherever a verdict keeps them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _delete(ledger: Ledger, plan: GcPlan) -> None:
    """Delete the planned objects, then any directory they leave empty."""
    parents: set[Path] = set()
    for digest, _ in plan.artifacts:
        path = ledger.store.path(digest)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        parents.add(path.parent)
    for parent in parents:
        with contextlib.suppress(OSError):
            parent.rmdir()  # only if empty; the next put recreates it
