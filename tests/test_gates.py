"""Gates and paper aggregation, as units: `paper_verdict`, `ground`, `line`, the restated-param rule."""

from __future__ import annotations

from typing import Any

import pytest

from verifier.gates import _restates_param, ground, line, paper_verdict
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
                                    "counts": {"verified": 1, "refuted": 0, "inconclusive": 0, "unverified": 0}}


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


class TestRestatesParam:
    @pytest.mark.parametrize(
        ("computed", "params"),
        [
            (5e-05, {"lr": 5e-05}),
            (5e-05, {"optim": {"schedule": [{"peak": 5e-05}]}}),
            (32, {"batch": 32.0}),
            (0.1 + 0.2, {"x": 0.3}),
        ],
    )
    def test_flagged(self, computed: Any, params: dict[str, Any]) -> None:
        assert _restates_param(computed, params)

    @pytest.mark.parametrize(
        ("computed", "params"),
        [
            (5e-05, {"base_lr": 1e-04, "batch": 16, "ref_batch": 32}),
            (1, {"flag": True}),  # booleans are not numbers here
            (True, {"n": 1}),
            (float("nan"), {"x": float("nan")}),
            ([5e-05], {"lr": 5e-05}),  # a series is not a restatement of one param
            ("5e-05", {"lr": "5e-05"}),
            (5.0001e-05, {"lr": 5e-05}),
        ],
    )
    def test_not_flagged(self, computed: Any, params: dict[str, Any]) -> None:
        assert not _restates_param(computed, params)
