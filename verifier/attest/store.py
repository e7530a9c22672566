"""Where attestations live: envelopes in the artifact store, one index file per claim.

```
<home>/artifacts/sha256/<2 hex>/<62 hex>          every envelope (one line of JSON), by digest
<home>/attestations/index/<paper>/<claim>.json    the latest verdict's envelopes (attestation-index-v1)
```

This is the one layout: the pipeline's signing step (`record_attestations`,
step 6 of `verifier.executor`) and `verify attest paper` (`attest_paper`)
both write it; `verify show` and `verify site` link from it (`read_index`,
`envelopes_of`), and `verify attest check <home>/<path>` checks what it links.

When `<home>/keys/ed25519.pem` exists (`verify keys init`), each verdict is
signed as a Verification Summary whose `inputAttestations` are the SLSA
Provenance envelopes of the runs it rests on (signed first). Ed25519
signatures are deterministic, so re-signing an unchanged run gives the same
bytes, and the artifact store keeps one copy. Without a key the call costs
one `stat` (a 1,000-claim cached `verify ci` must not slow down), and
nothing of `cryptography` or pydantic's statement models is imported.

Side effects: writes artifacts and index files under `home`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from verifier.store import ArtifactStore, atomic_write

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from verifier.manifests import LoadedManifest
    from verifier.models import Repro, RunRecord, Verdict

INDEX_CONTRACT: Final = "attestation-index-v1"
# Kept here rather than imported from verifier.attest.keys: that module needs `cryptography`.
_PRIVATE_KEY: Final = Path("keys") / "ed25519.pem"


class RunSource(Protocol):
    """What signing reads from the ledger (`verifier.ledger.Ledger` fits)."""

    store: ArtifactStore

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def runs_for(self, paper: str | None = None) -> list[RunRecord]: ...

    def last_verdicts(self, claims: Iterable[str]) -> dict[str, Verdict]: ...


@dataclass(frozen=True)
class StoredEnvelope:
    """An envelope in the artifact store: its digest and its path relative to `home`."""

    digest: str
    path: str

    def as_json(self) -> dict[str, str]:
        """Plain JSON-able form."""
        return {"digest": self.digest, "path": self.path}


def safe(name: str) -> str:
    """A path component that cannot climb out of its directory (ids match safe patterns; hand-made ones may not)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return cleaned if cleaned not in ("", ".", "..") else "_"


def index_path(home: Path, global_claim_id: str) -> Path:
    """`<home>/attestations/index/<paper>/<claim>.json`."""
    paper, _, claim = global_claim_id.partition("/")
    return Path(home) / "attestations" / "index" / safe(paper) / f"{safe(claim)}.json"


