"""The one Docker API call a cached run makes, without the docker SDK.

Importing the SDK (requests, urllib3, its models) costs 0.3-1.2 s here; a
cache hit needs only the image's facts, which one `GET /images/<ref>/json`
over the engine's unix socket gives in milliseconds. Side effects: one
connection to the socket.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote

API_VERSION = "1.41"  # Docker Engine 20.10+, podman 3+
TIMEOUT_S = 30.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=TIMEOUT_S)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT_S)
        sock.connect(self._path)
        self.sock = sock


def inspect_image(socket_path: str, ref: str, *, version: str = API_VERSION) -> dict[str, Any] | None:
    """The engine's inspect document of image `ref`, or None when it has no such image.

    Raises `OSError` when the engine cannot be reached or answers with an
    error, `ValueError` when the answer is not a JSON object.
    """
    conn = _UnixConnection(socket_path)
    try:
        conn.request("GET", f"/v{version}/images/{quote(ref, safe='')}/json")
        response = conn.getresponse()
        body = response.read()
    except http.client.HTTPException as e:
        raise OSError(f"bad answer from the engine: {e}") from e
    finally:
        conn.close()
    if response.status == 404:
        return None
    if response.status != 200:
        raise OSError(f"engine answered {response.status}: {body[:200].decode(errors='replace')}")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("the engine's image document is not an object")
    return document
