"""The public record's forms: Markdown, JSON and HTML (`verify show --format`, `verify site`).

The record itself (`PublicRecord`, `build_record`) is `verifier.record`'s;
this module only renders it. Reporters follow check-jsonschema's
`reporter.py`: one `Reporter` ABC and a class per format, registered in
`REPORTER_FOR_FORMAT`, the table `verify show --format` chooses from.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from verifier.record import ClaimRecord, PublicRecord, number_text


def interval_words(interval: Mapping[str, Any] | None) -> str | None:
    """`95% t-interval [0.01803, 0.04412] of the mean, n=4`."""
    if not interval:
        return None
    names = {"t": "t-interval", "paired-t": "paired t-interval", "welch": "Welch interval", "bca": "BCa interval",
             "order-statistic": "order-statistic interval"}
    low = "-inf" if interval.get("low") is None else format(interval["low"], ".4g")
    high = "inf" if interval.get("high") is None else format(interval["high"], ".4g")
    n = f"n={interval['n']}" + (f" vs {interval['n_other']}" if interval.get("n_other") else "")
    return f"{number_text(interval['confidence'] * 100)}% {names.get(interval['method'], interval['method'])} [{low}, {high}], {n}"


def baseline_words(baseline: Mapping[str, Any] | None, informative: bool | None) -> str | None:
    """`fails (/gap_untrained): 95% t-interval [...]; the claim is informative`."""
    if not baseline:
        return None
    said = {"pass": "passes the check too", "fail": "fails the check", "inconclusive": "does not satisfy the check"}
    text = f"{baseline.get('output') or 'baseline'} {said.get(baseline['status'], baseline['status'])}"
    shown = interval_words(baseline.get("interval")) or (_value(baseline.get("computed")) if baseline.get("computed") is not None else None)
    if shown:
        text += f" ({shown})"
    verdict = {True: "the claim is informative", False: "the claim is uninformative", None: "informativeness unknown"}
    return f"{text}; {verdict[informative]}"


# --------------------------------------------------------------------------- reporters


class Reporter(ABC):
    """Renders a `PublicRecord` as text."""

    media_type: str = "text/plain"

    def __init__(self, *, href: Callable[[str], str] | None = None) -> None:
        """`href` turns a home-relative path into a link target (default: the path itself)."""
        self.href = href or (lambda path: path)

    @abstractmethod
    def render(self, record: PublicRecord) -> str:
        """The record in this reporter's format."""


class JsonReporter(Reporter):
    """Machine-readable and stable: sorted keys, two-space indent, no generation time."""

    media_type = "application/json"

    def render(self, record: PublicRecord) -> str:
        """The record as JSON (`public-record-v1`)."""
        return json.dumps(record.as_json(), indent=2, sort_keys=True, default=str) + "\n"


