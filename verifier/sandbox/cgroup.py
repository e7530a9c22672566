"""A per-run cgroup (v1) for host-side backends: real memory, pids and CPU limits.

Side effects: creates one directory per controller under this process's own
cgroup (e.g. `/sys/fs/cgroup/memory/<ours>/verify-<id>`), moves the sandboxed
process tree into it, kills whatever is left in it and removes it on
`close()`. Used only when the controllers are mounted and writable (root on
a cgroup v1 host); callers fall back to rlimits otherwise.

Threat model: the cgroup bounds resources and lets us find and kill every
process of a run; isolation itself comes from the namespaces (bwrap).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
CFS_PERIOD_US = 100_000
PREFIX = "verify-"


@dataclass(frozen=True)
class CgroupStats:
    """What the kernel counted for a run."""

    peak_memory_kb: int | None
    cpu_time_s: float | None
    oom_killed: bool
    memory_limit_hit: bool
    pids_limit_hit: bool


def _own_path(controller: str) -> str:
    """This process's cgroup path in a v1 hierarchy ("/" when not found)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if controller in names.split(","):
                return path
    return "/"


def owner_alive(name: str, prefix: str) -> bool:
    """Whether the process whose pid is embedded in `name` (`<prefix><pid>-<rand>`) still runs.

    Names that do not parse count as alive: never remove what we cannot attribute.
    """
    try:
        pid = int(name[len(prefix):].split("-", 1)[0])
        os.kill(pid, 0)
    except (ValueError, PermissionError):
        return True
    except ProcessLookupError:
        return False
    return True


def _sweep_stale(parent: Path) -> None:
    """Remove empty run cgroups left by a verifier that was killed mid-run.

    Only those whose creating process is gone (its pid is in the name);
    rmdir fails on a cgroup that still has processes, so nothing live goes.
    """
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            if entry.name.startswith(PREFIX) and not owner_alive(entry.name, PREFIX):
                with contextlib.suppress(OSError):
                    os.rmdir(entry.path)


def read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def read_keyed(path: Path, key: str) -> int | None:
    """Read `key N` from a flat keyed file such as memory.oom_control or pids.events."""
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key:
                return int(parts[1])
    return None


class RunCgroup:
    """One cgroup per controller for one run; create with `RunCgroup.create`."""

    def __init__(self, dirs: dict[str, Path]):
        self.dirs = dirs

    @classmethod
    def create(cls) -> RunCgroup | None:
        """Make the run's cgroups (limits come later: `set_limits`); None if memory or pids is unusable.

        Side effects: mkdir under /sys/fs/cgroup/<controller>/...
        """
        name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        dirs: dict[str, Path] = {}
        for controller in CONTROLLERS:
            base = CGROUP_ROOT / controller
            if not (base / "cgroup.procs").exists():
                continue
            parent = base / _own_path(controller).lstrip("/")
            _sweep_stale(parent)
            path = parent / name
            try:
                path.mkdir()
            except OSError:
                continue
            dirs[controller] = path
        group = cls(dirs)
        if "memory" not in dirs or "pids" not in dirs:
            group.close()
            return None
        return group

    def set_limits(self, *, memory_mb: int, max_procs: int, cpus: float) -> None:
        """Memory (and memory+swap), pids and the CFS quota. Raises `OSError` if one cannot be set."""
        mem = self.dirs["memory"]
        (mem / "memory.limit_in_bytes").write_text(str(memory_mb * 1024 * 1024))
        # No swap here; where there is, memsw keeps the limit from leaking into it.
        with contextlib.suppress(OSError):
            (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_mb * 1024 * 1024))
        (self.dirs["pids"] / "pids.max").write_text(str(max_procs))
        if "cpu" in self.dirs and cpus > 0:
            quota = max(1000, int(cpus * CFS_PERIOD_US))
            (self.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))

    def attach(self, pid: int) -> None:
        """Move process `pid` into every controller (before it forks: see launch.SHIM).

        The first write costs a kernel RCU grace period (see launch.py), hence the slots.
        """
        for path in self.dirs.values():
            (path / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        """Every process still in the run's cgroup."""
        path = self.dirs.get("pids") or next(iter(self.dirs.values()), None)
        if path is None:
            return []
        with contextlib.suppress(OSError):
            return [int(p) for p in (path / "cgroup.procs").read_text().split()]
        return []

    def kill_all(self, wait_s: float = 5.0) -> None:
        """SIGKILL every process in the cgroup until it is empty (or `wait_s` passes).

        Freshly forked children may appear while we kill, hence the loop. The
        wait between rounds starts at half a millisecond and doubles up to
        10 ms: a finished run's processes are usually gone within a
        millisecond, and a flat 10 ms sleep was most of bwrap's per-run
        overhead (bench/sandbox.py).
        """
        deadline = time.monotonic() + wait_s
        pause = 0.0005
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    def stats(self) -> CgroupStats:
        """Peak memory, CPU time and which limits were hit."""
        mem = self.dirs["memory"]
        peak = read_int(mem / "memory.max_usage_in_bytes")
        cpu_ns = read_int(self.dirs["cpuacct"] / "cpuacct.usage") if "cpuacct" in self.dirs else None
        oom_kills = read_keyed(mem / "memory.oom_control", "oom_kill") or 0
        return CgroupStats(
            peak_memory_kb=peak // 1024 if peak is not None else None,
            cpu_time_s=cpu_ns / 1e9 if cpu_ns is not None else None,
            oom_killed=oom_kills > 0,
            memory_limit_hit=(read_int(mem / "memory.failcnt") or 0) > 0,
            pids_limit_hit=(read_keyed(self.dirs["pids"] / "pids.events", "max") or 0) > 0,
        )

    def close(self) -> None:
        """Kill what is left and remove the cgroup directories.

        rmdir fails with EBUSY while dying tasks are still charged, so retry
        briefly.
        """
        self.kill_all()
        for path in self.dirs.values():
            for _ in range(200):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)
        self.dirs = {}


def remove_everywhere(path: str) -> None:
    """rmdir `path` (relative to each hierarchy's root) and its empty children, in every hierarchy.

    For the per-container parents an engine makes on our behalf (see
    `docker.py`): it creates them in every hierarchy, with a `conmon` child
    for podman's monitor, and removes neither.
    """
    with contextlib.suppress(OSError):
        for hierarchy in os.scandir(CGROUP_ROOT):
            top = Path(hierarchy.path) / path.lstrip("/")
            if not top.is_dir():
                continue
            for dirpath, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
                _rmdir_retrying(Path(dirpath))


def _rmdir_retrying(path: Path) -> None:
    for _ in range(100):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.005)  # dying tasks still charged (EBUSY)


def sweep_stale_parents(prefix: str) -> None:
    """Remove top-level `<prefix><pid>-...` cgroups whose verifier is gone (killed mid-run)."""
    with contextlib.suppress(OSError):
        names = {entry.name for entry in os.scandir(CGROUP_ROOT / "pids") if entry.name.startswith(prefix)}
        for name in names:
            if not owner_alive(name, prefix):
                remove_everywhere(name)
