"""The validated-manifest cache: manifest bytes that passed Gate 0 need not be parsed and validated again.

Steps 1-4 of intake (parse, schema, model, id; `verifier.manifests`) are a
function of three things only: the manifest's bytes, the paper id (its
directory), and the code that checks them. So when a manifest was accepted
once, its digest and paper id, under the same code, let the next intake skip
those steps and take from here what they produced that Gate 0 still needs:
the pins (every bundle, seal, input, digest, proof and report the manifest
names) and the counts. Steps 5 and 6 always run against the files, whatever
this cache holds: every path is resolved inside the root again (a symlink
swapped to point elsewhere is seen), every bundle's seal and every input and
proof digest is checked again (through the stat cache).

The code is: the verifier's version, the interpreter, the versions of
pydantic, pydantic-core and ruamel.yaml, and (mode, size, mtime, ctime,
inode) of every file of the package (its schemas among them): a change to
any of them empties the cache. Only a manifest that passed every step is
kept, so an invalid one always takes the slow path and its error.

Storage: `<home>/intake/validated.json`, one file for all papers (one read
per call), replaced atomically when a call added entries, keeping the newest
few versions of each paper; an unreadable or malformed file, or entry,
counts as absent. Concurrent writers lose entries, never correctness: the
cache only saves time. The home is trusted as the stat cache in it is: who
can write there can make a changed file pass either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from verifier.build import build_lines
from verifier.digest import DIGEST_RE, bytes_digest
from verifier.errors import IntakeError
from verifier.store import atomic_write

if TYPE_CHECKING:
    from verifier.models import PaperManifest

FORMAT: Final = 1
MAX_PER_PAPER: Final = 4  # the newest versions of each paper (a branch switched back and forth, a shared home)
MAX_ENTRIES: Final = 20_000  # beyond this the oldest entries go (about 300 bytes each)
_LIBRARIES: Final = ("pydantic", "pydantic-core", "ruamel.yaml")


@dataclass(frozen=True)
class PinnedRepro:
    """What Gate 0's steps 5 and 6 check of one repro: its bundle and seal, its inputs and their digests."""

    id: str
    bundle: str
    seal: str | None
    inputs: tuple[tuple[str, str | None], ...]  # (path, sha256 hex)


@dataclass(frozen=True)
class Pins:
    """Everything a manifest names outside itself, as plain data: what steps 5 and 6 check against the files.

    Taken from a validated model and kept here per manifest digest, so that
    an unchanged manifest need not be parsed and validated again.
    """

    paper: str
    claims: int
    repros: tuple[PinnedRepro, ...]
    proofs: tuple[tuple[int, str, str | None], ...]  # (claim index, file, sha256 hex)
    report: str | None

    @classmethod
    def of(cls, model: PaperManifest) -> Pins:
        return cls(
            paper=model.id,
            claims=len(model.claims),
            repros=tuple(
                PinnedRepro(r.id, r.bundle, r.seal, tuple((item.path, item.sha256) for item in r.inputs))
                for r in model.repros
            ),
            proofs=tuple((i, c.proof.file, c.proof.sha256) for i, c in enumerate(model.claims) if c.proof is not None),
            report=model.source.report,
        )


def code_identity() -> str | None:
    """Digest of the code that decides steps 1-4 (module docstring), or None if it cannot be read."""
    try:
        lines = [f"format {FORMAT}", *build_lines()]
        lines += [f"{name} {metadata.version(name)}" for name in _LIBRARIES]
    except (OSError, IntakeError, metadata.PackageNotFoundError):
        return None
    return bytes_digest("\n".join(lines).encode("utf-8", "surrogateescape"))


class ValidatedCache:
    """Pins of accepted manifests by (paper id, digest of the bytes), for one verifier build.

    Side effects: `flush` writes `<home>/intake/validated.json`.
    """

    def __init__(self, home: Path) -> None:
        self._file = home / "intake" / "validated.json"
        self._code: str | None = None
        self._entries: dict[str, Any] | None = None
        self._dirty = False

    def get(self, paper: str, digest: str) -> Pins | None:
        """The pins stored for these bytes of this paper, or None."""
        entry = self._load().get(_key(paper, digest))
        return _pins_of(entry, paper) if entry is not None else None

    def put(self, paper: str, digest: str, pins: Pins) -> None:
        """Remember that these bytes of this paper passed every step of Gate 0."""
        entries = self._load()
        if self._code is not None:
            key = _key(paper, digest)
            entries.pop(key, None)  # the newest last
            entries[key] = _json_of(pins)
            self._dirty = True

    def flush(self) -> None:
        """Write the entries when some were added; never raises."""
        if not self._dirty or self._entries is None or self._code is None:
            return
        document = {"format": FORMAT, "code": self._code, "entries": _pruned(self._entries)}
        try:
            atomic_write(self._file, json.dumps(document, separators=(",", ":")).encode())
            self._dirty = False
        except OSError:
            pass

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            self._code = code_identity()
            self._entries = {}
            if self._code is None:
                return self._entries
            try:
                with open(self._file, "rb") as handle:
                    document = json.loads(handle.read())
            except (OSError, ValueError):
                return self._entries
            if (
                isinstance(document, dict)
                and document.get("format") == FORMAT
                and document.get("code") == self._code
                and isinstance(document.get("entries"), dict)
            ):
                self._entries = document["entries"]
        return self._entries


def _key(paper: str, digest: str) -> str:
    return f"{paper} {digest}"  # a paper id has no space


def _pruned(entries: dict[str, Any]) -> dict[str, Any]:
    """The newest `MAX_PER_PAPER` entries of each paper, and of those the newest `MAX_ENTRIES` (oldest first)."""
    kept: list[tuple[str, Any]] = []
    per_paper: dict[str, int] = {}
    for key, entry in reversed(entries.items()):
        paper = key.split(" ", 1)[0]
        per_paper[paper] = per_paper.get(paper, 0) + 1
        if per_paper[paper] <= MAX_PER_PAPER:
            kept.append((key, entry))
    return dict(reversed(kept[:MAX_ENTRIES]))


def _json_of(pins: Pins) -> list[Any]:
    return [
        pins.claims,
        [[r.id, r.bundle, r.seal, [list(item) for item in r.inputs]] for r in pins.repros],
        [list(proof) for proof in pins.proofs],
        pins.report,
    ]


def _pins_of(entry: Any, paper: str) -> Pins | None:
    """Pins from a stored entry; None for anything not exactly of the stored form (a damaged file)."""
    try:
        claims, repros, proofs, report = entry
        pinned = []
        for rid, bundle, seal, inputs in repros:
            items = tuple((path, sha) for path, sha in inputs)
            if not (_text(rid) and _text(bundle) and _text(seal) and DIGEST_RE.match(seal)):
                return None
            if not all(_text(path) and _text(sha) for path, sha in items):  # accepted: every digest is there
                return None
            pinned.append(PinnedRepro(rid, bundle, seal, items))
        pinned_proofs = tuple((i, file, sha) for i, file, sha in proofs)
        if not all(type(i) is int and _text(file) and _text(sha) for i, file, sha in pinned_proofs):
            return None
        if type(claims) is not int or not (report is None or _text(report)):
            return None
    except (TypeError, ValueError):  # not a list, or one of another length
        return None
    return Pins(paper, claims, tuple(pinned), pinned_proofs, report)


def _text(value: Any) -> bool:
    return type(value) is str and value != ""
