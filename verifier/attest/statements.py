"""in-toto Statements v1: typed models that check them, and the two we make.

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
digest defined in `verifier.digest` (allowed by in-toto's DigestSet spec,
https://github.com/in-toto/attestation/blob/main/spec/v1/digest_set.md).

A Statement is checked by validating it into `Statement` (and its predicate
into `Provenance` or `VerificationSummary` when it is one of ours): fields
these models do not name are carried, as in-toto requires of readers.
Statements are signed into DSSE envelopes (`verifier.attest.dsse`) over their
RFC 8785 canonical JSON; `verify_envelope` checks the signature before it
reads a byte of the payload.
"""


from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from verifier import __version__
from verifier.attest import URI_BASE, VERIFIER_ID, dsse
from verifier.canonical import canonical
from verifier.digest import PREFIX, file_digest, hex_of
from verifier.errors import EnvelopeFormatError, SignatureError
from verifier.models import Repro, RunRecord, Verdict

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

PAYLOAD_TYPE: Final = dsse.PAYLOAD_TYPE
STATEMENT_TYPE: Final = "https://in-toto.io/Statement/v1"
PROVENANCE_TYPE: Final = "https://slsa.dev/provenance/v1"
VSA_TYPE: Final = "https://slsa.dev/verification_summary/v1"

BUILD_TYPE: Final = f"{URI_BASE}/run/v1"
VERDICT_EXTENSION: Final = f"{URI_BASE}/verdict/v1"
SEAL_ALGORITHM: Final = "verifyTree"

