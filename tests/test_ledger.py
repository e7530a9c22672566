"""The run ledger and artifact store: records, history, artifacts, the hash chain."""

from __future__ import annotations

import hashlib
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.errors import LedgerError
from verifier.ledger import DB_NAME, Ledger
from verifier.models import RunRecord, Verdict


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def make_run(
    i: int, *, key: str | None = None, status: str = "ok", paper: str = "paper-a", **extra: Any
) -> RunRecord:
    fields: dict[str, Any] = {
        "id": f"run-{i}",
        "key": key or digest(f"key-{i}"),
        "paper": paper,
        "repro": "R1",
        "seed": 0,
        "backend": "bwrap",
        "sealed": True,
        "seal": digest("seal"),
        "entrypoint": ["python", "-m", "repro.formula.learning_rate"],
        "params_digest": digest("params"),
        "environment": {"backend": "bwrap", "python": "3.11"},
        "started": f"2026-06-23T08:00:{i % 60:02d}Z",
        "ended": f"2026-06-23T08:01:{i % 60:02d}Z",
        "duration_s": 1.25,
        "exit_code": 0,
        "status": status,
        "reason": "finished",
        **extra,
    }
    return RunRecord(**fields)


def make_verdict(claim: str, status: str = "verified", n: int = 0, **extra: Any) -> Verdict:
    fields: dict[str, Any] = {
        "claim": claim,
        "status": status,
        "gate": 2,
        "reason": f"verdict {n}",
        "expected": 5e-05,
        "computed": 5e-05,
        "evaluated": f"2026-06-23T09:00:{n % 60:02d}Z",
        **extra,
    }
    return Verdict(**fields)


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger.open(tmp_path / ".verify") as opened:
        yield opened


class TestRuns:
    def test_round_trip(self, ledger: Ledger) -> None:
        run = make_run(1)
        ledger.add_run(run)
        assert ledger.get_run("run-1") == run
        assert ledger.find_run(run.key) == run
        assert ledger.get_run("run-2") is None
        assert ledger.find_run(digest("unknown")) is None

    def test_find_run_takes_the_latest_ok_run(self, ledger: Ledger) -> None:
        key = digest("shared")
        ledger.add_run(make_run(1, key=key))
        ledger.add_run(make_run(2, key=key))
        ledger.add_run(make_run(3, key=key, status="crashed"))
        found = ledger.find_run(key)
        assert found is not None and found.id == "run-2"
        assert ledger.find_runs([key, digest("none"), key]) == {key: found}

    def test_find_runs_agrees_with_find_run(self, ledger: Ledger) -> None:
        runs = [
            make_run(i, key=digest(f"k{i % 7}"), status="ok" if i % 3 else "timeout")
            for i in range(40)
        ]
        for run in runs:
            ledger.add_run(run)
        keys = [digest(f"k{i}") for i in range(9)]
        bulk = ledger.find_runs(keys)
        assert bulk == {k: r for k in keys if (r := ledger.find_run(k)) is not None}

    def test_add_run_is_idempotent(self, ledger: Ledger) -> None:
        run = make_run(1)
        ledger.add_run(run)
        ledger.add_run(run)
        assert ledger.runs_for() == [run]
        with pytest.raises(LedgerError, match="run-1 is already recorded with different content"):
            ledger.add_run(make_run(1, status="crashed"))
        ledger.verify_chain()

    def test_runs_for_paper(self, ledger: Ledger) -> None:
        for i in range(6):
            ledger.add_run(make_run(i, paper="paper-a" if i % 2 else "paper-b"))
        assert [r.id for r in ledger.runs_for("paper-a")] == ["run-1", "run-3", "run-5"]
        assert len(ledger.runs_for()) == 6
        assert ledger.runs_for("paper-c") == []

    def test_records_survive_reopening(self, tmp_path: Path) -> None:
        with Ledger.open(tmp_path) as first:
            first.add_run(make_run(1))
            first.add_verdict(make_verdict("p/C1"))
        with Ledger.open(tmp_path) as second:
            assert second.get_run("run-1") == make_run(1)
            assert second.last_verdict("p/C1") == make_verdict("p/C1")
            second.verify_chain()