class MarkdownReporter(Reporter):
    """The record as Markdown, for a terminal, a README or a CI summary."""

    media_type = "text/markdown"

    def render(self, record: PublicRecord) -> str:
        """Sections in the record's order (`verifier.record`)."""
        out = self._header(record) + self._summary(record) + self._corrections(record)
        out += self._provenance(record)
        out += ["## Claims", ""]
        for claim in record.claims:
            out += self._claim(claim)
        return "\n".join(out).rstrip() + "\n"

    def _header(self, r: PublicRecord) -> list[str]:
        rows = [("Publisher", r.publisher), ("Submitted", r.submitted), ("Review score", r.review_score),
                ("Review method", r.review_method), ("DOI", r.doi), ("Source", r.source_kind), ("Manifest", r.manifest_digest)]
        return [f"# {_md(r.title)}", "", f"Paper `{r.paper}`", ""] + [f"- **{k}:** {_md(str(v))}" for k, v in rows if v] + [""]

    def _summary(self, r: PublicRecord) -> list[str]:
        v, g, q = r.verification, r.gate, r.quality
        dims = [f"- {name.replace('_', ' ')}: **{level}**" for name, level in sorted(q["dimensions"].items())]
        return [
            "## Verification level", "", f"**{v['level']}**: {v['meaning']} ({v['source_grounded_claims']} of {v['claims']} claims source-grounded).", "",
            "## Gate verdict", "", f"**{_md(r.status)}**", "", f"> {_md(g['line'])}", "",
            f"Deciding gate: {g['deciding_gate'] if g['deciding_gate'] is not None else '-'}; claim {g['claim'] or '-'}; evaluated {g['evaluated'] or '-'}.", "",
            "## Quality tier", "", f"**{q['tier']}**", "",
            "## Quality dimensions", "", *dims, "", f"Policy: {q['policy']['uri']} ({q['policy']['digest']})", "",
        ]

    def _corrections(self, r: PublicRecord) -> list[str]:
        c = r.corrections
        out = ["## Correction record", "", f"**{c['status']}**, {c['count']} correction(s); chain {'intact' if c['ok'] else 'BROKEN'}.", ""]
        out += [f"- broken: {_md(b)}" for b in c["breaks"]]
        out += [f"- stale: {s['claim']} (correction {s['correction']}, issued {s['issued']}; last verdict {s['last_verdict'] or 'never'})" for s in c["stale"]]
        return out + ([""] if c["breaks"] or c["stale"] else [])

    def _provenance(self, r: PublicRecord) -> list[str]:
        p = r.provenance
        if p is None:
            return ["## Provenance", "", "No source-provenance-v1 record.", ""]
        out = ["## Provenance", "", f"- **Contract:** {p['contract']}", f"- **Publisher:** {_md(p['publisher'])}",
               f"- **Level:** {p['level']}, {p['level_definition']}"]
        for key, label in (("external_record", "External record"), ("report_artifact", "Report artifact"), ("claim_lineage", "Claim lineage")):
            if p.get(key):
                out.append(f"- **{label}:** {_md(_pairs(p[key]))}")
        for key, label in (("review_method", "Review method"), ("note", "Note")):
            if p.get(key):
                out.append(f"- **{label}:** {_md(str(p[key]))}")
        return [*out, ""]

    def _claim(self, c: ClaimRecord) -> list[str]:
        out = [f"### {c.id} ({c.kind}): {_md(c.statement)}", "", f"**{_md(c.line)}**", ""]
        if c.section:
            out.append(f"- **Grounding:** {_md(c.section)}" + (f': "{_md(c.quote)}"' if c.quote else ""))
        for label, value in (("Reported", c.reported), ("Computed", _value(c.computed)), ("Expected", _value(c.expected)),
                             ("Check", c.check), ("Interval", interval_words(c.interval)),
                             ("Baseline", baseline_words(c.baseline, c.informative)), ("Evidence", c.strength),
                             ("Evaluated", c.evaluated), ("Flags", ", ".join(c.flags)), ("Note", c.note)):
            if value not in (None, "", "-"):
                out.append(f"- **{label}:** {_md(str(value))}")
        for run in c.runs:
            out.append(f"- **Run {run.id}:** {run.backend}, {'sealed' if run.sealed else 'UNSEALED'}, {run.status}, "
                       f"{run.duration_s:.2f}s; {_md(run.interpreter)}; {_md(run.os)}; {_md(run.cpu)}")
        out += [f"- log: [{_md(link.label)}]({self.href(link.path)})" for link in c.logs]
        out += [f"- attestation: [{_md(link.label)}]({self.href(link.path)})" for link in c.attestations]
        return [*out, ""]


def _pairs(value: Mapping[str, Any]) -> str:
    return "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in value.items() if v is not None)


def _value(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _md(text: str) -> str:
    """Text safe in Markdown: no HTML, no link or emphasis syntax from a hostile manifest."""
    escaped = text.replace("\\", "\\\\").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "*_[]`|":
        escaped = escaped.replace(ch, "\\" + ch)
    return " ".join(escaped.split())


class HtmlReporter(Reporter):
    """A self-contained page (inline CSS and SVG), rendered by jinja2 with autoescape on."""

    media_type = "text/html"

    def __init__(self, *, href: Callable[[str], str] | None = None, index_href: str | None = None) -> None:
        """`href` turns a home-relative path into a link; `index_href` links back to a site's index."""
        super().__init__(href=href)
        self.index_href = index_href

    def render(self, record: PublicRecord) -> str:
        """The paper page (`templates/paper.html.j2`)."""
        from verifier.history_plot import history_svg
        from verifier.seed_plot import seeds_svg

        return render_template(
            "paper.html.j2",
            record=record,
            href=self.href,
            index_href=self.index_href,
            history_svg=history_svg(record.history, [c.id for c in record.claims]),
            badge=badge_class,
            value=_value,
            seeds_svg=seeds_svg,
            interval_words=interval_words,
            baseline_words=baseline_words,
        )


def badge_class(status: str | None) -> str:
    """CSS class of a status badge: claim statuses and the paper's aggregate (`Verified (2 uninformative)` too)."""
    text = (status or "").lower().split(" (", 1)[0]
    if text.startswith("partially"):
        return "partial"
    return text if text in ("verified", "refuted", "inconclusive", "unverified") else "none"


def render_template(name: str, **context: Any) -> str:
    """Render a bundled template with autoescape on (everything a manifest says is untrusted)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("verifier", "templates"),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(name).render(**context)


REPORTER_FOR_FORMAT: dict[str, type[Reporter]] = {
    "md": MarkdownReporter,
    "json": JsonReporter,
    "html": HtmlReporter,
}
"""`verify show --format` -> its reporter; each takes `href=` (JSON has no links and ignores it)."""
