"""Host-side supervision shared by the bwrap and process backends.

`supervise()` starts a command in its own session, inside a per-run cgroup
when one can be made (else under rlimits), drains stdout/stderr into capped
log files, enforces the wall-clock timeout by killing the whole tree, and
returns what happened. `output_area()` gives a size-capped directory for
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
import os
import resource
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from verifier import cancel
from verifier.sandbox.base import STDERR_LOG, STDOUT_LOG, Limits, SandboxResult
from verifier.sandbox.cgroup import CgroupStats, RunCgroup, owner_alive

MB = 1024 * 1024
CHUNK = 64 * 1024
EOF_GRACE_S = 5.0
AREA_PREFIX = "verify-out-"


@dataclass(frozen=True)
class Supervised:
    """The raw facts of one supervised run."""

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


# The command starts behind this shim, which waits on its stdin until the parent has
# put it into the cgroup and set its rlimits, then execs the real command. The
# parent thus confines the child before it can fork, without a `preexec_fn`
# (which forces fork() over vfork() and cost 6-15 ms per run here).
SHIM = ("/bin/sh", "-c", 'read _ || exit 125; exec "$@" </dev/null', "verify-shim")


def _confine(pid: int, limits: Limits, group: RunCgroup | None) -> None:
    """Put the (waiting) child into the run's cgroup, or fall back to rlimits.

    RLIMIT_FSIZE caps any single file at the output cap; RLIMIT_CORE=0 keeps
    core dumps from being written. Without a cgroup, memory falls back to
    RLIMIT_AS and processes to RLIMIT_NPROC (not enforced for root: see
    setrlimit(2)). rlimits are inherited across exec and fork.
    """
    fsize = (limits.max_output_mb + 1) * MB
    resource.prlimit(pid, resource.RLIMIT_CORE, (0, 0))
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (fsize, fsize))
    if group is not None:
        group.attach(pid)
        return
    mem = limits.memory_mb * MB
    resource.prlimit(pid, resource.RLIMIT_AS, (mem, mem))
    # RLIMIT_NPROC counts every process of the uid, not just this run's.
    nproc = limits.max_procs + _processes_of(os.getuid())
    with contextlib.suppress(ValueError, OSError):
        resource.prlimit(pid, resource.RLIMIT_NPROC, (nproc, nproc))


def _processes_of(uid: int) -> int:
    """How many processes the real uid `uid` has now (0 where /proc is missing)."""
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    count += entry.stat().st_uid == uid
    return count


def _start(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, limits: Limits, group: RunCgroup | None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start `argv` confined, in its own session (so that a timeout can kill its group)."""
    go_read, go_write = os.pipe()
    try:
        proc = subprocess.Popen(
            [*SHIM, *argv], env=dict(env), cwd=cwd, stdin=go_read,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, close_fds=True,
            pass_fds=tuple(pass_fds),
        )
    finally:
        os.close(go_read)
    try:
        _confine(proc.pid, limits, group)
    except BaseException:
        os.close(go_write)  # the shim sees EOF and exits without running anything
        proc.kill()
        proc.wait()
        raise
    os.write(go_write, b"go\n")
    os.close(go_write)
    return proc


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
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    limits: Limits,
    log_dir: Path,
    pass_fds: Sequence[int] = (),
) -> Supervised:
    """Run `argv` under `limits`; return the facts. Raises `OSError` if it cannot start.

    `pass_fds` stay open in the child (e.g. bwrap's `--seccomp FD`).

    Steps: (1) cgroup or rlimits, (2) start confined in a new session, (3)
    drain the logs and wait, killing the tree at the timeout, (4) kill
    leftovers and read the kernel's counters.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    # (1): a cgroup gives real limits and the peak memory; rlimits otherwise.
    group = RunCgroup.create(memory_mb=limits.memory_mb, max_procs=limits.max_procs, cpus=limits.cpus)
    out = CappedSink(log_dir / STDOUT_LOG, limits.max_log_bytes)
    err = CappedSink(log_dir / STDERR_LOG, limits.max_log_bytes)
    started, t0 = datetime.now(UTC), time.monotonic()
    try:
        # (2): confined before it runs, in its own session.
        proc = _start(argv, env, cwd, limits, group, pass_fds)
        # (3): one loop drains both pipes and notices the exit or the deadline.
        timed_out, cancelled = _pump(proc, group, out, err, deadline=t0 + limits.timeout_s)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        ended, duration = datetime.now(UTC), time.monotonic() - t0
        # (4): nothing of the run survives it.
        if group is not None:
            group.kill_all()
        stats = group.stats() if group is not None else None
    finally:
        out.close()
        err.close()
        if group is not None:
            group.close()
    if cancelled:
        raise cancel.Cancelled("the run was stopped: the verification was interrupted")
    exit_code = os.waitstatus_to_exitcode(status)
    return Supervised(
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
    raw: Supervised, *, backend: str, sealed: bool, limits: Limits, output_full: bool,
    output_problem: str | None, signal_as_128: bool = False,
) -> SandboxResult:
    """The backend's `SandboxResult` for a supervised run.

    `signal_as_128`: the supervised program (bwrap) reports a child killed by
    signal n as exit status 128 + n; turn that back into a signal.
    """
    exit_code, sig = raw.exit_code, raw.signal
    if signal_as_128 and raw.exit_code is not None and raw.exit_code > 128:
        exit_code, sig = None, raw.exit_code - 128
    return SandboxResult(
        backend=backend, sealed=sealed, exit_code=exit_code, signal=sig,
        timed_out=raw.timed_out, limit=raw.limit or ("output" if output_full else None),
        started=raw.started, ended=raw.ended, duration_s=raw.duration_s,
        peak_memory_kb=raw.peak_memory_kb, cpu_time_s=raw.cpu_time_s,
        stdout_path=raw.stdout_path, stderr_path=raw.stderr_path,
        stdout_truncated=raw.stdout_truncated, stderr_truncated=raw.stderr_truncated,
        image_digest=None, limits=limits, output_problem=output_problem,
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
def output_area(max_output_mb: int, *, owner_uid: int | None = None) -> Iterator[tuple[Path, bool]]:
    """A private directory for `$REPRO_OUT`, and whether the cap is enforced by a tmpfs.

    As root we mount a tmpfs with `size=` there, so writing past the cap
    fails with ENOSPC at once; elsewhere the caller relies on RLIMIT_FSIZE and
    the post-run size check. Side effects: mkdtemp, mount/umount, rmtree.
    """
    _sweep_stale_areas()
    base = Path(tempfile.mkdtemp(prefix=f"{AREA_PREFIX}{os.getpid()}-"))
    area = base / "out"
    area.mkdir()
    mounted = False
    if os.geteuid() == 0:
        mounted = _mount_tmpfs(area, f"size={max_output_mb * MB},mode=0755")
    try:
        if owner_uid is not None:
            os.chown(area, owner_uid, owner_uid)
        yield area, mounted
    finally:
        if mounted:
            _umount(area)
        shutil.rmtree(base, ignore_errors=True)


def _sweep_stale_areas() -> None:
    """Unmount and remove output areas left by a verifier killed mid-run (SIGKILL skips finally).

    Only areas whose creating process is gone (its pid is in the name).
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
