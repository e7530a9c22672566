"""Signed attestations: in-toto Statements in DSSE envelopes, signed with Ed25519.

Two kinds of Statement (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md):

* a run: SLSA Provenance v1 (https://slsa.dev/spec/v1.0/provenance); the
  subjects are the files the repro wrote, the bundle and inputs are its
  resolved dependencies, the sandbox backend is the builder (`run_statement`);
* a verdict: SLSA Verification Summary v1
  (https://slsa.dev/spec/v1.0/verification_summary); the subject is the
  manifest holding the claim, `resourceUri` names the claim, and our four-way
  status rides in an extension field (`verdict_statement`).

Identifiers are URIs under `URI_BASE` (`https://claim-verifier.invalid`, as
the quality policy's URI; `.invalid` is a reserved TLD that never resolves:
these are names, not locations):

| URI under `URI_BASE`      | names                                          |
| ------------------------- | ---------------------------------------------- |
| `/run/v1`                 | buildType of a repro run                       |
| `/backend/<name>`         | builder.id: the sandbox backend (bwrap, ...)   |
| `/verifier`               | verifier.id of a verdict                       |
| `/claim/<paper>/<claim>`  | resourceUri (and subject uri) of a claim       |
| `/verdict/v1`             | extension field of a VSA holding our verdict   |

A bundle's seal is not a plain file digest, so in digest sets it appears
under its own algorithm name, `verifyTree`: the lowercase hex of the tree
digest defined in `verifier.seal` (allowed by in-toto's DigestSet spec,
https://github.com/in-toto/attestation/blob/main/spec/v1/digest_set.md).

Envelopes follow DSSE v1 (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md):
the signature is over `PAE(payloadType, payload)`, the payload is the
statement's RFC 8785 canonical JSON, `keyid` is defined in `verifier.keys`.
`verify_envelope` checks the signature before it reads a byte of the payload.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verifier import __version__
from verifier.canonical import canonical
from verifier.errors import EXIT_BAD_INPUT, EXIT_REFUTED, VerifierError
from verifier.keys import key_id

# Re-exported: the signing side of this module's API (`attest.load_or_none_signing_key(home)`).
from verifier.keys import load_or_none_signing_key as load_or_none_signing_key
from verifier.models import Repro, RunRecord, Verdict

if TYPE_CHECKING:
    from verifier.manifests import LoadedManifest

PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
STATEMENT_TYPE: Final = "https://in-toto.io/Statement/v1"
PROVENANCE_TYPE: Final = "https://slsa.dev/provenance/v1"
VSA_TYPE: Final = "https://slsa.dev/verification_summary/v1"

URI_BASE: Final = "https://claim-verifier.invalid"
BUILD_TYPE: Final = f"{URI_BASE}/run/v1"
VERIFIER_ID: Final = f"{URI_BASE}/verifier"
VERDICT_EXTENSION: Final = f"{URI_BASE}/verdict/v1"
SEAL_ALGORITHM: Final = "verifyTree"

# Hex lengths of the DigestSet algorithms we can check; others are carried, not checked.
_HEX_LENGTHS: Final = {"sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40, SEAL_ALGORITHM: 64}
_DIGEST_RE: Final = re.compile(r"^sha256:([0-9a-f]{64})$")


# --------------------------------------------------------------------------- errors


class AttestationError(VerifierError):
    """An attestation does not hold: a bad signature or a digest that does not match (exit 1)."""

    exit_status = EXIT_REFUTED


class SignatureError(AttestationError):
    """No signature of the envelope verifies with the given key."""


class SubjectDigestError(AttestationError):
    """A subject's digest differs from the bytes the artifact store holds."""


class EnvelopeFormatError(VerifierError):
    """The file is not a DSSE envelope holding an in-toto Statement v1 (exit 2)."""

    exit_status = EXIT_BAD_INPUT


