"""The ledger under real concurrency and a real SIGKILL: separate processes, no mocks."""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from verifier.ledger import Ledger

REPO = Path(__file__).resolve().parents[1]

# A writer process: appends `count` runs (every 10th also a verdict), each
# stored with an artifact, and prints a run's id only once add_run returned.
WRITER = r"""
import hashlib, os, sys, time
from pathlib import Path
from verifier.ledger import Ledger
from verifier.models import RunRecord, Verdict

home, prefix, count, size = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
go = Path(sys.argv[5]) if len(sys.argv) > 5 else None
h = lambda s: "sha256:" + hashlib.sha256(s.encode()).hexdigest()
with Ledger.open(home) as ledger:
    if go is not None:  # a start line: both writers begin appending at once
        print("ready", flush=True)
        while not go.exists():
            time.sleep(0.001)
    for i in range(count):
        run_id = f"{prefix}-{i}"
        print(f"put {run_id}", flush=True)
        log = ledger.store.put_bytes(os.urandom(size))
        ledger.add_run(RunRecord(
            id=run_id, key=h(run_id), paper=prefix, repro="R1", seed=i, backend="process",
            sealed=False, seal=h("seal"), entrypoint=["python"], params_digest=h("p"),
            environment={}, started="2026-06-23T08:00:00Z", ended="2026-06-23T08:00:01Z",
            duration_s=1.0, exit_code=0, status="ok", reason="ok", logs={"stdout": log},
        ))
        if i % 10 == 0:
            ledger.add_verdict(Verdict(claim=f"{prefix}/C{i}", status="verified", gate=2,
                                       reason="ok", evaluated="2026-06-23T08:00:02Z"))
        print(f"done {run_id}", flush=True)
"""


def start_writer(
    home: Path, prefix: str, count: int, size: int, go: Path | None = None
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    extra = [str(go)] if go is not None else []
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home), prefix, str(count), str(size), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def assert_store_is_whole(home: Path) -> int:
    """Every object under its digest holds exactly the bytes of that digest; returns the count."""
    count = 0
    for obj in (home / "artifacts" / "sha256").rglob("*"):
        if obj.is_file():
            name = obj.parent.name + obj.name
            assert hashlib.sha256(obj.read_bytes()).hexdigest() == name, f"partial object {obj}"
            count += 1
    return count


def assert_consistent(home: Path) -> Ledger:
    ledger = Ledger.open(home)
    ledger.integrity_check()
    ledger.verify_chain()
    assert_store_is_whole(home)
    return ledger


def test_two_writers_at_once(tmp_path: Path) -> None:
    home = tmp_path / ".verify"
    Ledger.open(home).close()  # both writers find the schema; creation races are tested below
    go = tmp_path / "go"
    writers = [start_writer(home, name, 200, 64, go) for name in ("alpha", "beta")]
    for w in writers:
        assert w.stdout is not None and w.stdout.readline() == "ready\n"
    go.touch()
    for w in writers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        assert out.count("done ") == 200
    with assert_consistent(home) as ledger:
        runs = ledger.runs_for()
        assert len(runs) == 400
        assert {r.id for r in runs} == {f"{p}-{i}" for p in ("alpha", "beta") for i in range(200)}
        # The appends really interleaved: the papers alternate somewhere in the chain.
        switches = sum(a.paper != b.paper for a, b in itertools.pairwise(runs))
        assert switches > 1
        assert (
            len(
                ledger.last_verdicts(
                    f"{p}/C{i}" for p in ("alpha", "beta") for i in range(0, 200, 10)
                )
            )
            == 40
        )
        for run in runs[::37]:
            ledger.store.get_bytes(run.logs["stdout"])


def test_two_writers_create_the_ledger_at_once(tmp_path: Path) -> None:
    home = tmp_path / ".verify"
    writers = [start_writer(home, name, 20, 16) for name in ("one", "two")]
    for w in writers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    with assert_consistent(home) as ledger:
        assert len(ledger.runs_for()) == 40


def _kill_after(proc: subprocess.Popen[str], lines: int, delay: float = 0.0) -> list[str]:
    """Read `lines` lines of the writer's output, SIGKILL it, and return everything it printed."""
    assert proc.stdout is not None
    seen: list[str] = []
    while len(seen) < lines:
        line = proc.stdout.readline()
        assert line, f"writer ended early: {proc.stderr.read() if proc.stderr else ''}"
        seen.append(line.strip())
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return seen + rest.split()


def test_sigkill_mid_append_loses_no_finished_run(tmp_path: Path) -> None:
    home = tmp_path / ".verify"
    printed = _kill_after(start_writer(home, "victim", 10_000, 4096), 121)
    finished = [line.split()[1] for line in printed if line.startswith("done ")]
    assert len(finished) >= 60
    with assert_consistent(home) as ledger:
        for run_id in finished:
            run = ledger.get_run(run_id)
            assert run is not None, f"{run_id} finished but is gone"
            assert ledger.store.get_bytes(run.logs["stdout"])
        # Whatever was in flight is either fully there or fully absent.
        assert len(ledger.runs_for()) in (len(finished), len(finished) + 1)
        ledger.add_run(ledger.runs_for()[0].model_copy(update={"id": "after-the-kill"}))
        ledger.verify_chain()


def test_sigkill_during_put_bytes_leaves_no_partial_object(tmp_path: Path) -> None:
    home = tmp_path / ".verify"
    # 24 MiB objects: the kill lands inside the write or the fsync most of the time.
    printed = _kill_after(start_writer(home, "big", 100, 24 << 20), 3, delay=0.08)
    assert printed[-1].startswith(("put ", "done "))
    with assert_consistent(home) as ledger:
        finished = [line.split()[1] for line in printed if line.startswith("done ")]
        assert all(ledger.get_run(run_id) is not None for run_id in finished)
    assert assert_store_is_whole(home) >= 1
