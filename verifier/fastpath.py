"""The no-change fast path of `verify claim`, `verify paper` and `verify ci`: cached verdicts answered from a stamp.

A verification whose runs are all in the ledger still parses the manifests,
builds the models, checks the seals, forms the run keys and judges: most of
its time, imports included. When nothing the verdicts depend on has changed,
they are the same but for their `evaluated` times. So:

1. after a slow call that ran nothing, `record` writes one stamp per
   invocation, `<home>/fastpath/<digest of the invocation>.json`: each
   paper's verdicts in their two JSON forms (printed, stored), its paper
   verdict and quality, and a digest of the *state* they were judged in;
2. the next call with the same arguments calls `answer`, which recomputes
   the state and, only when its digest is the same and the ledger still
   holds the runs the verdicts cite, appends those verdicts with new
   `evaluated` times to the ledger, as the slow path would, and returns them;
3. anything different, missing or unreadable answers None: the slow path
   runs (for every paper of the call: one change is a slow call, as before).

The state is everything the slow path reads to reach the verdicts:

* the verifier: its version, the interpreter, and (size, mtime, ctime, inode)
  of every file of the package, the bundled quality policy among them;
* the invocation: command, root, home, papers (for `ci`, the list of papers
  under `manifests/` as it stands), claim, `--backend`, `--tier`;
* per paper, the manifest's bytes; every path it names, resolved (a symlink
  that moves counts); every file of every bundle and every input and proof
  file by (mode, size, mtime, ctime, inode), the stat cache's trust model
  (`verifier.seal`); the paper's correction records, likewise;
* the sandbox, when a claim has runs: bwrap still usable (the probe
  `select_backend` runs) and the environment fingerprint the run keys were
  formed with (a run key is a function of the manifest and that fingerprint);
* whether the home has a signing key (then the slow path signs: no stamp);
* each run's results object in the artifact store, and (checked in the
  ledger) each run key's latest ok run is still the run a verdict cites.

A file changed within the stat cache's racy window before the slow call
began is not stamped: the next slow call stamps it. Not stamped at all:
`--no-cache`, `--replicate`, a cluster executor, `--junit`/`--summary`, the
docker backend, a paper with a proof claim (Lean decides anew), an invalid
paper, and a call that ran a repro.

Side effects: `answer` appends verdicts to the ledger; `record` writes one
file under `<home>/fastpath/`.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from verifier import clock
from verifier.attest.store import has_signing_key
from verifier.build import build_lines, stat_signature
from verifier.canonical import digest_json
from verifier.digest import bytes_digest, hex_of, walk_files
from verifier.errors import IntakeError, LedgerError
from verifier.ledger import Ledger, body_of_json, record_json
from verifier.root import VerificationRoot, plain_realpath
from verifier.seal import RACY_WINDOW_NS
from verifier.store import ArtifactStore, atomic_write

if TYPE_CHECKING:
    from verifier.manifests import LoadedManifest
    from verifier.models import Verdict

FORMAT: Final = 2
DIRECTORY: Final = "fastpath"
HOST_BACKENDS: Final = ("bwrap", "process")  # backends whose fingerprint is the host's (docker asks an engine)


@dataclass(frozen=True)
class Invocation:
    """What a verdict command was asked: the stamp is kept per invocation."""

    root: Path
    home: Path
    command: str  # claim | paper | ci
    papers: tuple[str, ...]  # () for ci: every paper under manifests/
    claim: str | None  # the one claim of `verify claim`
    backend: str  # the --backend option (auto, bwrap, process, docker)
    tier: str

    def stamp_path(self) -> Path:
        ident = digest_json({"root": str(self.root), "home": str(self.home), "command": self.command,
                             "papers": list(self.papers), "claim": self.claim, "backend": self.backend,
                             "tier": self.tier, "format": FORMAT})
        return self.home / DIRECTORY / f"{hex_of(ident)}.json"

    def paper_ids(self) -> list[str]:
        """The papers this call covers, as the slow path lists them."""
        return list(self.papers) or VerificationRoot(self.root).paper_ids()

    def manifest(self, paper: str) -> str:
        return os.path.join(self.root, "manifests", paper, "manifest.yaml")


@dataclass(frozen=True)
class PaperStamp:
    """What the slow path reached for one paper, as `record` takes it."""

    manifest: LoadedManifest
    verdicts: Sequence[Verdict]
    intake: dict[str, Any]  # IntakeResult.as_json()
    verdict: dict[str, Any] | None  # PaperVerdict.as_json()
    quality: dict[str, Any] | None  # Quality.as_json()


@dataclass(frozen=True)
class Answer:
    """Verdicts served from a stamp, in the session's JSON form (`Session.as_json`) less its replication."""

    papers: list[dict[str, Any]]
    runs_cached: int

    def verdicts(self) -> list[dict[str, Any]]:
        return [claim for paper in self.papers for claim in paper["claims"]]

    def as_json(self) -> dict[str, Any]:
        return {"papers": self.papers, "runs": {"executed": 0, "cached": self.runs_cached}, "replication": None}