# --------------------------------------------------------------------------- DSSE


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of a payload and its type.

    `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where
    LEN is the byte count in ASCII decimal and `type` is UTF-8 encoded. Signing
    this, rather than the payload alone, binds the type to the bytes, so a
    signed payload cannot be replayed as another type.
    """
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def sign_statement(statement: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Wrap a Statement in a DSSE envelope signed with `key`.

    The payload is the statement's RFC 8785 canonical JSON, so the bytes
    signed are the same whoever serializes the same statement.

    Raises `EnvelopeFormatError` if the statement is not a valid Statement v1
    or cannot be canonicalized (e.g. a NaN).
    """
    check_statement(statement)
    try:
        payload = canonical(dict(statement))
    except ValueError as e:
        raise EnvelopeFormatError(f"statement cannot be signed: {e}") from e
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode("ascii")}
        ],
    }


def verify_envelope(envelope: Any, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Verify a DSSE envelope with `public_key`; return the Statement it carries.

    Steps, in DSSE's order (protocol.md, "Protocol"):
    (1) decode the envelope: payloadType, payload and at least one signature;
    (2) verify a signature over PAE(payloadType, payload) with the key; the
        keyid is only a hint, so every signature is tried;
    (3) only then look at the verified bytes: the type must be in-toto's;
    (4) parse them as JSON (duplicate keys refused: two parsers must not read
        two different statements from one signature);
    (5) check the Statement v1 fields.

    Raises `EnvelopeFormatError` for a malformed envelope or payload (1, 3-5),
    `SignatureError` if no signature verifies (2).
    """
    # (1)
    payload_type, payload, signatures = _decode_envelope(envelope)
    # (2)
    message = pae(payload_type, payload)
    # One good signature by our key suffices (threshold 1); others may be co-signers'.
    for _keyid, signature in signatures:
        try:
            public_key.verify(signature, message)
            break
        except InvalidSignature:
            continue
    else:
        hints = ", ".join(k or "(none)" for k, _ in signatures)
        raise SignatureError(
            f"no signature verifies with key {key_id(public_key)} (envelope keyids: {hints})"
        )
    # (3)
    if payload_type != PAYLOAD_TYPE:
        raise EnvelopeFormatError(f"payloadType is {payload_type!r}, expected {PAYLOAD_TYPE!r}")
    # (4)
    statement = _parse_json_object(payload)
    # (5)
    check_statement(statement)
    return statement


def _decode_envelope(envelope: Any) -> tuple[str, bytes, list[tuple[str | None, bytes]]]:
    """The envelope's fields, base64-decoded; raises `EnvelopeFormatError` for any other shape."""
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


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers that keep different copies of a repeated key would read two
    # different documents from one signed text: refuse instead of choosing.
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise EnvelopeFormatError(
            f"duplicate JSON key {next(k for k in keys if keys.count(k) > 1)!r}"
        )
    return dict(pairs)


def _parse_json_object(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise EnvelopeFormatError(f"payload is not UTF-8 JSON: {e}") from e
    if not isinstance(value, dict):
        raise EnvelopeFormatError("payload is not a JSON object")
    return value


# --------------------------------------------------------------------------- structure checks


def check_statement(statement: Mapping[str, Any]) -> None:
    """Check the fields in-toto Statement v1 requires (statement.md, "Fields").

    `_type` is the v1 URI; `subject` is a non-empty list of ResourceDescriptors,
    each with a digest set; `predicateType` is a URI; `predicate`, if present,
    an object. Known predicate types are checked further (`check_provenance`,
    `check_vsa`).

    Raises `EnvelopeFormatError` naming the first field that is wrong.
    """
    if statement.get("_type") != STATEMENT_TYPE:
        raise EnvelopeFormatError(
            f"_type is {statement.get('_type')!r}, expected {STATEMENT_TYPE!r}"
        )
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise EnvelopeFormatError("subject must be a non-empty list")
    for i, subject in enumerate(subjects):
        check_resource_descriptor(subject, f"subject[{i}]", need_digest=True)
    _need_uri(statement.get("predicateType"), "predicateType")
    predicate = statement.get("predicate", {})
    if not isinstance(predicate, dict):
        raise EnvelopeFormatError("predicate must be an object")
    if statement["predicateType"] == PROVENANCE_TYPE:
        check_provenance(predicate)
    elif statement["predicateType"] == VSA_TYPE:
        check_vsa(predicate)


def check_resource_descriptor(value: Any, where: str, *, need_digest: bool = False) -> None:
    """A ResourceDescriptor (in-toto spec/v1/resource_descriptor.md): one of uri, digest, content set.

    Raises `EnvelopeFormatError` if it is not.
    """
    if not isinstance(value, dict):
        raise EnvelopeFormatError(f"{where} must be an object")
    if not any(k in value for k in ("uri", "digest", "content")):
        raise EnvelopeFormatError(f"{where} needs at least one of uri, digest, content")
    if need_digest and "digest" not in value:
        raise EnvelopeFormatError(f"{where} needs a digest")
    if "digest" in value:
        check_digest_set(value["digest"], f"{where}.digest")
    for key in ("name", "uri", "mediaType"):
        if key in value and not isinstance(value[key], str):
            raise EnvelopeFormatError(f"{where}.{key} must be a string")


def check_digest_set(value: Any, where: str) -> None:
    """A non-empty DigestSet; algorithms we know must carry lowercase hex of the right length.

    Raises `EnvelopeFormatError` if not.
    """
    if not isinstance(value, dict) or not value:
        raise EnvelopeFormatError(f"{where} must be a non-empty object")
    for alg, hexval in value.items():
        if not isinstance(hexval, str):
            raise EnvelopeFormatError(f"{where}.{alg} must be a string")
        size = _HEX_LENGTHS.get(alg)
        if size is not None and not re.fullmatch(f"[0-9a-f]{{{size}}}", hexval):
            raise EnvelopeFormatError(f"{where}.{alg} must be {size} lowercase hex digits")


def check_provenance(predicate: Mapping[str, Any]) -> None:
    """SLSA Provenance v1 required fields (https://slsa.dev/spec/v1.0/provenance#schema).

    Raises `EnvelopeFormatError` naming the first field that is wrong.
    """
    build = _need_object(predicate.get("buildDefinition"), "predicate.buildDefinition")
    _need_uri(build.get("buildType"), "predicate.buildDefinition.buildType")
    _need_object(build.get("externalParameters"), "predicate.buildDefinition.externalParameters")
    if "internalParameters" in build:
        _need_object(build["internalParameters"], "predicate.buildDefinition.internalParameters")
    for i, dep in enumerate(
        _optional_list(build, "resolvedDependencies", "predicate.buildDefinition")
    ):
        check_resource_descriptor(dep, f"predicate.buildDefinition.resolvedDependencies[{i}]")
    run = _need_object(predicate.get("runDetails"), "predicate.runDetails")
    builder = _need_object(run.get("builder"), "predicate.runDetails.builder")
    _need_uri(builder.get("id"), "predicate.runDetails.builder.id")
    metadata = _need_object(run.get("metadata", {}), "predicate.runDetails.metadata")
    for key in ("startedOn", "finishedOn"):
        if key in metadata:
            _need_timestamp(metadata[key], f"predicate.runDetails.metadata.{key}")
    for i, item in enumerate(_optional_list(run, "byproducts", "predicate.runDetails")):
        check_resource_descriptor(item, f"predicate.runDetails.byproducts[{i}]")


def check_vsa(predicate: Mapping[str, Any]) -> None:
    """SLSA Verification Summary v1 required fields (https://slsa.dev/spec/v1.0/verification_summary).

    Raises `EnvelopeFormatError` naming the first field that is wrong.
    """
    verifier = _need_object(predicate.get("verifier"), "predicate.verifier")
    _need_uri(verifier.get("id"), "predicate.verifier.id")
    _need_timestamp(predicate.get("timeVerified"), "predicate.timeVerified")
    _need_uri(predicate.get("resourceUri"), "predicate.resourceUri")
    policy = _need_object(predicate.get("policy"), "predicate.policy")
    _need_uri(policy.get("uri"), "predicate.policy.uri")
    check_resource_descriptor(policy, "predicate.policy")
    for i, item in enumerate(_optional_list(predicate, "inputAttestations", "predicate")):
        check_resource_descriptor(item, f"predicate.inputAttestations[{i}]", need_digest=True)
    result = predicate.get("verificationResult")
    if result not in ("PASSED", "FAILED"):
        raise EnvelopeFormatError(
            f"predicate.verificationResult is {result!r}, expected PASSED or FAILED"
        )
    levels = predicate.get("verifiedLevels")
    if not isinstance(levels, list) or not all(isinstance(x, str) for x in levels):
        raise EnvelopeFormatError("predicate.verifiedLevels must be a list of strings")
    if result == "FAILED" and levels != ["FAILED"]:
        raise EnvelopeFormatError(
            "predicate.verifiedLevels must be ['FAILED'] when verification FAILED"
        )


def _need_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EnvelopeFormatError(f"{where} must be an object")
    return value


def _optional_list(parent: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise EnvelopeFormatError(f"{where}.{key} must be a list")
    return value


def _need_uri(value: Any, where: str) -> None:
    # TypeURI / ResourceURI (RFC 3986): a scheme, a colon, the rest; no spaces.
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", value):
        raise EnvelopeFormatError(f"{where} must be a URI, got {value!r}")


def _need_timestamp(value: Any, where: str) -> None:
    # in-toto's Timestamp field type: RFC 3339 in UTC, "Z" suffix.
    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", value
    ):
        raise EnvelopeFormatError(f"{where} must be an RFC 3339 UTC timestamp, got {value!r}")


# --------------------------------------------------------------------------- statements


def run_statement(record: RunRecord, *, repro: Repro | None = None) -> dict[str, Any]:
    """The SLSA Provenance v1 Statement of a run.

    Subjects are the files the repro wrote (`record.outputs`); a run that
    wrote none is attested by its logs. `repro`, when given, adds what the
    run record holds only as digests: the bundle path, the params and the
    limits.

    Raises `ValueError` if the run has neither outputs nor logs (nothing to attest).
    """
    subjects = [_descriptor(o.path, o.sha256) for o in record.outputs]
    if not subjects:
        subjects = [_descriptor(name, digest) for name, digest in sorted(record.logs.items())]
    if not subjects:
        raise ValueError(f"run {record.id} has no outputs and no logs to attest")
    build = {
        "buildType": BUILD_TYPE,
        "externalParameters": _external_parameters(record, repro),
        "internalParameters": _internal_parameters(record, repro),
        "resolvedDependencies": _dependencies(record, repro),
    }
    run_details = {
        "builder": {
            "id": f"{URI_BASE}/backend/{quote(record.backend, safe='')}",
            "version": {"verify": __version__},
        },
        "metadata": {
            "invocationId": record.id,
            "startedOn": rfc3339(record.started),
            "finishedOn": rfc3339(record.ended),
        },
        "byproducts": [
            {**_descriptor(name, digest), "mediaType": "text/plain"}
            for name, digest in sorted(record.logs.items())
        ],
    }
    return _statement(
        subjects, PROVENANCE_TYPE, {"buildDefinition": build, "runDetails": run_details}
    )


def _external_parameters(record: RunRecord, repro: Repro | None) -> dict[str, Any]:
    """What the manifest asked for: paper, repro, bundle and seal, entrypoint, params, inputs, seed."""
    params: dict[str, Any] = {"digest": _digest_set(record.params_digest)}
    if repro is not None:
        params["value"] = repro.params
    bundle: dict[str, Any] = {"seal": record.seal}
    if repro is not None:
        bundle["path"] = repro.bundle
    return {
        "paper": record.paper,
        "repro": record.repro,
        "bundle": bundle,
        "entrypoint": list(record.entrypoint),
        "params": params,
        "inputs": dict(sorted(record.inputs.items())),
        "seed": record.seed,
    }


def _internal_parameters(record: RunRecord, repro: Repro | None) -> dict[str, Any]:
    """What the verifier chose: sealing, the run key, the environment fingerprint, the limits."""
    internal: dict[str, Any] = {
        "sealed": record.sealed,
        "runKey": record.key,
        "environment": record.environment,
        "status": record.status,
        "exitCode": record.exit_code,
    }
    if repro is not None:
        internal["limits"] = repro.limits.model_dump(mode="json")
    return internal


def _dependencies(record: RunRecord, repro: Repro | None) -> list[dict[str, Any]]:
    """The bundle (by seal), each input (by digest) and, for containers, the pinned image."""
    bundle_name = repro.bundle if repro is not None else f"bundle:{record.repro}"
    seal_hex = _hex(record.seal)
    deps: list[dict[str, Any]] = [
        {
            "name": bundle_name,
            "digest": {SEAL_ALGORITHM: seal_hex} if seal_hex else {"seal": record.seal},
        }
    ]
    deps += [_descriptor(path, digest) for path, digest in sorted(record.inputs.items())]
    image = _image_descriptor(record.environment)
    if image is not None:
        deps.append(image)
    return deps


def _image_descriptor(environment: Mapping[str, Any]) -> dict[str, Any] | None:
    """A container image pinned by digest: `image: name@sha256:<hex>` or `image_digest: sha256:<hex>`."""
    image = environment.get("image")
    pinned = environment.get("image_digest")
    if isinstance(image, str) and "@sha256:" in image:
        name, _, hexval = image.partition("@sha256:")
        return {"name": name, "uri": f"docker://{image}", "digest": {"sha256": hexval}}
    if isinstance(pinned, str) and _hex(pinned):
        name = image if isinstance(image, str) else "image"
        return {"name": name, "digest": {"sha256": _hex(pinned)}}
    return None


VerdictResult = Literal["PASSED", "FAILED"]


@dataclass(frozen=True)
class AttestationRef:
    """An attestation a verdict rests on: where it is, and the digest of its bytes (`sha256:<hex>`)."""

    uri: str
    digest: str

    @classmethod
    def of_file(cls, path: Path, *, uri: str | None = None) -> AttestationRef:
        """The reference to an envelope file (its `file://` URI unless `uri` is given).

        Raises `OSError` if it cannot be read.
        """
        digest = "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
        return cls(uri=uri or Path(path).resolve().as_uri(), digest=digest)


def claim_uri(global_claim_id: str) -> str:
    """`https://claim-verifier.invalid/claim/<paper>/<claim>`: a claim's global id as a URI."""
    paper, _, claim = global_claim_id.partition("/")
    return f"{URI_BASE}/claim/{quote(paper, safe='')}/{quote(claim, safe='')}"


