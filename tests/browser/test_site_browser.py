"""The static site in a real browser: headless Chromium from Debian's `chromium` package.

The test renders the site of a root with a verified claim, dumps the DOM the
browser built (so what is checked is what a reader sees, after parsing),
checks the verdict line and every claim, and saves a screenshot under the
test's tmp dir (path printed; kept with `--basetemp`).

The integrations (issue 14) are checked the same way: the ClaimReview JSON-LD
is read back from the parsed DOM and compared with the ledger's verdict JSON
(what `verify claim --json` prints), and a screenshot of the record page with
its badge is saved as test output, under `out/test-output/browser/` of the
checkout (ignored by git) as well as the tmp dir.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.executor import Options, verify_claims
from verifier.ledger import Ledger
from verifier.site import build_site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"),
]
VERIFIED_LINE = (
    "Verified (Gate 2): unsealed formula repro: computed 5e-05 matches expected 5e-05 (tolerance=5.0%)"
)
HOSTILE = "<img src=x onerror=alert(1)> is a claim too"
TEST_OUTPUT = Path(__file__).resolve().parents[2] / "out" / "test-output" / "browser"


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    argv = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90, check=True)


@pytest.fixture
def site(make_root: RootFactory, tmp_path: Path) -> Path:
    document = manifest_document("demo-paper")
    document["claims"].append(
        {"id": "C2", "statement": HOSTILE, "kind": "descriptive", "source": {"section": "Intro", "quote": HOSTILE}}
    )
    root = make_root(document).path
    verify_claims(Options(root=root, home=root / ".verify", backend="process"), ["demo-paper"])
    out = tmp_path / "site"
    build_site(root, root / ".verify", out)
    (out / ".root").write_text(str(root))  # for the tests that read the ledger back
    return out


def test_page_shows_the_verdict_and_every_claim(site: Path, tmp_path: Path) -> None:
    page = site / "papers" / "demo-paper.html"
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert VERIFIED_LINE in dom
    assert 'id="paper-status">Verified<' in dom
    for claim in ("C1", "C2"):
        assert f'id="claim-{claim}"' in dom
    # The hostile statement is text in the DOM, never an element.
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom and "<img" not in dom
    shot = tmp_path / "demo-paper.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri())
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_index_lists_the_paper_with_its_badge(site: Path, tmp_path: Path) -> None:
    dom = _chromium(tmp_path, "--dump-dom", (site / "index.html").as_uri()).stdout
    assert 'class="badge verified">Verified<' in dom
    assert 'href="papers/demo-paper.html"' in dom


# --------------------------------------------------------------------------- integrations (issue 14)

LD_JSON = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


def _verdicts(site: Path) -> dict[str, dict[str, Any]]:
    """The ledger's last verdict of every claim, as JSON (what `verify claim --json` prints)."""
    root = Path((site / ".root").read_text())
    with Ledger.open(root / ".verify") as ledger:
        found = ledger.last_verdicts(["demo-paper/C1", "demo-paper/C2"])
    return {gid: verdict.model_dump(mode="json") for gid, verdict in found.items()}


def test_claimreview_json_ld_round_trips_through_the_dom(site: Path, tmp_path: Path) -> None:
    page = site / "papers" / "demo-paper.html"
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    reviews = {r["verify:claim"]: r for r in (json.loads(body) for body in LD_JSON.findall(dom))}
    assert set(reviews) == {"demo-paper/C1", "demo-paper/C2"}  # every claim carries one
    verdicts = _verdicts(site)
    for claim_id, review in reviews.items():
        verdict = verdicts[claim_id]
        assert review["@type"] == "ClaimReview" and review["itemReviewed"]["@type"] == "Claim"
        assert review["verify:status"] == verdict["status"]
        assert review["reviewRating"]["alternateName"].lower().startswith(verdict["status"])
        assert review["reviewRating"]["ratingExplanation"] == (verdict.get("line") or verdict["reason"])
        assert review["datePublished"] == verdict["evaluated"]
        assert review["verify:gate"] == verdict["gate"]
        assert review.get("verify:evidence") == verdict.get("evidence")  # contract 1.2 when present
        assert (review["reviewRating"]["worstRating"], review["reviewRating"]["bestRating"]) == (1, 3)
    assert reviews["demo-paper/C1"]["reviewRating"]["ratingValue"] == 3
    # The hostile statement comes back as the same text, not as markup.
    assert reviews["demo-paper/C2"]["claimReviewed"] == HOSTILE


def test_record_page_screenshot_with_its_badge(site: Path, tmp_path: Path) -> None:
    page = site / "papers" / "demo-paper.html"
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert 'aria-label="verify: 1 of 1 verified"' in dom and "<title>verify: 1 of 1 verified</title>" in dom
    assert "[![verify: 1 of 1 verified](SITE_URL/badges/demo-paper.svg)](SITE_URL/papers/demo-paper.html)" in dom
    shot = tmp_path / "record-page-with-badge.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,900", page.as_uri())
    assert shot.stat().st_size > 10_000
    badge_shot = tmp_path / "badge.png"
    _chromium(tmp_path, f"--screenshot={badge_shot}", "--window-size=200,40", (site / "badges" / "demo-paper.svg").as_uri())
    assert badge_shot.stat().st_size > 500
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    for path in (shot, badge_shot):
        shutil.copyfile(path, TEST_OUTPUT / path.name)
    print(f"screenshots: {TEST_OUTPUT / shot.name}, {TEST_OUTPUT / badge_shot.name}")
