"""Interoperability with other in-toto tools (not dependencies: each test runs where its tool is installed).

* securesystemslib (secure-systems-lab, the DSSE authors): reads our envelopes, we read its;
* in-toto-attestation (the spec's Python bindings): our Statements validate, and the
  SLSA Provenance predicate parses strictly into its protobuf message.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.attest.keys import key_id
from verifier.attest.statements import (
    PAYLOAD_TYPE,
    run_statement,
    sign_statement,
    verdict_statement,
    verify_envelope,
)
from verifier.canonical import canonical
from verifier.models import OutputFile, Repro, RunRecord, Verdict

REPRO = Repro(id="R1", bundle="bundle", entrypoint=["python", "-m", "x"], params={"lr": 1e-4})


def run_record() -> RunRecord:
    return RunRecord(
        id="run-1",
        key="sha256:" + "a" * 64,
        paper="demo-paper",
        repro="R1",
        seed=0,
        backend="bwrap",
        sealed=True,
        seal="sha256:" + "b" * 64,
        entrypoint=["python", "-m", "x"],
        params_digest="sha256:" + "c" * 64,
        inputs={"data/x.tsv": "sha256:" + "d" * 64},
        environment={"python": "3.11"},
        started="2026-06-23T08:11:44Z",
        ended="2026-06-23T08:11:45Z",
        duration_s=1.0,
        exit_code=0,
        status="ok",
        reason="ok",
        outputs=[OutputFile(path="results.json", sha256="sha256:" + "e" * 64, size=10)],
        logs={"stdout": "sha256:" + "f" * 64},
    )


def verdict() -> Verdict:
    return Verdict(
        claim="demo-paper/C1",
        status="verified",
        gate=2,
        reason="ok",
        evaluated="2026-06-23T08:12:00Z",
    )


def test_they_verify_ours() -> None:
    dsse = pytest.importorskip("securesystemslib.dsse")
    signer_mod = pytest.importorskip("securesystemslib.signer")
    private = Ed25519PrivateKey.generate()
    key = signer_mod.SSlibKey.from_crypto(private.public_key(), keyid=key_id(private.public_key()))
    for statement in (
        run_statement(run_record(), repro=REPRO),
        verdict_statement(
            verdict(),
            manifest_digest="sha256:" + "a" * 64,
            policy_uri="https://claim-verifier.invalid/p",
            policy_digest=None,
        ),
    ):
        envelope = dsse.Envelope.from_dict(
            json.loads(json.dumps(sign_statement(statement, private)))
        )
        assert key.keyid in envelope.verify([key], 1)
        assert json.loads(envelope.payload) == statement


def test_we_verify_theirs() -> None:
    dsse = pytest.importorskip("securesystemslib.dsse")
    signer_mod = pytest.importorskip("securesystemslib.signer")
    private = Ed25519PrivateKey.generate()
    key = signer_mod.SSlibKey.from_crypto(private.public_key(), keyid=key_id(private.public_key()))
    statement = run_statement(run_record())
    envelope = dsse.Envelope(payload=canonical(statement), payload_type=PAYLOAD_TYPE, signatures={})
    envelope.sign(signer_mod.CryptoSigner(private, public_key=key))
    assert verify_envelope(envelope.to_dict(), private.public_key()) == statement


def test_in_toto_attestation_bindings_accept_our_statements() -> None:
    json_format = pytest.importorskip("google.protobuf.json_format")
    spb = pytest.importorskip("in_toto_attestation.v1.statement_pb2")
    statement_mod = pytest.importorskip("in_toto_attestation.v1.statement")
    ppb = pytest.importorskip("in_toto_attestation.predicates.provenance.v1.provenance_pb2")
    vpb = pytest.importorskip("in_toto_attestation.predicates.vsa.v1.vsa_pb2")
    run = run_statement(run_record(), repro=REPRO)
    vsa = verdict_statement(
        verdict(),
        manifest_digest="sha256:" + "a" * 64,
        policy_uri="https://claim-verifier.invalid/p",
        policy_digest=None,
    )
    for statement in (run, vsa):
        pb = json_format.ParseDict(statement, spb.Statement())
        statement_mod.Statement.copy_from_pb(pb).validate()
    json_format.ParseDict(run["predicate"], ppb.Provenance())  # strict: no unknown field
    # The VSA carries our extension field (a URI key, as the spec allows), which the protobuf lacks;
    # and in-toto-attestation 0.9.3's proto has verified_levels as one string where the spec has an array.
    predicate = {k: v for k, v in vsa["predicate"].items() if k != "verifiedLevels"}
    summary = json_format.ParseDict(
        predicate, vpb.VerificationSummary(), ignore_unknown_fields=True
    )
    assert summary.verification_result == "PASSED"
