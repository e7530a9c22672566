"""DockerSandbox: run a repro in a container through any Docker-API engine.

Talks to `$DOCKER_HOST` (Docker Engine, or podman's Docker-compatible
service) with the `docker` SDK, imported lazily so that the verifier starts
without it. The image must already be present: we never pull (no registry
is reachable on the machines this runs on, and a pull would make the run
depend on the network); `scripts/build-image.sh` builds one locally. The
image id actually used goes into the result (`image_digest`).

The container: `network_mode="none"` (podman ignores `network_disabled`),
read-only root, every capability dropped, `no-new-privileges`, user
65534:65534, `pids_limit`, `mem_limit` (= memswap), `nano_cpus`, tmpfs
`/tmp`; the same layout as bwrap (see `base.py`): bundle read-only at
`/work/<name>`, inputs read-only under `/inputs`, params at
`/repro/params.json`, and a host-side size-capped `/out`. GPUs are passed
as device requests when `limits.gpus > 0`.

Scheduling: each container gets a top-level cgroup parent of its own
(`verify-docker-<pid>-<rand>`, removed after the run), as each bwrap run
has; under the engine's shared parent, concurrent containers were scheduled
as one task. The client pins the API version: negotiating it costs a
`/version` call, which podman answers by running dpkg-query several times.

Threat model: the container engine's isolation (namespaces, seccomp,
cgroups) is the boundary; the bind mounts assume the engine runs on this
host (a remote `DOCKER_HOST` cannot see our paths).

Side effects: creates, starts, kills and removes one container per run;
writes logs and outputs; uses and removes a temporary directory.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import importlib
import importlib.util
import json
import os
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from verifier.digest import bytes_digest, hex_of
from verifier.errors import SandboxError
from verifier.sandbox import cgroup, engine
from verifier.sandbox.base import (
    OUT_DIR,
    PARAMS_FILE,
    SANDBOX_TMP,
    STDERR_LOG,
    STDOUT_LOG,
    WORK_DIR,
    RunFacts,
    Sandbox,
    SandboxRequest,
    SandboxResult,
)
from verifier.sandbox.bwrap import input_target
from verifier.sandbox.cgroup import CGROUP_ROOT, read_int, read_keyed
from verifier.sandbox.engine import API_VERSION
from verifier.sandbox.fingerprint import cache_dir, machine_facts
from verifier.sandbox.supervise import CappedSink, area_full, export_outputs, output_area
from verifier.store import atomic_write

# The SDK ships no type information; these aliases name what we hold.
DockerClient = Any
Container = Any
Image = Any

CONTAINER_USER = 65534
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_IMAGE_ENV = "VERIFY_TEST_IMAGE"
DEFAULT_IMAGE = "localhost/verify-repro:1"
IMAGE_FACTS_VERSION = 1
CGROUP_PARENT_PREFIX = "verify-docker-"  # + <our pid>-<random>: one top-level cgroup per container
BUILD_HINT = "build it locally with scripts/build-image.sh --tag {image} (images are never pulled)"
PINNED_HINT = "build it locally with scripts/build-image.sh and pin the digest it reports"


def _sdk() -> Any:
    """The docker SDK, imported on first use: it is heavy and only this backend needs it."""
    return importlib.import_module("docker")


# podman's default seccomp profile allows new user namespaces and the keyring
# (Docker Engine's does not). We harden a copy of it: see hardened_profile().
PODMAN_PROFILES = ("/etc/containers/seccomp.json", "/usr/share/containers/seccomp.json")
CLONE_NEWUSER = 0x10000000
HARDEN_DROP = frozenset({"unshare", "clone", "clone3", "keyctl", "add_key", "request_key"})


def hardened_profile(default: dict[str, Any]) -> dict[str, Any]:
    """The engine's default seccomp profile minus user namespaces and the keyring.

    `clone`/`unshare` stay allowed without CLONE_NEWUSER (as in Docker's own
    default); `clone3`, whose flags seccomp cannot see, fails with ENOSYS so
    that libc falls back to `clone`; the keyring calls are denied.
    """
    profile: dict[str, Any] = json.loads(json.dumps(default))  # a deep copy
    for rule in profile.get("syscalls", []):
        if rule.get("action") == "SCMP_ACT_ALLOW":
            rule["names"] = [n for n in rule.get("names", []) if n not in HARDEN_DROP]
    profile.setdefault("syscalls", []).extend([
        {"names": ["clone", "unshare"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": CLONE_NEWUSER, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
        {"names": ["keyctl", "add_key", "request_key"], "action": "SCMP_ACT_ERRNO",
         "errnoRet": errno.EPERM},
    ])
    return profile


@functools.lru_cache(maxsize=1)
def podman_profile_path() -> str | None:
    """A file with the hardened podman profile (podman takes a path), or None if no default is found.

    Side effects: writes the file under the temp dir once per process, removed at exit.
    """
    for candidate in PODMAN_PROFILES:
        try:
            default = json.loads(Path(candidate).read_text())
        except (OSError, ValueError):
            continue
        fd, path = tempfile.mkstemp(prefix="verify-seccomp-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(hardened_profile(default), f)
        os.chmod(path, 0o644)
        atexit.register(os.unlink, path)
        return path
    return None


def _unix_socket(base_url: str | None) -> str | None:
    """The socket path of a `unix://` engine address (None for any other)."""
    if base_url and base_url.startswith("unix://"):
        return base_url[len("unix://"):]
    return None


def _pinned_path(base_url: str | None, ref: str) -> Path | None:
    """Where the facts of a digest-pinned image are kept (None for a tag, which can move)."""
    if "@sha256:" not in ref:
        return None
    key = hex_of(bytes_digest(f"{IMAGE_FACTS_VERSION}\n{base_url or ''}\n{ref}".encode()))[:32]
    return cache_dir() / f"docker-image-{key}.json"


def _read_pinned(base_url: str | None, ref: str) -> dict[str, Any] | None:
    path = _pinned_path(base_url, ref)
    if path is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        facts = json.loads(path.read_text())
        if isinstance(facts, dict) and facts.get("image") == ref:
            return facts
    return None


def _write_pinned(base_url: str | None, ref: str, facts: dict[str, Any]) -> None:
    path = _pinned_path(base_url, ref)
    if path is None:
        return
    with contextlib.suppress(OSError):  # atomic: concurrent workers never read half a file
        atomic_write(path, json.dumps(facts, sort_keys=True).encode())


def default_image() -> str:
    """The image used when a request names none ($VERIFY_TEST_IMAGE or the local default)."""
    return os.environ.get(DEFAULT_IMAGE_ENV) or DEFAULT_IMAGE


class _Watch:
    """Poll a running container's host cgroup for peak memory, CPU and pids-limit hits.

    podman removes the cgroup as the container exits, so the counters are
    sampled while it runs; the peak is the last value seen.
    """

    # Where the engines put a container's cgroup (cgroupfs and systemd managers; our own parent).
    LAYOUTS = ("{parent}/libpod-{id}", "{parent}/{id}", "libpod_parent/libpod-{id}",
               "machine.slice/libpod-{id}.scope", "docker/{id}", "system.slice/docker-{id}.scope")

    def __init__(self, container_id: str, parent: str | None):
        parent = parent.strip("/") if parent else None
        layouts = self.LAYOUTS if parent else self.LAYOUTS[2:]
        layout = next(
            (lay for lay in layouts
             if (CGROUP_ROOT / "memory" / lay.format(id=container_id, parent=parent)).is_dir()),
            layouts[0],
        ).format(id="{id}", parent=parent)
        self.dirs = {
            c: CGROUP_ROOT / c / layout.format(id=container_id) for c in ("memory", "pids", "cpuacct")
        }
        self.peak_kb: int | None = None
        self.cpu_s: float | None = None
        self.pids_hit = False
        self.memory_hit = False

    def sample(self) -> None:
        peak = read_int(self.dirs["memory"] / "memory.max_usage_in_bytes")
        if peak is not None:
            self.peak_kb = max(self.peak_kb or 0, peak // 1024)
        cpu = read_int(self.dirs["cpuacct"] / "cpuacct.usage")
        if cpu is not None:
            self.cpu_s = cpu / 1e9
        if (read_keyed(self.dirs["pids"] / "pids.events", "max") or 0) > 0:
            self.pids_hit = True
        if (read_keyed(self.dirs["memory"] / "memory.oom_control", "oom_kill") or 0) > 0:
            self.memory_hit = True


class DockerSandbox(Sandbox):
    """Sealed backend: a locally present image run by a Docker-API engine."""

    name = "docker"
    sealed = True

    def __init__(self, base_url: str | None = None):
        self.base_url = base_url or os.environ.get("DOCKER_HOST")
        self._client: DockerClient | None = None
        self._images: dict[str, dict[str, Any]] = {}
        self._parent_refused = False
        self.podman = False

    def client(self) -> DockerClient:
        """A connected client. Raises `SandboxError` if the SDK or the engine is missing.

        The API version is pinned (`$DOCKER_API_VERSION`, default `API_VERSION`):
        letting the SDK negotiate it costs a `/version` call, which podman
        answers in 1-3 s (it runs its helpers to report their versions).
        podman is told apart by its `_ping` headers, not by `/version` either.
        """
        if self._client is not None:
            return self._client
        try:
            docker = _sdk()
        except ImportError as e:
            raise SandboxError("the docker Python SDK is not installed: pip install docker") from e
        version = os.environ.get("DOCKER_API_VERSION") or API_VERSION
        try:
            client = (
                docker.DockerClient(base_url=self.base_url, timeout=60, version=version)
                if self.base_url else docker.from_env(timeout=60, version=version)
            )
            pong = client.api.get(client.api.base_url + "/_ping")
            pong.raise_for_status()
        except (docker.errors.DockerException, importlib.import_module("requests").RequestException) as e:
            where = self.base_url or "the default socket"
            raise SandboxError(f"no Docker API at {where}: {e}; start an engine and set DOCKER_HOST") from e
        self._client = client
        self.podman = "Libpod-Api-Version" in pong.headers
        return client

    def available(self) -> str | None:
        """None when the SDK is installed and the engine answers.

        For a local socket only its presence is checked here, so that a
        cached run needs no engine (see `fingerprint`); a dead engine
        behind it fails the run itself (`SandboxError`, also inconclusive).
        """
        socket = _unix_socket(self.base_url)
        if socket is not None and importlib.util.find_spec("docker") is not None:
            return None if os.path.exists(socket) else f"no Docker API at {self.base_url}: no such socket"
        try:
            self.client()
        except SandboxError as e:
            return e.diagnostics()
        return None

    def image(self, ref: str | None) -> Image:
        """The local image for `ref`. Raises `SandboxError` (with a build hint) if absent."""
        docker = _sdk()

        ref = ref or default_image()
        try:
            return self.client().images.get(ref)
        except docker.errors.ImageNotFound as e:
            hint = PINNED_HINT if "@" in ref else BUILD_HINT.format(image=ref)
            raise SandboxError(f"image {ref} is not present locally; {hint}") from e
        except docker.errors.DockerException as e:
            raise SandboxError(f"cannot inspect image {ref}: {e}") from e

    def image_missing(self, ref: str | None) -> str | None:
        """None when the image (default: `default_image()`) is present, else why not."""
        try:
            self.image(ref)
        except SandboxError as e:
            return e.diagnostics()
        return None

    def fingerprint(self, request: SandboxRequest | None = None) -> dict[str, Any]:
        """Image digest (and repo digests), the image's OS, and the host's CPU/GPU; cached per image.

        An image pinned by digest (`name@sha256:...`) cannot change, so its
        facts are also kept on disk: a cached run then needs no engine.
        """
        ref = (request.image if request else None) or default_image()
        if ref not in self._images:
            facts = _read_pinned(self.base_url, ref)
            if facts is None:
                facts = self._inspect(ref)
                _write_pinned(self.base_url, ref, facts)
            self._images[ref] = {"backend": self.name, **facts, **machine_facts()}
        return dict(self._images[ref])

    def _inspect(self, ref: str) -> dict[str, Any]:
        """The image's facts: over a local socket without the SDK (see `engine.py`), else through it."""
        socket_path = _unix_socket(self.base_url)
        if socket_path is not None:
            try:
                attrs = engine.inspect_image(socket_path, ref, version=os.environ.get("DOCKER_API_VERSION") or API_VERSION)
            except (OSError, ValueError) as e:
                raise SandboxError(f"no Docker API at {self.base_url}: {e}; start an engine and set DOCKER_HOST") from e
            if attrs is None:
                hint = PINNED_HINT if "@" in ref else BUILD_HINT.format(image=ref)
                raise SandboxError(f"image {ref} is not present locally; {hint}")
            image_id = str(attrs.get("Id", ""))
        else:
            img = self.image(ref)
            attrs, image_id = img.attrs, img.id
        return {
            "image": ref,
            "image_digest": image_id,
            "repo_digests": sorted(attrs.get("RepoDigests") or []),
            "image_os": f"{attrs.get('Os', '?')}/{attrs.get('Architecture', '?')}",
        }

    def _cgroup_parent(self) -> str | None:
        """A fresh top-level cgroup for the next container, as bwrap gives each run; None if unsupported.

        The engine otherwise puts every container under one parent
        (podman's `libpod_parent`), which the kernel schedules as a single
        entity against every other task: two containers at once got half
        the CPU of two bwrap runs on a busy machine. A path is what the
        cgroupfs driver takes; an engine that refuses it (a systemd driver
        wants a slice) is left to its default from then on (see `run`).
        """
        if self._parent_refused or _unix_socket(self.base_url) is None:
            return None
        cgroup.sweep_stale_parents(CGROUP_PARENT_PREFIX)
        return f"/{CGROUP_PARENT_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def _create(
        self, request: SandboxRequest, image_id: str, private: Path, area: Path, parent: str | None
    ) -> Container:
        docker = _sdk()

        limits = request.limits
        mounts = [
            docker.types.Mount(f"{WORK_DIR}/{request.bundle_name}", str(request.bundle.resolve()),
                               type="bind", read_only=True),
            docker.types.Mount(PARAMS_FILE, str(private / "params.json"), type="bind", read_only=True),
            docker.types.Mount(OUT_DIR, str(area), type="bind", read_only=False),
        ]
        for host_file, rel in request.inputs:
            mounts.append(docker.types.Mount(input_target(rel), str(host_file.resolve()),
                                             type="bind", read_only=True))
        device_requests = (
            [docker.types.DeviceRequest(count=limits.gpus, capabilities=[["gpu"]])]
            if limits.gpus > 0 else None
        )
        return self.client().containers.create(
            image_id, command=list(request.entrypoint), detach=True,
            working_dir=f"{WORK_DIR}/{request.bundle_name}",
            environment=request.environment(path=CONTAINER_PATH),
            user=f"{CONTAINER_USER}:{CONTAINER_USER}", hostname="repro",
            network_mode="none", read_only=True, cap_drop=["ALL"],
            security_opt=self._security_opt(), pids_limit=limits.max_procs,
            mem_limit=f"{limits.memory_mb}m", memswap_limit=f"{limits.memory_mb}m",
            nano_cpus=int(limits.cpus * 1e9),
            tmpfs={SANDBOX_TMP: f"size={limits.memory_mb}m,mode=1777"},
            mounts=mounts, device_requests=device_requests, cgroup_parent=parent,
            # Bound the engine's own copy of the output on disk too (we read
            # the output live through attach, see _Pump).
            log_config=docker.types.LogConfig(
                type="json-file", config={"max-size": f"{max(64, 2 * request.max_log_bytes // 1024)}k"}
            ),
        )

    def _security_opt(self) -> list[str]:
        """no-new-privileges, and for podman the hardened seccomp profile (by path)."""
        options = ["no-new-privileges"]
        profile = podman_profile_path() if self.podman else None
        if profile is not None:
            options.append(f"seccomp={profile}")
        return options

    def run(self, request: SandboxRequest) -> SandboxResult:
        """Run the request in a fresh container. Raises `SandboxError` if the engine fails."""
        docker = _sdk()

        image = self.image(request.image)
        limits = request.limits
        with tempfile.TemporaryDirectory(prefix="verify-docker-") as tmp, output_area(
            limits.max_output_mb, owner_uid=CONTAINER_USER
        ) as (area, mounted):
            private = Path(tmp)
            private.chmod(0o755)
            (private / "params.json").write_bytes(request.params_json())
            (private / "params.json").chmod(0o644)
            parent = self._cgroup_parent()
            try:
                try:
                    container = self._create(request, image.id, private, area, parent)
                except docker.errors.APIError:
                    if parent is None:
                        raise
                    cgroup.remove_everywhere(parent)
                    self._parent_refused, parent = True, None
                    container = self._create(request, image.id, private, area, parent)
            except docker.errors.DockerException as e:
                raise SandboxError(f"cannot create the container: {e}") from e
            try:
                facts = self._execute(container, request, parent)
            except docker.errors.DockerException as e:
                raise SandboxError(f"container engine failed during the run: {e}") from e
            finally:
                with contextlib.suppress(docker.errors.DockerException):
                    container.remove(force=True)
                if parent is not None:
                    cgroup.remove_everywhere(parent)
            full = area_full(area, mounted, limits.max_output_mb)
            problem = export_outputs(area, request.out_dir)
        if full and facts.limit is None:
            facts = replace(facts, limit="output")
        return SandboxResult.of(
            facts, backend=self.name, sealed=self.sealed, image_digest=image.id, limits=limits,
            output_problem=problem,
        )

    def _execute(self, container: Container, request: SandboxRequest, parent: str | None) -> RunFacts:
        """Start, wait (killing on timeout), collect logs and state; the result's fields."""
        limits = request.limits
        done = threading.Event()
        waiter = threading.Thread(target=_wait_exit, args=(container, done), daemon=True)
        request.log_dir.mkdir(parents=True, exist_ok=True)
        started, t0 = datetime.now(UTC), time.monotonic()
        try:
            # Attach before start, so that no output is missed; we cap it ourselves.
            pump = _Pump(container, request.log_dir, request.max_log_bytes)
            container.start()
        except _sdk().errors.APIError as e:
            if not _entrypoint_missing(e):
                raise
            return _not_started(request, started, t0, str(e))
        watch = _Watch(container.id or "", parent)  # after start: the cgroup exists from then on
        waiter.start()
        timed_out = False
        while not done.wait(0.02):
            watch.sample()
            if time.monotonic() - t0 > limits.timeout_s:
                timed_out = True
                # SIGKILL to the container: every process in it dies. It may
                # have exited on its own meanwhile, which the engine reports
                # as an error.
                with contextlib.suppress(_sdk().errors.APIError):
                    container.kill()
                done.wait(30)
                break
        ended, duration = datetime.now(UTC), time.monotonic() - t0
        container.reload()
        state = container.attrs.get("State", {})
        code = int(state.get("ExitCode", -1))
        out_trunc, err_trunc = pump.finish()
        # Docker's convention: 128 + n means "killed by signal n".
        signal = code - 128 if code > 128 else None
        limit = "processes" if watch.pids_hit else None
        # podman does not set OOMKilled, and the cgroup vanishes with the
        # container, so a SIGKILL we did not send is taken as the OOM killer's.
        if state.get("OOMKilled") or watch.memory_hit or (signal == 9 and not timed_out):
            limit = "memory"
        return RunFacts(
            exit_code=None if signal is not None else code, signal=signal,
            timed_out=timed_out, limit=limit, started=started, ended=ended,
            duration_s=duration, peak_memory_kb=watch.peak_kb, cpu_time_s=watch.cpu_s,
            stdout_path=request.log_dir / STDOUT_LOG, stderr_path=request.log_dir / STDERR_LOG,
            stdout_truncated=out_trunc, stderr_truncated=err_trunc,
        )


