"""The run ledger: an append-only, hash-chained SQLite store of runs and verdicts.

Layout under `home` (`<root>/.verify/` or `$VERIFY_HOME`; the caller decides):

```
ledger.sqlite3                  SQLite, WAL mode
artifacts/                      the artifact store (`verifier.store`): logs and outputs of runs
```

Every record, run or verdict, is one row of `entries`: its RFC 8785
canonical JSON (`body`), the hash of the entry before it and its own hash,

    entry_hash = sha256(0x00 || prev_hash || body)

with `prev_hash` the 32 zero bytes for the first entry, and the leaf prefix
0x00 for domain separation (as in sigstore's `_internal/merkle.py`). The head
(count and last hash) is kept in `meta` in the same transaction, so a
deleted tail is caught too; `runs` and `verdicts` are indexes into `entries`
that `verify_chain` checks against the bodies they point to.

Threat model: the chain catches accidental damage and naive edits (a changed
status, a dropped run, reordered rows). Whoever can write the file can
rewrite the whole chain; anchoring the head outside the ledger (a signed
attestation, `verifier.attest`) is what closes that, and is out of scope
here. See https://www.sqlite.org/wal.html for the durability model: with
`synchronous=NORMAL` in WAL mode a commit survives the process being killed
(SIGKILL) and the database survives power loss, at worst losing the last
commits.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from verifier.canonical import canonical
from verifier.digest import raw_sha256
from verifier.errors import LedgerError
from verifier.store import ArtifactStore

if TYPE_CHECKING:  # built only when a record is parsed: a cached verdict's fast path needs no models
    from verifier.models import RunRecord, Verdict

SCHEMA_VERSION = 1
DB_NAME = "ledger.sqlite3"
LOCK_NAME = "gc.lock"  # shared by every open ledger, exclusive for `verify gc` (verifier.gc)
BUSY_TIMEOUT_MS = 30_000
GENESIS = bytes(32)
LEAF_PREFIX = b"\x00"
_IN_CHUNK = 500  # keys per `IN (...)` query, well under SQLite's variable limit

Kind = Literal["run", "verdict"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('run', 'verdict')),
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE REFERENCES entries(seq),
    key TEXT NOT NULL,
    paper TEXT NOT NULL,
    repro TEXT NOT NULL,
    status TEXT NOT NULL,
    ended TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (key, status, seq);
CREATE INDEX IF NOT EXISTS runs_by_paper ON runs (paper, seq);
CREATE TABLE IF NOT EXISTS verdicts (
    seq INTEGER PRIMARY KEY REFERENCES entries(seq),
    claim TEXT NOT NULL,
    status TEXT NOT NULL,
    evaluated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_by_claim ON verdicts (claim, seq);
CREATE INDEX IF NOT EXISTS verdicts_by_claim_status ON verdicts (claim, status, seq);
"""


def entry_hash(prev_hash: bytes, body: bytes) -> bytes:
    """`sha256(0x00 || prev_hash || body)`: the hash of one ledger entry."""
    return raw_sha256(LEAF_PREFIX + prev_hash + body)


def _body_of(record: RunRecord | Verdict) -> bytes:
    """The canonical bytes a record is stored and hashed as (`body_of_json` of its JSON form).

    Pydantic writes NaN and infinity as null. Raises `LedgerError` if the
    record has no canonical JSON form.
    """
    return body_of_json(record_json(record), what=type(record).__name__)


def record_json(record: RunRecord | Verdict) -> Any:
    """The JSON value a record is stored as (before canonicalization)."""
    return json.loads(record.model_dump_json())


def body_of_json(value: Any, *, what: str = "Verdict") -> bytes:
    """The canonical bytes of a record's JSON value.

    An integer beyond I-JSON's range (which RFC 8785 refuses) is stored as
    the float JSON reads it as. Raises `LedgerError` if there is no canonical form.
    """
    try:
        return canonical(value)
    except ValueError:
        try:
            return canonical(_ijson(value))
        except ValueError as e:
            raise LedgerError(f"cannot store {what}: {e}") from e


