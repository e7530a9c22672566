"""BwrapSandbox: run a repro under bubblewrap, the default sealed backend on Linux.

Inside the sandbox the repro sees only: the system software (`/usr` and the
`/lib*`, `/bin`, `/sbin` links), a handful of `/etc` files, the running
interpreter's prefix (`sys.base_prefix`, `sys.prefix`: on pyenv these live in
the caller's home, so only they are bound, never the rest of the home), the
bundle at `/work/<name>` (read-only, the working directory), the inputs under
`/inputs`, the params file, a writable size-capped `/out` and private tmpfs
`/tmp` and `/dev/shm`, its own `/proc` (read-only) and
`/sys/devices/system/cpu` (torch reads it). Everything is read-only except
`/out`, `/tmp` and `/dev/shm`.

Namespaces: net (only its own loopback), pid, ipc, uts, cgroup; a new session;
`--die-with-parent`; no_new_privs. When the caller is root, the repro runs as
uid/gid 65534 ("nobody", via `setpriv` inside) with no capabilities at all;
otherwise as the caller's own (unprivileged) uid. The bundle and inputs must
therefore be world-readable, as for the container backend.

Threat model: the repro is hostile code running unprivileged in those
namespaces; the boundary is the kernel's namespace and mount isolation as
bubblewrap sets it up (https://github.com/containers/bubblewrap#sandbox-security).
Defence in depth for the case where the uid drop is unavailable (no
`setpriv`: the repro is then uid 0 without capabilities, and uid 0 passes
owner permission checks): `/proc` is read-only (uid 0 may write `/proc/sys`
and `/proc/sysrq-trigger`, host-wide, without capabilities), and no `/etc`
directory that may hold secrets is bound. There is no seccomp filter (the
container backend has the engine's). Limits come from `supervise.py`
(cgroup or rlimits).

Start-up: bwrap runs from a warm `launch.Slot` (a waiting `bwrap --args FD`
already in its cgroup, made while the previous run worked): the request's
options go through the memfd, the environment through `--clearenv` and
`--setenv`, the command (one line) through the slot's stdin. A command with
a newline in it gets a slot of its own.

Side effects: spawns bwrap, writes logs into the request's log dir and the
outputs into its out dir, uses a temporary directory that it removes; keeps
one waiting slot (a shim and an empty cgroup) between runs.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from verifier.errors import SandboxError
from verifier.sandbox import seccomp
from verifier.sandbox.base import (
    INPUTS_DIR,
    OUT_DIR,
    PARAMS_FILE,
    SANDBOX_TMP,
    WORK_DIR,
    Sandbox,
    SandboxRequest,
    SandboxResult,
)
from verifier.sandbox.fingerprint import host_fingerprint
from verifier.sandbox.launch import MB, Slot, WarmPool, one_line
from verifier.sandbox.probe import bwrap_problem
from verifier.sandbox.supervise import (
    area_full,
    export_outputs,
    output_area,
    supervise,
    to_result,
)

SANDBOX_UID = 65534  # "nobody": the repro's uid when we are root (see drop_privileges)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The few /etc entries software needs: the dynamic linker's cache, time zone,
# TLS roots, Debian's alternatives links. passwd/group are generated. Never a
# whole directory that may hold secrets (/etc/ssl/private): without the uid
# drop the repro is uid 0, and an owner's read bit needs no capability.
ETC_ENTRIES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "ssl/certs", "ssl/openssl.cnf",
    "alternatives", "nsswitch.conf", "mime.types",
)
SYS_ENTRIES = ("/sys/devices/system/cpu", "/sys/devices/system/node")
PASSWD = "root:x:0:0:root:/tmp:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def python_prefixes() -> list[str]:
    """The interpreter's prefixes to bind read-only (no duplicates, never `/`)."""
    seen: list[str] = []
    exe_prefix = str(Path(os.path.realpath(sys.executable)).parent.parent)
    for prefix in (sys.base_prefix, sys.prefix, exe_prefix):
        real = os.path.realpath(prefix)
        if real != "/" and real not in seen:
            seen.append(real)
    return seen


def sandbox_path() -> str:
    """PATH inside: the interpreter's own bin directory first, then the system's."""
    bins = [str(Path(p) / "bin") for p in (sys.prefix, sys.base_prefix)]
    bins.append(os.path.dirname(sys.executable))
    bins += ["/usr/local/bin", "/usr/bin", "/bin"]
    return ":".join(dict.fromkeys(bins))