class TestVerdicts:
    def test_history_newest_first(self, ledger: Ledger) -> None:
        statuses = ["verified", "refuted", "verified", "inconclusive"]
        for n, status in enumerate(statuses):
            ledger.add_verdict(make_verdict("p/C1", status, n))
        ledger.add_verdict(make_verdict("p/C2", "refuted", 9))
        history = ledger.verdict_history("p/C1")
        assert [v.reason for v in history] == ["verdict 3", "verdict 2", "verdict 1", "verdict 0"]
        assert [v.reason for v in ledger.verdict_history("p/C1", limit=2)] == [
            "verdict 3",
            "verdict 2",
        ]
        last = ledger.last_verdict("p/C1")
        assert last is not None and last.status == "inconclusive"
        passed = ledger.last_passed("p/C1")
        assert passed is not None and passed.reason == "verdict 2"
        assert ledger.last_passed("p/C2") is None
        assert ledger.last_verdict("p/C3") is None
        assert {c: v.reason for c, v in ledger.last_verdicts(["p/C1", "p/C2", "p/C3"]).items()} == {
            "p/C1": "verdict 3",
            "p/C2": "verdict 9",
        }

    def test_non_json_values_are_stored(self, ledger: Ledger) -> None:
        # NaN has no JSON form (pydantic writes null); a huge int is beyond I-JSON.
        ledger.add_verdict(make_verdict("p/C1", "refuted", computed=math.nan, expected=10**400))
        ledger.add_verdict(make_verdict("p/C2", "refuted", computed=[2**60, math.inf]))
        first, second = ledger.last_verdict("p/C1"), ledger.last_verdict("p/C2")
        assert first is not None and first.computed is None and first.expected == "1" + "0" * 400
        assert second is not None and second.computed[1] is None
        assert float(second.computed[0]) == float(2**60)  # stored as the double JSON reads
        ledger.verify_chain()


class TestArtifacts:
    def test_bytes_round_trip(self, ledger: Ledger) -> None:
        d = ledger.store.put_bytes(b"hello")
        assert d == "sha256:" + hashlib.sha256(b"hello").hexdigest()
        assert ledger.store.put_bytes(b"hello") == d
        assert ledger.store.get_bytes(d) == b"hello"
        path = ledger.store.path(d)
        assert path == ledger.home / "artifacts" / "sha256" / d[7:9] / d[9:]
        assert not path.stat().st_mode & 0o222  # objects are read-only

    def test_put_file_streams(self, ledger: Ledger, tmp_path: Path) -> None:
        data = bytes(range(256)) * 10_000  # several buffers
        src = tmp_path / "big.bin"
        src.write_bytes(data)
        d = ledger.store.put_file(src)
        assert d == "sha256:" + hashlib.sha256(data).hexdigest()
        assert ledger.store.put_file(src) == d
        assert ledger.store.get_bytes(d) == data
        assert list((ledger.home / "artifacts" / "tmp").iterdir()) == []

    def test_missing_and_corrupt(self, ledger: Ledger) -> None:
        with pytest.raises(LedgerError, match="is missing"):
            ledger.store.get_bytes(digest("absent"))
        d = ledger.store.put_bytes(b"original")
        path = ledger.store.path(d)
        path.chmod(0o644)
        path.write_bytes(b"tampered")
        with pytest.raises(LedgerError, match="is corrupt"):
            ledger.store.get_bytes(d)
        with pytest.raises(LedgerError, match="not a sha256 digest"):
            ledger.store.path("sha256:xyz")
        with pytest.raises(LedgerError, match="cannot store"):
            ledger.store.put_file(ledger.home / "no-such-file")


class TestOpen:
    def test_wal_and_schema(self, ledger: Ledger) -> None:
        conn = sqlite3.connect(ledger.home / DB_NAME)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert (
            conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "1"
        )
        conn.close()
        ledger.integrity_check()
        ledger.verify_chain()  # the empty ledger is a valid chain

    def test_newer_schema_is_refused(self, tmp_path: Path) -> None:
        Ledger.open(tmp_path).close()
        conn = sqlite3.connect(tmp_path / DB_NAME)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
        with pytest.raises(LedgerError, match="schema 99 is newer"):
            Ledger.open(tmp_path)

    def test_garbage_file_is_a_ledger_error(self, tmp_path: Path) -> None:
        (tmp_path / DB_NAME).write_bytes(b"this is not a database" * 100)
        with pytest.raises(LedgerError, match="unreadable"):
            Ledger.open(tmp_path)


