"""Fixtures for the adversarial suite: real backends, hostile repros written per test.

Each backend is a parameter; a backend whose engine is missing here is
skipped with the reason it gives, never faked. For docker, `DOCKER_HOST`
(or podman's socket at /run/podman.sock) and the image `$VERIFY_TEST_IMAGE`
(scripts/build-image.sh builds it) must be present.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from verifier.sandbox import judge_outcome
from verifier.sandbox.base import DEFAULT_LOG_BYTES, Limits, Sandbox, SandboxRequest, SandboxResult
from verifier.sandbox.bwrap import BwrapSandbox
from verifier.sandbox.docker import DockerSandbox, default_image
from verifier.sandbox.outcome import RunOutcome

PODMAN_SOCKET = "/run/podman.sock"
# Every hostile repro starts with this: `done(obj)` writes results.json;
# `attempt(fn)` returns "ok: ..." or the error name, never raising.
PRELUDE = """\
import json, os, sys


def done(obj):
    with open(os.path.join(os.environ["REPRO_OUT"], "results.json"), "w") as f:
        json.dump(obj, f)


def attempt(fn):
    try:
        return "ok: " + repr(fn())[:200]
    except BaseException as e:
        return type(e).__name__
"""


def _docker_backend() -> DockerSandbox:
    url = os.environ.get("DOCKER_HOST")
    if url is None and os.path.exists(PODMAN_SOCKET):
        url = f"unix://{PODMAN_SOCKET}"
    return DockerSandbox(base_url=url)


def _docker_unavailable() -> str | None:
    backend = _docker_backend()
    return backend.available() or backend.image_missing(default_image())


_BWRAP_WHY = BwrapSandbox().available()
_DOCKER_WHY = _docker_unavailable()

BACKENDS = [
    pytest.param("bwrap", marks=[pytest.mark.bwrap, pytest.mark.skipif(
        _BWRAP_WHY is not None, reason=f"bwrap unavailable: {_BWRAP_WHY}")]),
    pytest.param("docker", marks=[pytest.mark.docker, pytest.mark.skipif(
        _DOCKER_WHY is not None, reason=f"docker unavailable: {_DOCKER_WHY}")]),
]


@dataclass
class Run:
    result: SandboxResult
    outcome: RunOutcome
    stdout: bytes
    stderr: bytes

    @property
    def results(self) -> dict[str, Any]:
        assert self.outcome.results is not None, (self.outcome, self.stderr[-2000:])
        return self.outcome.results


@dataclass
class Harness:
    """Writes a bundle under a stand-in verification root and runs it."""

    backend: Sandbox
    root: Path
    module: str

    @property
    def bundle(self) -> Path:
        return self.root / "bundle"

    def run(self, code: str, *, limits: Limits | None = None,
            inputs: tuple[tuple[Path, str], ...] = (), files: dict[str, str] | None = None,
            entrypoint: tuple[str, ...] | None = None, max_log_bytes: int = DEFAULT_LOG_BYTES) -> Run:
        self.bundle.mkdir(exist_ok=True)
        (self.bundle / "__init__.py").write_text("")
        (self.bundle / f"{self.module}.py").write_text(PRELUDE + textwrap.dedent(code))
        for rel, text in (files or {}).items():
            (self.bundle / rel).write_text(text)
        run_dir = self.root.parent / f"run-{uuid.uuid4().hex[:6]}"
        request = SandboxRequest(
            bundle=self.bundle, entrypoint=entrypoint or ("python", "-m", f"bundle.{self.module}"),
            params={"n": 1}, inputs=inputs, seed=7,
            limits=limits or Limits(timeout_s=60, memory_mb=512, max_procs=64),
            out_dir=run_dir / "out", log_dir=run_dir / "logs",
            image=default_image() if self.backend.name == "docker" else None, max_log_bytes=max_log_bytes,
        )
        result = self.backend.run(request)
        return Run(result, judge_outcome(result, request.out_dir),
                   result.stdout_path.read_bytes(), result.stderr_path.read_bytes())


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    backend: Sandbox = BwrapSandbox() if request.param == "bwrap" else _docker_backend()
    root = tmp_path / "root"
    root.mkdir()
    # A unique module name doubles as a marker in every process's cmdline.
    return Harness(backend=backend, root=root, module=f"m_{uuid.uuid4().hex[:12]}")


def _processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry))
    return found


@pytest.fixture
def processes_with() -> Callable[[str], list[int]]:
    """A finder of host pids whose command line contains a marker."""
    return _processes_with
