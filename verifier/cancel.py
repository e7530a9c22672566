"""Stopping a verification: one process-wide cancellation token, tripped by SIGINT/SIGTERM.

The seams, and who uses them:

* the CLI installs the handlers around a verification (`handling_interrupts`);
* an executor asks `check()` before it starts a run, so nothing new starts;
* a sandbox waiting on a run polls `wake_fd()` beside its pipes (or asks
  `requested()`), and on cancellation stops the run: SIGTERM to the whole
  tree, SIGKILL after `GRACE_S` (a repro that ignores SIGTERM), the cgroup
  or container removed; then raises `Cancelled`, so no partial run is recorded.

Runs that finished before are in the ledger already (each is recorded as it
ends), and the pipeline records the verdicts of the claims whose runs all
finished; the CLI then prints one line and exits 128 + the signal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Final

GRACE_S: Final = 1.0  # SIGTERM, then SIGKILL this much later: well inside the 2 s promise

_event = threading.Event()
_signal: int | None = None
_wake: tuple[int, int] | None = None
_wake_lock = threading.Lock()


class Cancelled(Exception):
    """A run was stopped, or never started, because the verification was interrupted."""


class Interrupted(Exception):
    """The verification was interrupted: what finished and was kept, what was cancelled."""

    def __init__(self, signum: int, finished: int, cancelled: int) -> None:
        super().__init__(f"interrupted: {finished} runs finished and kept, {cancelled} cancelled")
        self.signum = signum
        self.finished = finished
        self.cancelled = cancelled

    @property
    def exit_status(self) -> int:
        """128 + the signal: 130 for SIGINT, 143 for SIGTERM (as a shell reports it)."""
        return 128 + self.signum


def request(signum: int = signal.SIGINT) -> None:
    """Trip the token (idempotent): nothing new starts, running sandboxes are stopped."""
    global _signal
    if _signal is None:
        _signal = signum
    _event.set()
    with contextlib.suppress(OSError):
        os.write(wake_fd_writer(), b"x")  # level-triggered: stays readable for every poller


def requested() -> bool:
    """Whether the verification was interrupted."""
    return _event.is_set()


def signum() -> int:
    """The signal that tripped the token (SIGINT if it was tripped without one)."""
    return _signal if _signal is not None else signal.SIGINT


def check() -> None:
    """Raise `Cancelled` if the verification was interrupted: call before starting a run."""
    if _event.is_set():
        raise Cancelled("the verification was interrupted before this run started")


def _pipe() -> tuple[int, int]:
    global _wake
    with _wake_lock:
        if _wake is None:
            read, write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            _wake = (read, write)
        return _wake


def wake_fd() -> int:
    """A file descriptor that becomes readable once the token is tripped (for `poll`)."""
    return _pipe()[0]


def wake_fd_writer() -> int:
    return _pipe()[1]


def reset() -> None:
    """Untrip the token (a new verification in the same process, e.g. tests)."""
    global _signal
    _event.clear()
    _signal = None
    read, _ = _pipe()
    with contextlib.suppress(BlockingIOError):
        while os.read(read, 4096):
            pass


@contextlib.contextmanager
def handling_interrupts() -> Iterator[None]:
    """SIGINT and SIGTERM trip the token while inside; the previous handlers come back after.

    Only the main thread may set handlers; elsewhere (a library caller's
    worker thread) this does nothing and the caller keeps its own handling.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reset()
    _pipe()  # made now, not inside the handler

    def handler(signum: int, frame: FrameType | None) -> None:
        request(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        reset()  # a later verification in this process (a library caller) starts untripped
