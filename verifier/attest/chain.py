"""A correction chain's signed head (`manifests/<paper>/corrections/HEAD.intoto.jsonl`).

The contract's chain (`verifier.corrections`) lets anyone who can write the
files truncate it or edit its last record and rewrite `HEAD` to match. A
signature by the verifier home's key over the last record's digest closes
that: `verify correct` writes it when a key exists, `verify audit` checks it
when it is present. It is an extra: a chain without it is still valid.
"""

from __future__ import annotations

from pathlib import Path

from verifier.errors import EnvelopeFormatError, SignatureError
from verifier.models import CorrectionRecord


def sign_chain_head(path: Path, home: Path, record: CorrectionRecord, digest: str, name: str) -> Path | None:
    """Sign the chain head (`record`, whose bytes have `digest`, stored as `name`) with the home's key.

    Returns the envelope's path, or None when the home has no key (nothing written).

    Raises `KeyFileError` if the key exists but cannot be used.
    Side effects: replaces `path` atomically.
    """
    from verifier.attest.dsse import write_envelope
    from verifier.attest.keys import load_or_none_signing_key
    from verifier.attest.statements import chain_head_statement, sign_statement

    key = load_or_none_signing_key(home)
    if key is None:
        return None
    statement = chain_head_statement(record.paper, record.seq, name, digest, record.manifest_after)
    return write_envelope(path, sign_statement(statement, key))


def check_chain_head(path: Path, public_key_file: Path, last_digest: str | None) -> str | None:
    """What is wrong with a signed chain head, in a few words, or None when it holds.

    It must be one envelope whose signature verifies with the key, carrying a
    chain-head Statement whose subject is the last record (`last_digest`).

    Raises `KeyFileError` if the public key cannot be read.
    """
    from verifier.attest.dsse import read_envelope_file
    from verifier.attest.keys import load_public_key
    from verifier.attest.statements import CHAIN_HEAD_TYPE, verify_envelope

    public_key = load_public_key(public_key_file)
    try:
        envelopes = read_envelope_file(path)
        if len(envelopes) != 1:
            return f"holds {len(envelopes)} envelopes, expected one"
        statement = verify_envelope(envelopes[0], public_key)
    except (EnvelopeFormatError, SignatureError) as e:
        return e.message if isinstance(e, EnvelopeFormatError) else e.diagnostics()
    if statement["predicateType"] != CHAIN_HEAD_TYPE:
        return f"predicateType is {statement['predicateType']!r}, expected {CHAIN_HEAD_TYPE!r}"
    signed = "sha256:" + str(statement["subject"][0]["digest"].get("sha256"))
    if last_digest is None:
        return f"signs record {signed}, but there is no record"
    if signed != last_digest:
        name = statement["subject"][0].get("name", "a record")
        return f"signs {name} at {signed}, but the last record has digest {last_digest} (truncated or edited)"
    return None
