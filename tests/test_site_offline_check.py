"""A reader checks the site's attestations with nothing but the site's own files.

The site is copied to a fresh directory (so neither the root nor the home can
help), and the exact command its check page prints is run from inside it.
The same command then catches a one-byte change in an envelope and in a file
an envelope names.
"""

from __future__ import annotations

import html
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.attest.keys import init_keys, key_id, load_public_key, public_key_path
from verifier.cli import main
from verifier.executor import Options, verify_claims
from verifier.site import build_site


@pytest.fixture
def site(make_root: RootFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site built from a signed, verified root, then moved away from it."""
    monkeypatch.delenv("VERIFY_HOME", raising=False)
    root = make_root(manifest_document("demo-paper")).path
    init_keys(root / ".verify")
    verify_claims(Options(root=root, home=root / ".verify", backend="process"), ["demo-paper"])
    built = tmp_path / "built"
    build_site(root, root / ".verify", built)
    shipped = tmp_path / "downloaded-site"
    shutil.copytree(built, shipped)
    shutil.rmtree(root)  # nothing of the verifier's own state is left to lean on
    return shipped


def _commands(site: Path) -> list[str]:
    page = (site / "check.html").read_text()
    return [html.unescape(c) for c in re.findall(r'<code class="command">(.*?)</code>', page)]


def _run(site: Path, command: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run a check-page command as a reader would, from inside the site: `VERIFY_HOME=. verify ...`."""
    env, verify, *argv = shlex.split(command)
    assert env == "VERIFY_HOME=." and verify == "verify"
    monkeypatch.chdir(site)
    monkeypatch.setenv("VERIFY_HOME", ".")
    return main(argv)


def test_the_site_ships_the_public_key_and_never_the_private_one(site: Path) -> None:
    assert (site / "keys" / "ed25519.pub.pem").is_file()
    assert not list(site.rglob("ed25519.pem"))
    keyid = key_id(load_public_key(site / "keys" / "ed25519.pub.pem"))
    assert keyid in (site / "check.html").read_text()
    assert 'href="check.html"' in (site / "index.html").read_text()
    assert 'href="../check.html"' in (site / "papers" / "demo-paper.html").read_text()


def test_one_attestation_checks_offline_from_the_site_alone(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = _commands(site)
    assert len(commands) >= 2  # the verdict summary and the run's provenance
    run_check = next(c for c in commands if "--key keys/ed25519.pub.pem" in c)
    assert _run(site, run_check, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "OK: signed by" in out and "MISMATCH" not in out


def test_a_one_byte_change_in_the_envelope_is_caught(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    command = _commands(site)[0]
    envelope = site / shlex.split(command)[4]
    data = bytearray(envelope.read_bytes())
    # One byte inside the base64 payload: still valid JSON and base64, but not what was signed.
    at = data.index(b'"payload":"') + len('"payload":"') + 20
    data[at] = ord("A") if data[at] != ord("A") else ord("B")
    os.chmod(envelope, 0o644)
    envelope.write_bytes(bytes(data))
    assert _run(site, command, monkeypatch) == 1
    assert "BAD SIGNATURE" in capsys.readouterr().out


def test_a_one_byte_change_in_a_named_file_is_caught(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The run's provenance names results.json; the site holds its copy under artifacts/.
    commands = [c for c in _commands(site) if c != _commands(site)[0]] or _commands(site)
    assert _run(site, commands[-1], monkeypatch) == 0
    named = re.findall(r"sha256:([0-9a-f]{64}) matches", capsys.readouterr().out)
    assert named, "the provenance names no file the site holds"
    target = site / "artifacts" / "sha256" / named[0][:2] / named[0][2:]
    data = bytearray(target.read_bytes())
    data[0] ^= 0x01
    os.chmod(target, 0o644)
    target.write_bytes(bytes(data))
    assert _run(site, commands[-1], monkeypatch) == 1
    assert "DIGEST MISMATCH" in capsys.readouterr().out


def test_without_a_key_the_page_says_so(make_root: RootFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERIFY_HOME", raising=False)
    root = make_root(manifest_document("demo-paper")).path
    verify_claims(Options(root=root, home=root / ".verify", backend="process"), ["demo-paper"])
    build_site(root, root / ".verify", tmp_path / "site")
    assert not public_key_path(root / ".verify").exists()
    page = (tmp_path / "site" / "check.html").read_text()
    assert "No signing key was found" in page and "No signed attestations yet" in page