# Hex lengths of the DigestSet algorithms we can check; others are carried, not checked.
_HEX_LENGTHS: Final = {"sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40, SEAL_ALGORITHM: 64}


# --------------------------------------------------------------------------- field types


def _uri(value: str) -> str:
    # TypeURI / ResourceURI (RFC 3986): a scheme, a colon, the rest; no spaces.
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", value):
        raise ValueError(f"must be a URI, got {value!r}")
    return value


def _timestamp(value: str) -> str:
    # in-toto's Timestamp field type: RFC 3339 in UTC, "Z" suffix.
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", value):
        raise ValueError(f"must be an RFC 3339 UTC timestamp, got {value!r}")
    return value


def _valid_digest_set(value: dict[str, str]) -> dict[str, str]:
    if not value:
        raise ValueError("must be a non-empty object")
    for alg, hexval in value.items():
        size = _HEX_LENGTHS.get(alg)
        if size is not None and not re.fullmatch(f"[0-9a-f]{{{size}}}", hexval):
            raise ValueError(f"{alg} must be {size} lowercase hex digits")
    return value


Uri = Annotated[str, AfterValidator(_uri)]
Timestamp = Annotated[str, AfterValidator(_timestamp)]
DigestSet = Annotated[dict[str, str], AfterValidator(_valid_digest_set)]


class _Open(BaseModel):
    """An in-toto object: fields we do not name are carried, never refused."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class ResourceDescriptor(_Open):
    """in-toto spec/v1/resource_descriptor.md: at least one of uri, digest, content."""

    name: str | None = None
    uri: str | None = None
    digest: DigestSet | None = None
    content: str | None = None
    mediaType: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ResourceDescriptor:
        if self.uri is None and self.digest is None and self.content is None:
            raise ValueError("needs at least one of uri, digest, content")
        return self


class Subject(ResourceDescriptor):
    """A Statement's subject: a ResourceDescriptor with a digest."""

    @model_validator(mode="after")
    def _has_digest(self) -> Subject:
        if self.digest is None:
            raise ValueError("needs a digest")
        return self


class Statement(_Open):
    """in-toto Statement v1 (statement.md, "Fields")."""

    type: Literal["https://in-toto.io/Statement/v1"] = Field(alias="_type")
    subject: list[Subject] = Field(min_length=1)
    predicateType: Uri
    predicate: dict[str, Any] = Field(default_factory=dict)


class BuildDefinition(_Open):
    buildType: Uri
    externalParameters: dict[str, Any]
    internalParameters: dict[str, Any] | None = None
    resolvedDependencies: list[ResourceDescriptor] = Field(default_factory=list)


class Builder(_Open):
    id: Uri


class BuildMetadata(_Open):
    startedOn: Timestamp | None = None
    finishedOn: Timestamp | None = None


class RunDetails(_Open):
    builder: Builder
    metadata: BuildMetadata = Field(default_factory=BuildMetadata)
    byproducts: list[ResourceDescriptor] = Field(default_factory=list)


class Provenance(_Open):
    """SLSA Provenance v1 (https://slsa.dev/spec/v1.0/provenance#schema)."""

    buildDefinition: BuildDefinition
    runDetails: RunDetails


class VerifierRef(_Open):
    id: Uri


class PolicyRef(ResourceDescriptor):
    uri: Uri


class InputAttestation(ResourceDescriptor):
    digest: DigestSet


class VerificationSummary(_Open):
    """SLSA Verification Summary v1 (https://slsa.dev/spec/v1.0/verification_summary)."""

    verifier: VerifierRef
    timeVerified: Timestamp
    resourceUri: Uri
    policy: PolicyRef
    inputAttestations: list[InputAttestation] = Field(default_factory=list)
    verificationResult: Literal["PASSED", "FAILED"]
    verifiedLevels: list[str]

    @model_validator(mode="after")
    def _fail_closed(self) -> VerificationSummary:
        if self.verificationResult == "FAILED" and self.verifiedLevels != ["FAILED"]:
            raise ValueError("verifiedLevels must be ['FAILED'] when verification FAILED")
        return self


PREDICATES: Final[dict[str, type[_Open]]] = {PROVENANCE_TYPE: Provenance, VSA_TYPE: VerificationSummary}


def check_statement(statement: Mapping[str, Any]) -> Statement:
    """Validate an in-toto Statement v1, and its predicate when it is a type we know.

    Raises `EnvelopeFormatError` naming the first field that is wrong, e.g.
    `subject[0].digest.sha256 must be 64 lowercase hex digits`.
    """
    try:
        parsed = Statement.model_validate(dict(statement))
    except ValidationError as e:
        raise EnvelopeFormatError(_first(e, "")) from e
    model = PREDICATES.get(parsed.predicateType)
    if model is not None:
        try:
            model.model_validate(parsed.predicate)
        except ValidationError as e:
            raise EnvelopeFormatError(_first(e, "predicate")) from e
    return parsed


def _first(error: ValidationError, prefix: str) -> str:
    """The first error as `<where> <what>`, where is `a.b[0].c` from the root of the statement."""
    item = error.errors()[0]
    where = prefix
    for part in item["loc"]:
        if isinstance(part, int):
            where += f"[{part}]"
        elif not str(part).startswith(("function-after", "literal")):
            where += f".{part}" if where else str(part)
    kind = item["type"]
    if kind == "value_error":
        what = str(item["ctx"]["error"])
    elif kind == "literal_error":
        what = f"is {item.get('input')!r}, expected {item['ctx']['expected']}"
    elif kind == "missing":
        what = "is missing"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        what = "must be an object"
    elif kind == "list_type":
        what = "must be a list"
    elif kind == "too_short":
        what = "must be a non-empty list"
    elif kind == "string_type":
        what = "must be a string"
    else:
        what = item["msg"]
    return f"{where} {what}" if where else what


# --------------------------------------------------------------------------- signing


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
    return dsse.sign(payload, key)


def verify_envelope(envelope: Any, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Verify a DSSE envelope with `public_key`; return the Statement it carries.

    Steps, in DSSE's order (protocol.md, "Protocol"):
    (1) decode the envelope: payloadType, payload and at least one signature;
    (2) verify a signature over PAE(payloadType, payload) with the key; the
        keyid is only a hint, so every signature is tried;
    (3) only then look at the verified bytes: the type must be in-toto's;
    (4) parse them as JSON, within the caps and with duplicate keys refused;
    (5) check the Statement v1 fields (`check_statement`).

    Raises `EnvelopeFormatError` for a malformed envelope or payload (1, 3-5),
    `SignatureError` if no signature verifies (2).
    """
    from cryptography.exceptions import InvalidSignature

    from verifier.attest.keys import key_id

    # (1)
    payload_type, payload, signatures = dsse.decode(envelope)
    # (2)
    message = dsse.pae(payload_type, payload)
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
    statement = dsse.parse_json_object(payload)
    # (5)
    check_statement(statement)
    return statement


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
        return cls(uri=uri or Path(path).resolve().as_uri(), digest=file_digest(path))


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
    """The hex of `sha256:<hex>` or of bare hex; None for anything else."""
    with contextlib.suppress(ValueError):
        return hex_of(digest if digest.startswith(PREFIX) else PREFIX + digest)
    return None


def rfc3339(text: str) -> str:
    """An ISO 8601 time as in-toto's Timestamp: RFC 3339, UTC, `Z` (a naive time is taken as UTC).

    Raises `ValueError` if `text` is not ISO 8601.
    """
    when = datetime.fromisoformat(text)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.replace(tzinfo=None).isoformat() + "Z"


CHAIN_HEAD_TYPE: Final = f"{URI_BASE}/correction-head/v1"


def chain_head_statement(paper: str, seq: int, record_name: str, record_digest: str, manifest: str) -> dict[str, Any]:
    """The Statement that signs a correction chain's head: its subject is the last record, by digest.

    The predicate repeats what the record says (paper, seq, the manifest it
    left), so a reader sees what was signed without the record at hand.

    Raises `ValueError` if a digest is not `sha256:<hex>`.
    """
    predicate = {"paper": paper, "seq": seq, "manifest": _digest_set(manifest)}
    return _statement([_descriptor(record_name, record_digest)], CHAIN_HEAD_TYPE, predicate)
