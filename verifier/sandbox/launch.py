"""Launch slots: a confined process waiting to run a command, made ahead of the run.

Putting a process into a v1 cgroup costs a synchronize_rcu() in the kernel
(the first write to `cgroup.procs` takes `cgroup_threadgroup_rwsem` for
writing): 8-23 ms of wall time here, almost no CPU. A `Slot` pays it (and the
cgroup's mkdir and the shim's fork/exec) before the run is asked for: a
`/bin/sh` shim is started in its own session, put into a fresh cgroup, and
blocks on its stdin until `go()`, which sets the run's limits and lets it exec
the command. A `WarmPool` keeps one slot ready and refills it in the
background while the current run works, so a run finds its slot made.

A command known only at run time reaches a slot through a memfd (bwrap
reads its arguments with `--args FD`); see `bwrap.py`.

Side effects: spawns the shim, creates and removes cgroups (`cgroup.py`);
closes idle slots at exit (a shim whose stdin closes exits 125 without
running anything, so a slot never outlives the verifier).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import resource
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from verifier.models import Limits
from verifier.sandbox.cgroup import RunCgroup

MB = 1024 * 1024

# The command starts behind this shim, which waits on its stdin until the parent has
# set its limits, then execs the real command. The parent thus confines the child
# before it can fork, without a `preexec_fn` (which forces fork() over vfork() and
# cost 6-15 ms per run here).
SHIM = ("/bin/sh", "-c", 'read _ || exit 125; exec "$@" </dev/null', "verify-shim")
# The same, for a slot made before its command is known: the first line on stdin is the
# rest of the command, shell-quoted (`shlex.join`), appended to the shim's own arguments.
LATE_SHIM = ("/bin/sh", "-c", 'read -r c || exit 125; eval "exec \\"\\$@\\" $c" </dev/null', "verify-shim")


@dataclass
class Slot:
    """A shim in its own session (and cgroup, when one can be made), waiting for `go()`.

    `fds` are descriptors the child inherited, by role (e.g. "args",
    "seccomp"); the parent's copies are closed by `go()` or `discard()`.
    """

    proc: subprocess.Popen[bytes]
    group: RunCgroup | None
    go_fd: int
    fds: dict[str, int] = field(default_factory=dict)
    late: bool = False

    @classmethod
    def spawn(
        cls, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, fds: Mapping[str, int] | None = None,
        late: bool = False,
    ) -> Slot:
        """Start `argv` behind the shim, in a new cgroup. Raises `OSError` if it cannot start.

        `late`: the rest of the command comes with `go()` (see `LATE_SHIM`).
        """
        fds = dict(fds or {})
        group = RunCgroup.create()
        go_read, go_write = os.pipe()
        try:
            proc = subprocess.Popen(
                [*(LATE_SHIM if late else SHIM), *argv], env=dict(env), cwd=cwd, stdin=go_read,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                close_fds=True, pass_fds=tuple(fds.values()),
            )
        except BaseException:
            os.close(go_write)
            _close_all(fds)
            if group is not None:
                group.close()
            raise
        finally:
            os.close(go_read)
        slot = cls(proc, group, go_write, fds, late)
        if group is not None:
            try:
                group.attach(proc.pid)
            except BaseException:
                slot.discard()
                raise
        return slot

    def go(self, limits: Limits, rest: Sequence[str] = ()) -> None:
        """Set the run's limits on the waiting child, then let it exec its command (plus `rest`).

        `rest` needs a `late` slot and must hold no newline (see `one_line`).

        RLIMIT_FSIZE caps any single file at the output cap; RLIMIT_CORE=0
        keeps core dumps from being written. Without a cgroup, memory falls
        back to RLIMIT_AS and processes to RLIMIT_NPROC (not enforced for
        root: see setrlimit(2)). rlimits are inherited across exec and fork.
        Raises `OSError` when the limits cannot be set (the slot is then discarded).
        """
        pid = self.proc.pid
        try:
            fsize = (limits.max_output_mb + 1) * MB
            resource.prlimit(pid, resource.RLIMIT_CORE, (0, 0))
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (fsize, fsize))
            if self.group is not None:
                self.group.set_limits(
                    memory_mb=limits.memory_mb, max_procs=limits.max_procs, cpus=float(limits.cpus)
                )
            else:
                _rlimit_fallback(pid, limits)
        except BaseException:
            self.discard()
            raise
        if rest and not (self.late and one_line(rest)):
            self.discard()
            raise ValueError("a slot takes the rest of its command only when late, and on one line")
        _close_all(self.fds)
        os.write(self.go_fd, (shlex.join(rest) if self.late else "go").encode() + b"\n")
        os.close(self.go_fd)
        self.go_fd = -1

    def discard(self) -> None:
        """Stop the slot without running anything: the shim sees EOF and exits."""
        if self.go_fd >= 0:
            os.close(self.go_fd)
            self.go_fd = -1
        _close_all(self.fds)
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        if self.group is not None:
            self.group.close()


def one_line(args: Sequence[str]) -> bool:
    """Whether `args` can travel to a late slot (the shim reads one line)."""
    return not any("\n" in arg for arg in args)


def _close_all(fds: dict[str, int]) -> None:
    for fd in fds.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


def _rlimit_fallback(pid: int, limits: Limits) -> None:
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


class WarmPool:
    """Up to `size` ready slots from `factory`, refilled in the background as they are taken.

    One worker thread makes the slots and runs the cleanups handed to
    `later()` (an unmount costs an RCU grace period too), so neither waits
    on a run's critical path. Thread-safe (`--jobs N` takes slots from
    several threads). A take with no ready slot makes one on the spot:
    never slower than no pool.
    """

    def __init__(self, factory: Callable[[], Slot], size: int = 1):
        self._factory = factory
        self._size = size
        self._ready: list[Slot] = []
        self._jobs: list[Callable[[], None]] = []
        self._closed = False
        self._failed = False
        self._wake = threading.Condition()
        self._worker: threading.Thread | None = None
        atexit.register(self.close)

    def take(self) -> Slot:
        """A ready slot (or a new one). Raises `OSError` if none can be made."""
        with self._wake:
            slot = self._ready.pop() if self._ready else None
            self._start_worker()
            self._wake.notify()
        return slot if slot is not None else self._factory()

    def ready(self) -> int:
        """How many slots are made and waiting."""
        with self._wake:
            return len(self._ready)

    def later(self, job: Callable[[], None]) -> None:
        """Run `job` on the worker (at once when the pool is closed); it must not raise."""
        with self._wake:
            if not self._closed:
                self._jobs.append(job)
                self._start_worker()
                self._wake.notify()
                return
        job()

    def _start_worker(self) -> None:
        if self._worker is None and not self._closed:
            self._worker = threading.Thread(target=self._work, name="verify-slots", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._jobs and (self._failed or len(self._ready) >= self._size):
                    self._wake.wait()
                if self._closed:
                    return
                job = self._jobs.pop(0) if self._jobs else None
            if job is not None:
                job()
                continue
            try:
                slot = self._factory()
            except OSError:
                self._failed = True  # no more refills; takes make their own slot and report the error
                continue
            with self._wake:
                if not self._closed:
                    self._ready.append(slot)
                    continue
            slot.discard()
            return

    def close(self) -> None:
        """Run the pending cleanups and discard the ready slots; later takes still work, unpooled."""
        with self._wake:
            self._closed = True
            ready, self._ready = self._ready, []
            jobs, self._jobs = self._jobs, []
            self._wake.notify_all()
        for job in jobs:
            job()
        for slot in ready:
            slot.discard()
