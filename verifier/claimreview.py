"""schema.org `ClaimReview` for a verdict: the markup fact-checkers and search engines read.

https://schema.org/ClaimReview; the fields follow what its main consumers
document (Google's "Fact Check (ClaimReview)" structured data and the
ClaimReview Project): `claimReviewed`, `itemReviewed` (a `Claim` with its
author and where it appears), `author`, `datePublished`, `url`, and
`reviewRating`, a `Rating` on a stated numeric scale with the verdict in words
as its `alternateName`.

The scale (worst 1, best 3; `SCALE`):

| ratingValue | alternateName  | verify status                              |
| ----------- | -------------- | ------------------------------------------ |
| 1           | Refuted        | refuted                                    |
| 2           | Inconclusive / Unverified | no answer: the repro could not give one, or it was not run |
| 3           | Verified       | verified                                   |

What schema.org has no term for is carried in our own namespace
(`TERMS`, under `attest.URI_BASE`), declared in the `@context` as JSON-LD
allows: the evidence level (`transcribed | replicated | reproduced | none`,
contract 1.2), the exact status, the gate and the global claim id. A verdict
written before contract 1.2 has no evidence level: the property is then
left out rather than guessed.

Everything here reads a verdict as JSON with `.get()`, so it works on
verdicts with and without the 1.2 fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from verifier.attest import URI_BASE

TERMS: Final = f"{URI_BASE}/terms#"
CONTEXT: Final = ["https://schema.org", {"verify": TERMS}]
WORST, BEST = 1, 3
RATING_FOR_STATUS: Final = {"refuted": 1, "inconclusive": 2, "unverified": 2, "verified": 3}
SCALE: Final = "1 refuted, 2 no answer (inconclusive or unverified), 3 verified"


def claim_review(
    *,
    claim_id: str,
    statement: str,
    verdict: Mapping[str, Any] | None,
    publisher: str,
    title: str,
    url: str,
    section: str | None = None,
) -> dict[str, Any]:
    """The ClaimReview of one claim (module docstring); `verdict` is its JSON, None if never judged."""
    status = str(verdict.get("status")) if verdict else "unverified"
    words = status.capitalize()
    explanation = (verdict.get("line") or verdict.get("reason")) if verdict else "not yet verified"
    rating: dict[str, Any] = {
        "@type": "Rating",
        "ratingValue": RATING_FOR_STATUS.get(status, 2),
        "worstRating": WORST,
        "bestRating": BEST,
        "alternateName": words,
        "ratingExplanation": str(explanation),
        "description": f"Scale: {SCALE}.",
    }
    appearance: dict[str, Any] = {"@type": "CreativeWork", "name": title}
    if section:
        appearance["description"] = f"Section {section}"
    review: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "ClaimReview",
        "url": url,
        "claimReviewed": statement,
        "itemReviewed": {
            "@type": "Claim",
            "author": {"@type": "Organization", "name": publisher},
            "appearance": appearance,
        },
        "author": {"@type": "Organization", "name": "verify (claim-verifier), automated reproduction"},
        "reviewRating": rating,
        "verify:claim": claim_id,
        "verify:status": status,
    }
    if verdict:
        review["datePublished"] = str(verdict.get("evaluated"))
        review["verify:gate"] = verdict.get("gate")
        evidence = verdict.get("evidence")
        if evidence is not None:
            review["verify:evidence"] = evidence
            # "Verified (replicated)"; a level of "none" adds nothing to the words.
            if status == "verified" and evidence != "none":
                rating["alternateName"] = f"{words} ({evidence})"
        if verdict.get("informative") is False:
            rating["alternateName"] += ", uninformative"
    return review


def script_tag(document: Mapping[str, Any]) -> str:
    """`<script type="application/ld+json">` holding `document`, safe inside HTML.

    `<`, `>` and `&` are written as JSON escapes, so no text of a manifest can
    close the element or open a comment (the HTML spec's "restrictions for
    contents of script elements").
    """
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1)
    for ch, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(ch, escaped)
    return f'<script type="application/ld+json">{text}</script>'
