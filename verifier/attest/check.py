"""Check an envelope file (`verify attest check`): signatures, then subjects against the artifact store.

Exit statuses: 0 every envelope's signature verifies and no subject differs
from the artifact store; 1 a bad signature or a digest mismatch; 2 a file
that is not an envelope file (too big, a JSON or base64 bomb, a wrong
payload type, a malformed statement): `EnvelopeFormatError`, one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from verifier.attest.dsse import read_envelope_file
from verifier.attest.statements import VSA_TYPE, verify_envelope
from verifier.digest import PREFIX, file_digest
from verifier.errors import EXIT_OK, EXIT_REFUTED, EnvelopeFormatError, IntakeError, SignatureError
from verifier.store import ArtifactStore

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass(frozen=True)
class SubjectCheck:
    """A subject's digest against the artifact store: `ok`, `absent` or `mismatch`."""

    name: str
    digest: str  # bare hex, as the DigestSet holds it
    result: Literal["ok", "absent", "mismatch"]
    stored: str | None = None  # what the stored bytes hash to, on a mismatch

    def line(self) -> str:
        """One human line."""
        if self.result == "mismatch":
            return f"{self.name}: MISMATCH: attested sha256:{self.digest}, the store holds bytes hashing to sha256:{self.stored}"
        if self.result == "absent":
            return f"{self.name}: sha256:{self.digest} not in the artifact store (not checked)"
        return f"{self.name}: sha256:{self.digest} matches the artifact store"

    def as_json(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {"name": self.name, "sha256": self.digest, "result": self.result, "stored": self.stored}


@dataclass
class EnvelopeCheck:
    """The outcome of one envelope: its exit status and the human lines that say why."""

    exit: int
    lines: list[str]
    predicate_type: str | None = None
    subjects: list[SubjectCheck] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The `--json` form of one envelope."""
        if self.error is not None:
            return {"exit": self.exit, "error": self.error, "lines": self.lines}
        return {
            "exit": self.exit,
            "predicateType": self.predicate_type,
            "subjects": [s.as_json() for s in self.subjects],
            "lines": self.lines,
        }


def check_subjects(statement: Mapping[str, Any], store: ArtifactStore) -> list[SubjectCheck]:
    """Re-hash every subject (and byproduct) the artifact store holds; compare with the statement.

    Only `sha256` digests are checked; a subject the store lacks is `absent`,
    which is not a failure (the artifact may live elsewhere).
    """
    items = list(statement.get("subject", []))
    predicate = statement.get("predicate", {})
    if isinstance(predicate, dict) and isinstance(predicate.get("runDetails"), dict):
        items += list(predicate["runDetails"].get("byproducts", []))
    checks: list[SubjectCheck] = []
    for item in items:
        hexval = item.get("digest", {}).get("sha256") if isinstance(item, dict) else None
        if not isinstance(hexval, str):
            continue
        name = str(item.get("name") or item.get("uri") or "_")
        path = store.path(PREFIX + hexval)
        if not path.is_file():
            checks.append(SubjectCheck(name, hexval, "absent"))
            continue
        stored = file_digest(path).removeprefix(PREFIX)
        checks.append(SubjectCheck(name, hexval, "ok" if stored == hexval else "mismatch", stored))
    return checks


def check_file(path: Path, public_key: Ed25519PublicKey, home: Path, root: Path) -> list[EnvelopeCheck]:
    """Check every envelope of an envelope file.

    Raises `EnvelopeFormatError` naming the file (and the envelope, in a
    bundle) if it is not an envelope file: bad input, nothing is judged.
    """
    envelopes = read_envelope_file(path)
    results = []
    for i, envelope in enumerate(envelopes):
        try:
            results.append(check_envelope(envelope, public_key, ArtifactStore(home), root))
        except EnvelopeFormatError as e:
            where = f"envelope {i + 1}: " if len(envelopes) > 1 else ""
            raise EnvelopeFormatError(where + e.message, file=path) from e
    return results


def check_envelope(envelope: Any, public_key: Ed25519PublicKey, store: ArtifactStore, root: Path) -> EnvelopeCheck:
    """One envelope: its signature, then its subjects; for a verdict, which manifest it judged.

    Raises `EnvelopeFormatError` for a malformed envelope or statement.
    """
    from verifier.attest.keys import key_id

    try:
        statement = verify_envelope(envelope, public_key)
    except SignatureError as e:
        return EnvelopeCheck(e.exit_status, [f"BAD SIGNATURE: {e.diagnostics()}"], error=e.diagnostics())
    checks = check_subjects(statement, store)
    bad = [c for c in checks if c.result == "mismatch"]
    lines = [f"OK: signed by {key_id(public_key)}; {statement['predicateType']}"]
    lines += [c.line() for c in checks]
    lines += _manifest_lines(statement, root)
    if bad:
        lines.append(f"DIGEST MISMATCH: {', '.join(c.name for c in bad)}")
    return EnvelopeCheck(EXIT_REFUTED if bad else EXIT_OK, lines, statement["predicateType"], checks)


def _manifest_lines(statement: dict[str, Any], root: Path) -> list[str]:
    """For a verdict summary: which version of the claim's manifest it judged (current or superseded)."""
    if statement.get("predicateType") != VSA_TYPE:
        return []
    from verifier.corrections import manifest_version

    lines = []
    for subject in statement["subject"]:
        paper = str(subject.get("name", "")).partition("/")[0]
        hexval = subject["digest"].get("sha256")
        if not hexval:
            continue
        try:
            lines.append(f"{subject.get('name')}: {manifest_version(root, paper, PREFIX + hexval)}")
        except IntakeError:
            lines.append(f"{subject.get('name')}: paper {paper!r} is not under {root}")
    return lines
