"""DSSE v1 envelopes (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md), read as hostile input.

The signature is over `PAE(payloadType, payload)`; `keyid` is defined in
`verifier.attest.keys` and is only a hint. An envelope file holds one JSON
envelope, or several as JSON Lines (an in-toto `.intoto.jsonl` bundle).

Whoever hands us an envelope file may be an attacker, so before any parser
recurses or allocates in proportion to the input, the file is held to caps:
`MAX_FILE_BYTES` of file, `MAX_DEPTH` of JSON nesting, `MAX_NODES` JSON
values, `MAX_SIGNATURES` per envelope and `MAX_ENVELOPES` per file (a
signature check costs ~0.1 ms: the caps bound the work to about a second).
Base64 is decoded strictly (canonical encodings only), and JSON objects may
not repeat a key (two parsers must not read two documents from one signed
text). Each refusal is an `EnvelopeFormatError` (exit 2) naming what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from verifier.errors import EnvelopeFormatError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
MAX_FILE_BYTES: Final = 16 << 20
MAX_DEPTH: Final = 128
MAX_NODES: Final = 200_000
MAX_SIGNATURES: Final = 16
MAX_ENVELOPES: Final = 10_000

# A JSON string (skipped whole) or one structural character.
_TOKENS: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of a payload and its type.

    `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where
    LEN is the byte count in ASCII decimal and `type` is UTF-8 encoded. Signing
    this, rather than the payload alone, binds the type to the bytes, so a
    signed payload cannot be replayed as another type.
    """
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def sign(payload: bytes, key: Ed25519PrivateKey, payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
    """A DSSE envelope of `payload`, signed with `key`."""
    from verifier.attest.keys import key_id

    signature = key.sign(pae(payload_type, payload))
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode("ascii")}
        ],
    }


def decode(envelope: Any) -> tuple[str, bytes, list[tuple[str | None, bytes]]]:
    """The envelope's payloadType, payload and (keyid, signature) pairs, base64-decoded.

    Raises `EnvelopeFormatError` for any other shape.
    """
    if not isinstance(envelope, dict):
        raise EnvelopeFormatError("a DSSE envelope is a JSON object")
    payload_type, payload, sigs = (
        envelope.get("payloadType"),
        envelope.get("payload"),
        envelope.get("signatures"),
    )
    if not isinstance(payload_type, str) or not isinstance(payload, str):
        raise EnvelopeFormatError("envelope needs string fields payloadType and payload")
    if not isinstance(sigs, list) or not sigs:
        raise EnvelopeFormatError("envelope has no signatures")
    if len(sigs) > MAX_SIGNATURES:
        raise EnvelopeFormatError(f"envelope has {len(sigs)} signatures; at most {MAX_SIGNATURES} are checked")
    decoded: list[tuple[str | None, bytes]] = []
    for i, entry in enumerate(sigs):
        keyid = entry.get("keyid") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("sig"), str):
            raise EnvelopeFormatError(f"signatures[{i}] needs a string sig")
        if keyid is not None and not isinstance(keyid, str):
            raise EnvelopeFormatError(f"signatures[{i}].keyid is not a string")
        decoded.append((keyid, _b64decode(entry["sig"], f"signatures[{i}].sig")))
    return payload_type, _b64decode(payload, "payload"), decoded


def _b64decode(text: str, field: str) -> bytes:
    """Base64, standard or URL-safe alphabet (DSSE allows both), canonical encodings only.

    Re-encoding must give back the input (padding aside): a payload has one
    text form, so a changed character is never silently decoded to the same bytes.
    """
    # DSSE lets producers pick either alphabet, and some drop the padding.
    standard = text.replace("-", "+").replace("_", "/")
    padded = standard + "=" * (-len(standard) % 4)
    try:
        data = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as e:
        raise EnvelopeFormatError(f"{field} is not base64: {e}") from e
    if base64.b64encode(data).decode("ascii") != padded:
        raise EnvelopeFormatError(f"{field} is not canonical base64")
    return data


