"""`verify keys init|show` and `verify attest check|sign`: exit codes and lines."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from verifier.attest.dsse import read_envelopes, write_envelope
from verifier.attest.keys import init_keys, load_or_none_signing_key
from verifier.attest.statements import run_statement, sign_statement
from verifier.cli import main
from verifier.models import OutputFile, RunRecord, RunRef, Verdict

RESULTS = b'{"accuracy": 0.813}'
HEX = hashlib.sha256(RESULTS).hexdigest()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("VERIFY_HOME", str(home))
    monkeypatch.delenv("VERIFY_ROOT", raising=False)
    return home


def run(*args: str) -> int:
    return main(list(args))


def record() -> RunRecord:
    return RunRecord(
        id="run-7",
        key="sha256:" + "a" * 64,
        paper="demo-paper",
        repro="R1",
        seed=0,
        backend="docker",
        sealed=True,
        seal="sha256:" + "b" * 64,
        entrypoint=["python", "-m", "x"],
        params_digest="sha256:" + "c" * 64,
        environment={},
        started="2026-06-23T08:11:44Z",
        ended="2026-06-23T08:11:45Z",
        duration_s=1.0,
        exit_code=0,
        status="ok",
        reason="ok",
        outputs=[OutputFile(path="results.json", sha256=f"sha256:{HEX}", size=len(RESULTS))],
    )


def attest_run(home: Path, rec: RunRecord) -> Path:
    """The run's provenance, signed with the home's key, in an envelope file."""
    key = load_or_none_signing_key(home)
    assert key is not None
    return write_envelope(home / f"{rec.id}.intoto.jsonl", sign_statement(run_statement(rec), key))


def store(home: Path, data: bytes) -> Path:
    path = home / "artifacts" / "sha256" / HEX[:2] / HEX[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_keys_init(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("keys", "init") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"private key: {home / 'keys' / 'ed25519.pem'} (mode 0600; keep it secret)"
    assert stat.S_IMODE(os.stat(home / "keys" / "ed25519.pem").st_mode) == 0o600
    assert run("keys", "init") == 2
    assert "exists; use --force to replace the key pair" in capsys.readouterr().err
    assert run("keys", "init", "--force", "--json") == 0
    keyid = json.loads(capsys.readouterr().out)["keyid"]
    assert run("keys", "show") == 0
    assert capsys.readouterr().out.strip().endswith(keyid)


def test_check_good_then_tampered_store(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pair = init_keys(home)
    path = attest_run(home, record())
    assert path is not None
    store(home, RESULTS)
    assert run("attest", "check", str(path)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{path}: OK: signed by {pair.keyid}; https://slsa.dev/provenance/v1",
        f"{path}: results.json: sha256:{HEX} matches the artifact store",
    ]
    store(home, b"not the results")
    assert run("attest", "check", str(path), "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["envelopes"][0]["subjects"][0]["result"] == "mismatch"
    assert run("attest", "check", str(path)) == 1
    assert capsys.readouterr().out.splitlines()[-1] == f"{path}: DIGEST MISMATCH: results.json"


def test_check_bad_signature_and_other_key(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init_keys(home)
    path = attest_run(home, record())
    assert path is not None
    (envelope,) = read_envelopes(path.read_bytes())
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["subject"][0]["digest"]["sha256"] = "0" * 64
    forged = {**envelope, "payload": base64.b64encode(json.dumps(payload).encode()).decode()}
    bad = tmp_path / "forged.intoto.jsonl"
    bad.write_text(json.dumps(forged))
    assert run("attest", "check", str(bad)) == 1
    assert capsys.readouterr().out.startswith(
        f"{bad}: BAD SIGNATURE: no signature verifies with key "
    )
    other = init_keys(tmp_path / "other")
    assert run("attest", "check", str(path), "--key", str(other.public)) == 1
    capsys.readouterr()


def test_check_malformed(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init_keys(home)
    junk = tmp_path / "junk.json"
    junk.write_text("this is not json\n")
    assert run("attest", "check", str(junk)) == 2
    assert capsys.readouterr().err.startswith(f"verify: error: {junk}: line 1 is not JSON")
    junk.write_text('{"payloadType": "x"}')
    assert run("attest", "check", str(junk)) == 2
    assert capsys.readouterr().err == (
        f"verify: error: {junk}: envelope needs string fields payloadType and payload\n"
    )


def _signed(home: Path, payload: bytes, payload_type: str = "application/vnd.in-toto+json") -> dict[str, Any]:
    from verifier.attest.dsse import sign

    key = load_or_none_signing_key(home)
    assert key is not None
    return sign(payload, key, payload_type)


def _hostile(home: Path, case: str) -> bytes:
    """Envelope files an attacker might hand to `verify attest check` (issue 18, item 4)."""
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": [{"digest": {"sha256": HEX}}],
                            "predicateType": "https://example.com/p/v1"}).encode()
    if case == "too-big":
        return b" " * (16 << 20) + b"{}"
    if case == "deep-file":
        return b"[" * 300_000 + b"]" * 300_000
    if case == "wide-file":
        return b"[" + b"0," * 300_000 + b"0]"
    if case == "base64-bomb":  # a payload of zeros, far past any statement, base64 in one string
        return json.dumps({"payloadType": "x", "payload": "A" * (17 << 20), "signatures": [{"sig": "AA=="}]}).encode()
    if case == "deep-payload":  # signed with the checker's own key: the payload is still parsed within caps
        return json.dumps(_signed(home, b"[" * 100_000 + b"]" * 100_000)).encode()
    if case == "wrong-type":
        return json.dumps(_signed(home, statement, "text/plain")).encode()
    if case == "many-signatures":
        envelope = _signed(home, statement)
        return json.dumps({**envelope, "signatures": envelope["signatures"] * 1000}).encode()
    if case == "huge-int":
        return json.dumps(_signed(home, b'{"_type": ' + b"9" * 5000 + b"}")).encode()
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("too-big", "larger than 16 MiB"),
        ("deep-file", "nests deeper than 128 levels"),
        ("wide-file", "more than 200000 JSON values"),
        ("base64-bomb", "larger than 16 MiB"),
        ("deep-payload", "payload nests deeper than 128 levels"),
        ("wrong-type", "payloadType is 'text/plain', expected 'application/vnd.in-toto+json'"),
        ("many-signatures", "at most 16 are checked"),
        ("huge-int", "payload is not UTF-8 JSON"),
    ],
)
def test_hostile_envelopes_are_one_line_and_exit_2(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    import time

    init_keys(home)
    path = tmp_path / f"{case}.intoto.jsonl"
    path.write_bytes(_hostile(home, case))
    capsys.readouterr()
    started = time.monotonic()
    assert run("attest", "check", str(path)) == 2
    assert time.monotonic() - started < 2.0
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"verify: error: {path}: ") and message in err


def test_check_without_key(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.json"
    f.write_text("{}")
    assert run("attest", "check", str(f)) == 2
    assert "no public key at " in capsys.readouterr().err


def test_sign_then_check(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init_keys(home)
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "results.json", "digest": {"sha256": HEX}}],
        "predicateType": "https://example.com/test/v1",
        "predicate": {"note": "hand-made"},
    }
    src = tmp_path / "statement.json"
    src.write_text(json.dumps(statement))
    assert run("attest", "sign", str(src)) == 0
    out = Path(capsys.readouterr().out.strip())
    assert out == tmp_path / "statement.intoto.jsonl"
    assert run("attest", "check", str(out)) == 0
    assert "not in the artifact store (not checked)" in capsys.readouterr().out


def test_attest_paper_from_ledger(
    make_root: Any, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`verify attest paper` signs the ledger's runs and latest verdicts; every envelope checks offline."""
    ledger_mod = pytest.importorskip("verifier.ledger")
    root = make_root(seal=False).path
    assert run("--root", str(root), "attest", "paper", "demo-paper") == 2
    assert "run `verify keys init` first" in capsys.readouterr().err
    init_keys(home)
    rec = record().model_copy(update={"id": "run-9", "repro": "R1"})
    with ledger_mod.Ledger.open(home) as ledger:
        assert ledger.store.put_bytes(RESULTS) == f"sha256:{HEX}"
        ledger.add_run(rec)
        ledger.add_verdict(
            Verdict(
                claim="demo-paper/C1",
                status="verified",
                gate=2,
                reason="ok",
                evaluated="2026-06-23T08:12:00+00:00",
                run=RunRef(id="run-9", seal=rec.seal, duration_s=1.0, exit_code=0),
            )
        )
    assert run("--root", str(root), "attest", "paper", "demo-paper", "--json") == 0
    envelopes = [Path(p) for p in json.loads(capsys.readouterr().out)["envelopes"]]
    # One layout: envelopes in the artifact store, named by digest; the claim's index links them.
    for path in envelopes:
        assert path.relative_to(home).parts[:2] == ("artifacts", "sha256")
        assert path.name == hashlib.sha256(path.read_bytes()).hexdigest()[2:]
    index = json.loads((home / "attestations" / "index" / "demo-paper" / "C1.json").read_text())
    assert [home / index["runs"][0]["path"], home / index["verdict"]["path"]] == envelopes
    for path in envelopes:
        assert run("--root", str(root), "attest", "check", str(path)) == 0
    out = capsys.readouterr().out
    assert f"results.json: sha256:{HEX} matches the artifact store" in out
    assert "https://slsa.dev/verification_summary/v1" in out
    (vsa,) = read_envelopes(envelopes[1].read_bytes())
    statement = json.loads(base64.b64decode(vsa["payload"]))
    (ref,) = statement["predicate"]["inputAttestations"]
    assert ref["digest"]["sha256"] == hashlib.sha256(envelopes[0].read_bytes()).hexdigest()
    assert (
        "demo-paper/C1: manifest sha256:" in out
        and "is the current manifests/demo-paper/manifest.yaml" in out
    )
    # After a correction, the verdict's attestation names a superseded manifest.
    manifest = root / "manifests" / "demo-paper" / "manifest.yaml"
    before = "sha256:" + hashlib.sha256(manifest.read_bytes()).hexdigest()
    manifest.write_text(manifest.read_text().replace("A demo paper", "A corrected demo paper"))
    assert (
        run(
            "--root",
            str(root),
            "correct",
            "demo-paper",
            "--type",
            "correction",
            "--claims",
            "C1",
            "--reason",
            "title",
            "--manifest-before",
            before,
        )
        == 0
    )
    capsys.readouterr()
    assert run("--root", str(root), "attest", "check", str(envelopes[1])) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{envelopes[1]}: demo-paper/C1: manifest {before} is the version before correction 1 "
        "(correction): superseded"
    )


def test_sign_refuses_a_hostile_statement(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init_keys(home)
    src = tmp_path / "deep.json"
    src.write_text("[" * 100_000 + "]" * 100_000)
    assert run("attest", "sign", str(src)) == 2
    assert capsys.readouterr().err == f"verify: error: {src}: statement nests deeper than 128 levels\n"
