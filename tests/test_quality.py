"""Verification level, quality dimensions and tier from the policy file; its digest in every verdict."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import verifier
from tests.conftest import RootFactory, manifest_document
from verifier.executor import Options, verify_claims
from verifier.models import PaperManifest, Verdict
from verifier.quality import assess, load_policy, verification_level

POLICY_FILE = Path(verifier.__file__).parent / "policy" / "quality-v1.yaml"


def formula_claim(cid: str, **extra: Any) -> dict[str, Any]:
    claim = dict(manifest_document()["claims"][0], id=cid)
    claim.update(extra)
    return {k: v for k, v in claim.items() if v is not None}


def paper(*claims: dict[str, Any], score: float | None = None, scale: float | None = None) -> PaperManifest:
    document = manifest_document(claims=list(claims))
    if score is not None:
        document["review"] = {"method": "panel", "score": score} | ({"scale": scale} if scale else {})
    return PaperManifest.model_validate(document)


def verdicts(statuses: dict[str, str], *, sealed: bool = True) -> dict[str, Verdict]:
    return {cid: Verdict(claim=f"demo-paper/{cid}", status=s, gate=2, reason="r", sealed=sealed,
                         evaluated="2026-01-01T00:00:00Z") for cid, s in statuses.items()}


class TestVerificationLevel:
    def test_no_claims_is_l0(self) -> None:
        assert verification_level([]) == "L0"

    def test_every_claim_quoted_is_l2(self) -> None:
        assert verification_level(paper(formula_claim("C1"), formula_claim("C2")).claims) == "L2"

    @pytest.mark.parametrize("source", [None, {"section": "4.1 Setup"}])
    def test_a_claim_without_quote_or_source_is_l1(self, source: dict[str, str] | None) -> None:
        claims = paper(formula_claim("C1"), formula_claim("C2", source=source)).claims
        assert verification_level(claims) == "L1"


class TestDimensions:
    def test_all_verified_in_a_sealed_sandbox_is_high_everywhere(self) -> None:
        quality = assess(paper(formula_claim("C1"), formula_claim("C2")), verdicts({"C1": "verified", "C2": "verified"}))
        assert quality.verification_level == "L2"
        assert quality.dimensions == {"evidence_strength": "HIGH", "citation_grounding": "HIGH",
                                      "uncertainty_disclosure": "HIGH", "reproducibility_status": "HIGH"}

    def test_half_verified_unsealed_unnoted(self) -> None:
        manifest = paper(formula_claim("C1"), formula_claim("C2", source={"section": "5"}))
        quality = assess(manifest, verdicts({"C1": "verified", "C2": "refuted"}, sealed=False))
        assert quality.dimensions == {"evidence_strength": "MEDIUM", "citation_grounding": "MEDIUM",
                                      "uncertainty_disclosure": "MEDIUM", "reproducibility_status": "MEDIUM"}

    def test_a_note_on_the_unverified_claim_discloses_uncertainty(self) -> None:
        manifest = paper(formula_claim("C1"), formula_claim("C2", note="needs a GPU"))
        quality = assess(manifest, verdicts({"C1": "verified", "C2": "unverified"}))
        assert quality.dimensions["uncertainty_disclosure"] == "HIGH"

    def test_nothing_linked_nothing_stated(self) -> None:
        bare = formula_claim("C1", evidence=None, check=None, source=None)
        quality = assess(paper(bare, formula_claim("C2", evidence=None)), verdicts({}))
        # uncertainty_disclosure cannot be LOW any more: Gate 0 refuses an approx check without a tolerance
        assert quality.dimensions == {"evidence_strength": "LOW", "citation_grounding": "LOW",
                                      "uncertainty_disclosure": "MEDIUM", "reproducibility_status": "LOW"}
        assert quality.verification_level == "L1"


class TestTier:
    @pytest.mark.parametrize(
        ("score", "scale", "verified", "tier"),
        [
            (9.0, None, 5, "FLAGSHIP_CANDIDATE"),
            (9.0, None, 4, "DOI_GRADE"),  # flagship needs 5 verified claims
            (7.5, None, 1, "DOI_GRADE"),
            (7.5, None, 0, "PUBLIC_RECORD"),
            (5.0, None, 5, "PUBLIC_RECORD"),
            (2.5, None, 5, "WATCHLIST"),
            (2.4, None, 5, "QUARANTINE_CANDIDATE"),
            (80, 100, 1, "DOI_GRADE"),  # rescaled to 8.0 of 10
            (None, None, 5, "UNASSESSED"),
        ],
    )
    def test_tier_from_the_policy(self, score: float | None, scale: float | None, verified: int, tier: str) -> None:
        ids = [f"C{i}" for i in range(1, 6)]
        manifest = paper(*(formula_claim(cid) for cid in ids), score=score, scale=scale)
        statuses = {cid: "verified" if i < verified else "inconclusive" for i, cid in enumerate(ids)}
        quality = assess(manifest, verdicts(statuses))
        assert quality.tier == tier

    def test_flagship_needs_high_reproducibility(self) -> None:
        ids = [f"C{i}" for i in range(1, 6)]
        manifest = paper(*(formula_claim(cid) for cid in ids), score=9.0)
        assert assess(manifest, verdicts(dict.fromkeys(ids, "verified"), sealed=False)).tier == "DOI_GRADE"

    def test_tier_thresholds_are_read_from_the_policy_file(self) -> None:
        tiers = [rule["tier"] for rule in load_policy().document["tiers"]]
        assert tiers == ["FLAGSHIP_CANDIDATE", "DOI_GRADE", "PUBLIC_RECORD", "WATCHLIST", "QUARANTINE_CANDIDATE"]


class TestPolicyDigest:
    def test_digest_is_of_the_policy_files_bytes(self) -> None:
        policy = load_policy()
        assert policy.digest == "sha256:" + hashlib.sha256(POLICY_FILE.read_bytes()).hexdigest()
        assert policy.uri == "https://claim-verifier.invalid/policy/quality-v1"
        quality = assess(paper(formula_claim("C1")), verdicts({"C1": "verified"}))
        assert quality.as_json()["policy"] == {"uri": policy.uri, "digest": policy.digest}

    def test_every_verdict_names_the_policy(self, make_root: RootFactory, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("VERIFY_HOME", raising=False)
        document = manifest_document()
        document["claims"] += [
            formula_claim("C2", source=None),  # Gate 1
            {"id": "D1", "statement": "Descriptive.", "kind": "descriptive", "source": {"section": "1"}},
            formula_claim("C3", reported={"value": 1.0}),  # refuted
        ]
        root = make_root(document)
        session = verify_claims(Options(root=root.path, home=root.path / ".verify", backend="process"), [])
        assert [v.status for v in session.verdicts()] == ["verified", "unverified", "unverified", "refuted"]
        assert {v.policy_digest for v in session.verdicts()} == {load_policy().digest}
        [outcome] = session.papers
        assert outcome.quality is not None
        assert outcome.quality.verification_level == "L1"
        assert outcome.quality.tier == "UNASSESSED"


class TestEvidenceStrength:
    def test_transcribed_and_uninformative_claims_do_not_count_as_direct_evidence(self) -> None:
        manifest = paper(formula_claim("C1"), formula_claim("C2"))
        both = verdicts({"C1": "verified", "C2": "verified"})
        assert assess(manifest, both).dimensions["evidence_strength"] == "HIGH"
        copied = both | {"C2": both["C2"].model_copy(update={"evidence": "transcribed"})}
        assert assess(manifest, copied).dimensions["evidence_strength"] == "MEDIUM"
        null = {cid: v.model_copy(update={"informative": False}) for cid, v in both.items()}
        assert assess(manifest, null).dimensions["evidence_strength"] == "LOW"
        # The policy file, and so every verdict's policy digest, is unchanged.
        assert load_policy().digest == "sha256:" + hashlib.sha256(POLICY_FILE.read_bytes()).hexdigest()
