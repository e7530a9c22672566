"""Runs: the run key, the cache lookup, and executing a repro in the sandbox.

A **run key** names everything that determines a run's results:

    key = sha256(JCS({"seal", "entrypoint", "params", "inputs": {path: sha256},
                      "seed", "image", "environment": <sandbox fingerprint>}))

(JCS: RFC 8785 canonical JSON). Two runs with the same key are the same
experiment, so the ledger's finished run for a key is reused instead of
running again (`--no-cache` forces a run). Only runs whose outcome is `ok`
are reused; a crash or a timeout is tried again next time.

`Runner.execute` runs one repro:

1. build the sandbox request (bundle, inputs, params, seed, limits);
2. run it in the sandbox, in a fresh output directory;
3. judge the outcome (limits, crash, results.json);
4. check the seal and the input digests again, hashing every byte: a bundle
   or input that changed while the repro ran makes the run void (inputs
   hashed only before execution are a known hole);
5. store every output file and both logs in the artifact store, and the run
   record in the ledger.

Side effects: writes under the ledger's home; runs repro code in the sandbox.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from verifier import cancel
from verifier.canonical import digest_json
from verifier.digest import hex_of, tree_digest
from verifier.errors import IntakeError
from verifier.ledger import Ledger
from verifier.manifests import LoadedManifest
from verifier.models import OutputFile, Repro, RunRecord
from verifier.safeload import RESULTS_CAPS, load_json
from verifier.sandbox import (
    RunOutcome,
    Sandbox,
    SandboxRequest,
    SandboxResult,
    judge_outcome,
)
from verifier.seal import StatCache


@dataclass(frozen=True)
class RunPlan:
    """One run to obtain: a repro of a loaded paper, with one seed."""

    manifest: LoadedManifest
    repro: Repro
    seed: int

    @property
    def paper(self) -> str:
        return self.manifest.model.id

    def label(self) -> str:
        return f"{self.paper}/{self.repro.id} (seed {self.seed})"


@dataclass(frozen=True)
class ObtainedRun:
    """A run and its parsed results (None unless the run is `ok`)."""

    record: RunRecord
    results: dict[str, Any] | None
    cached: bool


def request_for(plan: RunPlan, *, out_dir: Path, log_dir: Path) -> SandboxRequest:
    """The sandbox request of a plan (paths of outputs and logs as given)."""
    repro = plan.repro
    inputs = plan.manifest.inputs[repro.id]
    return SandboxRequest(
        bundle=plan.manifest.bundles[repro.id],
        entrypoint=tuple(repro.entrypoint),
        params=repro.params,
        inputs=tuple((inputs[item.path], item.path) for item in repro.inputs),
        seed=plan.seed,
        limits=repro.limits,
        out_dir=out_dir,
        log_dir=log_dir,
        image=repro.image,
    )


def run_key(plan: RunPlan, environment: dict[str, Any]) -> str:
    """`sha256:<hex>` of the canonical run description (module docstring)."""
    repro = plan.repro
    return digest_json(
        {
            "seal": repro.seal,
            "entrypoint": repro.entrypoint,
            "params": repro.params,
            "inputs": {item.path: item.sha256 for item in repro.inputs},
            "seed": plan.seed,
            "image": repro.image,
            "environment": environment,
        }
    )


class Runner:
    """Obtains runs: from the ledger when the key is known, else by running the repro.

    Thread-safe: `--jobs N` calls `execute` from several threads; sandbox runs
    proceed in parallel, ledger writes are serialised.
    """

    def __init__(self, *, ledger: Ledger, sandbox: Sandbox, use_cache: bool = True) -> None:
        self.ledger = ledger
        self.sandbox = sandbox
        self.use_cache = use_cache
        self._lock = threading.RLock()
        self._stat = StatCache(ledger.home)  # the one intake filled: same home
        self._fingerprints: dict[str | None, dict[str, Any]] = {}

    def environment(self, plan: RunPlan) -> dict[str, Any]:
        """The sandbox's environment fingerprint for this plan (cached per image)."""
        image = plan.repro.image
        with self._lock:
            if image not in self._fingerprints:
                probe = request_for(plan, out_dir=Path("/nonexistent"), log_dir=Path("/nonexistent"))
                self._fingerprints[image] = self.sandbox.fingerprint(probe)
            return self._fingerprints[image]

    def key(self, plan: RunPlan) -> str:
        return run_key(plan, self.environment(plan))

    def cached(self, keys: list[str]) -> dict[str, ObtainedRun]:
        """Finished runs already in the ledger for these keys (none with --no-cache)."""
        if not self.use_cache:
            return {}
        with self._lock:
            found = self.ledger.find_runs(keys)
            return {key: ObtainedRun(record, self._results_of(record), cached=True) for key, record in found.items()}

    def _results_of(self, record: RunRecord) -> dict[str, Any] | None:
        if record.results_digest is None:
            return None
        try:  # stored only if it parsed when the run finished; the caps hold it to that again
            loaded = load_json(self.ledger.store.get_bytes(record.results_digest), file="results.json",
                               caps=RESULTS_CAPS, allow_nonfinite=True)
        except IntakeError:
            return None
        return loaded if isinstance(loaded, dict) else None

    def execute(self, plan: RunPlan, key: str) -> ObtainedRun:
        """Run the plan in the sandbox and record it (steps in the module docstring).

        Raises `SandboxError` when the sandbox itself breaks; `Cancelled`
        (`verifier.cancel`) when the verification was interrupted before or
        during the run, which is then not recorded.
        """
        cancel.check()  # nothing new starts once interrupted
        with tempfile.TemporaryDirectory(prefix="verify-run-") as tmp:
            out_dir, log_dir = Path(tmp) / "out", Path(tmp) / "logs"
            out_dir.mkdir()
            log_dir.mkdir()
            # (1): the request
            request = request_for(plan, out_dir=out_dir, log_dir=log_dir)
            # (2): the run
            result = self.sandbox.run(request)
            # (3): its outcome
            outcome = judge_outcome(result, out_dir)
            # (4): the seal and inputs, hashed again in full
            void_reason = _changed_during_run(plan, self._stat)
            # (5): artifacts and the record
            return self.store(plan, key, result, outcome, out_dir, void_reason=void_reason)

    def store(
        self,
        plan: RunPlan,
        key: str,
        result: SandboxResult,
        outcome: RunOutcome,
        out_dir: Path,
        *,
        void_reason: str | None = None,
        environment: dict[str, Any] | None = None,
    ) -> ObtainedRun:
        """Steps 4-5 for a finished run: void it if need be, store its files, record it.

        `environment` replaces this host's fingerprint when the run ran
        elsewhere (a cluster node). Side effects: artifacts and one run record.
        """
        if void_reason is not None:
            outcome = replace(outcome, status="void", reason=void_reason, results=None)  # type: ignore[arg-type]
        with self._lock:
            record = self._record(plan, key, result, outcome, out_dir)
            if environment is not None:
                record = record.model_copy(update={"environment": environment})
            self.ledger.add_run(record)
        return ObtainedRun(record, outcome.results if outcome.status == "ok" else None, cached=False)

    def _record(self, plan: RunPlan, key: str, result: SandboxResult, outcome: RunOutcome, out_dir: Path) -> RunRecord:
        outputs = []
        results_digest = None
        for rel in sorted(outcome.outputs):
            path = out_dir / rel
            digest = self.ledger.store.put_file(path)
            outputs.append(OutputFile(path=rel, sha256=digest, size=path.stat().st_size))
            if rel == "results.json" and outcome.status == "ok":
                results_digest = digest
        logs = {name: self.ledger.store.put_file(p) for name, p in (("stdout", result.stdout_path), ("stderr", result.stderr_path)) if p.exists()}
        environment = dict(self.environment(plan))
        if result.image_digest:
            environment["image_digest"] = result.image_digest
        return RunRecord(
            id=f"run-{uuid.uuid4().hex[:16]}",
            key=key,
            paper=plan.paper,
            repro=plan.repro.id,
            seed=plan.seed,
            backend=result.backend,
            sealed=result.sealed,
            seal=plan.repro.seal or "",
            entrypoint=list(plan.repro.entrypoint),
            params_digest=digest_json(plan.repro.params),
            inputs={item.path: f"sha256:{item.sha256}" for item in plan.repro.inputs},
            environment=environment,
            started=_iso(result.started),
            ended=_iso(result.ended),
            duration_s=round(result.duration_s, 6),
            exit_code=result.exit_code,
            signal=result.signal,
            status=outcome.status,
            reason=outcome.reason,
            peak_memory_kb=result.peak_memory_kb,
            cpu_time_s=result.cpu_time_s,
            outputs=outputs,
            results_digest=results_digest,
            logs=logs,
        )


def _changed_during_run(plan: RunPlan, cache: StatCache) -> str | None:
    """Why the run is void (bundle or input changed since intake), or None.

    Hashes again every file whose (size, mtime, ctime, inode) differs from
    when the stat cache hashed it: any write changes ctime, which no
    unprivileged writer can set back, so a file that changed mid-run is
    always hashed (the cache keeps no entry younger than its racy window).
    """
    repro = plan.repro
    try:
        seal = tree_digest(plan.manifest.bundles[repro.id], cache)
    except IntakeError as e:
        return f"void: the bundle changed during the run ({e.diagnostics()})"
    if seal != repro.seal:
        return f"void: the bundle changed during the run (seal now {seal})"
    for item in repro.inputs:
        path = plan.manifest.inputs[repro.id][item.path]
        try:
            digest = hex_of(cache.digest(path, os.stat(path)))
        except (IntakeError, OSError):
            digest = "missing"
        if digest != item.sha256:
            return f"void: input {item.path} changed during the run"
    return None


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))
