"""Shipping a run to a node that shares no disk with the driver, and back.

Driver side (`pack_bundle`, `Shipment`): a bundle travels as one archive
per seal, an input as its own bytes; both are put in the cluster's object
store once and found there by every run that needs them. The archive holds
exactly the files of the bundle's tree digest (`verifier.seal`), with
normalised owners, times and modes, so equal seals give equal archives.

Node side (`run_shipment`), in this order, before anything runs:

1. unpack the archive into a private directory (mode 0700, one per run;
   entries that would leave it are refused by tarfile's `data` filter);
2. compute the seal of what arrived, hashing every byte, and refuse the run
   if it is not the manifest's seal;
3. write each input and refuse the run if its digest is not the manifest's;
4. run the repro in the sealed sandbox backend the driver chose, on this
   node; then hash the bundle and inputs again (a change during the run
   makes it void, as on one machine);
5. return the outputs and logs as bytes with their digests, the node and
   its environment fingerprint.

Driver side again (`receive`): re-hash every returned byte, judge the
outcome from the bytes received, store them in the artifact store and
record the run: the driver is the ledger's only writer.

Threat model: the object store and the network between nodes are not
trusted to keep bytes intact (anything altered is refused or voided); the
node's own kernel and sandbox are, as for a local run.

Side effects: node side, a private directory that is removed afterwards,
and the repro's sandbox; driver side, the artifact store and the ledger.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from verifier.digest import tree_digest, tree_entries
from verifier.errors import IntakeError
from verifier.manifests import LoadedManifest
from verifier.models import PaperManifest, Repro
from verifier.runs import ObtainedRun, Runner, RunPlan, _changed_during_run, request_for, run_key
from verifier.sandbox import Sandbox, SandboxResult, judge_outcome, select_backend
from verifier.sandbox.base import STDERR_LOG, STDOUT_LOG
from verifier.sandbox.outcome import OutputError, hash_outputs
from verifier.seal import StatCache


class TransitError(IntakeError):
    """A node refused a run: the bundle or an input it received does not match its seal or digest.

    Reported as Gate 0 reports a seal mismatch (bad input, exit 2), naming
    the manifest field and the node.
    """


# --------------------------------------------------------------------------- driver: packing


def pack_bundle(bundle: Path) -> bytes:
    """A tar archive of the files the bundle's seal covers (normalised metadata, sorted).

    Raises `IntakeError` as `tree_entries` does (a link leaving the bundle, a device, ...).
    """
    buffer = io.BytesIO()
    root = Path(os.path.realpath(bundle))
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in tree_entries(root):
            info = tarfile.TarInfo(entry.path)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            path = root / entry.path
            if entry.mode == "120000":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, os.readlink(path), 0o777
                tar.addfile(info)
                continue
            data = path.read_bytes()
            info.size, info.mode = len(data), 0o755 if entry.mode == "100755" else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def pack_input(path: Path) -> bytes:
    """An input's bytes, as they go into the object store (the node checks their digest)."""
    return Path(path).read_bytes()


@dataclass(frozen=True)
class Shipment:
    """What a node needs to run one plan, besides the archive and the input bytes."""

    manifest: PaperManifest  # trimmed to this repro: the node needs nothing else of it
    manifest_shown: str
    manifest_digest: str
    repro_index: int  # in the full manifest, for the field a refusal names
    seed: int
    bundle_name: str
    backend: str
    inputs: tuple[tuple[str, str], ...]  # (path, hex sha256), in the order the bytes are passed

    @property
    def repro(self) -> Repro:
        return self.manifest.repros[0]

    @classmethod
    def of(cls, plan: RunPlan, *, backend: str) -> Shipment:
        model = plan.manifest.model
        index = next(i for i, r in enumerate(model.repros) if r.id == plan.repro.id)
        return cls(
            manifest=model.model_copy(update={"claims": [], "repros": [plan.repro]}),
            manifest_shown=plan.manifest.shown,
            manifest_digest=plan.manifest.digest,
            repro_index=index,
            seed=plan.seed,
            bundle_name=Path(os.path.realpath(plan.manifest.bundles[plan.repro.id])).name,
            backend=backend,
            inputs=tuple((item.path, item.sha256 or "") for item in plan.repro.inputs),
        )


# --------------------------------------------------------------------------- node: checking and running


@dataclass(frozen=True)
class Refusal:
    """Why a node would not run a shipment: a manifest field and what is wrong."""

    field: str
    message: str


@dataclass(frozen=True)
class NodeReport:
    """What a node sends back: the run's facts and bytes, or a refusal."""

    node: dict[str, str]
    refusal: Refusal | None = None
    result: SandboxResult | None = None
    void_reason: str | None = None
    outputs: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path -> (digest, bytes)
    logs: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # stdout|stderr -> (digest, bytes)
    fingerprint: dict[str, Any] = field(default_factory=dict)  # the node's sandbox fingerprint


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@functools.cache
def _sandbox(name: str) -> Sandbox:
    """One sandbox per backend per worker process (its fingerprint is cached with it)."""
    return select_backend(name)


