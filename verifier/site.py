"""`verify site OUT/`: a static site of every paper's public record, readable offline.

```
OUT/index.html                       every paper, with its status badge
OUT/papers/<paper>.html              one page per paper (report.HtmlReporter)
OUT/papers/<paper>.json              the same record as JSON (public-record-v1)
OUT/artifacts/sha256/..              the logs and outputs the pages link, copied from the artifact store
OUT/attestations/..                  the envelopes the pages link
OUT/badges/<paper>.svg               each paper's README badge (verifier.badge)
OUT/keys/ed25519.pub.pem             the public key that signed the attestations
OUT/check.html                       "check this record yourself": the exact `verify attest check` commands
```

Each paper page also carries one schema.org ClaimReview (JSON-LD) per claim
(verifier.claimreview) and its badge with a Markdown snippet; they are put in
place of the page's integrations marker (`INTEGRATIONS_MARKER`). The site is
laid out like a home (`artifacts/`, `attestations/`, `keys/`), so `VERIFY_HOME=.`
inside it checks envelopes against the site's own copies.

Links are relative, so OUT can be served from anywhere or opened from disk.
Only files a page links are copied, and only from inside the home: a path
that resolves elsewhere (a hand-edited index, a symlink) is skipped.

Side effects: creates OUT and writes into it; existing files are replaced.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from verifier.errors import VerifierError
from verifier.record import PublicRecord, build_record
from verifier.report import HtmlReporter, JsonReporter, badge_class, render_template

INTEGRATIONS_MARKER: Final = "<!--verify:integrations-->"
CHECK_PAGE: Final = "check.html"
SITE_URL_PLACEHOLDER: Final = "SITE_URL"


@dataclass
class SiteResult:
    """What `build_site` wrote: the pages, the copied files, and papers it could not read."""

    index: Path
    pages: list[Path] = field(default_factory=list)
    copied: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def build_site(
    root: Path, home: Path, out: Path, paper_ids: list[str] | None = None, *, base_url: str | None = None
) -> SiteResult:
    """Write the site for `paper_ids` (every paper under manifests/ when None or empty).

    A paper whose manifest cannot be read is listed on the index with its
    error rather than failing the whole site. `base_url`, where the site will
    be served, makes the badges' Markdown snippets absolute (else they start
    with `SITE_URL/`, to be replaced).

    Raises `LedgerError` if the ledger cannot be read, `OSError` if OUT cannot be written.
    """
    from verifier.root import VerificationRoot

    ids = paper_ids or VerificationRoot.at(root).paper_ids()
    (out / "papers").mkdir(parents=True, exist_ok=True)
    result = SiteResult(index=out / "index.html")
    records: list[PublicRecord] = []
    for paper in ids:
        try:
            record = build_record(root, home, paper)
        except VerifierError as e:  # one bad manifest must not hide the others
            result.failed.append((paper, e.diagnostics()))
            continue
        records.append(record)
    verdicts = _verdict_documents(home, records)
    site_url = (base_url or SITE_URL_PLACEHOLDER).rstrip("/")
    for record in records:
        result.pages.append(_write_paper(record, out, verdicts=verdicts, site_url=site_url))
        result.copied += _copy_links(record, home, out)
    keys = _copy_keys(home, out)
    (out / CHECK_PAGE).write_text(render_template("check.html.j2", keys=keys, attestations=_checks(records, out, keys)), encoding="utf-8")
    html = render_template("index.html.j2", records=records, failed=result.failed, badge=badge_class, page=_page_href)
    result.index.write_text(html, encoding="utf-8")
    return result


def _page_href(record: PublicRecord) -> str:
    return f"papers/{record.paper}.html"


def _write_paper(record: PublicRecord, out: Path, *, verdicts: Mapping[str, dict[str, Any]], site_url: str) -> Path:
    """The paper's page, its JSON and its badge; links climb one level, out of `papers/`."""
    page = out / "papers" / f"{record.paper}.html"
    reporter = HtmlReporter(href=lambda path: f"../{path}", index_href="../index.html")
    html = reporter.render(record)
    block = _integrations(record, out, verdicts=verdicts, site_url=site_url)
    # The marker is in paper.html.j2; should a template lose it, the block still lands in the page.
    html = html.replace(INTEGRATIONS_MARKER, block, 1) if INTEGRATIONS_MARKER in html else html.replace("</body>", block + "</body>", 1)
    page.write_text(html, encoding="utf-8")
    (out / "papers" / f"{record.paper}.json").write_text(JsonReporter().render(record), encoding="utf-8")
    return page