# ----------------------------------------------------------------- answer


def answer(invocation: Invocation) -> Answer | None:
    """The verdicts from the stamp when nothing changed (module docstring), recorded in the ledger; else None.

    Raises `LedgerError` only if the verdicts cannot be appended (as the slow path would).
    """
    try:
        stamp = json.loads(invocation.stamp_path().read_bytes())
        if stamp.get("format") != FORMAT or not _usable_backend(invocation, stamp["sandbox"]):
            return None
        papers = stamp["papers"]
        if [p["intake"]["paper"] for p in papers] != invocation.paper_ids():
            return None
        state = _state(invocation, [(p["intake"]["paper"], p["deps"]) for p in papers], stamp["sandbox"])
        if state is None or state[0] != stamp["state"]:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IntakeError):
        return None
    try:
        ledger = Ledger.open(invocation.home)
    except LedgerError:
        return None  # the slow path says why
    with ledger:
        runs = {key: run for key, run in stamp["runs"]}
        if ledger.latest_ok_run_ids(runs) != runs:
            return None
        out: list[dict[str, Any]] = []
        bodies: list[tuple[str, str, str, bytes]] = []
        for paper in papers:
            claims = []
            for claim in paper["claims"]:
                evaluated = clock.evaluated_now()  # one reading per verdict, as the judge takes them
                payload = {**claim["verdict"], "evaluated": evaluated}
                claims.append(payload)
                bodies.append((payload["claim"], payload["status"], evaluated,
                               body_of_json({**claim["record"], "evaluated": evaluated})))
            out.append({**paper["intake"], "verdict": paper["verdict"], "quality": paper["quality"], "claims": claims})
        ledger.add_verdict_bodies(bodies)
    return Answer(out, int(stamp["runs_cached"]))


def _usable_backend(invocation: Invocation, sandbox: str | None) -> bool:
    """Whether `select_backend` would pick the stamped backend again (None: no claim needs a run)."""
    if sandbox is None:
        return True
    if sandbox not in HOST_BACKENDS or invocation.backend not in ("auto", sandbox):
        return False
    if sandbox == "bwrap":
        from verifier.sandbox.probe import bwrap_problem

        return bwrap_problem() is None
    return True  # the process backend is always available


# ----------------------------------------------------------------- record


def record(invocation: Invocation, papers: Sequence[PaperStamp], *, runs_cached: int, started_ns: int) -> bool:
    """Stamp the verdicts the slow path just reached and recorded without running anything.

    `runs_cached`: the distinct runs the session found in the ledger;
    `started_ns`: when the command began (`time.time_ns`). Returns whether a
    stamp was written; never raises for a stamp it cannot keep (it only saves time).
    """
    ids = [p.manifest.model.id for p in papers]
    if has_signing_key(invocation.home) or any(_has_proof(p.manifest) for p in papers) or ids != invocation.paper_ids():
        return False
    if _newest_manifest(invocation, ids) >= started_ns - RACY_WINDOW_NS:
        return False  # the common case of a racy state (a manifest just edited), found for the price of a stat each
    with Ledger.open(invocation.home) as ledger:
        records = _cited_runs(ledger, [v for p in papers for v in p.verdicts])
    if records is None or len({r.key for r in records}) != runs_cached:
        return False  # a run no verdict cites, or one the ledger lost: judge anew next time
    backends = {r.backend for r in records}
    sandbox = backends.pop() if len(backends) == 1 else None
    if records and (sandbox is None or sandbox not in HOST_BACKENDS):
        return False
    results: dict[str, list[str]] = {}
    for run in records:
        if run.results_digest:
            results.setdefault(run.paper, []).append(run.results_digest)
    deps = [_deps(invocation, p.manifest, results.get(paper, [])) for p, paper in zip(papers, ids, strict=True)]
    state = _state(invocation, list(zip(ids, deps, strict=True)), sandbox)
    if state is None or state[1] >= started_ns - RACY_WINDOW_NS:
        return False  # a file changed just before or during the slow call: its stat may not show the next change
    if any(_manifest_digest(invocation, paper) != p.manifest.digest for p, paper in zip(papers, ids, strict=True)):
        return False  # changed while the slow path read it
    entries: list[dict[str, Any]] = []
    for paper, paper_deps in zip(papers, deps, strict=True):  # the costly part last: most slow calls stop above
        claims = [_claim_entry(v) for v in paper.verdicts]
        if any(c is None for c in claims):
            return False
        entries.append({"intake": paper.intake, "verdict": paper.verdict, "quality": paper.quality, "claims": claims,
                        "deps": paper_deps})
    stamp = {"format": FORMAT, "state": state[0], "sandbox": sandbox, "runs_cached": runs_cached,
             "runs": sorted({(r.key, r.id) for r in records}), "papers": entries}
    try:
        atomic_write(invocation.stamp_path(), json.dumps(stamp, sort_keys=True).encode())
    except OSError:
        return False
    return True


