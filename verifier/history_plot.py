"""A paper's verdict history as a small inline SVG (no plotting library: the verifier never needs one).

Two panels over the same evaluations, oldest left:

* a step line: the share of checkable claims verified after each evaluation;
* a strip per claim: one cell per evaluation, coloured by that claim's status
  (blank before its first verdict).

Every text drawn is escaped here (`markupsafe.escape`): the SVG is inserted
into the page as markup, past jinja2's autoescape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from verifier.history import HistoryPoint

COLOURS: Final = {
    "verified": "#1a7f37",
    "refuted": "#cf222e",
    "inconclusive": "#bf8700",
    "unverified": "#8c959f",
}
MAX_POINTS: Final = 40  # the newest evaluations; older ones are in `verify show --format json`
_LEFT, _TOP, _WIDTH, _LINE_H, _ROW_H = 70, 12, 520, 90, 16


def history_svg(points: Sequence[HistoryPoint], claim_ids: Sequence[str]) -> Markup:
    """The SVG, or an empty string with fewer than two evaluations (a single one is the table itself)."""
    shown = list(points)[-MAX_POINTS:]
    if len(shown) < 2:
        return Markup("")
    step = _WIDTH / max(1, len(shown))
    strip_top = _TOP + _LINE_H + 24
    height = strip_top + _ROW_H * len(claim_ids) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="history" '
        f'width="{_LEFT + _WIDTH + 20}" height="{height}" viewBox="0 0 {_LEFT + _WIDTH + 20} {height}">',
        f"<title>{escape(_title(shown))}</title>",
    ]
    parts += _fraction_panel(shown, step)
    parts += _strips(shown, claim_ids, step, strip_top)
    parts.append(
        f'<text x="{_LEFT}" y="{height - 6}" class="axis">{escape(_day(shown[0].evaluated))}</text>'
        f'<text x="{_LEFT + _WIDTH}" y="{height - 6}" class="axis" text-anchor="end">'
        f"{escape(_day(shown[-1].evaluated))}</text></svg>"
    )
    return Markup("".join(parts))


def _title(points: Sequence[HistoryPoint]) -> str:
    last = points[-1]
    return f"{len(points)} evaluation(s); latest: {last.verified} of {last.checkable} checkable claims verified"


def _fraction_panel(points: Sequence[HistoryPoint], step: float) -> list[str]:
    """Axis labels 0% / 100% and a step line of verified / checkable."""
    def y(point: HistoryPoint) -> float:
        share = point.verified / point.checkable if point.checkable else 0.0
        return _TOP + _LINE_H * (1 - share)

    path = []
    for i, point in enumerate(points):
        x0, x1 = _LEFT + i * step, _LEFT + (i + 1) * step
        path.append(f"{'M' if i == 0 else 'L'}{x0:.1f},{y(point):.1f} L{x1:.1f},{y(point):.1f}")
    dots = [
        f'<circle cx="{_LEFT + (i + 0.5) * step:.1f}" cy="{y(p):.1f}" r="3" fill="#0969da">'
        f"<title>{escape(p.evaluated)}: {p.verified} of {p.checkable} verified</title></circle>"
        for i, p in enumerate(points)
    ]
    return [
        f'<rect x="{_LEFT}" y="{_TOP}" width="{_WIDTH}" height="{_LINE_H}" fill="#f6f8fa" stroke="#d0d7de"/>',
        f'<text x="{_LEFT - 6}" y="{_TOP + 4}" class="axis" text-anchor="end">100%</text>',
        f'<text x="{_LEFT - 6}" y="{_TOP + _LINE_H}" class="axis" text-anchor="end">0%</text>',
        f'<path d="{" ".join(path)}" fill="none" stroke="#0969da" stroke-width="2"/>',
        *dots,
    ]


def _strips(points: Sequence[HistoryPoint], claim_ids: Sequence[str], step: float, top: float) -> list[str]:
    """One row per claim, one cell per evaluation."""
    parts = []
    for row, claim in enumerate(claim_ids):
        y = top + row * _ROW_H
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 11}" class="axis" text-anchor="end">{escape(claim)}</text>')
        for i, point in enumerate(points):
            status = point.statuses.get(claim)
            if status is None:
                continue
            parts.append(
                f'<rect x="{_LEFT + i * step + 1:.1f}" y="{y + 1}" width="{max(step - 2, 1):.1f}" '
                f'height="{_ROW_H - 3}" fill="{COLOURS.get(status, "#8c959f")}">'
                f"<title>{escape(claim)} {escape(point.evaluated)}: {escape(status)}</title></rect>"
            )
    return parts


def _day(iso: str) -> str:
    return iso[:16].replace("T", " ")
