"""Correction records: an append-only hash chain per paper (`correction-record-v1`).

A paper's corrections live beside its manifest:

```
manifests/<paper>/manifest.yaml
manifests/<paper>/corrections/0001.yaml, 0002.yaml, ...   correction-record-v1
manifests/<paper>/corrections/HEAD                         optional: "sha256:<hex>\\n" of the last record
manifests/<paper>/corrections/HEAD.intoto.jsonl            optional: the chain head, signed (DSSE)
```

Every digest is `sha256:` + the hex SHA-256 of a file's bytes *as stored*,
never of a re-dump, so a record is judged by exactly what a reader sees. The
chain rules are CONTRACT.md's (`audit` checks them in this order):

1. the files are `0001.yaml` ... `NNNN.yaml` with no gap, and each parses
   into a `CorrectionRecord` whose `seq` is its file number and whose
   `paper` is the paper;
2. `previous` is the digest of the record before it (null for the first);
3. each `manifest_before` is the `manifest_after` of the record before it;
4. the manifest as it stands has the last `manifest_after` as its digest.

A chain written by any tool from these rules alone is valid (CONTRACT.md).
Two extras are checked when present and never required:

5. `HEAD` holds the digest of the last record;
6. `HEAD.intoto.jsonl` is a DSSE envelope, signed with the verifier home's
   key, of an in-toto Statement whose subject is the last record (by digest):
   `verify correct` writes it when `verify keys init` has made a key, and
   `verify audit` checks it with that key's public half.

Without them nothing refers to the last record, so an edit of its `reason`
or `claims` (or deleting it, when it did not change the manifest) would pass
rules 1-4. `HEAD` catches such an edit by accident; only the signature (6)
defends against someone who edits on purpose, since they could rewrite
`HEAD` too. Forging a whole consistent chain and dropping the signature is
outside this threat model. With no record at all, nothing anchors the
manifest: the status is CURRENT.

Records are written once (`append_correction`) and never rewritten.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

from pydantic import ValidationError

from verifier.digest import DIGEST_RE, bytes_digest, file_digest
from verifier.errors import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REFUTED, ChainError, IntakeError
from verifier.manifests import load_manifest
from verifier.models import CorrectionRecord, CorrectionType
from verifier.root import VerificationRoot
from verifier.safeload import MANIFEST_CAPS, RECORD_CAPS, load_yaml, read_capped

RECORD_NAME_RE: Final = re.compile(r"^(\d{4})\.yaml$")
HEAD_NAME: Final = "HEAD"
SIGNED_HEAD_NAME: Final = "HEAD.intoto.jsonl"
MAX_SEQ: Final = 9999
CORRECTION_TYPES: Final[frozenset[str]] = frozenset(get_args(CorrectionType))

CorrectionStatus = Literal["CURRENT", "CORRECTED", "RETRACTED", "WITHDRAWN"]
# Crossmark types that end a paper's life; everything else leaves it CORRECTED.
_TERMINAL: Final[dict[str, CorrectionStatus]] = {
    "retraction": "RETRACTED",
    "withdrawal": "WITHDRAWN",
}

VerdictTimeLookup = Callable[[str], datetime | None]
"""`last_verdict_time(global_claim_id)`: when the claim was last judged, or None."""


# --------------------------------------------------------------------------- paths and digests


def manifest_path(root: Path, paper_id: str) -> Path:
    """Path of the paper's manifest (`VerificationRoot.manifest_path`, the one rule for paper paths).

    Raises `IntakeError` if the id is malformed or the paper has no manifest.
    """
    return VerificationRoot(Path(root)).manifest_path(paper_id)


def corrections_dir(root: Path, paper_id: str) -> Path:
    """`<root>/manifests/<paper>/corrections` (it may not exist yet).

    Raises `IntakeError` if the id is malformed or the paper has no manifest.
    """
    return manifest_path(root, paper_id).parent / "corrections"


def _claim_ids(root: Path, paper_id: str) -> frozenset[str]:
    """The claim ids of the paper's manifest as it stands.

    Reads only `claims[*].id`, so that `audit` still works on a manifest the
    full loader (`verifier.manifests.load_manifest`, which `append_correction`
    uses) would reject: a tampered manifest is a chain break to report, not
    bad input.

    Raises `IntakeError` if the manifest is missing, is not YAML, or has no
    list of claims with string ids.
    """
    path = manifest_path(root, paper_id)
    data = load_yaml(read_capped(path, MANIFEST_CAPS, file=str(path)), file=str(path), caps=MANIFEST_CAPS)
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, list):
        raise IntakeError("no list of claims", file=path, field="claims")
    ids = [c.get("id") if isinstance(c, dict) else None for c in claims]
    if not all(isinstance(i, str) for i in ids):
        raise IntakeError("every claim needs a string id", file=path, field="claims")
    return frozenset(str(i) for i in ids)


# --------------------------------------------------------------------------- reading the chain


@dataclass(frozen=True)
class StoredRecord:
    """One record file: its name, its digest (of the bytes as stored) and, if it parses, the record."""

    path: Path
    seq: int
    digest: str
    record: CorrectionRecord | None
    error: str | None = None


def parse_record(data: bytes, *, source: Path | str = "<record>") -> CorrectionRecord:
    """Parse a record's YAML bytes into a `CorrectionRecord`.

    Raises `IntakeError` naming the file and field if the YAML or the record is invalid.
    """
    raw: Any = load_yaml(data, file=str(source), caps=RECORD_CAPS)
    if isinstance(raw, dict) and isinstance(raw.get("issued"), datetime):
        raw["issued"] = _as_utc(raw["issued"])
    try:
        return CorrectionRecord.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or None
        raise IntakeError(err["msg"], file=source, field=where) from e


def read_records(root: Path, paper_id: str) -> tuple[list[StoredRecord], list[str]]:
    """Every record file of the paper, in file-name order, and the names that are out of place.

    A record that does not parse is kept with `record=None` and its error,
    so the digests around it can still be checked. The second list holds one
    line per file in `corrections/` that is neither a record nor an extra (`HEAD`, its signature)
    (dot-files, such as an interrupted writer's temp file, are ignored).

    Raises `IntakeError` if `paper_id` is malformed.
    """
    directory = corrections_dir(root, paper_id)
    if not directory.is_dir():
        return [], []
    records: list[StoredRecord] = []
    stray: list[str] = []
    for path in sorted(directory.iterdir()):
        match = RECORD_NAME_RE.match(path.name)
        if match is None:
            if path.name not in (HEAD_NAME, SIGNED_HEAD_NAME) and not path.name.startswith("."):
                stray.append(f"{_rel(path)}: not a record name (NNNN.yaml)")
            continue
        record, error = None, None
        try:
            data = path.read_bytes()
        except OSError as e:
            data, error = b"", f"cannot read: {e.strerror}"
        else:
            try:
                record = parse_record(data, source=path.name)
            except IntakeError as e:
                error = e.diagnostics()
        records.append(StoredRecord(path, int(match.group(1)), bytes_digest(data), record, error))
    return records, stray


def chain_breaks(records: Sequence[StoredRecord], paper_id: str) -> list[str]:
    """Rules 1-3 of the module docstring: one line per break, naming the record file."""
    breaks: list[str] = []
    prev: StoredRecord | None = None
    for expected_seq, item in enumerate(records, start=1):
        name = _rel(item.path)
        if item.seq != expected_seq:
            breaks.append(
                f"{name}: expected {expected_seq:04d}.yaml here (records must run 0001, 0002, ... with no gap)"
            )
        rec = item.record
        if rec is None:
            breaks.append(f"{name}: unreadable: {item.error}")
        else:
            breaks.extend(_record_breaks(name, item, rec, prev, paper_id))
        prev = item
    return breaks


def _record_breaks(
    name: str, item: StoredRecord, rec: CorrectionRecord, prev: StoredRecord | None, paper_id: str
) -> Iterable[str]:
    if rec.seq != item.seq:
        yield f"{name}: seq is {rec.seq}, the file name says {item.seq}"
    if rec.paper != paper_id:
        yield f"{name}: paper is {rec.paper!r}, expected {paper_id!r}"
    expected_previous = prev.digest if prev is not None else None
    if rec.previous != expected_previous:
        what = (
            f"the digest of {_rel(prev.path)} ({expected_previous})"
            if prev
            else "null (first record)"
        )
        yield f"{name}: previous is {rec.previous}, expected {what}"
    if (
        prev is not None
        and prev.record is not None
        and rec.manifest_before != prev.record.manifest_after
    ):
        yield (
            f"{name}: manifest_before is {rec.manifest_before}, "
            f"expected {_rel(prev.path)}'s manifest_after {prev.record.manifest_after}"
        )


def _head_breaks(root: Path, paper_id: str, records: Sequence[StoredRecord]) -> list[str]:
    """Rule 5, when `HEAD` is present: it names the last record (and there is one)."""
    head = corrections_dir(root, paper_id) / HEAD_NAME
    if not head.is_file():
        return [f"{_rel(head)}: not a file"] if head.exists() or head.is_symlink() else []
    if not records:
        return [f"{_rel(head)}: present but there is no record"]
    last = records[-1]
    text = head.read_bytes()
    value = text[:-1] if text.endswith(b"\n") else text
    if not DIGEST_RE.match(value.decode("ascii", "replace")):
        return [f"{_rel(head)}: not a digest (expected one line 'sha256:<hex>')"]
    if value.decode() != last.digest:
        return [
            f"{_rel(head)}: names {value.decode()}, but {_rel(last.path)} has digest {last.digest}"
        ]
    return []


def _signed_head(root: Path, paper_id: str, records: Sequence[StoredRecord], home: Path | None) -> tuple[list[str], str | None]:
    """Rule 6, when the signature is present: (breaks, a note when it could not be checked)."""
    path = corrections_dir(root, paper_id) / SIGNED_HEAD_NAME
    if not path.exists() and not path.is_symlink():
        return [], None
    from verifier.attest.keys import public_key_path

    if home is None or not public_key_path(home).is_file():
        return [], f"{_rel(path)}: not checked (no public key under the verifier home)"
    from verifier.attest.chain import check_chain_head

    problem = check_chain_head(path, public_key_path(home), records[-1].digest if records else None)
    return ([f"{_rel(path)}: {problem}"] if problem else []), None


# --------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class StaleClaim:
    """A claim changed by a correction and not judged since."""

    claim: str  # global id <paper>/<claim>
    seq: int  # the latest record that touched it
    issued: datetime
    last_verdict: datetime | None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "claim": self.claim,
            "correction": self.seq,
            "issued": format_time(self.issued),
            "last_verdict": format_time(self.last_verdict) if self.last_verdict else None,
        }


@dataclass(frozen=True)
class AuditReport:
    """What `verify audit` found: chain breaks, correction status, stale claims."""

    paper: str
    status: CorrectionStatus
    count: int
    breaks: tuple[str, ...]
    stale: tuple[StaleClaim, ...]
    head: str | None  # digest of the last record
    manifest: str  # digest of the manifest as it stands
    flags: tuple[str, ...] = field(default=())  # e.g. "expression-of-concern"
    notes: tuple[str, ...] = field(default=())  # extras present but not checked

    @property
    def ok(self) -> bool:
        """True when the chain is intact."""
        return not self.breaks

    @property
    def exit_status(self) -> int:
        """CONTRACT.md: 1 a broken chain; else 3 when a claim is out of date; else 0."""
        if self.breaks:
            return EXIT_REFUTED
        return EXIT_INCONCLUSIVE if self.stale else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able form (what `verify audit --json` prints)."""
        return {
            "paper": self.paper,
            "ok": self.ok,
            "status": self.status,
            "count": self.count,
            "breaks": list(self.breaks),
            "stale": [s.to_json() for s in self.stale],
            "head": self.head,
            "manifest": self.manifest,
            "flags": list(self.flags),
            # Only when there is one: the form is unchanged for every chain without unchecked extras.
            **({"notes": list(self.notes)} if self.notes else {}),
        }


def audit(
    root: Path,
    paper_id: str,
    *,
    last_verdict_time: VerdictTimeLookup | None = None,
    home: Path | None = None,
) -> AuditReport:
    """Check a paper's correction chain against the contract and list stale claims.

    Steps: (1) read every record; (2) check rules 1-3 (module docstring);
    (3) the manifest against the last `manifest_after`; (4) the extras when
    present: HEAD, and the signed head with `home`'s public key;
    (5) status and flags from the records that parse; (6) stale claims:
    every claim of the manifest touched by a record whose last verdict
    (`last_verdict_time`, e.g. from the ledger) is missing or older than
    that record's `issued`. Without `last_verdict_time` no claim is listed
    as stale (nothing is known of verdicts).

    Raises `IntakeError` if the paper id is malformed or the paper has no manifest.
    """
    mpath = manifest_path(root, paper_id)
    # (1)
    records, stray = read_records(root, paper_id)
    # (2)
    breaks = stray + chain_breaks(records, paper_id)
    # (3)
    manifest = file_digest(mpath)
    last = records[-1] if records else None
    if last is not None and last.record is not None and last.record.manifest_after != manifest:
        breaks.append(
            f"{_rel(mpath)}: digest is {manifest}, but {_rel(last.path)} says "
            f"manifest_after {last.record.manifest_after} (changed outside the chain)"
        )
    # (4)
    breaks.extend(_head_breaks(root, paper_id, records))
    signed_breaks, note = _signed_head(root, paper_id, records, home)
    breaks.extend(signed_breaks)
    parsed = [r.record for r in records if r.record is not None]
    # (5) and (6)
    stale: tuple[StaleClaim, ...] = ()
    if last_verdict_time is not None:
        stale = tuple(
            stale_claims(parsed, _known_claims(root, paper_id), paper_id, last_verdict_time)
        )
    flags = (
        ("expression-of-concern",) if any(r.type == "expression-of-concern" for r in parsed) else ()
    )
    return AuditReport(
        paper=paper_id,
        status=correction_status(parsed),
        count=len(records),
        breaks=tuple(breaks),
        stale=stale,
        head=last.digest if last else None,
        manifest=manifest,
        flags=flags,
        notes=(note,) if note else (),
    )


@contextlib.contextmanager
def ledger_verdict_times(home: Path) -> Iterator[VerdictTimeLookup]:
    """`last_verdict_time` backed by the ledger under `home`, open for the `with` block.

    With no ledger yet, no claim has a verdict (every corrected claim is stale).

    Raises `LedgerError` if the ledger is unreadable.
    Side effects: none when there is no ledger (it is not created just to be read).
    """
    from verifier.ledger import DB_NAME, Ledger  # lazy: SQLite is not needed to audit a chain

    if not (home / DB_NAME).is_file():
        yield lambda _claim: None
        return
    with Ledger.open(home) as ledger:

        def lookup(claim: str) -> datetime | None:
            verdict = ledger.last_verdict(claim)
            return verdict_time_from_iso(verdict.evaluated) if verdict is not None else None

        yield lookup


def _known_claims(root: Path, paper_id: str) -> frozenset[str] | None:
    """The manifest's claim ids, or None when it cannot be read (a tampered manifest is a break, not bad input)."""
    try:
        return _claim_ids(root, paper_id)
    except IntakeError:
        return None


def manifest_version(root: Path, paper_id: str, digest: str) -> str:
    """Which version of the paper's manifest `digest` names, in one line (for attestation checks).

    The current manifest, the version a correction record left or replaced,
    or none known. A manifest that is not current means the attested claim
    may have changed since: `verify audit` lists what to verify again.

    Raises `IntakeError` if the paper is unknown.
    """
    current = file_digest(manifest_path(root, paper_id))
    if digest == current:
        return f"manifest {digest} is the current manifests/{paper_id}/manifest.yaml"
    records, _ = read_records(root, paper_id)
    for item in records:
        rec = item.record
        if rec is not None and digest == rec.manifest_before:
            return f"manifest {digest} is the version before correction {rec.seq} ({rec.type}): superseded"
        if rec is not None and digest == rec.manifest_after:
            return f"manifest {digest} is the version after correction {rec.seq} ({rec.type}): superseded"
    return (
        f"manifest {digest} is neither the current manifest nor any version in its correction chain"
    )


def correction_status(records: Sequence[CorrectionRecord]) -> CorrectionStatus:
    """CONTRACT.md's status: the latest retraction or withdrawal decides; else any record: CORRECTED.

    A retracted paper stays retracted whatever follows (an addendum to a
    retraction notice does not revive it).
    """
    for rec in reversed(records):
        if rec.type in _TERMINAL:
            return _TERMINAL[rec.type]
    return "CORRECTED" if records else "CURRENT"


def stale_claims(
    records: Sequence[CorrectionRecord],
    known_claims: frozenset[str] | None,
    paper_id: str,
    last_verdict_time: VerdictTimeLookup,
) -> list[StaleClaim]:
    """Claims (still in the manifest) whose last verdict predates the latest correction touching them.

    With `known_claims` None (manifest unreadable) every touched claim is considered.
    """
    latest: dict[str, CorrectionRecord] = {}
    for rec in records:
        for claim in rec.claims:
            latest[claim] = rec  # records are in seq order: the last one wins
    stale: list[StaleClaim] = []
    for claim, rec in sorted(latest.items()):
        if known_claims is not None and claim not in known_claims:
            continue  # removed from the manifest: nothing left to verify
        gid = f"{paper_id}/{claim}"
        when = last_verdict_time(gid)
        issued = _as_utc(rec.issued)
        if when is None or _as_utc(when) < issued:
            stale.append(StaleClaim(gid, rec.seq, issued, _as_utc(when) if when else None))
    return stale


# --------------------------------------------------------------------------- append


def append_correction(
    root: Path,
    paper_id: str,
    *,
    type: str,
    claims: Sequence[str],
    reason: str,
    manifest_before: str | None = None,
    issued: datetime | None = None,
    issuer: str | None = None,
    home: Path | None = None,
) -> Path:
    """Append the next correction record of a paper; return its path.

    The author edits the manifest first, then records the change:
    `manifest_after` is the digest of the manifest as it stands now, and
    `manifest_before` is the digest before the edit. It comes from the chain:
    the previous record's `manifest_after`. For the first record there is no
    chain to ask, and the tool will not guess (git HEAD may already hold the
    edit), so the caller must give `manifest_before`: the digest of the old
    manifest (`verify correct --manifest-before sha256:...` or a copy of the
    old file), or the current digest when the manifest was not edited
    (`--unchanged`, e.g. an expression of concern). Given for a later record,
    it must equal the chain's value.

    `claims` must be ids of the manifest as it stands: to retract a claim,
    keep it in the manifest (say so in its `note`) so that its global id
    stays resolvable. `issued` defaults to now (UTC, whole seconds) and may
    not precede the previous record's.

    Raises `IntakeError` (nothing written) for an unknown paper, type or
    claim, an empty reason, a missing or contradicted `manifest_before`, or
    an `issued` time before the previous record's; `ChainError` if the
    existing records are broken (rules 1-3, and 5-6 when present), or if another writer
    appended the same seq first.

    Side effects: creates `corrections/NNNN.yaml` (never replacing a file)
    and rewrites `corrections/HEAD`; when `home` holds a signing key
    (`verify keys init`), rewrites the signed head `corrections/HEAD.intoto.jsonl`.
    """
    root = Path(root)
    record = _next_record(
        root,
        paper_id,
        type=type,
        claims=claims,
        reason=reason,
        manifest_before=manifest_before,
        issued=issued,
        issuer=issuer,
        home=home,
    )
    data = dump_record(record)
    # The bytes we write must parse back into the same record (defence against a dumper bug).
    if parse_record(data) != record:
        raise AssertionError("correction record does not round-trip through YAML")
    directory = corrections_dir(root, paper_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record.seq:04d}.yaml"
    _create_exclusive(path, data)
    from verifier.store import atomic_write

    atomic_write(directory / HEAD_NAME, f"{bytes_digest(data)}\n".encode("ascii"))
    if home is not None:
        from verifier.attest.chain import sign_chain_head

        sign_chain_head(directory / SIGNED_HEAD_NAME, home, record, bytes_digest(data), _rel(path))
    return path


def _next_record(
    root: Path,
    paper_id: str,
    *,
    type: str,
    claims: Sequence[str],
    reason: str,
    manifest_before: str | None,
    issued: datetime | None,
    issuer: str | None,
    home: Path | None,
) -> CorrectionRecord:
    """Check the inputs and the existing chain; build the record `append_correction` writes."""
    mpath = manifest_path(root, paper_id)
    if type not in CORRECTION_TYPES:
        raise IntakeError(
            f"unknown correction type {type!r}; one of: {', '.join(sorted(CORRECTION_TYPES))}",
            field="type",
        )
    _check_claims(root, paper_id, claims)
    if not reason.strip():
        raise IntakeError("a correction needs a reason", field="reason")
    records, stray = read_records(root, paper_id)
    breaks = stray + chain_breaks(records, paper_id) + _head_breaks(root, paper_id, records)
    breaks += _signed_head(root, paper_id, records, home)[0]  # never re-sign over a tampered chain
    if breaks:
        raise ChainError(
            f"refusing to append to a broken chain: {breaks[0]}"
            + (f" (+{len(breaks) - 1} more)" if len(breaks) > 1 else "")
        )
    last = records[-1].record if records else None
    before = _manifest_before(paper_id, last, manifest_before)
    when = _as_utc(issued) if issued is not None else _now_rounded_up()
    if last is not None and when < _as_utc(last.issued):
        raise IntakeError(
            f"issued {format_time(when)} is before record {last.seq}'s {format_time(last.issued)}",
            field="issued",
        )
    if len(records) >= MAX_SEQ:
        raise IntakeError(f"paper {paper_id} already has {MAX_SEQ} corrections")
    return CorrectionRecord(
        contract="correction-record-v1",
        paper=paper_id,
        seq=len(records) + 1,
        type=cast(CorrectionType, type),
        claims=list(claims),
        reason=reason,
        issued=when,
        manifest_before=before,
        manifest_after=file_digest(mpath),
        previous=records[-1].digest if records else None,
        issuer=issuer,
    )


def _now_rounded_up() -> datetime:
    """Now, in whole seconds, rounded *up*: a verdict reached in the same second
    but before the correction then counts as older than it (stale), never as newer."""
    now = datetime.now(UTC)
    return now.replace(microsecond=0) + timedelta(seconds=1 if now.microsecond else 0)


def _check_claims(root: Path, paper_id: str, claims: Sequence[str]) -> None:
    """The claims exist in the manifest, which must pass intake (seals aside: sealing is `verify seal`'s job).

    Raises `IntakeError` for an invalid manifest, an unknown or a repeated claim.
    """
    loaded = load_manifest(VerificationRoot.at(root), paper_id, check_seals=False)
    known = {claim.id for claim in loaded.model.claims}
    unknown = [c for c in claims if c not in known]
    if unknown:
        raise IntakeError(f"unknown claim(s) of {paper_id}: {', '.join(unknown)}", field="claims")
    if len(set(claims)) != len(claims):
        raise IntakeError("a claim is listed twice", field="claims")


def _manifest_before(paper_id: str, last: CorrectionRecord | None, given: str | None) -> str:
    """The new record's `manifest_before`: the chain's value, or the caller's for the first record."""
    if given is not None and not DIGEST_RE.match(given):
        raise IntakeError(
            f"not a digest: {given!r} (expected sha256:<64 hex>)", field="manifest_before"
        )
    if last is None:
        if given is None:
            raise IntakeError(
                f"the first correction of {paper_id} needs the manifest's digest before the edit: "
                "--manifest-before sha256:<hex> (or a copy of the old file), or --unchanged if it was not edited",
                field="manifest_before",
            )
        return given
    if given is not None and given != last.manifest_after:
        raise IntakeError(
            f"--manifest-before {given} contradicts the chain: record {last.seq} left the manifest at {last.manifest_after}",
            field="manifest_before",
        )
    return last.manifest_after


# --------------------------------------------------------------------------- writing


def format_time(when: datetime) -> str:
    """RFC 3339 UTC with a `Z`, e.g. `2026-06-23T08:11:44Z` (fractions kept if present)."""
    text = _as_utc(when).replace(tzinfo=None).isoformat()
    return text + "Z"


def dump_record(record: CorrectionRecord) -> bytes:
    """The record as YAML 1.2 in a fixed layout: the contract's field order, strings double-quoted.

    Strings are always quoted so that an id such as `1e3` or `null` stays a
    string; `issued` is a plain timestamp so that it reads back as one.
    """
    lines = [
        f"contract: {record.contract}",
        f"paper: {_quote(record.paper)}",
        f"seq: {record.seq}",
        f"type: {record.type}",
        "claims: [" + ", ".join(_quote(c) for c in record.claims) + "]",
        f"reason: {_quote(record.reason)}",
        f"issued: {format_time(record.issued)}",
        f"manifest_before: {record.manifest_before}",
        f"manifest_after: {record.manifest_after}",
        f"previous: {record.previous if record.previous else 'null'}",
    ]
    if record.issuer is not None:
        lines.append(f"issuer: {_quote(record.issuer)}")
    return ("\n".join(lines) + "\n").encode("utf-8")


# YAML 1.2 double-quoted scalars: these escapes, and any other non-printable
# character as \xXX / \uXXXX / \UXXXXXXXX (https://yaml.org/spec/1.2.2/#57-escaped-characters).
_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _yaml_printable(ch: str) -> bool:
    # The YAML 1.2 printable set minus the byte-order mark and the C1 line break (NEL).
    cp = ord(ch)
    return (
        0x20 <= cp <= 0x7E
        or 0xA0 <= cp <= 0xD7FF
        or (0xE000 <= cp <= 0xFFFD and cp != 0xFEFF)
        or cp >= 0x10000
    )


def _quote(text: str) -> str:
    """A YAML double-quoted scalar that reads back as exactly `text`."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _yaml_printable(ch) and ch not in "\u2028\u2029":
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _create_exclusive(path: Path, data: bytes) -> None:
    """Create `path` with `data`, atomically, failing if it exists (of two writers, one wins).

    Raises `ChainError` if the record already exists (another writer won).
    """
    from verifier.store import atomic_write

    try:
        atomic_write(path, data, mode=0o644, exclusive=True)
    except FileExistsError as e:
        raise ChainError(
            f"{_rel(path)} was written by someone else meanwhile; run the command again"
        ) from e


# --------------------------------------------------------------------------- helpers


def _as_utc(when: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken to be UTC already."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _rel(path: Path) -> str:
    """`manifests/<paper>/...` for messages, whatever the root."""
    parts = path.parts
    if "manifests" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("manifests") - 1 :])
    return str(path)


def verdict_time_from_iso(text: str | None) -> datetime | None:
    """Parse a verdict's `evaluated` (ISO 8601) into an aware UTC datetime; None passes through.

    Raises `ValueError` if the text is not ISO 8601.
    """
    if text is None:
        return None
    return _as_utc(datetime.fromisoformat(text))