def verdict_statement(
    verdict: Verdict,
    *,
    manifest_digest: str,
    policy_uri: str,
    policy_digest: str | None = None,
    input_attestations: Iterable[AttestationRef] = (),
) -> dict[str, Any]:
    """The Verification Summary v1 Statement of a verdict.

    The subject is the manifest the claim was read from (`manifest_digest`,
    the digest of its bytes), named by the claim's global id: the verdict is
    about that claim as that manifest states it. `verificationResult` is
    PASSED only for `verified`; refuted, inconclusive and unverified are all
    FAILED (fail closed), and the extension field `VERDICT_EXTENSION` keeps
    the verdict itself. `verifiedLevels` uses our own track, `VERIFY_GATE_<n>`
    (the claim passed Gates 0 to n), as the spec allows for non-SLSA values.
    `policy_digest` defaults to the verdict's own `policy_digest`.

    Raises `ValueError` if a digest is not `sha256:<hex>`.
    """
    passed = verdict.status == "verified"
    policy: dict[str, Any] = {"uri": policy_uri}
    policy_digest = policy_digest or verdict.policy_digest
    if policy_digest is not None:
        policy["digest"] = _digest_set(policy_digest)
    predicate: dict[str, Any] = {
        "verifier": {"id": VERIFIER_ID, "version": {"verify": __version__}},
        "timeVerified": rfc3339(verdict.evaluated),
        "resourceUri": claim_uri(verdict.claim),
        "policy": policy,
        "inputAttestations": [
            {"uri": a.uri, "digest": _digest_set(a.digest)} for a in input_attestations
        ],
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": [f"VERIFY_GATE_{verdict.gate}"] if passed else ["FAILED"],
        VERDICT_EXTENSION: _finite(verdict.model_dump()),
    }
    subject = {
        "name": verdict.claim,
        "uri": claim_uri(verdict.claim),
        "digest": _digest_set(manifest_digest),
    }
    return _statement([subject], VSA_TYPE, predicate)