def run_shipment(shipment: Shipment, archive: bytes, inputs: Sequence[bytes], *, node: Mapping[str, str]) -> NodeReport:
    """Steps 1-5 of the module docstring, on the node. Raises `SandboxError` if the sandbox breaks."""
    private = Path(tempfile.mkdtemp(prefix="verify-node-"))  # mode 0700: this run's alone
    try:
        return _run_in(private, shipment, archive, inputs, dict(node))
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _run_in(private: Path, shipment: Shipment, archive: bytes, inputs: Sequence[bytes], node: dict[str, str]) -> NodeReport:
    repro, where = shipment.repro, f"repros[{shipment.repro_index}]"
    on = f"on node {node.get('id', '?')[:12]}"
    # (1): unpack privately
    bundle = private / "bundle" / shipment.bundle_name
    try:
        _unpack(archive, bundle)
    except (tarfile.TarError, OSError, ValueError) as e:
        return NodeReport(node, Refusal(f"{where}.seal", f"the bundle archive received {on} does not unpack: {e}"))
    # (2): the seal of what arrived
    try:
        seal = tree_digest(bundle)
    except IntakeError as e:
        return NodeReport(node, Refusal(f"{where}.seal", f"the bundle received {on} is not sealable: {e.message}"))
    if seal != repro.seal:
        return NodeReport(node, Refusal(f"{where}.seal", f"seal mismatch {on}: the bundle received digests to {seal}"))
    # (3): every input's digest
    paths: dict[str, Path] = {}
    for j, ((rel, expected), data) in enumerate(zip(shipment.inputs, inputs, strict=True)):
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            return NodeReport(node, Refusal(f"{where}.inputs[{j}].sha256",
                                            f"digest mismatch {on}: {rel!r} received digests to {actual}"))
        target = _inside(private / "inputs", rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o644)
        paths[rel] = target
    _open_up(private)
    # (4): the run, in this node's sandbox, then the seal and inputs again
    loaded = LoadedManifest(path=Path(shipment.manifest_shown), digest=shipment.manifest_digest,
                            model=shipment.manifest, bundles={repro.id: bundle}, inputs={repro.id: paths})
    plan = RunPlan(manifest=loaded, repro=repro, seed=shipment.seed)
    out_dir, log_dir = private / "out", private / "logs"
    out_dir.mkdir()
    log_dir.mkdir()
    sandbox = _sandbox(shipment.backend)
    request = request_for(plan, out_dir=out_dir, log_dir=log_dir)
    result = sandbox.run(request)
    void_reason = _changed_during_run(plan, StatCache(private))  # an empty cache: every byte hashed
    # (5): bytes back, with digests
    try:
        produced = hash_outputs(out_dir)
    except OutputError as e:  # the driver's judgement must see the same problem
        produced, result = {}, replace(result, output_problem=result.output_problem or str(e))
    outputs = {rel: (digest, (out_dir / rel).read_bytes()) for rel, digest in produced.items()}
    logs = {}
    for name, path in (("stdout", result.stdout_path), ("stderr", result.stderr_path)):
        if path.exists():
            data = path.read_bytes()
            logs[name] = (digest_of(data), data)
    return NodeReport(node, result=result, void_reason=void_reason, outputs=outputs, logs=logs,
                      fingerprint=dict(sandbox.fingerprint(request)))


def _unpack(archive: bytes, bundle: Path) -> None:
    bundle.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        tar.extractall(bundle, filter="data")


def _open_up(private: Path) -> None:
    """Make the unpacked tree readable by the sandbox's unprivileged user (the private root stays 0700)."""
    for dirpath, dirnames, filenames in os.walk(private):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                os.chmod(path, 0o755 if st.st_mode & 0o111 else 0o644)


def _inside(base: Path, rel: str) -> Path:
    """`base/rel`, refusing a path that is absolute or climbs out."""
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
        raise ValueError(f"path {rel!r} leaves its directory")
    return base.joinpath(*parts)


# --------------------------------------------------------------------------- driver: receiving


def receive(runner: Runner, plan: RunPlan, key: str, report: NodeReport) -> ObtainedRun:
    """Re-hash a node's bytes, judge the outcome from them, store and record the run.

    The run is recorded under the key of the environment it actually ran in
    (the node's fingerprint): on a cluster of identical nodes that is the
    driver's key. Raises `TransitError` for a refusal.
    Side effects: artifacts and one run record in the runner's ledger.
    """
    if report.refusal is not None:
        raise TransitError(report.refusal.message, file=plan.manifest.shown, field=report.refusal.field)
    assert report.result is not None
    void_reason = report.void_reason
    with tempfile.TemporaryDirectory(prefix="verify-received-") as tmp:
        out_dir, log_dir = Path(tmp) / "out", Path(tmp) / "logs"
        out_dir.mkdir()
        log_dir.mkdir()
        for rel, (digest, data) in report.outputs.items():
            if digest_of(data) != digest:
                void_reason = void_reason or f"void: output {rel} changed on its way from the node"
            target = _inside(out_dir, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        paths = {"stdout": log_dir / STDOUT_LOG, "stderr": log_dir / STDERR_LOG}
        for name, (digest, data) in report.logs.items():
            if digest_of(data) != digest:
                void_reason = void_reason or f"void: the {name} log changed on its way from the node"
            paths[name].write_bytes(data)
        result = replace(report.result, stdout_path=paths["stdout"], stderr_path=paths["stderr"])
        outcome = judge_outcome(result, out_dir)
        # As a local record: the fingerprint, the image digest the engine ran, and here the node.
        environment = dict(report.fingerprint)
        if result.image_digest:
            environment["image_digest"] = result.image_digest
        environment["node"] = dict(report.node)
        record_key = key if report.fingerprint == runner.environment(plan) else run_key(plan, report.fingerprint)
        return runner.store(plan, record_key, result, outcome, out_dir,
                            void_reason=void_reason, environment=environment)