def _parents(dest: str) -> list[str]:
    """`--dir` ops that create dest's missing parents world-traversable.

    bwrap makes them 0700 by default, which uid 65534 could not traverse
    (e.g. /root on the way to a pyenv prefix). Repeating `--dir` for an
    existing directory is harmless.
    """
    parents = list(PurePosixPath(dest).parents)[:-1]  # without "/"
    args: list[str] = []
    for parent in reversed(parents):
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _system_args() -> list[str]:
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    home = os.path.realpath(Path.home())
    for prefix in python_prefixes():
        if home == prefix or home.startswith(prefix.rstrip("/") + "/"):
            # Binding this prefix would show the whole home (and more) inside.
            raise SandboxError(
                f"the interpreter's prefix {prefix} contains the caller's home {home}; "
                "install Python elsewhere or use --backend docker"
            )
        args += [*_parents(prefix), "--ro-bind", prefix, prefix]
    return [*args, "--ro-bind", str(sandbox_etc()), "/etc"]


def sandbox_etc() -> Path:
    """The sandbox's /etc: a private copy of `ETC_ENTRIES` plus generated passwd/group.

    Built once per process (rebuilt when the dynamic linker's cache changes)
    and bound as a whole: one mount instead of a dozen saves milliseconds
    per run. Side effects: a directory under the temp dir, removed at exit.
    """
    try:
        key = os.stat("/etc/ld.so.cache").st_mtime_ns
    except OSError:
        key = 0
    return _build_etc(key)


@functools.lru_cache(maxsize=2)
def _build_etc(key: int) -> Path:
    etc = Path(tempfile.mkdtemp(prefix="verify-etc-"))
    atexit.register(shutil.rmtree, etc, True)
    etc.chmod(0o755)
    for name in ETC_ENTRIES:
        src, dst = Path("/etc") / name, etc / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        elif src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        elif src.is_file():
            shutil.copy2(src, dst)
    (etc / "passwd").write_text(PASSWD)
    (etc / "group").write_text(GROUP)
    for path in (etc / "passwd", etc / "group"):
        path.chmod(0o644)
    return etc


def _kernel_args(request: SandboxRequest) -> list[str]:
    """/proc, /dev, /sys and the private tmpfs mounts."""
    size = str(request.limits.memory_mb * MB)
    # All of /proc read-only: uid 0 may write /proc/sys and /proc/sysrq-trigger
    # (global, host-wide) without any capability.
    args = ["--proc", "/proc", "--remount-ro", "/proc"]
    args += ["--dev", "/dev", "--size", size, "--perms", "1777", "--tmpfs", "/dev/shm"]
    for path in SYS_ENTRIES:
        args += ["--ro-bind-try", path, path]
    if request.limits.gpus > 0:
        # The NVIDIA device nodes and driver info; the libraries are under /usr.
        for dev in sorted(Path("/dev").glob("nvidia*")):
            args += ["--dev-bind-try", str(dev), str(dev)]
        args += ["--ro-bind-try", "/proc/driver/nvidia", "/proc/driver/nvidia"]
    args += ["--size", size, "--perms", "1777", "--tmpfs", SANDBOX_TMP]
    return args


def input_target(rel: str) -> str:
    """Where an input lands inside; raises `SandboxError` for a path that escapes."""
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise SandboxError(f"input path {rel!r} must be relative and stay under $REPRO_INPUTS")
    return str(PurePosixPath(INPUTS_DIR) / path)


def _data_args(request: SandboxRequest, private: Path, area: Path) -> list[str]:
    """The bundle, inputs, params and outputs."""
    bundle = str(request.bundle.resolve())
    work = f"{WORK_DIR}/{request.bundle_name}"
    args = [
        *_parents(work), "--ro-bind", bundle, work,
        "--perms", "0755", "--dir", INPUTS_DIR,
        *_parents(PARAMS_FILE), "--ro-bind", str(private / "params.json"), PARAMS_FILE,
        "--bind", str(area), OUT_DIR,
    ]
    for host_file, rel in request.inputs:
        target = input_target(rel)
        args += [*_parents(target), "--ro-bind", str(host_file.resolve()), target]
    return [*args, "--chdir", work]


def drop_privileges() -> tuple[list[str], list[str]]:
    """How to run the repro as uid 65534 when we are root: (capability args, command prefix).

    bwrap run by root keeps the repro's kernel uid 0 (with no capabilities),
    and uid 0 still passes owner permission checks on root's files; so bwrap
    keeps only CAP_SETUID/SETGID, and `setpriv` inside drops to 65534 and
    clears every capability before exec'ing the entrypoint. Without setpriv
    (or when not root, where the caller's uid is already unprivileged) the
    repro runs with the caller's uid and no capabilities.
    """
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin")
    if os.geteuid() != 0 or setpriv is None:
        return ["--cap-drop", "ALL"], []
    caps = ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    uid = str(SANDBOX_UID)
    return caps, [setpriv, "--reuid", uid, "--regid", uid, "--clear-groups", "--inh-caps=-all", "--"]