def check_shape(text: str, what: str) -> None:
    """Refuse JSON nested deeper than `MAX_DEPTH` or with more than `MAX_NODES` values, before parsing.

    A linear scan that skips strings whole; it bounds what `json.loads` will
    recurse into and allocate (it does not validate the JSON).
    """
    depth = nodes = 0
    for match in _TOKENS.finditer(text):
        char = match.group()[0]
        if char in "[{":
            depth += 1
            nodes += 1
            if depth > MAX_DEPTH:
                raise EnvelopeFormatError(f"{what} nests deeper than {MAX_DEPTH} levels")
        elif char in "]}":
            depth -= 1
        elif char == ",":
            nodes += 1
        if nodes > MAX_NODES:
            raise EnvelopeFormatError(f"{what} holds more than {MAX_NODES} JSON values")


def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook` that refuses a repeated key rather than choosing one of its values."""
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise EnvelopeFormatError(
            f"duplicate JSON key {next(k for k in keys if keys.count(k) > 1)!r}"
        )
    return dict(pairs)


def parse_json_object(data: bytes, what: str = "payload") -> dict[str, Any]:
    """UTF-8 JSON bytes that must hold one object, within the caps (module docstring).

    Raises `EnvelopeFormatError` if they do not.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EnvelopeFormatError(f"{what} is not UTF-8 JSON: {e}") from e
    check_shape(text, what)
    try:
        value = json.loads(text, object_pairs_hook=no_duplicates)
    except ValueError as e:
        raise EnvelopeFormatError(f"{what} is not UTF-8 JSON: {e}") from e
    if not isinstance(value, dict):
        raise EnvelopeFormatError(f"{what} is not a JSON object")
    return value


def read_envelopes(data: bytes) -> list[Any]:
    """The envelopes of a file's bytes: one JSON object, or JSON Lines (an in-toto bundle).

    Raises `EnvelopeFormatError` if the bytes exceed the caps, are not
    UTF-8, a line is not JSON, or an object repeats a key.
    """
    if len(data) > MAX_FILE_BYTES:
        raise EnvelopeFormatError(f"larger than {MAX_FILE_BYTES >> 20} MiB; not an envelope file")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise EnvelopeFormatError(f"not UTF-8: {e}") from e
    check_shape(text, "the file")
    try:
        return [json.loads(text, object_pairs_hook=no_duplicates)]
    except json.JSONDecodeError:
        pass  # perhaps JSON Lines
    envelopes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                envelopes.append(json.loads(line, object_pairs_hook=no_duplicates))
            except json.JSONDecodeError as e:
                raise EnvelopeFormatError(f"line {number} is not JSON: {e}") from e
    if not envelopes:
        raise EnvelopeFormatError("empty file")
    if len(envelopes) > MAX_ENVELOPES:
        raise EnvelopeFormatError(f"{len(envelopes)} envelopes; at most {MAX_ENVELOPES} are checked")
    return envelopes


def read_envelope_file(path: Path) -> list[Any]:
    """`read_envelopes` of a file, reading no more than the cap allows.

    Raises `EnvelopeFormatError` naming the file if it cannot be read or is not an envelope file.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise EnvelopeFormatError(f"cannot read: {e.strerror}", file=path) from e
    try:
        return read_envelopes(data)
    except EnvelopeFormatError as e:
        raise EnvelopeFormatError(e.message, file=path) from e


def envelope_bytes(envelope: Mapping[str, Any]) -> bytes:
    """An envelope as one line of JSON (so files concatenate into `.intoto.jsonl` bundles)."""
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode() + b"\n"


def write_envelope(path: Path, envelope: Mapping[str, Any]) -> Path:
    """Write an envelope file atomically (`verifier.store.atomic_write`); return its path."""
    from verifier.store import atomic_write

    return atomic_write(Path(path), envelope_bytes(envelope))
