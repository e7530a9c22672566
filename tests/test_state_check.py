"""`verify ledger check`: one flipped byte in each kind of stored object is reported, with exit 1."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RootFactory
from verifier.cli import main
from verifier.ledger import DB_NAME
from verifier.root import VerificationRoot
from verifier.state_check import index_files, stored_objects
from verifier.store import ArtifactStore


@pytest.fixture(autouse=True)
def _no_ambient_state(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VERIFY_HOME", "VERIFY_ROOT", "VERIFY_BACKEND", "VERIFY_TIER"):
        monkeypatch.delenv(name, raising=False)


def verify(root: VerificationRoot, *args: str) -> int:
    return main(["--root", str(root.path), *args])


def check(root: VerificationRoot, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    status = verify(root, "ledger", "check", "--json")
    return status, json.loads(capsys.readouterr().out)


@pytest.fixture
def verified(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> VerificationRoot:
    """A root with a signing key and one real (unsealed, `process`) verification recorded and attested."""
    root = make_root()
    assert verify(root, "keys", "init") == 0
    assert verify(root, "ci", "--backend", "process") == 0
    capsys.readouterr()
    return root


def replace_byte(path: Path, offset: int, byte: bytes) -> None:
    """Overwrite one byte of a (read-only) file in place."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset : offset + 1] = byte
    path.write_bytes(bytes(data))


def flip(path: Path, offset: int) -> None:
    """Flip one bit of one byte of a (read-only) file in place."""
    data = path.read_bytes()
    offset %= len(data)
    replace_byte(path, offset, bytes([data[offset] ^ 0x01]))


def envelope_digests(home: Path) -> set[str]:
    digests: set[str] = set()
    for index in index_files(home):
        value = json.loads(index.read_text())
        digests.add(value["verdict"]["digest"])
        digests.update(r["digest"] for r in value["runs"])
    return digests


def test_a_clean_state_passes(verified: VerificationRoot, capsys: pytest.CaptureFixture[str]) -> None:
    status, report = check(verified, capsys)
    assert status == 0, report
    assert report["ok"] and report["problems"] == []
    checked = report["checked"]
    assert checked["entries"] >= 2 and checked["artifacts"] >= 3 and checked["envelopes"] >= 2
    assert checked["signatures"] is True
    capsys.readouterr()
    assert verify(verified, "ledger", "check") == 0
    assert capsys.readouterr().out.startswith("ledger check: ok: ")


def test_a_flipped_byte_in_a_ledger_row_is_reported(verified: VerificationRoot, capsys: pytest.CaptureFixture[str]) -> None:
    db = verified.path / ".verify" / DB_NAME
    with sqlite3.connect(db) as conn:
        body = conn.execute("SELECT body FROM entries WHERE seq = 1").fetchone()[0]
        # One byte of the stored run record: its exit code 0 becomes 1.
        assert '"exit_code":0' in body
        conn.execute("UPDATE entries SET body = ? WHERE seq = 1", (body.replace('"exit_code":0', '"exit_code":1'),))
    status, report = check(verified, capsys)
    assert status == 1
    assert {"kind": "ledger", "subject": "entry 1", "what": "was changed after it was written"} in report["problems"]
    assert all(p["kind"] == "ledger" for p in report["problems"])


def test_a_flipped_byte_in_an_artifact_is_reported(verified: VerificationRoot, capsys: pytest.CaptureFixture[str]) -> None:
    home = verified.path / ".verify"
    envelopes = envelope_digests(home)
    objects = stored_objects(ArtifactStore(home))
    digest, path = next((d, p) for d, p in objects.items() if d not in envelopes and p.stat().st_size)
    flip(path, 0)
    status, report = check(verified, capsys)
    assert status == 1
    [problem] = report["problems"]
    assert problem["kind"] == "artifact" and problem["subject"] == digest
    assert problem["what"].startswith("corrupt: its bytes hash to sha256:")


def test_a_flipped_byte_in_an_envelope_is_reported(verified: VerificationRoot, capsys: pytest.CaptureFixture[str]) -> None:
    home = verified.path / ".verify"
    store = ArtifactStore(home)
    index = json.loads(index_files(home)[0].read_text())
    digest = index["verdict"]["digest"]
    path = store.path(digest)
    envelope = json.loads(path.read_bytes())
    # Swap one signature character for another base64 character, so the envelope stays well formed and
    # only the signature is wrong (a bit flip can land outside the alphabet, e.g. "/" becomes ".").
    sig = envelope["signatures"][0]["sig"]
    offset = path.read_bytes().index(sig.encode()) + 3
    replace_byte(path, offset, b"B" if sig[3] == "A" else b"A")
    status, report = check(verified, capsys)
    assert status == 1
    kinds = {(p["kind"], p["subject"].split(" ")[0]) for p in report["problems"]}
    assert ("artifact", digest) in kinds and ("envelope", digest) in kinds
    [bad] = [p for p in report["problems"] if p["kind"] == "envelope"]
    assert bad["what"].startswith("BAD SIGNATURE")


def test_a_missing_artifact_is_reported(verified: VerificationRoot, capsys: pytest.CaptureFixture[str]) -> None:
    home = verified.path / ".verify"
    with sqlite3.connect(home / DB_NAME) as conn:
        results = json.loads(conn.execute("SELECT body FROM entries WHERE kind = 'run'").fetchone()[0])["results_digest"]
    ArtifactStore(home).path(results).unlink()
    status, report = check(verified, capsys)
    assert status == 1
    assert any(p["subject"] == results and p["what"].startswith("missing (named by run ") for p in report["problems"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(min_value=0, max_value=10_000))
def test_any_flipped_byte_of_a_stored_object_is_reported(
    make_root: RootFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path, offset: int
) -> None:
    """Wherever the flipped byte lands in whichever object, the store walk names that object."""
    root = make_root()
    home = root.path / ".verify"
    if not (home / DB_NAME).exists():
        assert verify(root, "keys", "init") == 0
        assert verify(root, "ci", "--backend", "process") == 0
    # An empty object (an empty stderr log) has no byte to flip.
    objects = sorted((d, p) for d, p in stored_objects(ArtifactStore(home)).items() if p.stat().st_size)
    digest, path = objects[offset % len(objects)]
    original = path.read_bytes()
    flip(path, offset)
    try:
        status, report = check(root, capsys)
        assert status == 1
        assert any(p["kind"] == "artifact" and p["subject"] == digest for p in report["problems"])
    finally:
        path.write_bytes(original)
