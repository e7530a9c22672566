"""The sandbox registry and `auto` selection (see `verifier.sandbox`)."""

from __future__ import annotations

from verifier.errors import SandboxUnavailableError, UsageError
from verifier.sandbox.base import Sandbox
from verifier.sandbox.bwrap import BwrapSandbox
from verifier.sandbox.docker import DockerSandbox
from verifier.sandbox.process import UnsafeProcessSandbox

BACKEND_FOR_NAME: dict[str, type[Sandbox]] = {
    "bwrap": BwrapSandbox,
    "docker": DockerSandbox,
    "process": UnsafeProcessSandbox,
}
AUTO_ORDER = ("bwrap", "docker")
HOW_TO_SEAL = (
    "no sealed sandbox is available ({why}): install bubblewrap (apt-get install bubblewrap), "
    "or start a Docker-API engine and set DOCKER_HOST, or pass --backend process to run unsealed"
)


def select_backend(name: str, *, image: str | None = None) -> Sandbox:
    """The backend called `name`, or for "auto" the first sealed one that works.

    Raises `UsageError` for an unknown name, `SandboxUnavailableError` when the
    named (or every sealed) backend cannot run here.
    """
    if name != "auto":
        cls = BACKEND_FOR_NAME.get(name)
        if cls is None:
            known = ", ".join(["auto", *BACKEND_FOR_NAME])
            raise UsageError(f"unknown sandbox backend {name!r} (known: {known})")
        backend = cls()
        reason = backend.available()
        if reason is not None:
            raise SandboxUnavailableError(f"sandbox backend {name} is unavailable: {reason}")
        return backend
    reasons = []
    for candidate in AUTO_ORDER:
        backend = BACKEND_FOR_NAME[candidate]()
        reason = backend.available()
        if reason is None and isinstance(backend, DockerSandbox):
            reason = backend.image_missing(image)
        if reason is None:
            return backend
        reasons.append(f"{candidate}: {reason}")
    raise SandboxUnavailableError(HOW_TO_SEAL.format(why="; ".join(reasons)))
