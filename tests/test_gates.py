"""Gates and paper aggregation, as units: `paper_verdict`, `ground`, `line`."""

from __future__ import annotations

from typing import Any

import pytest

from verifier.gates import ground, line, paper_verdict
from verifier.models import Claim, Verdict


def make_claim(cid: str, kind: str = "formula", **extra: Any) -> Claim:
    document: dict[str, Any] = {"id": cid, "statement": f"Claim {cid}.", "kind": kind,
                                "source": {"section": "4.1 Setup", "quote": "..."}}
    document.update(extra)
    return Claim.model_validate(document)


def make_verdict(cid: str, status: str, *, checkable: bool = True) -> Verdict:
    return Verdict(claim=f"p/{cid}", status=status, gate=2, reason="r", evaluated="2026-01-01T00:00:00Z",
                   checkable=checkable)


def aggregate(*statuses: str | None, extra: list[Claim] | None = None) -> tuple[str, int, int]:
    """Paper status of formula claims C1.. with these statuses (None: no verdict)."""
    claims = [make_claim(f"C{i}") for i in range(1, len(statuses) + 1)] + (extra or [])
    verdicts = {c.id: make_verdict(c.id, s) for c, s in zip(claims, statuses, strict=False) if s is not None}
    result = paper_verdict("p", claims, verdicts)
    return result.status, result.verified, result.checkable


class TestPaperVerdict:
    def test_verified_only_when_every_checkable_claim_is(self) -> None:
        assert aggregate("verified", "verified") == ("Verified", 2, 2)

    @pytest.mark.parametrize(
        ("statuses", "expected"),
        [
            (("verified", "inconclusive"), "Partially verified (1 of 2 claims)"),
            (("verified", "unverified", "unverified"), "Partially verified (1 of 3 claims)"),
            (("inconclusive", "unverified"), "Partially verified (0 of 2 claims)"),
            (("verified", None), "Partially verified (1 of 2 claims)"),
        ],
    )
    def test_partially_verified(self, statuses: tuple[str | None, ...], expected: str) -> None:
        assert aggregate(*statuses)[0] == expected

    @pytest.mark.parametrize("statuses", [("refuted",), ("verified", "refuted"), ("refuted", "inconclusive", "unverified")])
    def test_any_refuted_claim_refutes_the_paper(self, statuses: tuple[str, ...]) -> None:
        assert aggregate(*statuses)[0] == "Refuted"

    def test_unverified_when_none_attempted(self) -> None:
        assert aggregate("unverified", "unverified") == ("Unverified", 0, 2)

    def test_descriptive_claims_do_not_count(self) -> None:
        descriptive = make_claim("D1", kind="descriptive")
        claims = [make_claim("C1"), descriptive]
        verdicts = {"C1": make_verdict("C1", "verified"), "D1": make_verdict("D1", "unverified", checkable=False)}
        result = paper_verdict("p", claims, verdicts)
        assert (result.status, result.verified, result.checkable) == ("Verified", 1, 1)
        assert result.counts == {"verified": 1, "refuted": 0, "inconclusive": 0, "unverified": 0}

    def test_paper_of_descriptive_claims_only_is_unverified(self) -> None:
        result = paper_verdict("p", [make_claim("D1", kind="descriptive")], {})
        assert (result.status, result.checkable) == ("Unverified", 0)

    def test_as_json(self) -> None:
        result = paper_verdict("p", [make_claim("C1")], {"C1": make_verdict("C1", "verified")})
        assert result.as_json() == {"paper": "p", "status": "Verified", "verified": 1, "checkable": 1,
                                    "counts": {"verified": 1, "refuted": 0, "inconclusive": 0, "unverified": 0},
                                    "strength": {"replicated": 0, "uninformative": 0, "transcribed": 0}}


class TestGround:
    def test_grounded_claim(self) -> None:
        assert ground(make_claim("C1")) is None

    def test_claim_without_source(self) -> None:
        claim = Claim.model_validate({"id": "C1", "statement": "s", "kind": "formula"})
        assert ground(claim) == "no source anchor: the claim names no section of the source"

    def test_blank_section_is_no_anchor(self) -> None:
        assert ground(make_claim("C1", source={"section": "   "})) == "no source anchor: the claim names no section of the source"


def test_line_capitalises_status_and_names_gate() -> None:
    verdict = Verdict(claim="p/C1", status="inconclusive", gate=2, reason="repro R1 timed out",
                      evaluated="2026-01-01T00:00:00Z")
    assert line(verdict) == "Inconclusive (Gate 2): repro R1 timed out"


def test_line_says_how_strong_the_evidence_is() -> None:
    base = {"claim": "p/C1", "status": "verified", "gate": 2, "reason": "r", "evaluated": "2026-01-01T00:00:00Z"}
    replicated = Verdict.model_validate(base | {"evidence": "replicated",
                                                "replication": {"nonce": "00ff00ff", "seeds": [7, 8, 9, 10]}})
    assert line(replicated) == "Verified (Gate 2, replicated on 4 fresh seeds): r"
    failed = Verdict.model_validate(base | {"status": "refuted", "replication": {"nonce": "00ff00ff", "seeds": [7, 8]}})
    assert line(failed) == "Refuted (Gate 2, on 2 fresh seeds): r"
    assert line(Verdict.model_validate(base | {"informative": False, "evidence": "reproduced"})) == "Verified (Gate 2, uninformative): r"
    assert line(Verdict.model_validate(base | {"evidence": "transcribed"})) == "Verified (Gate 2, transcribed): r"


def _strong(cid: str, **fields: Any) -> Verdict:
    return make_verdict(cid, "verified").model_copy(update=fields)


class TestEvidenceCounts:
    def test_partial_paper_counts_replicated_and_uninformative(self) -> None:
        claims = [make_claim(f"C{i}") for i in range(1, 13)]
        verdicts = {f"C{i}": _strong(f"C{i}", evidence="replicated") for i in range(1, 6)}
        verdicts |= {f"C{i}": _strong(f"C{i}", evidence="reproduced", informative=False) for i in (6, 7)}
        verdicts |= {"C8": _strong("C8", evidence="reproduced"), "C9": _strong("C9", evidence="reproduced")}
        verdicts |= {"C10": make_verdict("C10", "inconclusive")}
        result = paper_verdict("p", claims, verdicts)
        assert result.status == "Partially verified (9 of 12 claims; 5 replicated, 2 uninformative)"
        assert result.strength == {"replicated": 5, "uninformative": 2, "transcribed": 0}

    def test_verified_paper_names_its_transcribed_claims(self) -> None:
        claims = [make_claim("C1"), make_claim("C2")]
        verdicts = {"C1": _strong("C1", evidence="transcribed"), "C2": _strong("C2", evidence="reproduced")}
        assert paper_verdict("p", claims, verdicts).status == "Verified (1 transcribed)"

    def test_only_verified_claims_are_counted(self) -> None:
        claims = [make_claim("C1"), make_claim("C2")]
        verdicts = {"C1": make_verdict("C1", "inconclusive").model_copy(update={"informative": False}),
                    "C2": _strong("C2")}
        assert paper_verdict("p", claims, verdicts).status == "Partially verified (1 of 2 claims)"