def _finite(value: Any) -> Any:
    """JSON with NaN and infinities as strings: JCS has no form for them, and a refuted verdict may hold one."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf", "-inf"
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _statement(
    subjects: list[dict[str, Any]], predicate_type: str, predicate: dict[str, Any]
) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def _descriptor(name: str, digest: str) -> dict[str, Any]:
    return {"name": name, "digest": _digest_set(digest)}


def _digest_set(digest: str) -> dict[str, str]:
    """`sha256:<hex>` (or bare hex) -> `{"sha256": "<hex>"}`. Raises `ValueError` otherwise."""
    hexval = _hex(digest)
    if hexval is None:
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return {"sha256": hexval}


def _hex(digest: str) -> str | None:
    match = _DIGEST_RE.match(digest) or re.fullmatch(r"([0-9a-f]{64})", digest)
    return match.group(1) if match else None


def rfc3339(text: str) -> str:
    """An ISO 8601 time as in-toto's Timestamp: RFC 3339, UTC, `Z` (a naive time is taken as UTC).

    Raises `ValueError` if `text` is not ISO 8601.
    """
    when = datetime.fromisoformat(text)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.replace(tzinfo=None).isoformat() + "Z"


# --------------------------------------------------------------------------- artifact store


@dataclass(frozen=True)
class SubjectCheck:
    """A subject's digest against the artifact store: `ok`, `absent` or `mismatch`."""

    name: str
    digest: str
    result: Literal["ok", "absent", "mismatch"]
    stored: str | None = None  # what the stored bytes hash to, on a mismatch

    def line(self) -> str:
        """One human line."""
        if self.result == "mismatch":
            return f"{self.name}: MISMATCH: attested sha256:{self.digest}, the store holds bytes hashing to sha256:{self.stored}"
        if self.result == "absent":
            return f"{self.name}: sha256:{self.digest} not in the artifact store (not checked)"
        return f"{self.name}: sha256:{self.digest} matches the artifact store"