def _ijson(value: Any) -> Any:
    """`value` with out-of-range integers turned into floats, or strings if not even that fits."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) >= 2**53:
        try:
            return float(value)
        except OverflowError:
            return str(value)
    if isinstance(value, list):
        return [_ijson(v) for v in value]
    if isinstance(value, dict):
        return {k: _ijson(v) for k, v in value.items()}
    return value


class Ledger:
    """Runs, verdicts and artifacts of one verification root.

    Use `Ledger.open(home)`, as a context manager or with `close()`. One
    connection per `Ledger`; threads may share it (calls are serialized by
    a lock, which costs well under a microsecond). Any number of
    processes may open the same home at once: appends take SQLite's write
    lock (`BEGIN IMMEDIATE`) before they read the chain's head, so two
    writers serialize rather than fork the chain.
    """

    def __init__(self, home: Path, conn: sqlite3.Connection) -> None:
        """Wrap an open connection; use `Ledger.open`."""
        self.home = home
        self.store = ArtifactStore(home)
        self._conn = conn
        self._lock = threading.RLock()
        self._gc_lock: int | None = None  # fd holding the shared gc lock, if taken

    # ----------------------------------------------------------------- open / close

    @classmethod
    def open(cls, home: Path, *, gc_lock: bool = True) -> Ledger:
        """Open (creating if needed) the ledger under `home`.

        With `gc_lock` (the default) the ledger holds a shared lock on
        `<home>/gc.lock` until it is closed, so `verify gc` (which takes it
        exclusively, and opens its own ledger without it) never removes an
        object a running `verify` is about to read or has just re-used.

        Raises `LedgerError` if the directory or database cannot be created
        or read, or the schema is newer than this version knows.

        Side effects: creates `home`, `artifacts/` and `ledger.sqlite3`
        (WAL mode, schema) on first use; removes temp files of writers that
        died more than a day ago; may wait for a running `verify gc`.
        """
        lock_fd = shared_gc_lock(home) if gc_lock else None
        try:
            ArtifactStore(home).open()
            conn = sqlite3.connect(
                home / DB_NAME,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # autocommit; write transactions are explicit (_write)
                cached_statements=64,
                check_same_thread=False,  # threads share it under self._lock
            )
        except (OSError, sqlite3.Error) as e:
            _release(lock_fd)
            raise LedgerError(f"cannot open the ledger at {home}: {e}") from e
        ledger = cls(home, conn)
        ledger._gc_lock = lock_fd
        try:
            ledger._prepare()
        except sqlite3.DatabaseError as e:
            ledger.close()
            raise LedgerError(f"ledger at {home / DB_NAME} is unreadable: {e}") from e
        except LedgerError:
            ledger.close()
            raise
        return ledger

    def _prepare(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # NORMAL is durable across a killed process in WAL mode; FULL would
        # add an fsync per commit for power-loss durability only.
        conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return  # the fast path: no write lock on an existing ledger
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger schema {version} is newer than this verify ({SCHEMA_VERSION})"
            )
        _set_wal(conn)  # persistent: set once, at creation
        with self._write():
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # executescript() would COMMIT first: run the statements one by one.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection. Side effects: may checkpoint the WAL into the database."""
        with self._lock:
            self._conn.close()
            _release(self._gc_lock)
            self._gc_lock = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding the write lock from its start.

        Raises `LedgerError` if the lock cannot be had within the busy timeout.
        """
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise LedgerError(f"ledger is locked: {e}") from e
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """All rows of one read, under the thread lock."""
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of one read (or None), under the thread lock."""
        with self._lock:
            return self._conn.execute(sql, args).fetchone()

    # ----------------------------------------------------------------- appends

    def _append(self, conn: sqlite3.Connection, kind: Kind, body: bytes) -> int:
        """Append one entry inside an open write transaction; return its seq."""
        row = conn.execute(
            "SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, prev = (row[0] + 1, bytes.fromhex(row[1])) if row else (1, GENESIS)
        digest = entry_hash(prev, body).hex()
        conn.execute(
            "INSERT INTO entries (seq, kind, body, prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?)",
            (seq, kind, body.decode(), prev.hex(), digest),
        )
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (f"{seq}:{digest}",))
        return seq

    def add_run(self, record: RunRecord) -> None:
        """Append a run record, in one transaction; a no-op if that run id is already there.

        Raises `LedgerError` if another run with the same id but different
        content is recorded, or the ledger is locked past the busy timeout.

        Side effects: one entry in `entries` and one row in `runs`.
        """
        body = _body_of(record)
        with self._write() as conn:
            row = conn.execute(
                "SELECT e.body FROM runs r JOIN entries e ON e.seq = r.seq WHERE r.id = ?",
                (record.id,),
            ).fetchone()
            if row is not None:
                if row[0].encode() != body:
                    raise LedgerError(f"run {record.id} is already recorded with different content")
                return
            seq = self._append(conn, "run", body)
            conn.execute(
                "INSERT INTO runs (id, seq, key, paper, repro, status, ended) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    seq,
                    record.key,
                    record.paper,
                    record.repro,
                    record.status,
                    record.ended,
                ),
            )

    def add_verdict(self, verdict: Verdict) -> None:
        """Append one verdict. Side effects: one entry and one `verdicts` row.

        Raises `LedgerError` as `add_verdicts` does.
        """
        self.add_verdicts([verdict])

    def add_verdicts(self, verdicts: Iterable[Verdict]) -> None:
        """Append verdicts in one transaction (one commit for a whole `verify ci`).

        Raises `LedgerError` if a verdict has no canonical JSON form, or the
        ledger is locked past the busy timeout.

        Side effects: one entry and one `verdicts` row per verdict.
        """
        self.add_verdict_bodies([(v.claim, v.status, v.evaluated, _body_of(v)) for v in verdicts])

    def add_verdict_bodies(self, items: Sequence[tuple[str, str, str, bytes]]) -> None:
        """`add_verdicts` for verdicts already in canonical form: (claim, status, evaluated, body).

        The cached-verdict fast path (`verifier.fastpath`) appends this way, with no model built.
        Raises `LedgerError` if the ledger is locked past the busy timeout.
        """
        if not items:
            return
        with self._write() as conn:
            # The head is read once and carried along: a `verify ci` of 1,000 claims is one transaction.
            row = conn.execute("SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0], bytes.fromhex(row[1])) if row else (0, GENESIS)
            entries, indexed = [], []
            for claim, status, evaluated, body in items:
                seq, digest = seq + 1, entry_hash(prev, body)
                entries.append((seq, "verdict", body.decode(), prev.hex(), digest.hex()))
                indexed.append((seq, claim, status, evaluated))
                prev = digest
            conn.executemany("INSERT INTO entries (seq, kind, body, prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?)", entries)
            conn.executemany("INSERT INTO verdicts (seq, claim, status, evaluated) VALUES (?, ?, ?, ?)", indexed)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (f"{seq}:{prev.hex()}",))

    # ----------------------------------------------------------------- lookups

    def find_run(self, key: str) -> RunRecord | None:
        """The latest run with this run key whose status is `ok`, or None.

        Raises `LedgerError` if the stored record no longer parses.
        """
        return self.find_runs([key]).get(key)

    def find_runs(self, keys: Iterable[str]) -> dict[str, RunRecord]:
        """`find_run` for many keys at once: key -> latest ok run; keys without one are absent.

        Raises `LedgerError` if a stored record no longer parses.
        """
        bodies = self._latest("runs", "key", keys, only_ok=True)
        return {key: _parse_run(body) for key, body in bodies.items()}

    def latest_ok_run_ids(self, keys: Iterable[str]) -> dict[str, str]:
        """key -> id of the run `find_runs` would return, without parsing any record."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        for i in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[i : i + _IN_CHUNK]
            found.update(self._rows(
                "SELECT r.key, r.id FROM runs r JOIN (SELECT key, MAX(seq) AS seq FROM runs"
                f" WHERE status = 'ok' AND key IN ({','.join('?' * len(chunk))}) GROUP BY key) m ON r.seq = m.seq",
                chunk,
            ))
        return found

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, whatever its status, or None.

        Raises `LedgerError` if the stored record no longer parses.
        """
        row = self._one(
            "SELECT e.body FROM runs r JOIN entries e ON e.seq = r.seq WHERE r.id = ?", (run_id,)
        )
        return _parse_run(row[0]) if row else None

    def runs_for(self, paper: str | None = None) -> list[RunRecord]:
        """Every run, or every run of one paper, oldest first.

        Raises `LedgerError` if a stored record no longer parses.
        """
        sql = "SELECT e.body FROM runs r JOIN entries e ON e.seq = r.seq"
        args: tuple[str, ...] = ()
        if paper is not None:
            sql, args = sql + " WHERE r.paper = ?", (paper,)
        return [_parse_run(body) for (body,) in self._rows(sql + " ORDER BY r.seq", args)]

    def last_verdict(self, claim: str) -> Verdict | None:
        """The newest verdict of a claim (`<paper>/<claim>`), or None.

        Raises `LedgerError` if the stored record no longer parses.
        """
        history = self.verdict_history(claim, limit=1)
        return history[0] if history else None

    def last_passed(self, claim: str) -> Verdict | None:
        """The newest `verified` verdict of a claim, or None: "when did it last pass".

        Raises `LedgerError` if the stored record no longer parses.
        """
        row = self._one(
            "SELECT e.body FROM verdicts v JOIN entries e ON e.seq = v.seq"
            " WHERE v.claim = ? AND v.status = 'verified' ORDER BY v.seq DESC LIMIT 1",
            (claim,),
        )
        return _parse_verdict(row[0]) if row else None

    def verdict_history(self, claim: str, limit: int | None = None) -> list[Verdict]:
        """A claim's verdicts, newest first; at most `limit` of them.

        Raises `LedgerError` if a stored record no longer parses.
        """
        rows = self._rows(
            "SELECT e.body FROM verdicts v JOIN entries e ON e.seq = v.seq"
            " WHERE v.claim = ? ORDER BY v.seq DESC LIMIT ?",
            (claim, -1 if limit is None else limit),
        )
        return [_parse_verdict(body) for (body,) in rows]

    def last_verdicts(self, claims: Iterable[str]) -> dict[str, Verdict]:
        """`last_verdict` for many claims at once: claim -> newest verdict.

        Raises `LedgerError` if a stored record no longer parses.
        """
        bodies = self._latest("verdicts", "claim", claims)
        return {claim: _parse_verdict(body) for claim, body in bodies.items()}

    def _latest(
        self, table: Literal["runs", "verdicts"], column: Literal["key", "claim"], names: Iterable[str], *, only_ok: bool = False
    ) -> dict[str, str]:
        """name -> body of the newest entry per name in an index table (`only_ok`: runs that finished ok).

        Queried in chunks of `_IN_CHUNK` names, well under SQLite's variable limit.
        """
        ok = "status = 'ok' AND " if only_ok else ""
        # table and column are literals of this module, never user input.
        sql = (
            f"SELECT m.{column}, e.body FROM entries e JOIN (SELECT {column}, MAX(seq) AS seq FROM {table}"
            f" WHERE {ok}{column} IN ({{marks}}) GROUP BY {column}) m ON e.seq = m.seq"
        )
        wanted = list(dict.fromkeys(names))
        found: dict[str, str] = {}
        for i in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[i : i + _IN_CHUNK]
            found.update(self._rows(sql.format(marks=",".join("?" * len(chunk))), chunk))
        return found

    # ----------------------------------------------------------------- pruning (verify gc)

    def entry_count(self) -> int:
        """How many entries the chain holds, pruned ones included."""
        return int(self._one("SELECT COUNT(*) FROM entries")[0])

    def live_entries(self) -> list[tuple[int, Kind, str]]:
        """(seq, kind, body) of every entry not pruned, oldest first."""
        return self._rows("SELECT seq, kind, body FROM entries WHERE body != '' ORDER BY seq")

    def prune(self, seqs: Iterable[int]) -> int:
        """Drop the bodies of these entries, keeping their hashes; return how many were pruned.

        The chain stays whole (`chain_problems`): each pruned entry keeps
        `prev_hash` and `entry_hash`, and the entry after it hashes over the
        latter. Its index row goes, so lookups no longer see it; a `pruned`
        row records the digest of the body that was dropped. In one
        transaction: a crash prunes all of them or none.

        Raises `LedgerError` if the ledger is locked past the busy timeout.
        """
        wanted = sorted(set(seqs))
        if not wanted:
            return 0
        done = 0
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS pruned (seq INTEGER PRIMARY KEY REFERENCES entries(seq),"
                " kind TEXT NOT NULL, body_sha256 TEXT NOT NULL)"
            )
            for seq in wanted:
                row = conn.execute("SELECT kind, body FROM entries WHERE seq = ?", (seq,)).fetchone()
                if row is None or row[1] == "":
                    continue
                kind, body = row
                conn.execute(
                    "INSERT INTO pruned (seq, kind, body_sha256) VALUES (?, ?, ?)",
                    (seq, kind, raw_sha256(body.encode()).hex()),
                )
                conn.execute("UPDATE entries SET body = '' WHERE seq = ?", (seq,))
                conn.execute(f"DELETE FROM {'runs' if kind == 'run' else 'verdicts'} WHERE seq = ?", (seq,))
                done += 1
        return done

    # ----------------------------------------------------------------- integrity

    def verify_chain(self) -> None:
        """Check the hash chain, the head and the indexes against the entries.

        Raises `LedgerError` naming the first entry that does not fit
        (`chain_problems` lists them all).
        """
        for problem in self.chain_problems():
            raise LedgerError(problem)

    def chain_problems(self) -> Iterator[str]:
        """Every way the chain, the head or the indexes do not fit the entries, one line each.

        Steps: (1) entries are numbered 1..n without gaps; (2) each entry's
        `prev_hash` is the hash before it and its `entry_hash` is
        `sha256(0x00 || prev || body)`; (3) the head in `meta` is the last
        entry; (4) every entry has exactly one index row and each index row
        agrees with the body it points to.

        A pruned entry (`prune`) has an empty body and a `pruned` row: its
        own hash can no longer be recomputed, but it must still follow the
        entry before it, and the entry after it (or the head) covers its hash,
        so the chain stays whole. After a problem the walk goes on from the
        stored hash, so one damaged entry gives one line, not a cascade.
        """
        pruned = self._pruned_seqs()
        prev, seq = GENESIS, 0
        for row_seq, kind, body, prev_hex, hash_hex in self._rows(
            "SELECT seq, kind, body, prev_hash, entry_hash FROM entries ORDER BY seq"
        ):
            seq += 1
            # (1): a gap or a moved row
            if row_seq != seq:
                yield f"ledger entry {seq} is missing (next is {row_seq})"
                seq = row_seq
            # (2): the chain
            if prev_hex != prev.hex():
                yield f"ledger entry {seq} does not follow entry {seq - 1}"
            if body == "" and seq in pruned:
                pass  # pruned: its hash is covered by the next entry or the head
            elif seq in pruned:
                yield f"ledger entry {seq} is marked pruned but still has a body"
            elif _rehash(prev_hex, body) != hash_hex:
                yield f"ledger entry {seq} was changed after it was written"
            else:
                problem = self._index_problem(seq, kind, body)
                if problem is not None:
                    yield problem
            try:
                prev = bytes.fromhex(hash_hex)
            except ValueError:
                yield f"ledger entry {seq} has a malformed hash"
        # (3): the head
        head = self._one("SELECT value FROM meta WHERE key = 'head'")
        expected_head = f"{seq}:{prev.hex()}" if seq else None
        if (head[0] if head else None) != expected_head:
            yield f"ledger head {head[0] if head else None} is not its last entry ({seq})"
        # (4): no index row without an entry
        counted = self._one("SELECT (SELECT COUNT(*) FROM runs) + (SELECT COUNT(*) FROM verdicts)")[0]
        live = self._one("SELECT COUNT(*) FROM entries WHERE body != ''")[0]
        if counted != live:
            yield f"ledger indexes hold {counted} rows for {live} entries"

    def _pruned_seqs(self) -> set[int]:
        """Seqs of pruned entries (the `pruned` table exists only once something was pruned)."""
        if self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pruned'") is None:
            return set()
        return {seq for (seq,) in self._rows("SELECT seq FROM pruned")}

    def _index_problem(self, seq: int, kind: str, body: str) -> str | None:
        """(4): whether the index row of one entry says what its body says."""
        try:
            record = json.loads(body)
        except ValueError:
            return f"ledger entry {seq} ({kind}) is not JSON"
        if kind == "run":
            want: tuple[Any, ...] = tuple(
                record.get(f) for f in ("id", "key", "paper", "repro", "status", "ended")
            )
            got = self._one(
                "SELECT id, key, paper, repro, status, ended FROM runs WHERE seq = ?", (seq,)
            )
        else:
            want = tuple(record.get(f) for f in ("claim", "status", "evaluated"))
            got = self._one("SELECT claim, status, evaluated FROM verdicts WHERE seq = ?", (seq,))
        contract = {"run": "run-record-v1", "verdict": "verdict-v1"}.get(kind)
        if got is None or tuple(got) != want or record.get("contract") != contract:
            return f"ledger index of entry {seq} ({kind}) does not match the entry"
        return None

    def integrity_check(self) -> None:
        """SQLite's own `PRAGMA integrity_check`.

        Raises `LedgerError` with SQLite's first complaint if the file is damaged.
        """
        result = self._one("PRAGMA integrity_check")[0]
        if result != "ok":
            raise LedgerError(f"ledger database is damaged: {result}")


