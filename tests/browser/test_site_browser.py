"""The static site in a real browser: headless Chromium from Debian's `chromium` package.

The test renders the site of a root with a verified claim, dumps the DOM the
browser built (so what is checked is what a reader sees, after parsing),
checks the verdict line and every claim, and saves a screenshot under the
test's tmp dir (path printed; kept with `--basetemp`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.executor import Options, verify_claims
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
