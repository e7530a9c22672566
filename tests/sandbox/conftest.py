"""Fixture factories for sandbox unit tests: fake results and tiny bundles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from verifier.sandbox.base import Limits, SandboxRequest, SandboxResult


@pytest.fixture
def make_result(tmp_path: Path) -> Callable[..., SandboxResult]:
    """A `SandboxResult` of a clean exit; keyword arguments override fields."""
    now = datetime.now(UTC)
    base = SandboxResult(
        backend="fake", sealed=True, exit_code=0, signal=None, timed_out=False, limit=None,
        started=now, ended=now, duration_s=0.1, peak_memory_kb=1000, cpu_time_s=0.05,
        stdout_path=tmp_path / "stdout.log", stderr_path=tmp_path / "stderr.log",
        stdout_truncated=False, stderr_truncated=False, image_digest=None, limits=Limits(),
    )

    def make(**changes: Any) -> SandboxResult:
        return replace(base, **changes)

    return make


@pytest.fixture
def make_request(tmp_path: Path) -> Callable[..., SandboxRequest]:
    """A request for bundle `pkg` whose module `main` runs `code`."""

    def make(code: str, *, limits: Limits | None = None, **changes: Any) -> SandboxRequest:
        bundle = tmp_path / "pkg"
        bundle.mkdir(exist_ok=True)
        (bundle / "__init__.py").write_text("")
        (bundle / "main.py").write_text(code)
        request = SandboxRequest(
            bundle=bundle, entrypoint=("python", "-m", "pkg.main"), params={"k": 2}, inputs=(),
            seed=11, limits=limits or Limits(timeout_s=30, memory_mb=256),
            out_dir=tmp_path / "out", log_dir=tmp_path / "logs",
        )
        return replace(request, **changes)

    return make
