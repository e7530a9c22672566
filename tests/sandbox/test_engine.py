"""The SDK-free image inspect: a real HTTP exchange over a unix socket, and the real engine when there is one."""

from __future__ import annotations

import http.server
import os
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from verifier.sandbox import engine
from verifier.sandbox.docker import DockerSandbox, default_image

ANSWERS: dict[str, tuple[int, bytes]] = {
    "/v1.41/images/localhost%2Fok%3A1/json": (200, b'{"Id": "sha256:abc", "Os": "linux"}'),
    "/v1.41/images/localhost%2Flist%3A1/json": (200, b"[1, 2]"),
    "/v1.41/images/localhost%2Fbroken%3A1/json": (500, b'{"message": "storage is on fire"}'),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = ANSWERS.get(self.path, (404, b'{"message": "no such image"}'))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "engine.sock")
    server = _Server(path, _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()


def test_found_missing_and_broken(fake_engine: str) -> None:
    assert engine.inspect_image(fake_engine, "localhost/ok:1") == {"Id": "sha256:abc", "Os": "linux"}
    assert engine.inspect_image(fake_engine, "localhost/absent:1") is None
    with pytest.raises(OSError, match=r"500.*on fire"):
        engine.inspect_image(fake_engine, "localhost/broken:1")
    with pytest.raises(ValueError, match="not an object"):
        engine.inspect_image(fake_engine, "localhost/list:1")


def test_no_engine_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        engine.inspect_image(str(tmp_path / "nothing.sock"), "localhost/ok:1")


def test_the_backend_reads_facts_without_the_sdk(fake_engine: str) -> None:
    from types import SimpleNamespace

    facts = DockerSandbox(f"unix://{fake_engine}").fingerprint(SimpleNamespace(image="localhost/ok:1"))  # type: ignore[arg-type]
    assert (facts["image_digest"], facts["image_os"], facts["repo_digests"]) == ("sha256:abc", "linux/?", [])


def _real_engine() -> str | None:
    url = os.environ.get("DOCKER_HOST", "")
    path = url.removeprefix("unix://")
    return path if url.startswith("unix://") and os.path.exists(path) else None


@pytest.mark.skipif(_real_engine() is None, reason="no local Docker API socket ($DOCKER_HOST)")
def test_same_facts_as_the_sdk() -> None:
    backend = DockerSandbox()
    ref = default_image()
    if backend.image_missing(ref) is not None:
        pytest.skip(f"image {ref} is not present")
    sdk = backend.image(ref)
    raw = engine.inspect_image(_real_engine() or "", ref)
    assert raw is not None and raw["Id"] == sdk.id
    assert sorted(raw.get("RepoDigests") or []) == sorted(sdk.attrs.get("RepoDigests") or [])
