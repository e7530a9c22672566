"""DSSE envelopes, in-toto Statements (SLSA provenance, VSA), keys (verifier.attest)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.attest.check import check_subjects
from verifier.attest.dsse import pae, read_envelopes, write_envelope
from verifier.attest.keys import (
    init_keys,
    key_id,
    load_or_none_signing_key,
    load_public_key,
    load_signing_key,
)
from verifier.attest.statements import (
    PROVENANCE_TYPE,
    STATEMENT_TYPE,
    VERDICT_EXTENSION,
    VSA_TYPE,
    AttestationRef,
    check_statement,
    claim_uri,
    run_statement,
    sign_statement,
    verdict_statement,
    verify_envelope,
)
from verifier.canonical import canonical
from verifier.errors import EnvelopeFormatError, KeyFileError, SignatureError
from verifier.models import OutputFile, Repro, RunRecord, Verdict
from verifier.store import ArtifactStore

HEX_A = "a" * 64
HEX_B = "b" * 64
HEX_C = "c" * 64


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


RESULTS = b'{"learning_rate": 5e-05}'


def run_record(**overrides: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "id": "run-0001",
        "key": f"sha256:{HEX_A}",
        "paper": "demo-paper",
        "repro": "R1",
        "seed": 0,
        "backend": "bwrap",
        "sealed": True,
        "seal": f"sha256:{HEX_B}",
        "entrypoint": ["python", "-m", "bundle.formula"],
        "params_digest": f"sha256:{HEX_C}",
        "inputs": {"data/x.tsv": f"sha256:{HEX_A}"},
        "environment": {
            "backend": "bwrap",
            "python": "3.11.7",
            "image": f"repro-py@sha256:{HEX_C}",
        },
        "started": "2026-06-23T08:11:44+00:00",
        "ended": "2026-06-23T08:11:45.500000+00:00",
        "duration_s": 1.5,
        "exit_code": 0,
        "status": "ok",
        "reason": "ok",
        "outputs": [
            OutputFile(path="results.json", sha256="sha256:" + sha(RESULTS), size=len(RESULTS))
        ],
        "results_digest": "sha256:" + sha(RESULTS),
        "logs": {"stderr": f"sha256:{HEX_B}", "stdout": f"sha256:{HEX_A}"},
    }
    fields.update(overrides)
    return RunRecord(**fields)


REPRO = Repro(
    id="R1",
    bundle="bundle",
    seal=f"sha256:{HEX_B}",
    entrypoint=["python", "-m", "bundle.formula"],
    params={"base_lr": 1e-04, "batch": 16},
)


def verdict(status: str = "verified", **overrides: Any) -> Verdict:
    fields: dict[str, Any] = {
        "claim": "demo-paper/C1",
        "status": status,
        "gate": 2,
        "reason": "computed 5e-05 matches expected 5e-05 (tolerance=5.0%)",
        "expected": 5e-05,
        "computed": 5e-05,
        "evaluated": "2026-06-23T08:12:00+00:00",
    }
    fields.update(overrides)
    return Verdict(**fields)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


# --------------------------------------------------------------------------- PAE


class TestPAE:
    def test_known_answer(self) -> None:
        # From DSSE's protocol.md: LEN is the byte count in ASCII decimal.
        assert pae("http://example.com/HelloWorld", b"hello world") == (
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        )

    def test_empty(self) -> None:
        assert pae("", b"") == b"DSSEv1 0  0 "

    def test_lengths_are_bytes_not_characters(self) -> None:
        assert pae("t\u00e9", "\u00e9".encode()) == b"DSSEv1 3 t\xc3\xa9 2 \xc3\xa9"

    def test_in_toto_type(self) -> None:
        body = b'{"a":1}'
        assert (
            pae("application/vnd.in-toto+json", body)
            == b"DSSEv1 28 application/vnd.in-toto+json 7 " + body
        )


# --------------------------------------------------------------------------- envelopes


class TestEnvelope:
    def test_round_trip(self, key: Ed25519PrivateKey) -> None:
        statement = run_statement(run_record(), repro=REPRO)
        envelope = sign_statement(statement, key)
        assert envelope["payloadType"] == "application/vnd.in-toto+json"
        assert set(envelope) == {"payloadType", "payload", "signatures"}
        (signature,) = envelope["signatures"]
        assert signature["keyid"] == key_id(key.public_key())
        # The payload is the canonical JSON of the statement, and the signature is over its PAE.
        payload = base64.b64decode(envelope["payload"])
        assert payload == canonical(statement)
        key.public_key().verify(
            base64.b64decode(signature["sig"]), pae(envelope["payloadType"], payload)
        )
        assert verify_envelope(envelope, key.public_key()) == statement

    def test_wrong_key(self, key: Ed25519PrivateKey) -> None:
        envelope = sign_statement(run_statement(run_record()), key)
        other = Ed25519PrivateKey.generate().public_key()
        with pytest.raises(SignatureError, match=f"no signature verifies with key {key_id(other)}"):
            verify_envelope(envelope, other)

    def test_keyid_is_only_a_hint(self, key: Ed25519PrivateKey) -> None:
        envelope = sign_statement(run_statement(run_record()), key)
        envelope["signatures"][0]["keyid"] = "someone-else"
        assert verify_envelope(envelope, key.public_key())["_type"] == STATEMENT_TYPE

    def test_url_safe_base64_accepted(self, key: Ed25519PrivateKey) -> None:
        envelope = sign_statement(run_statement(run_record()), key)
        envelope["payload"] = envelope["payload"].replace("+", "-").replace("/", "_").rstrip("=")
        assert verify_envelope(envelope, key.public_key())["_type"] == STATEMENT_TYPE

    def test_type_is_signed(self, key: Ed25519PrivateKey) -> None:
        envelope = sign_statement(run_statement(run_record()), key)
        envelope["payloadType"] = "application/json"
        with pytest.raises(SignatureError):
            verify_envelope(envelope, key.public_key())

    def test_signed_but_wrong_type_is_malformed(self, key: Ed25519PrivateKey) -> None:
        payload = canonical(run_statement(run_record()))
        sig = key.sign(pae("text/plain", payload))
        envelope = {
            "payloadType": "text/plain",
            "payload": base64.b64encode(payload).decode(),
            "signatures": [{"sig": base64.b64encode(sig).decode()}],
        }
        with pytest.raises(EnvelopeFormatError, match="payloadType is 'text/plain'"):
            verify_envelope(envelope, key.public_key())

    def test_signed_duplicate_keys_refused(self, key: Ed25519PrivateKey) -> None:
        payload = b'{"_type":"x","_type":"https://in-toto.io/Statement/v1"}'
        sig = key.sign(pae("application/vnd.in-toto+json", payload))
        envelope = {
            "payloadType": "application/vnd.in-toto+json",
            "payload": base64.b64encode(payload).decode(),
            "signatures": [{"sig": base64.b64encode(sig).decode()}],
        }
        with pytest.raises(EnvelopeFormatError, match="duplicate JSON key '_type'"):
            verify_envelope(envelope, key.public_key())

    @pytest.mark.parametrize(
        ("envelope", "message"),
        [
            ([], "a DSSE envelope is a JSON object"),
            ({"payloadType": "x", "payload": "AA=="}, "envelope has no signatures"),
            ({"payloadType": "x", "signatures": [{"sig": "AA=="}]}, "needs string fields"),
            (
                {"payloadType": "x", "payload": "AA==", "signatures": [{}]},
                r"signatures\[0\] needs a string sig",
            ),
            (
                {"payloadType": "x", "payload": "!!", "signatures": [{"sig": "AA=="}]},
                "payload is not base64",
            ),
            (
                {"payloadType": "x", "payload": "AB==", "signatures": [{"sig": "AA=="}]},
                "not canonical base64",
            ),
        ],
    )
    def test_malformed(self, key: Ed25519PrivateKey, envelope: Any, message: str) -> None:
        with pytest.raises(EnvelopeFormatError, match=message):
            verify_envelope(envelope, key.public_key())


@pytest.fixture(scope="module")
def signed() -> tuple[Ed25519PrivateKey, dict[str, Any]]:
    k = Ed25519PrivateKey.generate()
    return k, sign_statement(run_statement(run_record(), repro=REPRO), k)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_flipped_payload_or_signature_byte_fails(
    signed: tuple[Ed25519PrivateKey, dict[str, Any]], data: st.DataObject
) -> None:
    """Property: flip any bit of the payload or the signature bytes, and verification fails."""
    key, envelope = signed
    field = data.draw(st.sampled_from(["payload", "sig"]))
    raw = bytearray(
        base64.b64decode(
            envelope["payload"] if field == "payload" else envelope["signatures"][0]["sig"]
        )
    )
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] ^= 1 << data.draw(st.integers(0, 7))
    tampered = json.loads(json.dumps(envelope))
    encoded = base64.b64encode(bytes(raw)).decode()
    if field == "payload":
        tampered["payload"] = encoded
    else:
        tampered["signatures"][0]["sig"] = encoded
    with pytest.raises(SignatureError):
        verify_envelope(tampered, key.public_key())


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_changed_base64_character_fails(
    signed: tuple[Ed25519PrivateKey, dict[str, Any]], data: st.DataObject
) -> None:
    """Property: change any character of the payload's text, and it is a bad signature or malformed, never OK."""
    key, envelope = signed
    text = envelope["payload"]
    pos = data.draw(st.integers(0, len(text) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
    new = data.draw(st.sampled_from(alphabet).filter(lambda c: c != text[pos]))
    tampered = {**envelope, "payload": text[:pos] + new + text[pos + 1 :]}
    with pytest.raises((SignatureError, EnvelopeFormatError)):
        verify_envelope(tampered, key.public_key())


# --------------------------------------------------------------------------- statements


class TestRunStatement:
    def test_fields(self) -> None:
        s = run_statement(run_record(), repro=REPRO)
        assert s["_type"] == "https://in-toto.io/Statement/v1"
        assert s["predicateType"] == "https://slsa.dev/provenance/v1"
        assert s["subject"] == [{"name": "results.json", "digest": {"sha256": sha(RESULTS)}}]
        build = s["predicate"]["buildDefinition"]
        assert build["buildType"] == "https://claim-verifier.invalid/run/v1"
        ext = build["externalParameters"]
        assert ext["bundle"] == {"seal": f"sha256:{HEX_B}", "path": "bundle"}
        assert ext["entrypoint"] == ["python", "-m", "bundle.formula"]
        assert ext["params"] == {
            "digest": {"sha256": HEX_C},
            "value": {"base_lr": 1e-04, "batch": 16},
        }
        assert ext["inputs"] == {"data/x.tsv": f"sha256:{HEX_A}"}
        assert build["internalParameters"]["limits"]["timeout_s"] == 600
        assert build["internalParameters"]["environment"]["python"] == "3.11.7"
        assert build["resolvedDependencies"] == [
            {"name": "bundle", "digest": {"verifyTree": HEX_B}},
            {"name": "data/x.tsv", "digest": {"sha256": HEX_A}},
            {
                "name": "repro-py",
                "uri": f"docker://repro-py@sha256:{HEX_C}",
                "digest": {"sha256": HEX_C},
            },
        ]
        details = s["predicate"]["runDetails"]
        assert details["builder"]["id"] == "https://claim-verifier.invalid/backend/bwrap"
        assert details["metadata"] == {
            "invocationId": "run-0001",
            "startedOn": "2026-06-23T08:11:44Z",
            "finishedOn": "2026-06-23T08:11:45.500000Z",
        }
        assert details["byproducts"] == [
            {"name": "stderr", "digest": {"sha256": HEX_B}, "mediaType": "text/plain"},
            {"name": "stdout", "digest": {"sha256": HEX_A}, "mediaType": "text/plain"},
        ]
        check_statement(s)

    def test_spec_shape(self) -> None:
        """The fields SLSA Provenance v1 and Statement v1 require, checked by hand."""
        s = run_statement(run_record())
        assert set(s) == {"_type", "subject", "predicateType", "predicate"}
        assert all(
            set(x["digest"]) and all(len(v) == 64 for v in x["digest"].values())
            for x in s["subject"]
        )
        pred = s["predicate"]
        assert set(pred) == {"buildDefinition", "runDetails"}
        assert isinstance(pred["buildDefinition"]["externalParameters"], dict)
        assert pred["buildDefinition"]["buildType"].startswith("https://")
        assert pred["runDetails"]["builder"]["id"].startswith("https://")
        for dep in (
            pred["buildDefinition"]["resolvedDependencies"] + pred["runDetails"]["byproducts"]
        ):
            assert {"uri", "digest", "content"} & set(dep)

    def test_no_outputs_attests_logs(self) -> None:
        s = run_statement(run_record(outputs=[], status="crashed"))
        assert [x["name"] for x in s["subject"]] == ["stderr", "stdout"]

    def test_nothing_to_attest(self) -> None:
        with pytest.raises(ValueError, match="no outputs and no logs"):
            run_statement(run_record(outputs=[], logs={}))


class TestVerdictStatement:
    def make(self, v: Verdict) -> dict[str, Any]:
        return verdict_statement(
            v,
            manifest_digest=f"sha256:{HEX_A}",
            policy_uri="https://claim-verifier.invalid/policy/default/v1",
            policy_digest=f"sha256:{HEX_B}",
            input_attestations=[
                AttestationRef("file:///x/run-0001.intoto.jsonl", f"sha256:{HEX_C}")
            ],
        )

    def test_verified(self) -> None:
        s = self.make(verdict())
        assert s["predicateType"] == VSA_TYPE
        assert s["subject"] == [
            {
                "name": "demo-paper/C1",
                "uri": "https://claim-verifier.invalid/claim/demo-paper/C1",
                "digest": {"sha256": HEX_A},
            }
        ]
        p = s["predicate"]
        assert p["verifier"]["id"] == "https://claim-verifier.invalid/verifier"
        assert p["timeVerified"] == "2026-06-23T08:12:00Z"
        assert p["resourceUri"] == claim_uri("demo-paper/C1")
        assert p["policy"] == {
            "uri": "https://claim-verifier.invalid/policy/default/v1",
            "digest": {"sha256": HEX_B},
        }
        assert p["inputAttestations"] == [
            {"uri": "file:///x/run-0001.intoto.jsonl", "digest": {"sha256": HEX_C}}
        ]
        assert (p["verificationResult"], p["verifiedLevels"]) == ("PASSED", ["VERIFY_GATE_2"])
        assert p[VERDICT_EXTENSION]["status"] == "verified"
        check_statement(s)

    @pytest.mark.parametrize("status", ["refuted", "inconclusive", "unverified"])
    def test_everything_else_fails_closed(self, status: str) -> None:
        p = self.make(verdict(status))["predicate"]
        assert (p["verificationResult"], p["verifiedLevels"]) == ("FAILED", ["FAILED"])
        assert p[VERDICT_EXTENSION]["status"] == status

    def test_nan_computed_can_be_signed(self, key: Ed25519PrivateKey) -> None:
        s = self.make(verdict("refuted", computed=float("nan")))
        assert s["predicate"][VERDICT_EXTENSION]["computed"] == "nan"
        assert verify_envelope(sign_statement(s, key), key.public_key()) == s

    def test_vsa_required_fields(self) -> None:
        p = self.make(verdict())["predicate"]
        for required in (
            "verifier",
            "timeVerified",
            "resourceUri",
            "policy",
            "verificationResult",
            "verifiedLevels",
        ):
            broken = {k: v for k, v in p.items() if k != required}
            with pytest.raises(EnvelopeFormatError, match=f"predicate.{required}"):
                check_statement(
                    {
                        "_type": STATEMENT_TYPE,
                        "subject": [{"digest": {"sha256": HEX_A}}],
                        "predicateType": VSA_TYPE,
                        "predicate": broken,
                    }
                )


class TestCheckStatement:
    BASE: ClassVar[dict[str, Any]] = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": "a", "digest": {"sha256": HEX_A}}],
        "predicateType": "https://example.com/p/v1",
        "predicate": {},
    }

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"_type": "https://in-toto.io/Statement/v0.1"}, "_type is"),
            ({"subject": []}, "subject must be a non-empty list"),
            ({"subject": [{"name": "a"}]}, r"subject\[0\] needs at least one of"),
            ({"subject": [{"name": "a", "uri": "https://x"}]}, r"subject\[0\] needs a digest"),
            ({"subject": [{"digest": {"sha256": "ABC"}}]}, "64 lowercase hex"),
            ({"subject": [{"digest": {}}]}, "non-empty object"),
            ({"predicateType": "not a uri"}, "predicateType must be a URI"),
            ({"predicate": []}, "predicate must be an object"),
            ({"predicateType": PROVENANCE_TYPE}, "predicate.buildDefinition is missing"),
        ],
    )
    def test_rejects(self, change: dict[str, Any], message: str) -> None:
        with pytest.raises(EnvelopeFormatError, match=message):
            check_statement({**self.BASE, **change})

    def test_unknown_digest_algorithm_carried(self) -> None:
        check_statement({**self.BASE, "subject": [{"digest": {"somecoolhash": "xyz"}}]})