def _newest_manifest(invocation: Invocation, papers: list[str]) -> int:
    """The newest mtime or ctime among the papers' manifests (0 if one is gone: the full check says so)."""
    try:
        stats = [os.stat(invocation.manifest(paper)) for paper in papers]
    except OSError:
        return 0
    return max((max(st.st_mtime_ns, st.st_ctime_ns) for st in stats), default=0)


def _has_proof(manifest: LoadedManifest) -> bool:
    return any(claim.kind == "proof" for claim in manifest.model.claims)


def _cited_runs(ledger: Ledger, verdicts: Sequence[Verdict]) -> list[Any] | None:
    """The run records the verdicts cite (each once), or None if one is missing."""
    ids = list(dict.fromkeys(ref.id for v in verdicts for ref in ([v.run] if v.run else []) + list(v.runs)))
    records = [ledger.get_run(i) if i is not None else None for i in ids]
    return None if any(r is None for r in records) else records


def _claim_entry(verdict: Verdict) -> dict[str, Any] | None:
    """The verdict's printed and stored JSON less `evaluated`, or None when either would not survive JSON as is."""
    from verifier.gates import line

    payload = verdict.model_dump(mode="json")
    stored = record_json(verdict)
    if verdict.line != line(verdict) or not _round_trips(payload):
        return None
    if body_of_json(stored) != body_of_json(json.loads(json.dumps(stored))):
        return None
    return {"verdict": {k: v for k, v in payload.items() if k != "evaluated"},
            "record": {k: v for k, v in stored.items() if k != "evaluated"}}


def _deps(invocation: Invocation, manifest: LoadedManifest, results: list[str]) -> dict[str, list[str]]:
    """The paths a paper's state covers: as its manifest names them, joined to the root (resolved when hashed)."""
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


def _state(invocation: Invocation, papers: list[tuple[str, dict[str, list[str]]]],
           sandbox: str | None) -> tuple[str, int] | None:
    """(digest of the state lines, newest mtime/ctime among the files read), or None if a file is unreadable."""
    lines = [f"format {FORMAT}",
             f"invocation {invocation.command} {invocation.root} {invocation.home} {invocation.claim}"
             f" {invocation.backend} {invocation.tier}",
             f"signing key {has_signing_key(invocation.home)}"]
    newest = [0]

    def sig(st: os.stat_result) -> str:
        newest[0] = max(newest[0], st.st_mtime_ns, st.st_ctime_ns)
        return stat_signature(st)

    try:
        lines += build_lines(sig)
        resolve = _resolver(invocation.root)
        for paper, deps in papers:
            lines += _paper_lines(invocation, paper, deps, sig, resolve)
    except (OSError, IntakeError):  # IntakeError: a directory that cannot be listed
        return None
    if sandbox is not None:
        from verifier.sandbox.fingerprint import host_fingerprint

        lines.append(f"environment {digest_json(host_fingerprint(sandbox))}")
    return bytes_digest("\n".join(lines).encode("utf-8", "surrogateescape")), newest[0]


def _resolver(root: Path) -> Callable[[str], str]:
    """`os.path.realpath` for the paths of one state, by `plain_realpath` under a real root."""
    base = str(root).rstrip(os.sep)
    prefix = base + os.sep if os.path.realpath(base) == base else None

    def resolve(path: str) -> str:
        plain = plain_realpath(base, path[len(prefix):]) if prefix and path.startswith(prefix) else None
        return plain if plain is not None else os.path.realpath(path)

    return resolve


def _paper_lines(invocation: Invocation, paper: str, deps: dict[str, list[str]],
                 sig: Callable[[os.stat_result], str], realpath: Callable[[str], str] = os.path.realpath) -> Iterator[str]:
    """One paper's part of the state. Raises `OSError` (or `IntakeError` from a walk) for a file it cannot read."""
    manifest = invocation.manifest(paper)
    yield f"paper {paper} {realpath(manifest)} {_manifest_digest(invocation, paper)} {sig(os.stat(manifest))}"
    corrections = os.path.join(os.path.dirname(manifest), "corrections")
    if os.path.isdir(corrections):
        yield from (f"correction {rel} {sig(st)}" for _, rel, st in walk_files(corrections))
    for tree in deps["trees"]:
        resolved = realpath(tree)
        yield f"tree {tree} {resolved}"
        for path, rel, st in walk_files(resolved):
            link = f" -> {os.readlink(path)} {os.path.realpath(path)}" if stat.S_ISLNK(st.st_mode) else ""
            yield f"  {rel} {sig(st)}{link}"
    yield from (f"file {f} {realpath(f)} {sig(os.stat(f))}" for f in deps["files"])
    yield from (f"path {p} {realpath(p)}" for p in deps["paths"])
    yield from (f"object {o} {sig(os.lstat(o))}" for o in deps["objects"])


def _manifest_digest(invocation: Invocation, paper: str) -> str:
    with open(invocation.manifest(paper), "rb") as handle:
        return bytes_digest(handle.read())
