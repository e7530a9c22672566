"""`verify ledger check`: the whole state at rest, checked on demand.

Three walks, each reporting every problem it finds (one line each) rather
than stopping at the first:

1. the ledger: SQLite's own integrity check, then the hash chain, the head
   and the indexes (`Ledger.chain_problems`);
2. the artifact store: every object re-hashed against the digest it is
   named by, and every object a live run record names present;
3. attestations: every envelope an attestation index names is read and,
   where a public key is known (`<home>/keys/ed25519.pub.pem`, or the one
   given), its signature checked.

Side effects: none (reads only; takes the ledger's shared gc lock).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from verifier.digest import PREFIX
from verifier.errors import EnvelopeFormatError, LedgerError, SignatureError
from verifier.ledger import Ledger
from verifier.store import ArtifactStore

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Kind = Literal["ledger", "artifact", "envelope"]
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the state: which kind of object, which one, what."""

    kind: Kind
    subject: str
    what: str

    def line(self) -> str:
        """One human line."""
        return f"{self.kind}: {self.subject}: {self.what}"

    def as_json(self) -> dict[str, str]:
        """Plain JSON-able form."""
        return {"kind": self.kind, "subject": self.subject, "what": self.what}


@dataclass
class StateReport:
    """What `verify ledger check` found."""

    entries: int = 0
    artifacts: int = 0
    envelopes: int = 0
    signatures_checked: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """The closing line."""
        signatures = "signatures checked" if self.signatures_checked else "signatures not checked: no public key"
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        return (
            f"ledger check: {verdict}: {self.entries} ledger entries, {self.artifacts} artifacts,"
            f" {self.envelopes} envelopes ({signatures})"
        )

    def as_json(self) -> dict[str, Any]:
        """The `--json` form."""
        return {
            "ok": self.ok,
            "checked": {
                "entries": self.entries,
                "artifacts": self.artifacts,
                "envelopes": self.envelopes,
                "signatures": self.signatures_checked,
            },
            "problems": [p.as_json() for p in self.problems],
        }


def check_state(home: Path, *, public_key: Ed25519PublicKey | None = None) -> StateReport:
    """Walk the ledger, the artifact store and the attestations under `home` (module docstring).

    Raises `LedgerError` if the ledger cannot be opened at all, `KeyFileError`
    if the home's public key exists but is unusable.
    """
    report = StateReport()
    if public_key is None:
        public_key = _home_key(home)
    report.signatures_checked = public_key is not None
    with Ledger.open(home) as ledger:
        _check_ledger(ledger, report)
        referenced = _referenced_artifacts(ledger, report)
        _check_store(ledger.store, referenced, report)
        _check_envelopes(home, ledger.store, public_key, report)
    return report


def _home_key(home: Path) -> Ed25519PublicKey | None:
    from verifier.attest.keys import public_key_path

    path = public_key_path(home)
    if not path.exists():
        return None
    from verifier.attest.keys import load_public_key

    return load_public_key(path)


def _check_ledger(ledger: Ledger, report: StateReport) -> None:
    try:
        ledger.integrity_check()
    except LedgerError as e:
        report.problems.append(Problem("ledger", "database", e.diagnostics()))
    for problem in ledger.chain_problems():
        subject, _, what = _split_entry(problem)
        report.problems.append(Problem("ledger", subject, what))
    report.entries = ledger.entry_count()


def _split_entry(problem: str) -> tuple[str, str, str]:
    """`ledger entry 7 was changed ...` -> (`entry 7`, ..., `was changed ...`)."""
    words = problem.split(" ")
    if len(words) > 3 and words[:2] == ["ledger", "entry"]:
        return f"entry {words[2]}", "", " ".join(words[3:])
    return "chain", "", problem.removeprefix("ledger ")


def _referenced_artifacts(ledger: Ledger, report: StateReport) -> dict[str, str]:
    """digest -> who names it, for every artifact a live run record names."""
    named: dict[str, str] = {}
    for seq, kind, body in ledger.live_entries():
        if kind != "run":
            continue
        try:
            record = json.loads(body)
        except ValueError:
            continue  # the chain walk reports it
        for digest in run_artifacts(record):
            named.setdefault(digest, f"run {record.get('id')} (entry {seq})")
    return named


