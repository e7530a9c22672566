"""Interoperability: securesystemslib's DSSE implementation reads our envelopes, and we read its.

securesystemslib (secure-systems-lab, the DSSE authors) is not a dependency;
these tests run only where it is installed (`pip install securesystemslib`).
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.test_attest import REPRO, run_record, verdict
from verifier.attest import (
    PAYLOAD_TYPE,
    run_statement,
    sign_statement,
    verdict_statement,
    verify_envelope,
)
from verifier.canonical import canonical
from verifier.keys import key_id

dsse = pytest.importorskip("securesystemslib.dsse")
signer_mod = pytest.importorskip("securesystemslib.signer")


def test_they_verify_ours() -> None:
    private = Ed25519PrivateKey.generate()
    key = signer_mod.SSlibKey.from_crypto(private.public_key(), keyid=key_id(private.public_key()))
    for statement in (
        run_statement(run_record(), repro=REPRO),
        verdict_statement(
            verdict(),
            manifest_digest="sha256:" + "a" * 64,
            policy_uri="https://verify.invalid/p",
            policy_digest=None,
        ),
    ):
        envelope = dsse.Envelope.from_dict(
            json.loads(json.dumps(sign_statement(statement, private)))
        )
        assert key.keyid in envelope.verify([key], 1)
        assert json.loads(envelope.payload) == statement


def test_we_verify_theirs() -> None:
    private = Ed25519PrivateKey.generate()
    key = signer_mod.SSlibKey.from_crypto(private.public_key(), keyid=key_id(private.public_key()))
    statement = run_statement(run_record())
    envelope = dsse.Envelope(payload=canonical(statement), payload_type=PAYLOAD_TYPE, signatures={})
    envelope.sign(signer_mod.CryptoSigner(private, public_key=key))
    assert verify_envelope(envelope.to_dict(), private.public_key()) == statement
