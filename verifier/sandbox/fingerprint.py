"""The environment fingerprint: what a run ran on, so a changed environment is a new run.

For host-interpreter backends (bwrap, process) it names the interpreter
(implementation, version, path), a digest of the installed distributions
(sorted `name==version` lines), the OS, the CPU model and, when
`nvidia-smi` is on PATH, the GPU model and driver. Container backends add
the image digest instead of the interpreter (see `docker.py`).

It is asked for every claim, cached or not, so it must be cheap: computed
once per process (`functools.cache`), and kept on disk keyed by the
interpreter, the mtimes of its `sys.path` directories (installing or removing
a distribution touches site-packages) and the boot id (a driver update means
a reboot). Side effects: reads and writes one small JSON file under
`$VERIFY_CACHE_DIR` (default `~/.cache/verify`); runs `nvidia-smi` on a
cache miss.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from verifier.digest import bytes_digest, hex_of
from verifier.store import atomic_write

FINGERPRINT_VERSION = 2


def cache_dir() -> Path:
    """Where the fingerprint cache lives ($VERIFY_CACHE_DIR, else ~/.cache/verify)."""
    env = os.environ.get("VERIFY_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "verify"


def interpreter_paths() -> list[str]:
    """The `sys.path` entries inside the interpreter's prefixes: what a sandboxed repro imports from.

    The caller's working directory and script directory (`sys.path[0]`) are
    left out: a repro never sees them, and counting them would make the
    fingerprint, and so every run key, depend on where `verify` was started.
    """
    prefixes = tuple({os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    return [entry for entry in sys.path if entry and os.path.realpath(entry).startswith(prefixes)]


def interpreter_executable() -> str:
    """The interpreter's binary, links resolved.

    `python -m verifier` and `python3 -m verifier` are the same interpreter
    under two names; the fingerprint, and so every run key, must not tell
    them apart, or one misses the other's cached runs.
    """
    return os.path.realpath(sys.executable)


def _cache_key() -> str:
    """Digest of what invalidates the cached host facts."""
    parts = [str(FINGERPRINT_VERSION), interpreter_executable(), sys.version]
    for entry in interpreter_paths():
        with contextlib.suppress(OSError):
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    return hex_of(bytes_digest("\n".join(parts).encode()))[:32]


def packages_digest() -> tuple[str, int]:
    """sha256 of the sorted `name==version` lines of the installed distributions."""
    lines = sorted(
        {f"{(d.metadata['Name'] or '?').lower()}=={d.version}" for d in metadata.distributions(path=interpreter_paths())}
    )
    return bytes_digest("\n".join(lines).encode()), len(lines)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (the platform's processor elsewhere)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def gpu_info() -> list[dict[str, str]]:
    """Model and driver of each GPU nvidia-smi reports; empty without nvidia-smi."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, _, driver = line.partition(",")
        gpus.append({"model": name.strip(), "driver": driver.strip()})
    return gpus


def machine_facts() -> dict[str, Any]:
    """OS, CPU and GPU: shared by every backend."""
    return {
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "gpus": gpu_info(),
    }


def _compute_host() -> dict[str, Any]:
    digest, count = packages_digest()
    return {
        "interpreter": {
            "implementation": sys.implementation.name,
            "version": platform.python_version(),
            "path": interpreter_executable(),
        },
        "packages": {"digest": digest, "count": count},
        **machine_facts(),
    }


@functools.cache
def host_facts() -> dict[str, Any]:
    """Interpreter, packages and machine facts, from the disk cache when it is fresh."""
    path = cache_dir() / f"fingerprint-{_cache_key()}.json"
    with contextlib.suppress(OSError, ValueError):
        cached = json.loads(path.read_text())
        if isinstance(cached, dict):
            return cached
    facts = _compute_host()
    with contextlib.suppress(OSError):  # atomic: concurrent workers never read half a file
        atomic_write(path, json.dumps(facts, sort_keys=True).encode())
    return facts


def host_fingerprint(backend: str) -> dict[str, Any]:
    """The fingerprint of a backend that runs the host's own interpreter."""
    return copy.deepcopy({"backend": backend, **host_facts()})
