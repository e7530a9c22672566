"""Host-side supervision shared by the bwrap and process backends.

`supervise()` lets a waiting `launch.Slot` run its command (in its own
session, inside a per-run cgroup when one can be made, else under rlimits),
drains stdout/stderr into capped log files, enforces the wall-clock timeout
by killing the whole tree, and returns what happened. `output_area()` gives a size-capped directory for
`$REPRO_OUT` (a tmpfs when we may mount one) and `export_outputs()` copies
it into the caller's out dir.

Side effects: spawns processes, writes `stdout.log`/`stderr.log` into the
log dir, may mount and unmount a tmpfs under a temporary directory, creates
and removes cgroups (see `cgroup.py`).

Threat model: this module bounds resources and, with a cgroup (or inside
bwrap's pid namespace), guarantees that no process of a run outlives it;
under rlimits alone a process that leaves the session can survive (only the
unsealed process backend runs that way without a pid namespace). It does not
isolate: the bwrap namespaces do.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from verifier import cancel
from verifier.sandbox.base import STDERR_LOG, STDOUT_LOG, Limits, RunFacts, SandboxResult
from verifier.sandbox.cgroup import CgroupStats, RunCgroup, owner_alive
from verifier.sandbox.launch import MB, Slot

CHUNK = 64 * 1024
EOF_GRACE_S = 5.0
AREA_PREFIX = "verify-out-"


class CappedSink:
    """A log file that keeps the first `cap` bytes written to it and counts the rest."""

    def __init__(self, path: Path, cap: int):
        self.truncated = False
        self._file = path.open("wb")
        self._room = cap

    def write(self, chunk: bytes) -> None:
        if len(chunk) > self._room:
            self.truncated = True
            chunk = chunk[: self._room]
        if chunk:
            self._file.write(chunk)
            self._room -= len(chunk)

    def close(self) -> None:
        self._file.close()


def _kill_tree(proc: subprocess.Popen[bytes], group: RunCgroup | None) -> None:
    """SIGKILL the process group, then every process left in the cgroup.

    SIGKILL, not SIGTERM: a repro's children may ignore SIGTERM. With bwrap's
    pid namespace, killing the namespace's init kills the whole namespace.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if group is not None:
        group.kill_all()


def _terminate_tree(proc: subprocess.Popen[bytes], group: RunCgroup | None) -> None:
    """SIGTERM the process group and every process of the cgroup: a chance to stop cleanly."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    for pid in group.pids() if group is not None else []:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def supervise(
    slot: Slot, *, limits: Limits, log_dir: Path, max_log_bytes: int, rest: Sequence[str] = ()
) -> RunFacts:
    """Let the slot's command (plus `rest`, see `Slot.go`) run under `limits`; return the facts.

    Steps: (1) the limits on the waiting child, and go, (2) drain the logs
    and wait, killing the tree at the timeout, (3) kill leftovers and read
    the kernel's counters, (4) remove the cgroup. Raises `OSError` if the
    limits cannot be set.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    proc, group = slot.proc, slot.group
    out = CappedSink(log_dir / STDOUT_LOG, max_log_bytes)
    err = CappedSink(log_dir / STDERR_LOG, max_log_bytes)
    try:
        # (1): confined before it runs (a cgroup gives real limits and the peak memory).
        slot.go(limits, rest)
        started, t0 = datetime.now(UTC), time.monotonic()
        # (2): one loop drains both pipes and notices the exit or the deadline.
        timed_out, cancelled = _pump(proc, group, out, err, deadline=t0 + limits.timeout_s)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        ended, duration = datetime.now(UTC), time.monotonic() - t0
        # (3): nothing of the run survives it.
        if group is not None:
            group.kill_all()
        stats = group.stats() if group is not None else None
    finally:
        out.close()
        err.close()
        # (4)
        if group is not None:
            group.close()
    if cancelled:
        raise cancel.Cancelled("the run was stopped: the verification was interrupted")
    exit_code = os.waitstatus_to_exitcode(status)
    return RunFacts(
        exit_code=exit_code if exit_code >= 0 else None,
        signal=-exit_code if exit_code < 0 else None,
        timed_out=timed_out,
        limit=_limit_hit(exit_code, stats, limits, _tail(log_dir / STDERR_LOG) if stats is None else b""),
        started=started, ended=ended, duration_s=duration,
        peak_memory_kb=stats.peak_memory_kb if stats else usage.ru_maxrss,
        cpu_time_s=stats.cpu_time_s if stats and stats.cpu_time_s is not None
        else usage.ru_utime + usage.ru_stime,
        stdout_path=log_dir / STDOUT_LOG, stderr_path=log_dir / STDERR_LOG,
        stdout_truncated=out.truncated, stderr_truncated=err.truncated,
    )