def artifact_path(home: Path, hexdigest: str) -> Path:
    """`<home>/artifacts/sha256/<2 hex>/<62 hex>`: the ledger's content-addressed store."""
    return Path(home) / "artifacts" / "sha256" / hexdigest[:2] / hexdigest[2:]


def check_subjects(statement: Mapping[str, Any], home: Path) -> list[SubjectCheck]:
    """Re-hash every subject (and byproduct) the artifact store holds; compare with the statement.

    Only `sha256` digests are checked; a subject the store lacks is `absent`,
    which is not a failure (the artifact may live elsewhere).
    """
    items = list(statement.get("subject", []))
    predicate = statement.get("predicate", {})
    if isinstance(predicate, dict) and isinstance(predicate.get("runDetails"), dict):
        items += list(predicate["runDetails"].get("byproducts", []))
    checks: list[SubjectCheck] = []
    for item in items:
        hexval = item.get("digest", {}).get("sha256") if isinstance(item, dict) else None
        if not isinstance(hexval, str):
            continue
        name = str(item.get("name") or item.get("uri") or "_")
        path = artifact_path(home, hexval)
        if not path.is_file():
            checks.append(SubjectCheck(name, hexval, "absent"))
            continue
        stored = _sha256_file(path)
        checks.append(SubjectCheck(name, hexval, "ok" if stored == hexval else "mismatch", stored))
    return checks


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- files


