"""`verify site OUT/`: a static site of every paper's public record, readable offline.

```
OUT/index.html                       every paper, with its status badge
OUT/papers/<paper>.html              one page per paper (report.HtmlReporter)
OUT/papers/<paper>.json              the same record as JSON (public-record-v1)
OUT/artifacts/sha256/..              the logs and outputs the pages link, copied from the artifact store
OUT/attestations/..                  the envelopes the pages link
```

Links are relative, so OUT can be served from anywhere or opened from disk.
Only files a page links are copied, and only from inside the home: a path
that resolves elsewhere (a hand-edited index, a symlink) is skipped.

Side effects: creates OUT and writes into it; existing files are replaced.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from verifier.errors import VerifierError
from verifier.report import (
    HtmlReporter,
    JsonReporter,
    PublicRecord,
    badge_class,
    build_record,
    render_template,
)


@dataclass
class SiteResult:
    """What `build_site` wrote: the pages, the copied files, and papers it could not read."""

    index: Path
    pages: list[Path] = field(default_factory=list)
    copied: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def build_site(root: Path, home: Path, out: Path, paper_ids: list[str] | None = None) -> SiteResult:
    """Write the site for `paper_ids` (every paper under manifests/ when None or empty).

    A paper whose manifest cannot be read is listed on the index with its
    error rather than failing the whole site.

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
        result.pages.append(_write_paper(record, out))
        result.copied += _copy_links(record, home, out)
    html = render_template("index.html.j2", records=records, failed=result.failed, badge=badge_class, page=_page_href)
    result.index.write_text(html, encoding="utf-8")
    return result


def _page_href(record: PublicRecord) -> str:
    return f"papers/{record.paper}.html"


def _write_paper(record: PublicRecord, out: Path) -> Path:
    """The paper's page and its JSON; links climb one level, out of `papers/`."""
    page = out / "papers" / f"{record.paper}.html"
    reporter = HtmlReporter(href=lambda path: f"../{path}", index_href="../index.html")
    page.write_text(reporter.render(record), encoding="utf-8")
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