def run_artifacts(record: dict[str, Any]) -> set[str]:
    """Every artifact digest a run record (as JSON) names: logs, outputs, results."""
    digests: set[str] = set()
    logs = record.get("logs")
    if isinstance(logs, dict):
        digests.update(v for v in logs.values() if isinstance(v, str))
    for output in record.get("outputs") or []:
        if isinstance(output, dict) and isinstance(output.get("sha256"), str):
            digests.add(output["sha256"])
    if isinstance(record.get("results_digest"), str):
        digests.add(record["results_digest"])
    return {d for d in digests if d.startswith(PREFIX)}


def stored_objects(store: ArtifactStore) -> dict[str, Path]:
    """digest -> path of every object in the store (by its name, not yet re-hashed)."""
    objects: dict[str, Path] = {}
    base = store.root / "sha256"
    if not base.is_dir():
        return objects
    for sub in sorted(base.iterdir()):
        if not sub.is_dir():
            continue
        for path in sorted(sub.iterdir()):
            objects[f"{PREFIX}{sub.name}{path.name}"] = path
    return objects


def _check_store(store: ArtifactStore, referenced: dict[str, str], report: StateReport) -> None:
    objects = stored_objects(store)
    report.artifacts = len(objects)
    for digest, path in objects.items():
        try:
            actual = _hash_file(path)
        except OSError as e:
            report.problems.append(Problem("artifact", digest, f"unreadable: {e.strerror}"))
            continue
        if actual != digest:
            report.problems.append(Problem("artifact", digest, f"corrupt: its bytes hash to {actual}"))
    for digest, who in sorted(referenced.items()):
        if digest not in objects:
            report.problems.append(Problem("artifact", digest, f"missing (named by {who})"))


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return PREFIX + h.hexdigest()


def index_files(home: Path) -> list[Path]:
    """Every attestation index file under the home."""
    base = Path(home) / "attestations" / "index"
    return sorted(base.glob("*/*.json")) if base.is_dir() else []


def _check_envelopes(home: Path, store: ArtifactStore, key: Ed25519PublicKey | None, report: StateReport) -> None:
    from verifier.attest.store import INDEX_CONTRACT, envelopes_of

    seen: set[str] = set()
    for index_file in index_files(home):
        where = index_file.relative_to(home).as_posix()
        try:
            index = json.loads(index_file.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as e:
            report.problems.append(Problem("envelope", where, f"index unreadable: {e}"))
            continue
        if not isinstance(index, dict) or index.get("contract") != INDEX_CONTRACT:
            report.problems.append(Problem("envelope", where, f"not an {INDEX_CONTRACT} file"))
            continue
        for label, digest, _path in envelopes_of(index):
            if digest in seen:
                continue
            seen.add(digest)
            report.envelopes += 1
            problem = _check_envelope(store, digest, key)
            if problem is not None:
                report.problems.append(Problem("envelope", f"{digest} ({label}, {where})", problem))


def _check_envelope(store: ArtifactStore, digest: str, key: Ed25519PublicKey | None) -> str | None:
    """What is wrong with one stored envelope, or None (the bytes' digest is the store walk's job)."""
    from verifier.attest.dsse import read_envelopes

    try:
        path = store.path(digest)
        data = path.read_bytes()
    except LedgerError as e:
        return str(e)
    except FileNotFoundError:
        return "missing from the artifact store"
    except OSError as e:
        return f"unreadable: {e.strerror}"
    try:
        envelopes = read_envelopes(data)
    except EnvelopeFormatError as e:
        return f"not a DSSE envelope: {e.diagnostics()}"
    if key is None:
        return None
    from verifier.attest.statements import verify_envelope

    for envelope in envelopes:
        try:
            verify_envelope(envelope, key)
        except SignatureError as e:
            return f"BAD SIGNATURE: {e.diagnostics()}"
        except EnvelopeFormatError as e:
            return f"malformed: {e.diagnostics()}"
    return None