# --------------------------------------------------------------------------- store, files


def test_check_subjects_against_store(tmp_path: Path) -> None:
    store = tmp_path / "artifacts" / "sha256"
    good = store / sha(RESULTS)[:2] / sha(RESULTS)[2:]
    good.parent.mkdir(parents=True)
    good.write_bytes(RESULTS)
    checks = check_subjects(run_statement(run_record()), ArtifactStore(tmp_path))
    assert [(c.name, c.result) for c in checks] == [
        ("results.json", "ok"),
        ("stderr", "absent"),
        ("stdout", "absent"),
    ]
    good.write_bytes(b"tampered")
    (first, *_) = check_subjects(run_statement(run_record()), ArtifactStore(tmp_path))
    assert (first.result, first.stored) == ("mismatch", sha(b"tampered"))
    assert first.line().startswith("results.json: MISMATCH: attested sha256:")


def test_read_envelopes_jsonl() -> None:
    assert read_envelopes(b'{"a": 1}\n') == [{"a": 1}]
    assert read_envelopes(b'{"a": 1}\n{"b": 2}\n') == [{"a": 1}, {"b": 2}]
    with pytest.raises(EnvelopeFormatError, match="line 2 is not JSON"):
        read_envelopes(b'{"a": 1}\nnope\n')
    with pytest.raises(EnvelopeFormatError, match="duplicate JSON key 'payload'"):
        read_envelopes(b'{"payload": "AA==", "payload": "AQ=="}')