def _tail(path: Path, size: int = 4096) -> bytes:
    with contextlib.suppress(OSError), path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - size))
        return f.read()
    return b""


def _pump(
    proc: subprocess.Popen[bytes], group: RunCgroup | None, out: CappedSink, err: CappedSink,
    *, deadline: float,
) -> tuple[bool, bool]:
    """Drain stdout/stderr into their sinks until the child exits and the pipes close.

    Returns whether the deadline passed (the tree is then killed), and
    whether the verification was interrupted while the child ran (`verifier.cancel`:
    the tree gets SIGTERM, then SIGKILL after `cancel.GRACE_S`). Polls the
    pipes and a pidfd together, so a quick repro costs no thread start-up and
    no sleep. Reading past the caps matters: a repro blocked on a full pipe
    would look like a timeout. Once the child has exited, leftover processes
    still holding the pipes are killed (cgroup), or given `EOF_GRACE_S`.
    """
    assert proc.stdout is not None and proc.stderr is not None
    sinks = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    pidfd = os.pidfd_open(proc.pid)
    poller = select.poll()
    wake = cancel.wake_fd()
    for fd in (*sinks, pidfd, wake):
        poller.register(fd, select.POLLIN)
    timed_out, cancelled, exited_at, kill_at = False, False, None, None
    try:
        while sinks or exited_at is None:
            now = time.monotonic()
            if not timed_out and exited_at is None and now >= deadline:
                timed_out = True
                _kill_tree(proc, group)
            if kill_at is not None and exited_at is None and now >= kill_at:
                kill_at = None
                _kill_tree(proc, group)  # it ignored SIGTERM
            # An interrupted run's logs are discarded: no need to wait long for its pipes.
            eof_grace = 0.2 if cancelled else EOF_GRACE_S
            if exited_at is not None and now - exited_at > eof_grace:
                break  # a process outside our reach holds the pipes: stop reading
            wait_s = (deadline - now) if not timed_out and exited_at is None else eof_grace
            if kill_at is not None:
                wait_s = min(wait_s, kill_at - now)
            for fd, _ in poller.poll(max(1, int(wait_s * 1000) + 1)):
                if fd == wake:
                    poller.unregister(wake)
                    if exited_at is None and not timed_out:
                        cancelled = True
                        _terminate_tree(proc, group)
                        kill_at = time.monotonic() + cancel.GRACE_S
                elif fd == pidfd:
                    poller.unregister(pidfd)
                    exited_at = time.monotonic()
                    if group is not None:
                        group.kill_all()  # children that outlive the repro
                elif chunk := os.read(fd, CHUNK):
                    sinks[fd].write(chunk)
                else:
                    poller.unregister(fd)
                    del sinks[fd]
    finally:
        os.close(pidfd)
        proc.stdout.close()
        proc.stderr.close()
    return timed_out, cancelled


def _limit_hit(
    exit_code: int, stats: CgroupStats | None, limits: Limits, stderr_tail: bytes
) -> str | None:
    """Which limit the kernel says the run hit, if any (memory wins over processes).

    A memory cgroup counts a "failure" whenever usage touches the limit, even
    when reclaiming page cache fixes it; so without an OOM kill, only a failed
    run whose peak came within 5% of the limit is blamed on memory.
    """
    if exit_code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return "output"
    if stats is None:
        # Under RLIMIT_AS an allocation fails instead: Python dies of MemoryError.
        return "memory" if exit_code != 0 and b"MemoryError" in stderr_tail else None
    near_limit = (stats.peak_memory_kb or 0) >= limits.memory_mb * 1024 * 0.95
    if stats.oom_killed or (exit_code != 0 and stats.memory_limit_hit and near_limit):
        return "memory"
    return "processes" if stats.pids_limit_hit else None


def to_result(
    raw: RunFacts, *, backend: str, sealed: bool, limits: Limits, output_full: bool,
    output_problem: str | None, signal_as_128: bool = False,
) -> SandboxResult:
    """The backend's `SandboxResult` for a supervised run.

    `signal_as_128`: the supervised program (bwrap) reports a child killed by
    signal n as exit status 128 + n; turn that back into a signal.
    """
    facts = raw
    if signal_as_128 and raw.exit_code is not None and raw.exit_code > 128:
        facts = replace(facts, exit_code=None, signal=raw.exit_code - 128)
    if output_full and raw.limit is None:
        facts = replace(facts, limit="output")
    return SandboxResult.of(
        facts, backend=backend, sealed=sealed, limits=limits, output_problem=output_problem
    )


_LIBC = ctypes.CDLL(None, use_errno=True)
MNT_DETACH = 2
MS_NOSUID, MS_NODEV = 2, 4


