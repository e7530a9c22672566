"""UnsafeProcessSandbox: run a repro as a plain host process. NOT a sandbox.

Only on the user's explicit request (`--backend process`); its results say
`sealed: false`. It keeps the contract's layout and environment as far as
the host allows: a private directory holds `work/<bundle name>` (a symlink
to the bundle, so `PYTHONPATH=<private>/work` makes the bundle importable as
a package), `inputs/` (symlinks), `params.json` and `tmp/`; the working
directory is the bundle; the environment is the contract's variables only,
with host paths. The timeout, the log caps and the cgroup or rlimits still
apply, and the output area is still size-capped.

Threat model: none. The repro can read and write anything the caller can;
use it only for code you trust.

Side effects: spawns the repro, writes logs and outputs, uses and removes a
temporary directory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from verifier.errors import SandboxError
from verifier.sandbox.base import Sandbox, SandboxRequest, SandboxResult
from verifier.sandbox.bwrap import input_target, sandbox_path
from verifier.sandbox.fingerprint import host_fingerprint
from verifier.sandbox.launch import Slot
from verifier.sandbox.supervise import (
    area_full,
    export_outputs,
    output_area,
    supervise,
    to_result,
)


def _layout(request: SandboxRequest, private: Path, area: Path) -> dict[str, str]:
    """Build the private layout; return the environment that points into it."""
    work = private / "work"
    work.mkdir()
    (work / request.bundle_name).symlink_to(request.bundle.resolve(), target_is_directory=True)
    inputs = private / "inputs"
    inputs.mkdir()
    for host_file, rel in request.inputs:
        # input_target() refuses absolute and `..` paths; strip its /inputs prefix.
        target = inputs / input_target(rel).split("/", 2)[2]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(host_file.resolve())
    params = private / "params.json"
    params.write_bytes(request.params_json())
    tmp = private / "tmp"
    tmp.mkdir()
    env = request.environment(path=sandbox_path())
    env.update(
        HOME=str(tmp), TMPDIR=str(tmp), PYTHONPATH=str(work), REPRO_OUT=str(area),
        REPRO_INPUTS=str(inputs), REPRO_PARAMS=str(params),
    )
    return env


class UnsafeProcessSandbox(Sandbox):
    """Unsealed backend: the repro runs on the host with no isolation."""

    name = "process"
    sealed = False

    def available(self) -> str | None:
        return None

    def fingerprint(self, request: SandboxRequest | None = None) -> dict[str, Any]:
        return host_fingerprint(self.name)

    def run(self, request: SandboxRequest) -> SandboxResult:
        """Run the request on the host. Raises `SandboxError` if it cannot start."""
        limits = request.limits
        with tempfile.TemporaryDirectory(prefix="verify-proc-") as tmp, output_area(
            limits.max_output_mb
        ) as (area, mounted):
            env = _layout(request, Path(tmp), area)
            try:
                slot = Slot.spawn(request.entrypoint, env=env, cwd=request.bundle.resolve())
                raw = supervise(slot, limits=limits, log_dir=request.log_dir, max_log_bytes=request.max_log_bytes)
            except OSError as e:
                raise SandboxError(f"could not start {request.entrypoint[0]!r}: {e}") from e
            full = area_full(area, mounted, limits.max_output_mb)
            problem = export_outputs(area, request.out_dir)
        return to_result(
            raw, backend=self.name, sealed=self.sealed, limits=limits, output_full=full,
            output_problem=problem,
        )