# --------------------------------------------------------------------------- tampering

ENTRY_COLUMNS = "kind, body, prev_hash, entry_hash"


def _tamper(db: Path, how: str, i: int, j: int, n: int) -> None:
    """Edit the ledger file behind the Ledger's back, the way a careless hand would."""
    conn = sqlite3.connect(db, isolation_level=None)
    a, b = i % n + 1, j % n + 1
    if how == "edit-body":
        body = conn.execute("SELECT body FROM entries WHERE seq = ?", (a,)).fetchone()[0]
        conn.execute(
            "UPDATE entries SET body = ? WHERE seq = ?", (body.replace("0", "1", 1) + " ", a)
        )
    elif how == "edit-index":
        conn.execute("UPDATE runs SET status = 'ok-ish' WHERE seq = ?", (a,))
        conn.execute("UPDATE verdicts SET status = 'verified-ish' WHERE seq = ?", (a,))
    elif how == "delete":
        conn.execute("DELETE FROM entries WHERE seq = ?", (a,))
    elif how == "delete-tail":
        conn.execute("DELETE FROM entries WHERE seq = ?", (n,))
        conn.execute("DELETE FROM runs WHERE seq = ?", (n,))
        conn.execute("DELETE FROM verdicts WHERE seq = ?", (n,))
    elif how == "reorder":
        if a == b:
            b = a % n + 1
        rows = {
            s: conn.execute(f"SELECT {ENTRY_COLUMNS} FROM entries WHERE seq = ?", (s,)).fetchone()
            for s in (a, b)
        }
        for s, other in ((a, b), (b, a)):
            conn.execute(
                "UPDATE entries SET kind = ?, body = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?",
                (*rows[other][:3], rows[other][3] + ("x" if s == a else "y"), s),
            )
            # entry_hash is UNIQUE: swap in two steps, then restore the exact hashes.
        for s, other in ((a, b), (b, a)):
            conn.execute("UPDATE entries SET entry_hash = ? WHERE seq = ?", (rows[other][3], s))
    elif how == "reorder-body":
        if a == b:
            b = a % n + 1
        ba, bb = (
            conn.execute("SELECT body FROM entries WHERE seq = ?", (s,)).fetchone()[0]
            for s in (a, b)
        )
        conn.execute("UPDATE entries SET body = ? WHERE seq = ?", (bb, a))
        conn.execute("UPDATE entries SET body = ? WHERE seq = ?", (ba, b))
    conn.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(min_value=2, max_value=8),
    how=st.sampled_from(
        ["edit-body", "edit-index", "delete", "delete-tail", "reorder", "reorder-body"]
    ),
    i=st.integers(min_value=0, max_value=50),
    j=st.integers(min_value=0, max_value=50),
)
def test_any_edit_or_reordering_is_caught(
    tmp_path_factory: pytest.TempPathFactory, n: int, how: str, i: int, j: int
) -> None:
    home = tmp_path_factory.mktemp("ledger")
    with Ledger.open(home) as ledger:
        for k in range(n):
            if k % 2:
                ledger.add_verdict(make_verdict(f"p/C{k}", n=k))
            else:
                ledger.add_run(make_run(k))
        ledger.verify_chain()
    _tamper(home / DB_NAME, how, i, j, n)
    with Ledger.open(home) as ledger, pytest.raises(LedgerError, match="ledger"):
        ledger.verify_chain()


def test_threads_may_share_a_ledger(ledger: Ledger) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(t: int) -> None:
        for i in range(25):
            run = make_run(t * 100 + i, paper=f"paper-{t}")
            ledger.add_run(run)
            assert ledger.find_run(run.key) == run

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    assert len(ledger.runs_for()) == 100
    ledger.verify_chain()


def test_diff_runs_names_what_changed() -> None:
    from verifier.history import diff_runs

    before = make_run(1)
    after = make_run(2, seal=digest("new seal"), environment={"backend": "bwrap", "python": "3.12"})
    assert diff_runs(before, make_run(3)) == []
    assert diff_runs(before, after) == [
        f"seal {digest('seal')[:19]} -> {digest('new seal')[:19]}",
        "environment.python 3.11 -> 3.12",
    ]