def _mount_tmpfs(path: Path, options: str) -> bool:
    """mount(2) a tmpfs at `path` directly (spawning mount(8) cost ~10 ms)."""
    ok = _LIBC.mount(
        b"verify-out", str(path).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()
    ) == 0
    return bool(ok)


def _umount(path: Path) -> None:
    _LIBC.umount2(str(path).encode(), MNT_DETACH)


@contextlib.contextmanager
def output_area(
    max_output_mb: int, *, owner_uid: int | None = None, later: Callable[[Callable[[], None]], None] | None = None,
) -> Iterator[tuple[Path, bool]]:
    """A private directory for `$REPRO_OUT`, and whether the cap is enforced by a tmpfs.

    As root we mount a tmpfs with `size=` there, so writing past the cap
    fails with ENOSPC at once; elsewhere the caller relies on RLIMIT_FSIZE and
    the post-run size check. `later` runs the unmount and removal off the
    caller's path (an unmount waits for an RCU grace period, ~9 ms here).
    Side effects: mkdtemp, mount/umount, rmtree.
    """
    _sweep_stale_areas()
    base = Path(tempfile.mkdtemp(prefix=f"{AREA_PREFIX}{os.getpid()}-"))
    area = base / "out"
    area.mkdir()
    mounted = False
    if os.geteuid() == 0:
        mounted = _mount_tmpfs(area, f"size={max_output_mb * MB},mode=0755")

    def remove() -> None:
        if mounted:
            _umount(area)
        shutil.rmtree(base, ignore_errors=True)

    try:
        if owner_uid is not None:
            os.chown(area, owner_uid, owner_uid)
        yield area, mounted
    finally:
        (later or (lambda job: job()))(remove)


@functools.cache
def _sweep_stale_areas() -> None:
    """Unmount and remove output areas left by a verifier killed mid-run (SIGKILL skips finally).

    Only areas whose creating process is gone (its pid is in the name). Once
    per process: scanning the temp directory before every run cost about half
    a millisecond a run, and what a killed verifier left is there at start.
    """
    tmp = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in os.scandir(tmp):
            if entry.name.startswith(AREA_PREFIX) and not owner_alive(entry.name, AREA_PREFIX):
                _umount(Path(entry.path) / "out")
                shutil.rmtree(entry.path, ignore_errors=True)


def area_full(area: Path, mounted: bool, max_output_mb: int) -> bool:
    """True when the repro filled (or exceeded) its output cap."""
    if mounted:
        st = os.statvfs(area)
        return st.f_bavail * st.f_frsize < CHUNK
    return tree_size(area) > max_output_mb * MB


def tree_size(root: Path) -> int:
    """Total bytes of regular files under `root` (symlinks not followed)."""
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(dirpath, name))
                if stat.S_ISREG(st.st_mode):
                    total += st.st_size
    return total


MAX_OUTPUT_DEPTH = 32
MAX_OUTPUT_ENTRIES = 100_000


def export_outputs(area: Path, out_dir: Path) -> str | None:
    """Copy the repro's regular files and directories into `out_dir`; the first problem, if any.

    An output must be plain data: a symlink, FIFO, socket or device is not
    copied but reported ("$REPRO_OUT/x is a symlink"), as is nesting deeper
    than `MAX_OUTPUT_DEPTH` or more than `MAX_OUTPUT_ENTRIES` entries (which
    would exhaust a recursive walk or the path length). The walk never
    follows a link, and files are opened with O_NOFOLLOW.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    problem: str | None = None
    stack: list[PurePosixPath] = [PurePosixPath()]
    seen = 0
    while stack:
        rel_dir = stack.pop()
        for entry in sorted(os.scandir(area / rel_dir), key=lambda e: e.name):
            rel, seen = rel_dir / entry.name, seen + 1
            kind = _kind(entry)
            if seen > MAX_OUTPUT_ENTRIES:
                return problem or f"$REPRO_OUT holds more than {MAX_OUTPUT_ENTRIES} entries"
            if kind == "directory" and len(rel.parts) >= MAX_OUTPUT_DEPTH:
                problem = problem or f"$REPRO_OUT/{rel} is nested deeper than {MAX_OUTPUT_DEPTH} levels"
            elif kind == "directory":
                (out_dir / rel).mkdir()
                stack.append(rel)
            elif kind == "file":
                _copy_regular(area / rel, out_dir / rel)
            else:
                problem = problem or f"$REPRO_OUT/{rel} is a {kind}: outputs must be regular files"
    return problem


def _kind(entry: os.DirEntry[str]) -> str:
    st = entry.stat(follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    return "FIFO" if stat.S_ISFIFO(st.st_mode) else "special file"


def _copy_regular(src: Path, dst: Path) -> None:
    # O_NOFOLLOW: the repro is gone, but never open through a link regardless.
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fin, dst.open("wb") as fout:
        shutil.copyfileobj(fin, fout, CHUNK * 16)