def _entrypoint_missing(error: Exception) -> bool:
    """Whether the engine refused to start because the entrypoint does not exist.

    That is the repro's fault (exit 127, as a shell says), not the engine's.
    """
    text = str(error).lower()
    return "executable file not found" in text or "no such file or directory" in text


def _not_started(request: SandboxRequest, started: datetime, t0: float, message: str) -> RunFacts:
    """The facts of a container whose entrypoint could not be executed."""
    stdout, stderr = request.log_dir / STDOUT_LOG, request.log_dir / STDERR_LOG
    stdout.write_bytes(b"")
    stderr.write_text(f"cannot execute the entrypoint: {message}\n")
    return RunFacts(
        exit_code=127, signal=None, timed_out=False, limit=None, started=started,
        ended=datetime.now(UTC), duration_s=time.monotonic() - t0, peak_memory_kb=None,
        cpu_time_s=None, stdout_path=stdout, stderr_path=stderr,
        stdout_truncated=False, stderr_truncated=False,
    )


class _Pump:
    """Read the container's attached stdout/stderr live into two capped log files."""

    def __init__(self, container: Container, log_dir: Path, cap: int):
        self._stream = container.attach(stdout=True, stderr=True, stream=True, demux=True, logs=False)
        self._out = CappedSink(log_dir / STDOUT_LOG, cap)
        self._err = CappedSink(log_dir / STDERR_LOG, cap)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        requests = importlib.import_module("requests")
        try:
            for out, err in self._stream:
                if out:
                    self._out.write(out)
                if err:
                    self._err.write(err)
        except (requests.exceptions.RequestException, OSError, ValueError):
            pass  # the stream broke off; what was read is kept
        finally:
            self._out.close()
            self._err.close()

    def finish(self) -> tuple[bool, bool]:
        """Wait for the stream to end (it does once the container exits); the truncation flags."""
        self._thread.join(10)
        if self._thread.is_alive():
            self._stream.close()
            self._thread.join(5)
        return self._out.truncated, self._err.truncated


def _wait_exit(container: Container, done: threading.Event) -> None:
    """Block until the container exits, then set `done`.

    The SDK's HTTP read timeout would end a plain `wait()` on a long run,
    so wait in bounded slices and retry while the container still exists.
    """
    docker = _sdk()
    requests = importlib.import_module("requests")

    while True:
        try:
            container.wait(timeout=30)
            break
        except requests.exceptions.RequestException:
            continue
        except docker.errors.DockerException:
            break
    done.set()
