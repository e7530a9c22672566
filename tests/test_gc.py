"""`verify gc`: bounded state, a whole hash chain, cached verdicts that still answer, a lock against `verify ci`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RootFactory
from tests.test_ledger import make_run, make_verdict
from verifier.cli import main
from verifier.ledger import DB_NAME, Ledger
from verifier.manifests import seal_manifest
from verifier.root import VerificationRoot

REPO = Path(__file__).resolve().parents[1]

# Each run also writes a file of fresh random bytes, so old runs own artifacts no kept run shares.
NOISY = """
pathlib.Path(os.environ["REPRO_OUT"], "noise.bin").write_bytes(os.urandom(4096))
"""


@pytest.fixture(autouse=True)
def _no_ambient_state(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VERIFY_HOME", "VERIFY_ROOT", "VERIFY_BACKEND", "VERIFY_TIER"):
        monkeypatch.delenv(name, raising=False)


def verify(capsys: pytest.CaptureFixture[str], root: VerificationRoot, *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    status = main(["--root", str(root.path), *args])
    out = capsys.readouterr().out
    try:
        return status, json.loads(out)
    except ValueError:
        return status, out


def store_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in (home / "artifacts" / "sha256").rglob("*") if p.is_file())


@pytest.fixture
def noisy_root(make_root: RootFactory) -> VerificationRoot:
    root = make_root()
    with (root.path / "bundle" / "formula.py").open("a") as f:
        f.write(NOISY)
    seal_manifest(root, "demo-paper")
    return root


class TestPrunedChain:
    def test_a_pruned_ledger_still_verifies_and_lookups_skip_what_went(self, tmp_path: Path) -> None:
        with Ledger.open(tmp_path / "home") as ledger:
            for i in range(4):
                ledger.add_run(make_run(i, key="sha256:" + "a" * 64))
                ledger.add_verdict(make_verdict("p/C1", n=i))
            assert ledger.prune([1, 2, 3]) == 3
            assert ledger.prune([1]) == 0  # already pruned
            ledger.verify_chain()
            assert list(ledger.chain_problems()) == []
            assert [r.id for r in ledger.runs_for()] == ["run-2", "run-3"]  # entries 1, 3: runs 0, 1
            assert len(ledger.verdict_history("p/C1")) == 3
            assert ledger.find_run("sha256:" + "a" * 64) is not None

    def test_a_pruned_entry_cannot_be_forged(self, tmp_path: Path) -> None:
        home = tmp_path / "home"
        with Ledger.open(home) as ledger:
            for i in range(3):
                ledger.add_run(make_run(i))
            ledger.prune([2])
        with sqlite3.connect(home / DB_NAME) as conn:
            # Its hash is covered by the next entry: changing it breaks the chain there.
            conn.execute("UPDATE entries SET entry_hash = ? WHERE seq = 2", ("ab" * 32,))
        with Ledger.open(home) as ledger:
            assert "ledger entry 3 does not follow entry 2" in list(ledger.chain_problems())
        with sqlite3.connect(home / DB_NAME) as conn:
            # Emptying a body without a `pruned` row is a change, not a prune.
            conn.execute("UPDATE entries SET body = '' WHERE seq = 1")
        with Ledger.open(home) as ledger:
            assert "ledger entry 1 was changed after it was written" in list(ledger.chain_problems())


class TestGc:
    def test_keep_1_shrinks_the_store_by_the_dry_run_figure(
        self, noisy_root: VerificationRoot, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root, home = noisy_root, noisy_root.path / ".verify"
        assert verify(capsys, root, "keys", "init")[0] == 0
        for _ in range(3):
            assert verify(capsys, root, "ci", "--backend", "process", "--no-cache", "--json")[0] == 0
        status, first = verify(capsys, root, "ci", "--backend", "process", "--json")
        assert status == 0 and first["runs"] == {"executed": 0, "cached": 1}
        before = store_bytes(home)

        status, planned = verify(capsys, root, "gc", "--keep", "1", "--dry-run", "--json")
        assert status == 0 and planned["dry_run"] is True
        removed = planned["removed"]
        assert len(removed["verdict_entries"]) == 3 and len(removed["runs"]) == 2
        assert removed["artifact_bytes"] >= 2 * 4096  # two old runs' noise at least
        assert store_bytes(home) == before  # a dry run removes nothing

        status, done = verify(capsys, root, "gc", "--keep", "1", "--json")
        assert status == 0 and done["removed"] == removed
        assert before - store_bytes(home) == removed["artifact_bytes"]

        status, report = verify(capsys, root, "ledger", "check", "--json")
        assert status == 0, report
        # The cached verdict still answers: no run executed.
        status, again = verify(capsys, root, "ci", "--backend", "process", "--json")
        assert status == 0 and again["runs"] == {"executed": 0, "cached": 1}
        # History is bounded to what was kept (plus the verdict just recorded).
        status, history = verify(capsys, root, "history", "demo-paper/C1", "--json")
        assert status == 0 and len(history["verdicts"]) == 2
        # A second gc finds nothing but the one older verdict.
        status, second = verify(capsys, root, "gc", "--keep", "1", "--dry-run", "--json")
        assert len(second["removed"]["verdict_entries"]) == 1 and second["removed"]["runs"] == []

    def test_keep_must_be_positive(self, noisy_root: VerificationRoot, capsys: pytest.CaptureFixture[str]) -> None:
        status, _ = verify(capsys, noisy_root, "gc", "--keep", "0")
        assert status == 2

    def test_gc_waits_for_a_running_verify(self, noisy_root: VerificationRoot, tmp_path: Path) -> None:
        """A process holding the ledger open (as `verify ci` does) makes gc wait until it closes."""
        home = noisy_root.path / ".verify"
        marker = tmp_path / "opened"
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sys, time, pathlib\n"
             "from verifier.ledger import Ledger\n"
             "with Ledger.open(pathlib.Path(sys.argv[1])):\n"
             "    pathlib.Path(sys.argv[2]).touch(); time.sleep(5)\n"
             "print(time.time())\n",
             str(home), str(marker)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        gc = subprocess.run(
            [sys.executable, "-m", "verifier", "--root", str(noisy_root.path), "gc", "--keep", "1"],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )
        gc_done = time.time()
        released = float(holder.communicate(timeout=30)[0])
        assert gc.returncode == 0, gc.stderr
        assert "waiting for running verify commands" in gc.stderr
        assert gc_done >= released

    def test_concurrent_ci_and_gc_leave_a_whole_state(self, noisy_root: VerificationRoot) -> None:
        """`verify ci --no-cache` and `verify gc --keep 1` in two processes, over and over: every one exits 0."""
        env = {**os.environ, "VERIFY_BACKEND": "process"}
        base = [sys.executable, "-m", "verifier", "--root", str(noisy_root.path)]
        script = (
            f"for i in 1 2 3 4; do {' '.join(base)} ci --no-cache >/dev/null || exit 1; done"
        )
        ci = subprocess.Popen(["bash", "-c", script], cwd=REPO, env=env)
        gcs = 0
        while ci.poll() is None:
            assert subprocess.run([*base, "gc", "--keep", "1"], cwd=REPO, env=env, capture_output=True).returncode == 0
            gcs += 1
        assert ci.returncode == 0 and gcs >= 1
        check = subprocess.run([*base, "ledger", "check"], cwd=REPO, env=env, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
        cached = subprocess.run([*base, "ci", "--json"], cwd=REPO, env=env, capture_output=True, text=True)
        assert cached.returncode == 0 and json.loads(cached.stdout)["runs"] == {"executed": 0, "cached": 1}