def _copy_links(record: PublicRecord, home: Path, out: Path) -> int:
    """Copy every linked log, output and envelope from the home into OUT, at the same relative path."""
    copied = 0
    home_real = home.resolve()
    # Empty stdout and stderr are one object: copy each path once.
    paths = dict.fromkeys(link.path for claim in record.claims for link in [*claim.logs, *claim.attestations])
    for path in paths:
        source = (home / path).resolve()
        # Never copy from outside the home, whatever a path says.
        if not source.is_relative_to(home_real) or not source.is_file():
            continue
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            os.chmod(target, 0o644)  # store objects are read-only; a rebuilt site replaces them
        shutil.copyfile(source, target)
        copied += 1
    return copied


# --------------------------------------------------------------------------- integrations (issue 14)


@dataclass(frozen=True)
class ShippedKey:
    """A public key the site ships, at `path` relative to OUT."""

    path: str
    keyid: str


@dataclass(frozen=True)
class AttestationCheck:
    """One row of the check page: an envelope and the exact command that checks it."""

    paper: str
    claim: str
    label: str
    path: str
    keyids: list[str]
    key_shipped: bool
    command: str


def _verdict_documents(home: Path, records: list[PublicRecord]) -> dict[str, dict[str, Any]]:
    """Global claim id -> the last verdict as JSON (what `verify claim --json` prints)."""
    from verifier.ledger import Ledger

    ids = [claim.claim for record in records for claim in record.claims]
    with Ledger.open(home) as ledger:
        return {gid: verdict.model_dump(mode="json") for gid, verdict in ledger.last_verdicts(ids).items()}


def _integrations(record: PublicRecord, out: Path, *, verdicts: Mapping[str, dict[str, Any]], site_url: str) -> str:
    """The badge (written to `badges/<paper>.svg` and inlined), its snippet, and the ClaimReviews."""
    from verifier.badge import markdown_snippet, paper_badge, render_svg
    from verifier.claimreview import claim_review, script_tag

    badge = paper_badge(record)
    (out / "badges").mkdir(exist_ok=True)
    (out / "badges" / f"{record.paper}.svg").write_text(render_svg(badge), encoding="utf-8")
    markdown = markdown_snippet(
        badge, image_url=f"{site_url}/badges/{record.paper}.svg", link_url=f"{site_url}/{_page_href(record)}"
    )
    reviews = [
        script_tag(claim_review(
            claim_id=claim.claim, statement=claim.statement, verdict=verdicts.get(claim.claim),
            publisher=record.publisher, title=record.title, url=f"#claim-{claim.id}", section=claim.section,
        ))
        for claim in record.claims
    ]
    return render_template(
        "integrations.html.j2",
        badge_svg=render_svg(badge, ids=f"badge-{record.paper}"),
        badge_href=f"../badges/{record.paper}.svg",
        markdown=markdown,
        check_href=f"../{CHECK_PAGE}",
        claim_reviews=reviews,
    )


def _copy_keys(home: Path, out: Path) -> list[ShippedKey]:
    """Copy the home's public key (never the private one) to `keys/ed25519.pub.pem`."""
    from verifier.attest.keys import key_id, load_public_key, public_key_path
    from verifier.errors import KeyFileError

    source = public_key_path(home)
    if not source.is_file():
        return []
    try:
        keyid = key_id(load_public_key(source))
    except KeyFileError:
        return []  # an unreadable key is no key to ship; the check page says so
    target = out / "keys" / source.name
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(source, target)
    return [ShippedKey(target.relative_to(out).as_posix(), keyid)]


def _checks(records: list[PublicRecord], out: Path, keys: list[ShippedKey]) -> list[AttestationCheck]:
    """Every envelope the pages link, with the command that checks it from inside OUT."""
    shipped = {key.keyid: key.path for key in keys}
    rows = []
    for record in records:
        for claim in record.claims:
            for link in claim.attestations:
                keyids = _keyids(out / link.path)
                key = next((shipped[k] for k in keyids if k in shipped), None)
                shown_key = key or (keys[0].path if keys else "PUBLIC_KEY.pem")
                rows.append(AttestationCheck(
                    paper=record.paper, claim=claim.id, label=link.label, path=link.path, keyids=keyids,
                    key_shipped=key is not None,
                    command=f"VERIFY_HOME=. verify attest check {link.path} --key {shown_key}",
                ))
    return rows


def _keyids(envelope_file: Path) -> list[str]:
    """The keyids an envelope file's signatures name (empty if it cannot be read)."""
    try:
        lines = envelope_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found: list[str] = []
    for line in lines:
        try:
            envelope = json.loads(line)
        except ValueError:
            continue
        for signature in envelope.get("signatures", []) if isinstance(envelope, dict) else []:
            keyid = signature.get("keyid") if isinstance(signature, dict) else None
            if isinstance(keyid, str) and keyid not in found:
                found.append(keyid)
    return found
