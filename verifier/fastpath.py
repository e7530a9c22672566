"""The no-change fast path of `verify claim`: a cached verdict answered from a stamp, without intake.

A `verify claim` whose runs are all in the ledger still parses the manifest,
builds the models, checks the seals, forms the run keys and judges: a third
of a second, most of it imports. When nothing the verdict depends on has
changed, the verdict is the same but for its `evaluated` time. So:

1. after a slow `verify claim` that ran nothing, `record` writes a stamp,
   `<home>/fastpath/<digest of the invocation>.json`: the verdict's two JSON
   forms (printed, stored) and a digest of the *state* it was judged in;
2. the next `verify claim` with the same arguments calls `answer`, which
   recomputes the state and, only when its digest is the same and the ledger
   still holds the runs the verdict cites, appends that verdict with a new
   `evaluated` time to the ledger, as the slow path would, and returns it;
3. anything different, missing or unreadable answers None: the slow path runs.

The state is everything the slow path reads to reach the verdict:

* the verifier: its version, the interpreter, and (size, mtime, ctime, inode)
  of every file of the package, the bundled quality policy among them;
* the invocation: root, home, claim, `--backend`, `--tier`;
* the manifest's bytes; every path it names, resolved (a symlink that moves
  counts); every file of every bundle of the paper and every input and proof
  file, by (mode, size, mtime, ctime, inode), the stat cache's trust model
  (`verifier.seal`); the paper's correction records, likewise;
* the sandbox, when the claim has runs: bwrap still usable (the probe
  `select_backend` runs) and the environment fingerprint the run keys were
  formed with (the keys are a function of the manifest and that fingerprint);
* whether the home has a signing key (then the slow path signs: no stamp);
* each run's results object in the artifact store, and (checked in the
  ledger) each run key's latest ok run is still the run the verdict cites.

A file changed within the stat cache's racy window before the slow call
began is not stamped: the next slow call stamps it. Not stamped at all:
`--no-cache`, `--replicate`, a cluster executor, the docker backend, a proof
claim (Lean decides anew), and a call that ran a repro.

Side effects: `answer` appends one verdict to the ledger; `record` writes one
small file under `<home>/fastpath/`.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from verifier import __version__, clock
from verifier.attest.store import has_signing_key
from verifier.canonical import digest_json
from verifier.digest import bytes_digest, hex_of, walk_files
from verifier.errors import IntakeError, LedgerError
from verifier.ledger import Ledger, body_of_json, record_json
from verifier.seal import RACY_WINDOW_NS
from verifier.store import ArtifactStore, atomic_write

if TYPE_CHECKING:
    from verifier.manifests import LoadedManifest
    from verifier.models import Verdict

FORMAT: Final = 1
DIRECTORY: Final = "fastpath"
PACKAGE_DIR: Final = Path(__file__).resolve().parent  # the verifier's own files: a code change is a change
HOST_BACKENDS: Final = ("bwrap", "process")  # backends whose fingerprint is the host's (docker asks an engine)


@dataclass(frozen=True)
class Invocation:
    """What a `verify claim` was asked: the stamp is kept per invocation."""

    root: Path
    home: Path
    paper: str
    claim: str
    backend: str  # the --backend option (auto, bwrap, process, docker)
    tier: str

    def stamp_path(self) -> Path:
        ident = digest_json({"root": str(self.root), "home": str(self.home), "paper": self.paper,
                             "claim": self.claim, "backend": self.backend, "tier": self.tier, "format": FORMAT})
        return self.home / DIRECTORY / f"{hex_of(ident)}.json"

    @property
    def manifest(self) -> str:
        return os.path.join(self.root, "manifests", self.paper, "manifest.yaml")


@dataclass(frozen=True)
class Answer:
    """A verdict served from its stamp: the JSON `--json` prints, and what the exit status needs."""

    payload: dict[str, Any]

    @property
    def line(self) -> str:
        return str(self.payload["line"])

    @property
    def status(self) -> str:
        return str(self.payload["status"])

    @property
    def checkable(self) -> bool:
        return bool(self.payload["checkable"])


# ----------------------------------------------------------------- answer


def answer(invocation: Invocation) -> Answer | None:
    """The verdict from the stamp when nothing changed (module docstring), recorded in the ledger; else None.

    Raises `LedgerError` only if the verdict cannot be appended (as the slow path would).
    """
    try:
        stamp = json.loads(invocation.stamp_path().read_bytes())
        if stamp.get("format") != FORMAT or not _usable_backend(invocation, stamp["sandbox"]):
            return None
        state = _state(invocation, stamp["deps"], stamp["sandbox"])
        if state is None or state[0] != stamp["state"]:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    try:
        ledger = Ledger.open(invocation.home)
    except LedgerError:
        return None  # the slow path says why
    with ledger:
        runs = {key: run for key, run in stamp["runs"]}
        if ledger.latest_ok_run_ids(runs) != runs:
            return None
        evaluated = clock.evaluated_now()
        payload = {**stamp["verdict"], "evaluated": evaluated}
        body = body_of_json({**stamp["record"], "evaluated": evaluated})
        ledger.add_verdict_bodies([(payload["claim"], payload["status"], evaluated, body)])
    return Answer(payload)


def _usable_backend(invocation: Invocation, sandbox: str | None) -> bool:
    """Whether `select_backend` would pick the stamped backend again (None: the claim needs no run)."""
    if sandbox is None:
        return True
    if sandbox not in HOST_BACKENDS or invocation.backend not in ("auto", sandbox):
        return False
    if sandbox == "bwrap":
        from verifier.sandbox.probe import bwrap_problem

        return bwrap_problem() is None
    return True  # the process backend is always available


# ----------------------------------------------------------------- record


def record(
    invocation: Invocation,
    manifest: LoadedManifest,
    verdict: Verdict,
    *,
    runs_cached: int,
    started_ns: int,
) -> bool:
    """Stamp a verdict the slow path just reached and recorded without running anything.

    `runs_cached`: the distinct runs the session found in the ledger (all
    the claim's runs); `started_ns`: when the command began (`time.time_ns`).
    Returns whether a stamp was written; never raises for a stamp it cannot
    keep (it only saves time).
    """
    from verifier.gates import line

    try:
        claim = manifest.claim(invocation.claim)
    except IntakeError:
        return False
    if claim.kind == "proof" or has_signing_key(invocation.home) or verdict.line != line(verdict):
        return False
    with Ledger.open(invocation.home) as ledger:
        refs = [verdict.run] if verdict.run is not None else []
        refs += [r for r in verdict.runs if r not in refs]
        records = [ledger.get_run(ref.id) if ref.id is not None else None for ref in refs]
    if len(records) != runs_cached or any(r is None for r in records):
        return False  # a run the verdict does not cite, or one the ledger lost: judge anew next time
    sandbox = records[0].backend if records and records[0] is not None else None
    if sandbox is not None and (sandbox not in HOST_BACKENDS or any(r is not None and r.backend != sandbox for r in records)):
        return False
    deps = _deps(invocation, manifest, [r.results_digest for r in records if r is not None and r.results_digest])
    state = _state(invocation, deps, sandbox)
    if state is None or state[1] >= started_ns - RACY_WINDOW_NS:
        return False  # a file changed just before or during the slow call: its stat may not show the next change
    payload = verdict.model_dump(mode="json")
    stored = record_json(verdict)
    if not _round_trips(payload) or body_of_json(stored) != body_of_json(json.loads(json.dumps(stored))):
        return False
    if _manifest_digest(invocation) != manifest.digest:
        return False  # it changed while the slow path read it
    stamp = {
        "format": FORMAT,
        "state": state[0],
        "deps": deps,
        "sandbox": sandbox,
        "runs": [[r.key, r.id] for r in records if r is not None],
        "verdict": {k: v for k, v in payload.items() if k != "evaluated"},
        "record": {k: v for k, v in stored.items() if k != "evaluated"},
    }
    try:
        atomic_write(invocation.stamp_path(), json.dumps(stamp, sort_keys=True).encode())
    except OSError:
        return False
    return True


def _deps(invocation: Invocation, manifest: LoadedManifest, results: list[str]) -> dict[str, list[str]]:
    """The paths the state covers: as the manifest names them, joined to the root (resolved when hashed)."""
    model = manifest.model
    root = str(invocation.root)
    files = [item.path for repro in model.repros for item in repro.inputs]
    files += [c.proof.file for c in model.claims if c.proof is not None]
    objects = ArtifactStore(invocation.home)
    return {
        "trees": sorted({os.path.join(root, repro.bundle) for repro in model.repros}),
        "files": sorted({os.path.join(root, f) for f in files}),
        "paths": [os.path.join(root, model.source.report)] if model.source.report is not None else [],
        "objects": sorted(str(objects.path(digest)) for digest in set(results)),
    }


def _round_trips(payload: dict[str, Any]) -> bool:
    """Whether the printed JSON of `payload` survives a JSON round trip byte for byte (it is stored as JSON)."""
    def shown(value: Any) -> str:
        return json.dumps(value, indent=2, sort_keys=True, default=str)

    try:
        return shown(json.loads(json.dumps(payload))) == shown(payload)
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------- the state


def _state(invocation: Invocation, deps: dict[str, list[str]], sandbox: str | None) -> tuple[str, int] | None:
    """(digest of the state lines, newest mtime/ctime among the files read), or None if a file is unreadable."""
    lines = [f"format {FORMAT}", f"verifier {__version__}", f"python {sys.version} {sys.executable}",
             f"invocation {invocation.root} {invocation.home} {invocation.paper}/{invocation.claim}"
             f" {invocation.backend} {invocation.tier}",
             f"signing key {has_signing_key(invocation.home)}"]
    newest = [0]

    def sig(st: os.stat_result) -> str:
        newest[0] = max(newest[0], st.st_mtime_ns, st.st_ctime_ns)
        return f"{st.st_mode:o} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"

    try:
        lines += [f"code {rel} {sig(st)}" for _, rel, st in walk_files(str(PACKAGE_DIR))]
        manifest = invocation.manifest
        lines.append(f"manifest {os.path.realpath(manifest)} {_manifest_digest(invocation)} {sig(os.stat(manifest))}")
        corrections = os.path.join(os.path.dirname(manifest), "corrections")
        if os.path.isdir(corrections):
            lines += [f"correction {rel} {sig(st)}" for _, rel, st in walk_files(corrections)]
        for tree in deps["trees"]:
            resolved = os.path.realpath(tree)
            lines.append(f"tree {tree} {resolved}")
            lines += [f"  {line}" for line in _tree_lines(resolved, sig)]
        lines += [f"file {f} {os.path.realpath(f)} {sig(os.stat(f))}" for f in deps["files"]]
        lines += [f"path {p} {os.path.realpath(p)}" for p in deps["paths"]]
        lines += [f"object {o} {sig(os.lstat(o))}" for o in deps["objects"]]
    except (OSError, IntakeError):
        return None
    if sandbox is not None:
        from verifier.sandbox.fingerprint import host_fingerprint

        lines.append(f"environment {digest_json(host_fingerprint(sandbox))}")
    return bytes_digest("\n".join(lines).encode("utf-8", "surrogateescape")), newest[0]


def _tree_lines(resolved: str, sig: Any) -> Iterator[str]:
    """One line per file of a bundle (a symlink adds its text and where it leads)."""
    for path, rel, st in walk_files(resolved):
        extra = ""
        if stat.S_ISLNK(st.st_mode):
            extra = f" -> {os.readlink(path)} {os.path.realpath(path)}"
        yield f"{rel} {sig(st)}{extra}"


def _manifest_digest(invocation: Invocation) -> str:
    with open(invocation.manifest, "rb") as handle:
        return bytes_digest(handle.read())
