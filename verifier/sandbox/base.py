"""The sandbox interface: what a run asks for, what it gives back, and the ABC.

A `Sandbox` runs one repro entrypoint as CONTRACT.md ("How a repro runs")
describes and *records* what happened in a `SandboxResult`; it never judges
the run (that is `outcome.judge_outcome`, then `check.py`). `run` raises
`SandboxError` only when the sandbox itself broke (engine gone, image
missing), never because the repro misbehaved.

Layout every backend gives the repro (paths inside the sandbox):

* `/work/<bundle name>`: the bundle, read-only, and the working directory;
  `PYTHONPATH=/work`, so `python -m <bundle name>.<module>` imports the bundle
  as a package, and `python -m <module>` finds modules at the bundle top
  (the working directory is on `sys.path` for `-m`).
* `$REPRO_INPUTS=/inputs`: each input at its relative path, read-only.
* `$REPRO_OUT=/out`: empty and writable, size-capped.
* `$REPRO_PARAMS=/repro/params.json`: the params as JSON, read-only.
* `/tmp`: private and writable; `HOME=/tmp`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from verifier.models import Limits as Limits  # the one Limits type; re-exported here

# Paths inside the sandbox (see the module docstring).
WORK_DIR = "/work"
INPUTS_DIR = "/inputs"
OUT_DIR = "/out"
PARAMS_FILE = "/repro/params.json"
SANDBOX_TMP = "/tmp"

STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"
DEFAULT_LOG_BYTES = 1_000_000


@dataclass(frozen=True)
class SandboxRequest:
    """Everything a backend needs to run one repro; paths are on the host."""

    bundle: Path
    entrypoint: tuple[str, ...]
    params: Mapping[str, Any]
    inputs: tuple[tuple[Path, str], ...]
    seed: int
    limits: Limits
    out_dir: Path
    log_dir: Path
    image: str | None = None
    # Not a manifest limit: how much of each of stdout and stderr is kept.
    max_log_bytes: int = DEFAULT_LOG_BYTES

    @property
    def bundle_name(self) -> str:
        """The bundle's directory name, which is also its package name inside."""
        return self.bundle.resolve().name

    def environment(self, *, path: str) -> dict[str, str]:
        """The complete environment of the repro: the contract's variables, nothing else."""
        return {
            "PATH": path,
            "HOME": SANDBOX_TMP,
            "TMPDIR": SANDBOX_TMP,
            "LANG": "C.UTF-8",
            "PYTHONPATH": WORK_DIR,
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "REPRO_OUT": OUT_DIR,
            "REPRO_INPUTS": INPUTS_DIR,
            "REPRO_PARAMS": PARAMS_FILE,
            "REPRO_SEED": str(self.seed),
        }

    def params_json(self) -> bytes:
        """The params file's bytes (sorted keys, so equal params give equal bytes)."""
        return json.dumps(dict(self.params), sort_keys=True, indent=2).encode()


@dataclass(frozen=True)
class RunFacts:
    """What happened during one run, as the supervisor or the engine saw it: no judgement.

    `limit` names a limit the sandbox saw the repro hit ("memory",
    "processes", "output"); `timed_out` is the wall-clock limit.
    """

    exit_code: int | None
    signal: int | None
    timed_out: bool
    limit: str | None
    started: datetime
    ended: datetime
    duration_s: float
    peak_memory_kb: int | None
    cpu_time_s: float | None
    stdout_path: Path
    stderr_path: Path
    stdout_truncated: bool
    stderr_truncated: bool


@dataclass(frozen=True)
class SandboxResult(RunFacts):
    """A run's facts plus what the backend adds: which backend, whether sealed, the image.

    `limits` are the limits the run had (for the outcome's reasons);
    `output_problem` says why something in `$REPRO_OUT` was not copied out
    (a symlink, a FIFO, too deep), which makes the outputs invalid.
    """

    backend: str
    sealed: bool
    image_digest: str | None = None
    limits: Limits = field(default_factory=Limits)
    output_problem: str | None = None

    @classmethod
    def of(cls, facts: RunFacts, **extra: Any) -> SandboxResult:
        """The result of `facts` with the backend's fields (`backend`, `sealed`, ...) in `extra`."""
        own = {f.name: getattr(facts, f.name) for f in fields(RunFacts)}
        return cls(**own, **extra)


class Sandbox(ABC):
    """A way to run a repro. Subclasses set `name` and `sealed`."""

    name: str
    sealed: bool

    @abstractmethod
    def available(self) -> str | None:
        """None when this backend can run here, else a one-line reason why not."""

    @abstractmethod
    def fingerprint(self, request: SandboxRequest | None = None) -> dict[str, Any]:
        """The environment fingerprint (cheap after the first call: cached)."""

    @abstractmethod
    def run(self, request: SandboxRequest) -> SandboxResult:
        """Run the request's entrypoint and record the result.

        Raises `SandboxError` if the sandbox itself broke.
        Side effects: writes logs to `request.log_dir` and the repro's files to
        `request.out_dir`.
        """