def shared_gc_lock(home: Path) -> int:
    """Take the shared lock on `<home>/gc.lock` (waiting for a running gc); return its fd.

    Raises `LedgerError` if the lock file cannot be opened.
    """
    return _flock(home, fcntl.LOCK_SH)


def exclusive_gc_lock(home: Path, *, wait: bool = True) -> int | None:
    """Take the exclusive lock on `<home>/gc.lock`; its fd, or None if busy and not `wait`.

    Raises `LedgerError` if the lock file cannot be opened.
    """
    try:
        return _flock(home, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return None


def _flock(home: Path, how: int) -> int:
    try:
        Path(home).mkdir(parents=True, exist_ok=True)
        fd = os.open(Path(home) / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise LedgerError(f"cannot open the lock {Path(home) / LOCK_NAME}: {e}") from e
    try:
        fcntl.flock(fd, how)  # released when the fd is closed, or the process dies
    except BaseException:
        os.close(fd)
        raise
    return fd


def _release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def _rehash(prev_hex: str, body: str) -> str | None:
    """The hash an entry should have, or None when its `prev_hash` is not hex."""
    try:
        return entry_hash(bytes.fromhex(prev_hex), body.encode()).hex()
    except ValueError:
        return None


def _parse_run(body: str) -> RunRecord:
    from pydantic import ValidationError

    from verifier.models import RunRecord

    try:
        return RunRecord.model_validate_json(body)
    except ValidationError as e:
        raise LedgerError(f"stored run record no longer parses: {e.errors()[0]['msg']}") from e


def _parse_verdict(body: str) -> Verdict:
    from pydantic import ValidationError

    from verifier.models import Verdict

    try:
        return Verdict.model_validate_json(body)
    except ValidationError as e:
        raise LedgerError(f"stored verdict no longer parses: {e.errors()[0]['msg']}") from e


def _set_wal(conn: sqlite3.Connection) -> None:
    """Put a new ledger in WAL mode, waiting out another process creating it at the same moment.

    Changing the journal mode answers SQLITE_BUSY at once, without the busy
    handler, while another connection holds a lock (two `verify ci` starting
    on a fresh home): retry until the busy timeout, and skip once WAL is set.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
