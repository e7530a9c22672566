"""Verification level, quality dimensions and quality tier of a paper.

The rules are documented in `verifier/policy/quality-v1.yaml`; the tier
thresholds are read from it, and the digest of its bytes goes into every
verdict, so each record names the policy that judged it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from verifier.digest import bytes_digest
from verifier.errors import IntakeError
from verifier.models import Claim, PaperManifest, Verdict
from verifier.safeload import POLICY_CAPS, load_yaml

Level = Literal["LOW", "MEDIUM", "HIGH"]
CHECKABLE_KINDS = ("formula", "empirical", "proof")


@dataclass(frozen=True)
class Policy:
    """The parsed policy file and the digest of its bytes."""

    uri: str
    digest: str
    document: dict[str, Any]


@cache
def load_policy() -> Policy:
    """The bundled quality policy (read once per process)."""
    return parse_policy(resources.files("verifier.policy").joinpath("quality-v1.yaml").read_bytes())


def parse_policy(raw: bytes, *, file: str = "verifier/policy/quality-v1.yaml") -> Policy:
    """A policy file's bytes as a `Policy`. Raises `IntakeError` for one that does not parse or has no uri."""
    document = load_yaml(raw, file=file, caps=POLICY_CAPS)
    if not isinstance(document, dict) or not isinstance(document.get("uri"), str):
        raise IntakeError("not a policy: no uri", file=file, field="uri")
    return Policy(uri=document["uri"], digest=bytes_digest(raw), document=document)


@dataclass(frozen=True)
class Quality:
    """What `verify show` prints under verification level, dimensions and tier."""

    verification_level: str
    dimensions: dict[str, Level]
    tier: str
    policy_uri: str
    policy_digest: str

    def as_json(self) -> dict[str, Any]:
        return {
            "verification_level": self.verification_level,
            "dimensions": dict(self.dimensions),
            "tier": self.tier,
            "policy": {"uri": self.policy_uri, "digest": self.policy_digest},
        }


def is_checkable(claim: Claim) -> bool:
    """Claims with a Gate 2 check: formula, empirical and proof claims."""
    return claim.kind in CHECKABLE_KINDS


def assess(manifest: PaperManifest, verdicts: dict[str, Verdict]) -> Quality:
    """Apply the policy to a paper and its claims' verdicts (keyed by claim id)."""
    policy = load_policy()
    checkable = [c for c in manifest.claims if is_checkable(c)]
    verified = [c for c in checkable if _status(verdicts, c) == "verified"]
    dimensions: dict[str, Level] = {
        "evidence_strength": _evidence(checkable, [c for c in verified if _direct(verdicts[c.id])]),
        "citation_grounding": _grounding(manifest.claims),
        "uncertainty_disclosure": _uncertainty(manifest.claims, verdicts),
        "reproducibility_status": _reproducibility(checkable, verdicts),
    }
    return Quality(
        verification_level=verification_level(manifest.claims),
        dimensions=dimensions,
        tier=_tier(policy, manifest, len(verified), dimensions["reproducibility_status"]),
        policy_uri=policy.uri,
        policy_digest=policy.digest,
    )


def verification_level(claims: list[Claim]) -> str:
    """L0 no claims, L1 claims extracted, L2 every claim source-grounded with a quote."""
    if not claims:
        return "L0"
    if all(c.source is not None and c.source.quote for c in claims):
        return "L2"
    return "L1"


def _status(verdicts: dict[str, Verdict], claim: Claim) -> str | None:
    verdict = verdicts.get(claim.id)
    return verdict.status if verdict is not None else None


def _direct(verdict: Verdict) -> bool:
    """A verified claim whose evidence supports it directly: not transcribed, not uninformative.

    The policy's evidence_strength counts claims "verified in a sealed
    sandbox or by proof"; a value read back from the repro's inputs, or a check
    the null model passes too, verifies nothing about the claim, so those are
    left out of the count (paper_verdict's `transcribed` and `uninformative`).
    """
    return verdict.evidence != "transcribed" and verdict.informative is not False


def _evidence(checkable: list[Claim], verified: list[Claim]) -> Level:
    if checkable and len(verified) == len(checkable):
        return "HIGH"
    if checkable and 2 * len(verified) >= len(checkable):
        return "MEDIUM"
    return "LOW"


def _grounding(claims: list[Claim]) -> Level:
    if claims and all(c.source is not None and c.source.quote for c in claims):
        return "HIGH"
    if claims and all(c.source is not None for c in claims):
        return "MEDIUM"
    return "LOW"


def _uncertainty(claims: list[Claim], verdicts: dict[str, Verdict]) -> Level:
    checked = [c for c in claims if c.check is not None]
    stated = all(
        c.check is not None
        and (c.check.op != "approx" or c.check.rel_tol or c.check.abs_tol or c.check.precision or c.check.samples)
        for c in checked
    )
    if not stated:
        return "LOW"
    unverified = [c for c in claims if is_checkable(c) and _status(verdicts, c) != "verified"]
    return "HIGH" if all(c.note for c in unverified) else "MEDIUM"


def _reproducibility(checkable: list[Claim], verdicts: dict[str, Verdict]) -> Level:
    linked = [c for c in checkable if c.evidence is not None or c.proof is not None]
    sealed = [c for c in linked if (v := verdicts.get(c.id)) is not None and (v.sealed or c.proof is not None)]
    if checkable and len(linked) == len(checkable) and len(sealed) == len(linked):
        return "HIGH"
    return "MEDIUM" if linked else "LOW"


def _tier(policy: Policy, manifest: PaperManifest, verified: int, reproducibility: Level) -> str:
    score = manifest.review.score if manifest.review is not None else None
    if score is None:
        return "UNASSESSED"  # the tiers are bands of review score: no score, no band
    if manifest.review is not None and manifest.review.scale not in (None, 10):
        score = 10 * score / float(manifest.review.scale or 10)
    for rule in policy.document["tiers"]:
        if "minimum_review_score" in rule and score < rule["minimum_review_score"]:
            continue
        if verified < rule.get("minimum_verified_claims", 0):
            continue
        if "required_reproducibility" in rule and reproducibility != rule["required_reproducibility"]:
            continue
        return str(rule["tier"])
    return "UNASSESSED"
