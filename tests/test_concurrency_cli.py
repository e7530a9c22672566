"""Two `verify ci` processes at once, and a `verify ci` killed with SIGKILL mid-run, for real.

The processes are `python -m verifier`, started with subprocess as a user or
a CI system would; the ledger is then opened and checked: the hash chain,
SQLite's own integrity check, and every run a process finished is there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.ledger import Ledger
from verifier.manifests import seal_manifest
from verifier.root import VerificationRoot

pytestmark = pytest.mark.slow


def verify(root: VerificationRoot, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    return subprocess.Popen(
        [sys.executable, "-m", "verifier", "--root", str(root.path), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )


def check_ledger(home: Path) -> list[Any]:
    """The ledger opens, its chain verifies, SQLite says ok; returns its runs."""
    with Ledger.open(home) as ledger:
        ledger.verify_chain()
        ledger.integrity_check()
        return ledger.runs_for()


def papers(n: int) -> list[dict[str, Any]]:
    """n papers whose repros differ (a param each), so each is its own run key."""
    documents = [manifest_document(f"paper-{i}") for i in range(n)]
    for i, document in enumerate(documents):
        document["repros"][0]["params"]["paper"] = i
    return documents


def test_two_ci_processes_at_once(make_root: RootFactory) -> None:
    root = make_root(*papers(4))
    procs = [verify(root, "ci", "--json", "--backend", "process") for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    sessions = [json.loads(out) for out, _ in outputs]
    runs = check_ledger(root.path / ".verify")
    executed = sum(s["runs"]["executed"] for s in sessions)
    assert len(runs) == executed >= 4  # every finished run of both processes is in the ledger
    assert all(s["runs"]["executed"] + s["runs"]["cached"] == 4 for s in sessions)
    assert {r.paper for r in runs} == {f"paper-{i}" for i in range(4)}
    with Ledger.open(root.path / ".verify") as ledger:
        assert len(ledger.verdict_history("paper-0/C1")) == 2  # one verdict per process
        for run in runs:
            assert ledger.get_run(run.id) == run
    # and a third, alone, is served entirely from the cache both wrote
    third = verify(root, "ci", "--json", "--backend", "process")
    out, err = third.communicate(timeout=60)
    assert third.returncode == 0, err
    assert json.loads(out)["runs"] == {"executed": 0, "cached": 4}


@pytest.mark.bwrap
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_sigkill_mid_run_loses_no_finished_run(make_root: RootFactory) -> None:
    slow = manifest_document("slow-paper")
    slow["repros"][0]["entrypoint"] = ["python", "-m", "bundle.slow"]
    root = make_root(slow, manifest_document("fast-paper"), seal=False)
    (root.path / "bundle" / "slow.py").write_text("import time\ntime.sleep(3)\nfrom bundle import formula\n")
    for paper in ("slow-paper", "fast-paper"):
        seal_manifest(root, paper)
    home = root.path / ".verify"
    proc = verify(root, "ci", "--jobs", "2")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for the fast run to be recorded
            if (home / "ledger.sqlite3").exists() and any(r.paper == "fast-paper" for r in check_ledger(home)):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("the fast run never reached the ledger")
        assert proc.poll() is None, "verify finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    runs = check_ledger(home)
    assert [(r.paper, r.status) for r in runs] == [("fast-paper", "ok")]
    after = verify(root, "ci", "--json", "--jobs", "2")
    out, err = after.communicate(timeout=60)
    assert after.returncode == 0, err
    session = json.loads(out)
    assert session["runs"] == {"executed": 1, "cached": 1}
    assert [p["verdict"]["status"] for p in session["papers"]] == ["Verified", "Verified"]
    assert sorted(r.paper for r in check_ledger(home)) == ["fast-paper", "slow-paper"]
