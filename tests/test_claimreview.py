"""ClaimReview JSON-LD: the verdict's rating on a stated scale, the evidence level when the verdict has one."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from verifier.claimreview import BEST, RATING_FOR_STATUS, TERMS, WORST, claim_review, script_tag


def _verdict(**fields: Any) -> dict[str, Any]:
    verdict = {"claim": "p/C1", "status": "verified", "gate": 2, "reason": "ok", "evaluated": "2026-06-23T08:11:44Z",
               "line": "Verified (Gate 2): computed 5e-05 matches expected 5e-05 (tolerance=5.0%)"}
    verdict.update(fields)
    return verdict


def _review(verdict: dict[str, Any] | None) -> dict[str, Any]:
    return claim_review(claim_id="p/C1", statement="LR is 5e-05.", verdict=verdict, publisher="Pub", title="T",
                        url="#claim-C1", section="4.1")


def test_a_verified_claim() -> None:
    review = _review(_verdict())
    assert review["@type"] == "ClaimReview" and review["claimReviewed"] == "LR is 5e-05."
    assert review["itemReviewed"]["@type"] == "Claim" and review["itemReviewed"]["author"]["name"] == "Pub"
    rating = review["reviewRating"]
    assert (rating["ratingValue"], rating["worstRating"], rating["bestRating"]) == (3, WORST, BEST)
    assert rating["alternateName"] == "Verified"
    assert rating["ratingExplanation"].startswith("Verified (Gate 2)")
    assert review["datePublished"] == "2026-06-23T08:11:44Z"
    assert "verify:evidence" not in review  # a pre-1.2 verdict states none: nothing is guessed
    assert {"verify": TERMS} in review["@context"]


def test_evidence_level_of_a_1_2_verdict() -> None:
    review = _review(_verdict(evidence="replicated", informative=True))
    assert review["verify:evidence"] == "replicated"
    assert review["reviewRating"]["alternateName"] == "Verified (replicated)"
    uninformative = _review(_verdict(evidence="reproduced", informative=False))
    assert uninformative["reviewRating"]["alternateName"] == "Verified (reproduced), uninformative"
    plain = _review(_verdict(evidence="none"))
    assert plain["verify:evidence"] == "none" and plain["reviewRating"]["alternateName"] == "Verified"


def test_every_status_is_on_the_scale() -> None:
    for status, value in RATING_FOR_STATUS.items():
        rating = _review(_verdict(status=status))["reviewRating"]
        assert WORST <= rating["ratingValue"] == value <= BEST
        assert rating["alternateName"].lower().startswith(status)
    never = _review(None)
    assert never["reviewRating"]["alternateName"] == "Unverified" and "datePublished" not in never


@given(st.text(max_size=80))
def test_script_tag_round_trips_and_cannot_be_closed(statement: str) -> None:
    document = claim_review(claim_id="p/C1", statement=statement, verdict=None, publisher="<", title="&", url="#x")
    tag = script_tag(document)
    body = re.fullmatch(r'<script type="application/ld\+json">(.*)</script>', tag, re.S)
    assert body is not None
    assert "<" not in body.group(1) and ">" not in body.group(1)
    assert json.loads(body.group(1)) == document