def write_envelope(path: Path, envelope: Mapping[str, Any]) -> Path:
    """Write an envelope as one line of JSON (so files concatenate into `.intoto.jsonl` bundles).

    Side effects: creates parent directories; writes a temp file and renames it over `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    tmp.write_bytes(json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode() + b"\n")
    os.replace(tmp, path)
    return path


def read_envelopes(data: bytes) -> list[Any]:
    """The envelopes of a file: one JSON object, or JSON Lines (an in-toto bundle).

    Raises `EnvelopeFormatError` if the file is not UTF-8, a line is not
    JSON, or an object repeats a key.
    """
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise EnvelopeFormatError(f"not UTF-8: {e}") from e
    try:
        return [json.loads(text, object_pairs_hook=_no_duplicates)]
    except json.JSONDecodeError:
        pass  # perhaps JSON Lines
    envelopes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                envelopes.append(json.loads(line, object_pairs_hook=_no_duplicates))
            except json.JSONDecodeError as e:
                raise EnvelopeFormatError(f"line {number} is not JSON: {e}") from e
    if not envelopes:
        raise EnvelopeFormatError("empty file")
    return envelopes


def attestation_dir(home: Path) -> Path:
    """`<home>/attestations`: `runs/<run-id>.intoto.jsonl` and `verdicts/<paper>/<claim>/<time>.intoto.jsonl`."""
    return Path(home) / "attestations"


def run_envelope_path(home: Path, run_id: str) -> Path:
    """`<home>/attestations/runs/<run-id>.intoto.jsonl`."""
    return attestation_dir(home) / "runs" / f"{_safe(run_id)}.intoto.jsonl"


def attest_run(
    home: Path,
    record: RunRecord,
    *,
    repro: Repro | None = None,
    key: Ed25519PrivateKey | None = None,
) -> Path | None:
    """Sign and store a run's provenance with `key` (default: the home's key, if any).

    Returns the envelope's path, or None without a key (or with nothing to attest).

    Raises `KeyFileError` if the home's key exists but cannot be used.
    Side effects: writes `<home>/attestations/runs/<run-id>.intoto.jsonl`.
    """
    key = key or load_or_none_signing_key(home)
    if key is None or (not record.outputs and not record.logs):
        return None
    envelope = sign_statement(run_statement(record, repro=repro), key)
    return write_envelope(run_envelope_path(home, record.id), envelope)


def attest_verdict(
    home: Path,
    verdict: Verdict,
    *,
    manifest_digest: str,
    policy_uri: str,
    policy_digest: str | None = None,
    input_attestations: Sequence[AttestationRef] = (),
    key: Ed25519PrivateKey | None = None,
) -> Path | None:
    """Sign and store a verdict's summary with `key` (default: the home's key, if any).

    Returns the envelope's path, or None without a key.

    Raises `KeyFileError` if the home's key exists but cannot be used.
    Side effects: writes `<home>/attestations/verdicts/<paper>/<claim>/<evaluated>.intoto.jsonl`.
    """
    key = key or load_or_none_signing_key(home)
    if key is None:
        return None
    statement = verdict_statement(
        verdict,
        manifest_digest=manifest_digest,
        policy_uri=policy_uri,
        policy_digest=policy_digest,
        input_attestations=input_attestations,
    )
    paper, _, claim = verdict.claim.partition("/")
    stamp = rfc3339(verdict.evaluated).replace(":", "")
    path = (
        attestation_dir(home) / "verdicts" / _safe(paper) / _safe(claim) / f"{stamp}.intoto.jsonl"
    )
    return write_envelope(path, sign_statement(statement, key))


class RunSource(Protocol):
    """What `attest_paper` reads from the ledger (`verifier.ledger.Ledger` fits)."""

    def runs_for(self, paper: str | None = None) -> list[RunRecord]: ...

    def last_verdicts(self, claims: Iterable[str]) -> dict[str, Verdict]: ...


def attest_paper(
    home: Path,
    manifest: LoadedManifest,
    ledger: RunSource,
    *,
    key: Ed25519PrivateKey,
    policy_uri: str,
) -> list[Path]:
    """Sign every run of a paper and the latest verdict of each of its claims, from the ledger.

    Each verdict's `inputAttestations` are the envelopes of the runs it rests
    on (`run` and `runs`), so a reader can walk from a verdict to its runs.
    Returns the envelope paths written, runs first.

    Raises `KeyFileError`/`EnvelopeFormatError` as `attest_run`/`attest_verdict` do.
    Side effects: writes under `<home>/attestations/` (existing envelopes are replaced).
    """
    paper = manifest.model.id
    repros = {r.id: r for r in manifest.model.repros}
    written: dict[str, Path] = {}
    for record in ledger.runs_for(paper):
        path = attest_run(home, record, repro=repros.get(record.repro), key=key)
        if path is not None:
            written[record.id] = path
    verdict_paths: list[Path] = []
    claims = [f"{paper}/{claim.id}" for claim in manifest.model.claims]
    for _claim, verdict in sorted(ledger.last_verdicts(claims).items()):
        run_ids = [r.id for r in [verdict.run, *verdict.runs] if r is not None and r.id is not None]
        inputs = [
            AttestationRef.of_file(written[i]) for i in dict.fromkeys(run_ids) if i in written
        ]
        path = attest_verdict(
            home,
            verdict,
            manifest_digest=manifest.digest,
            policy_uri=policy_uri,
            input_attestations=inputs,
            key=key,
        )
        assert path is not None  # a key was given
        verdict_paths.append(path)
    return [*written.values(), *verdict_paths]


def _safe(name: str) -> str:
    """A path component that cannot climb out of its directory."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return cleaned if cleaned not in ("", ".", "..") else "_"