def test_signed_files_chain_run_to_verdict(tmp_path: Path) -> None:
    """A verdict's inputAttestations name the digest of its run's envelope file."""
    pair = init_keys(tmp_path)
    key = load_signing_key(pair.private)
    run_path = write_envelope(tmp_path / "run.intoto.jsonl", sign_statement(run_statement(run_record(), repro=REPRO), key))
    public = load_public_key(pair.public)
    (envelope,) = read_envelopes(run_path.read_bytes())
    assert verify_envelope(envelope, public)["predicateType"] == PROVENANCE_TYPE
    statement = verdict_statement(
        verdict(),
        manifest_digest=f"sha256:{HEX_A}",
        policy_uri="https://claim-verifier.invalid/policy/default/v1",
        input_attestations=[AttestationRef.of_file(run_path)],
    )
    v_path = write_envelope(tmp_path / "verdict.intoto.jsonl", sign_statement(statement, key))
    (envelope,) = read_envelopes(v_path.read_bytes())
    statement = verify_envelope(envelope, public)
    assert statement["predicate"]["inputAttestations"][0]["digest"] == {
        "sha256": sha(run_path.read_bytes())
    }


# --------------------------------------------------------------------------- keys


class TestKeys:
    def test_init_modes_and_keyid(self, tmp_path: Path) -> None:
        pair = init_keys(tmp_path)
        assert stat.S_IMODE(os.stat(pair.private).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(pair.private.parent).st_mode) == 0o700
        private = load_signing_key(pair.private)
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        assert pair.keyid == hashlib.sha256(raw).hexdigest() == key_id(load_public_key(pair.public))
        assert pair.private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8

    def test_mode_0600_even_with_permissive_umask(self, tmp_path: Path) -> None:
        old = os.umask(0)
        try:
            pair = init_keys(tmp_path)
        finally:
            os.umask(old)
        assert stat.S_IMODE(os.stat(pair.private).st_mode) == 0o600

    def test_refuses_overwrite(self, tmp_path: Path) -> None:
        first = init_keys(tmp_path)
        with pytest.raises(KeyFileError, match="exists; use --force"):
            init_keys(tmp_path)
        assert load_signing_key(first.private)  # untouched
        second = init_keys(tmp_path, force=True)
        assert second.keyid != first.keyid
        assert stat.S_IMODE(os.stat(second.private).st_mode) == 0o600
        assert not list(second.private.parent.glob(".*"))

    def test_refuses_open_private_key(self, tmp_path: Path) -> None:
        pair = init_keys(tmp_path)
        pair.private.chmod(0o644)
        with pytest.raises(KeyFileError, match="has mode 0644; it must be 0600"):
            load_or_none_signing_key(tmp_path)

    def test_no_key(self, tmp_path: Path) -> None:
        assert load_or_none_signing_key(tmp_path) is None