def bwrap_options(request: SandboxRequest, private: Path, area: Path, *, seccomp_fd: int | None = None) -> list[str]:
    """bwrap's options for a request (without `bwrap` itself and the command).

    The environment is set by bwrap (`--clearenv`, `--setenv`), so that a
    slot made before the request (see `launch.py`) can run it.
    """
    caps, _ = drop_privileges()
    filters = ["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []
    env = request.environment(path=sandbox_path())
    setenv = [arg for name, value in env.items() for arg in ("--setenv", name, value)]
    return [
        *filters, "--clearenv", *setenv,
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try", "--hostname", "repro",
        "--die-with-parent", "--new-session", *caps,
        *_system_args(), *_kernel_args(request), *_data_args(request, private, area),
        # bwrap's own root and /dev are tmpfs: make them read-only last, so the
        # only writable places are /out, /tmp and /dev/shm.
        "--remount-ro", "/dev", "--remount-ro", "/",
    ]


def command(request: SandboxRequest) -> list[str]:
    """What bwrap runs inside: the uid drop (when root) and the entrypoint."""
    return [*drop_privileges()[1], *request.entrypoint]


def bwrap_argv(
    request: SandboxRequest, private: Path, area: Path, *, seccomp_fd: int | None = None
) -> list[str]:
    """The complete bwrap command line for a request."""
    return ["bwrap", *bwrap_options(request, private, area, seccomp_fd=seccomp_fd), "--", *command(request)]


def _memfd(name: str, data: bytes) -> int:
    """A memfd holding `data`, positioned at its start (readable by a child that inherits it)."""
    fd = os.memfd_create(name)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _spawn_slot(rest: list[str] | None = None) -> Slot:
    """A waiting `bwrap --args FD`, with the seccomp program ready.

    Its options come at run time through the args memfd (`_load_options`);
    the command after `--` with `Slot.go`, or here as `rest` (a command that
    is not one line). Raises `OSError` if it cannot start.
    """
    exe = shutil.which("bwrap")
    if exe is None:
        raise OSError("bwrap is not installed")
    fds = {"args": os.memfd_create("verify-bwrap-args")}
    if seccomp.supported():
        fds["seccomp"] = _memfd("verify-seccomp", seccomp.program())
    argv = [exe, "--args", str(fds["args"])]
    if rest is not None:
        return Slot.spawn([*argv, *rest], env={}, cwd=Path("/"), fds=fds)
    return Slot.spawn(argv, env={}, cwd=Path("/"), fds=fds, late=True)


def _load_options(slot: Slot, options: list[str]) -> None:
    """Write bwrap's options, NUL-terminated, into the slot's args memfd."""
    fd = slot.fds["args"]
    os.write(fd, b"".join(arg.encode() + b"\0" for arg in options))
    os.lseek(fd, 0, os.SEEK_SET)


_POOL = WarmPool(_spawn_slot)


class BwrapSandbox(Sandbox):
    """Sealed backend: bubblewrap namespaces around the host's own interpreter."""

    name = "bwrap"
    sealed = True

    def available(self) -> str | None:
        return bwrap_problem()

    def fingerprint(self, request: SandboxRequest | None = None) -> dict[str, Any]:
        return host_fingerprint(self.name)

    def run(self, request: SandboxRequest) -> SandboxResult:
        """Run the request under bwrap. Raises `SandboxError` if bwrap is unusable."""
        reason = self.available()
        if reason is not None:
            raise SandboxError(reason)
        limits = request.limits
        owner = SANDBOX_UID if drop_privileges()[1] else None
        rest = ["--", *command(request)]
        try:
            # A pooled slot takes the command as one line; any other gets its own.
            slot = _POOL.take() if one_line(rest) else _spawn_slot(rest)
            if not slot.late:
                rest = []
        except OSError as e:
            raise SandboxError(f"could not start bwrap: {e}") from e
        with contextlib.ExitStack() as stack:
            stack.callback(slot.discard)  # a no-op once the run has started
            private = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="verify-bwrap-")))
            area, mounted = stack.enter_context(
                output_area(limits.max_output_mb, owner_uid=owner, later=_POOL.later)
            )
            (private / "params.json").write_bytes(request.params_json())
            _load_options(slot, bwrap_options(request, private, area, seccomp_fd=slot.fds.get("seccomp")))
            try:
                raw = supervise(
                    slot, limits=limits, log_dir=request.log_dir, max_log_bytes=request.max_log_bytes, rest=rest
                )
            except OSError as e:
                raise SandboxError(f"could not start bwrap: {e}") from e
            full = area_full(area, mounted, limits.max_output_mb)
            problem = export_outputs(area, request.out_dir)
        return to_result(
            raw, backend=self.name, sealed=self.sealed, limits=limits, output_full=full,
            output_problem=problem, signal_as_128=True,
        )