def read_index(home: Path, global_claim_id: str) -> dict[str, Any] | None:
    """A claim's index, or None when there is none or it is unreadable (a missing link, never an error)."""
    try:
        value = json.loads(index_path(home, global_claim_id).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and value.get("contract") == INDEX_CONTRACT else None


def envelopes_of(index: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(label, digest, path) of every envelope an index names: the verdict's, then its runs'."""
    verdict = index.get("verdict")
    if isinstance(verdict, dict) and isinstance(verdict.get("path"), str):
        yield "verdict summary (VSA)", str(verdict.get("digest")), verdict["path"]
    for run in index.get("runs", []):
        if isinstance(run, dict) and isinstance(run.get("path"), str):
            yield f"run {run.get('id')} provenance (SLSA)", str(run.get("digest")), run["path"]


def has_signing_key(home: Path) -> bool:
    """Whether `verify keys init` made a key in `home`: one stat, the whole cost of signing without one."""
    return (Path(home) / _PRIVATE_KEY).exists()


def record_attestations(
    ledger: RunSource,
    home: Path,
    verdicts: Iterable[tuple[LoadedManifest, Verdict]],
    *,
    policy_uri: str,
) -> int:
    """Sign and index each (manifest, verdict) and the runs it rests on, when the home has a key.

    `policy_uri` is the policy the judge applied (the verdict carries its digest).
    Returns the number of envelopes newly stored (0 without a key).

    Raises `KeyFileError` if the key exists but cannot be used (wrong mode,
    not Ed25519): a key the user created and cannot use is an error to fix,
    not a reason to stop signing silently.
    """
    if not has_signing_key(home):
        return 0
    from verifier.attest.keys import load_or_none_signing_key

    key = load_or_none_signing_key(home)
    if key is None:
        return 0
    signer = Signer(ledger, home, key, policy_uri=policy_uri)
    for manifest, verdict in verdicts:
        signer.verdict(manifest, verdict)
    return signer.written


def attest_paper(
    home: Path, manifest: LoadedManifest, ledger: RunSource, *, key: Ed25519PrivateKey, policy_uri: str
) -> list[StoredEnvelope]:
    """Sign every run of a paper and the latest verdict of each of its claims, from the ledger.

    Returns the envelopes, runs first (those no verdict cites are stored but not indexed).

    Raises `KeyFileError`/`EnvelopeFormatError` as signing does.
    Side effects: as `record_attestations`.
    """
    signer = Signer(ledger, home, key, policy_uri=policy_uri)
    paper = manifest.model.id
    runs = [s for r in ledger.runs_for(paper) if (s := signer.run(manifest, r)) is not None]
    claims = [f"{paper}/{claim.id}" for claim in manifest.model.claims]
    verdicts = [signer.verdict(manifest, v) for _, v in sorted(ledger.last_verdicts(claims).items())]
    return [*dict.fromkeys(runs), *verdicts]


class Signer:
    """Signs runs at most once per session, then verdicts that cite them, into the one layout."""

    def __init__(self, ledger: RunSource, home: Path, key: Ed25519PrivateKey, *, policy_uri: str) -> None:
        """Sign with `key`; verdict summaries name `policy_uri`."""
        self.ledger = ledger
        self.home = Path(home)
        self.key = key
        self.policy_uri = policy_uri
        self.written = 0
        self._runs: dict[str, StoredEnvelope | None] = {}

    def verdict(self, manifest: LoadedManifest, verdict: Verdict) -> StoredEnvelope:
        """Sign one verdict, after the runs it rests on; rewrite the claim's index."""
        from verifier.attest.statements import AttestationRef, sign_statement, verdict_statement

        runs: list[dict[str, str]] = []
        for run_id in _run_ids(verdict):
            stored = self._run_by_id(manifest, run_id)
            if stored is not None:
                runs.append({"id": run_id, **stored.as_json()})
        statement = verdict_statement(
            verdict,
            manifest_digest=manifest.digest,
            policy_uri=self.policy_uri,
            input_attestations=[
                AttestationRef(uri=(self.home / r["path"]).resolve().as_uri(), digest=r["digest"]) for r in runs
            ],
        )
        envelope = self._store(sign_statement(statement, self.key))
        index = {
            "contract": INDEX_CONTRACT,
            "claim": verdict.claim,
            "evaluated": verdict.evaluated,
            "status": verdict.status,
            "manifest": manifest.digest,
            "verdict": envelope.as_json(),
            "runs": runs,
        }
        atomic_write(index_path(self.home, verdict.claim), (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())
        return envelope

    def run(self, manifest: LoadedManifest, record: RunRecord) -> StoredEnvelope | None:
        """The run's provenance envelope (signed once per session); None for a run with nothing to attest."""
        if record.id not in self._runs:
            stored = None
            if record.outputs or record.logs:
                from verifier.attest.statements import run_statement, sign_statement

                statement = run_statement(record, repro=_repro(manifest, record.repro))
                stored = self._store(sign_statement(statement, self.key))
            self._runs[record.id] = stored
        return self._runs[record.id]

    def _run_by_id(self, manifest: LoadedManifest, run_id: str) -> StoredEnvelope | None:
        if run_id not in self._runs:
            record = self.ledger.get_run(run_id)
            self._runs[run_id] = self.run(manifest, record) if record is not None else None
        return self._runs[run_id]

    def _store(self, envelope: dict[str, Any]) -> StoredEnvelope:
        """Put the envelope's bytes in the artifact store (`dsse.envelope_bytes`, as files hold them)."""
        from verifier.attest.dsse import envelope_bytes
        from verifier.digest import bytes_digest

        store = self.ledger.store
        data = envelope_bytes(envelope)
        digest = bytes_digest(data)
        if not store.path(digest).is_file():
            store.put_bytes(data)
            self.written += 1
        return StoredEnvelope(digest, store.relative(digest))


def _run_ids(verdict: Verdict) -> Sequence[str]:
    refs = [verdict.run, *verdict.runs]
    return list(dict.fromkeys(r.id for r in refs if r is not None and r.id is not None))


def _repro(manifest: LoadedManifest, repro_id: str) -> Repro | None:
    return next((r for r in manifest.model.repros if r.id == repro_id), None)
