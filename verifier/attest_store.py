"""Sign runs and verdicts as they are recorded, and index the envelopes for `verify show`.

`record_attestations` is called by the executor right after a session's
verdicts are in the ledger. When `<home>/keys/ed25519.pem` exists (`verify
keys init`), it signs

* each run a verdict rests on, once: a SLSA Provenance v1 Statement
  (`attest.run_statement`) in a DSSE envelope;
* each new verdict: a Verification Summary Statement (`attest.verdict_statement`)
  whose `inputAttestations` are the envelopes of its runs;

stores every envelope (one line of JSON, as `attest.write_envelope` writes
it) in the content-addressed artifact store, and writes one index file per
claim:

```
<home>/attestations/index/<paper>/<claim>.json   the latest verdict's envelopes (attestation-index-v1)
```

so `verify show` links them and `verify attest check <home>/<path>` checks
them. Without a key the call costs one `stat` (a 1,000-claim cached `verify
ci` must not slow down); nothing is written.

Side effects: writes artifacts and index files under `home`.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from verifier.models import Repro, Verdict

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from verifier.attest import AttestationRef
    from verifier.executor import PaperOutcome
    from verifier.ledger import Ledger
    from verifier.manifests import LoadedManifest

# Kept here rather than imported from verifier.keys: the executor imports this
# module on every run, and without a key nothing of `cryptography` is needed.
_PRIVATE_KEY: Final = Path("keys") / "ed25519.pem"

INDEX_CONTRACT: Final = "attestation-index-v1"


@dataclass(frozen=True)
class StoredEnvelope:
    """An envelope in the artifact store: its digest and its path relative to `home`."""

    digest: str
    path: str

    def as_json(self) -> dict[str, str]:
        """Plain JSON-able form."""
        return {"digest": self.digest, "path": self.path}


def index_path(home: Path, global_claim_id: str) -> Path:
    """`<home>/attestations/index/<paper>/<claim>.json` (ids are safe path components by their patterns)."""
    paper, _, claim = global_claim_id.partition("/")
    return Path(home) / "attestations" / "index" / _safe(paper) / f"{_safe(claim)}.json"


def read_index(home: Path, global_claim_id: str) -> dict[str, Any] | None:
    """A claim's index, or None when there is none or it is unreadable (a missing link, never an error)."""
    try:
        value = json.loads(index_path(home, global_claim_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) and value.get("contract") == INDEX_CONTRACT else None


def record_attestations(ledger: Ledger, outcomes: Sequence[PaperOutcome], home: Path) -> int:
    """Sign and index the verdicts of `outcomes` (and their runs) when the home has a key.

    Returns the number of envelopes written (0 without a key).

    Raises `KeyFileError` if the key exists but cannot be used (wrong mode,
    not Ed25519): a key the user created and cannot use is an error to fix,
    not a reason to stop signing silently.
    """
    # One stat: the whole cost of this call for a home without a key.
    if not (Path(home) / _PRIVATE_KEY).exists():
        return 0
    from verifier.keys import load_or_none_signing_key  # lazy: cryptography only with a key

    key = load_or_none_signing_key(home)
    if key is None:
        return 0
    signer = _Signer(ledger, home, key)
    for outcome in outcomes:
        if outcome.intake.manifest is None:
            continue
        for verdict in outcome.verdicts:
            signer.verdict(outcome.intake.manifest, verdict)
    return signer.written


class _Signer:
    """Signs runs at most once per session, then verdicts that cite them."""

    def __init__(self, ledger: Ledger, home: Path, key: Ed25519PrivateKey) -> None:
        self.ledger = ledger
        self.home = home
        self.key = key
        self.written = 0
        self._runs: dict[str, StoredEnvelope | None] = {}

    def verdict(self, manifest: LoadedManifest, verdict: Verdict) -> None:
        """Sign one verdict, after the runs it rests on; rewrite the claim's index."""
        previous = read_index(self.home, verdict.claim) or {}
        known = {str(r.get("id")): r for r in previous.get("runs", []) if isinstance(r, dict)}
        runs: list[dict[str, str]] = []
        for run_id in _run_ids(verdict):
            stored = self._run(manifest, run_id, known.get(run_id))
            if stored is not None:
                runs.append({"id": run_id, **stored.as_json()})
        from verifier.attest import sign_statement, verdict_statement
        from verifier.quality import load_policy

        statement = verdict_statement(
            verdict,
            manifest_digest=manifest.digest,
            policy_uri=load_policy().uri,
            input_attestations=[self._ref(r["path"], r["digest"]) for r in runs],
        )
        envelope = self._store(sign_statement(statement, self.key))
        _write_json(
            index_path(self.home, verdict.claim),
            {
                "contract": INDEX_CONTRACT,
                "claim": verdict.claim,
                "evaluated": verdict.evaluated,
                "status": verdict.status,
                "manifest": manifest.digest,
                "verdict": envelope.as_json(),
                "runs": runs,
            },
        )

    def _run(self, manifest: LoadedManifest, run_id: str, indexed: dict[str, Any] | None) -> StoredEnvelope | None:
        """The run's envelope: signed earlier (index), this session, or now."""
        if run_id in self._runs:
            return self._runs[run_id]
        stored: StoredEnvelope | None = None
        if indexed is not None and self._present(indexed):
            stored = StoredEnvelope(str(indexed["digest"]), str(indexed["path"]))
        else:
            record = self.ledger.get_run(run_id)
            if record is not None and (record.outputs or record.logs):
                from verifier.attest import run_statement, sign_statement

                repro = _repro(manifest, record.repro)
                stored = self._store(sign_statement(run_statement(record, repro=repro), self.key))
        self._runs[run_id] = stored
        return stored

    def _store(self, envelope: dict[str, Any]) -> StoredEnvelope:
        # The same bytes `attest.write_envelope` writes, so both layouts hold identical envelopes.
        data = json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        digest = self.ledger.store.put_bytes(data)
        self.written += 1
        return StoredEnvelope(digest, self.ledger.store.path(digest).relative_to(self.home).as_posix())

    def _present(self, indexed: dict[str, Any]) -> bool:
        path = indexed.get("path")
        return isinstance(path, str) and isinstance(indexed.get("digest"), str) and (self.home / path).is_file()

    def _ref(self, path: str, digest: str) -> AttestationRef:
        from verifier.attest import AttestationRef

        return AttestationRef(uri=(self.home / path).resolve().as_uri(), digest=digest)


def _run_ids(verdict: Verdict) -> list[str]:
    refs = [verdict.run, *verdict.runs]
    return list(dict.fromkeys(r.id for r in refs if r is not None and r.id is not None))


def _repro(manifest: LoadedManifest, repro_id: str) -> Repro | None:
    return next((r for r in manifest.model.repros if r.id == repro_id), None)


def _write_json(path: Path, value: Any) -> None:
    """Atomic write (temp file + rename): a reader sees the old index or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _safe(name: str) -> str:
    # Paper and claim ids already match safe patterns; this guards hand-made ids all the same.
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return cleaned if cleaned not in ("", ".", "..") else "_"


def envelopes_of(index: dict[str, Any]) -> Iterable[tuple[str, str, str]]:
    """(label, digest, path) of every envelope an index names: the verdict's, then its runs'."""
    verdict = index.get("verdict")
    if isinstance(verdict, dict) and isinstance(verdict.get("path"), str):
        yield "verdict summary (VSA)", str(verdict.get("digest")), verdict["path"]
    for run in index.get("runs", []):
        if isinstance(run, dict) and isinstance(run.get("path"), str):
            yield f"run {run.get('id')} provenance (SLSA)", str(run.get("digest")), run["path"]
