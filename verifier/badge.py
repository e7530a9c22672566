"""A paper's status as a README badge: a shields.io-style ("flat") SVG, e.g. `verify | 9 of 12 verified`.

The SVG follows the layout shields.io draws (https://github.com/badges/shields,
`badge-maker`): two rounded rectangles side by side, the label on grey and
the message on the status colour, 11px Verdana with a one-pixel shadow, 20px
high. It is built to be pasted anywhere a README renders images:

* no script, no event attribute, no external reference (not even a font):
  hosts such as GitHub's image proxy refuse or strip anything else;
* accessible: `role="img"`, an `aria-label` and a `<title>` that read the
  whole badge ("verify: 9 of 12 verified"), as shields does;
* every text is XML-escaped, so a hostile paper id cannot break out.

Text widths come from a table of Verdana 11px advance widths (the metrics
shields measures with), so the badge fits its text without a font at hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from xml.sax.saxutils import escape, quoteattr

if TYPE_CHECKING:
    from verifier.record import PublicRecord

LABEL: Final = "verify"

# shields.io's named colours (badge-maker/lib/color.js).
COLOR_FOR_STATUS: Final = {
    "verified": "#4c1",  # brightgreen
    "partial": "#a4a61d",  # yellowgreen
    "refuted": "#e05d44",  # red
    "inconclusive": "#dfb317",  # yellow
    "unverified": "#9f9f9f",  # lightgrey
}
_LABEL_COLOR: Final = "#555"

# Verdana 11px advance widths in px (rounded to 0.1), for the characters a badge usually holds.
_WIDTHS: Final = {
    **dict.fromkeys("il.,:;|!'", 3.5),
    **dict.fromkeys("fjrt()[]/", 4.6),
    **dict.fromkeys(" ", 3.9),
    **dict.fromkeys("-", 4.6),
    **dict.fromkeys("abcdeghknopqsuvxyz", 6.6),
    **dict.fromkeys("0123456789", 7.0),
    **dict.fromkeys("wm", 9.5),
    **dict.fromkeys("ABCDEFGHIJKLNOPQRSTUVXYZ", 7.7),
    **dict.fromkeys("MW", 10.0),
}
_DEFAULT_WIDTH: Final = 7.0  # anything else: about a digit's width
_PADDING: Final = 10  # 5px either side of each text, as shields


@dataclass(frozen=True)
class Badge:
    """What a badge says: a label, a message and the message's colour."""

    label: str
    message: str
    color: str

    @property
    def text(self) -> str:
        """The whole badge in words (its accessible name): `verify: 9 of 12 verified`."""
        return f"{self.label}: {self.message}"


def text_width(text: str) -> float:
    """Width of `text` in px at Verdana 11px (the table above)."""
    return sum(_WIDTHS.get(ch, _DEFAULT_WIDTH) for ch in text)


def paper_badge(record: PublicRecord) -> Badge:
    """The badge of a paper's record: `k of n verified` on the colour of its aggregate status.

    A refuted claim decides the colour and is counted in the message, so a
    green-looking share never hides a refutation.
    """
    gate = record.gate
    verified, checkable = int(gate["verified"]), int(gate["checkable"])
    refuted = int(gate.get("counts", {}).get("refuted", 0))
    message = f"{verified} of {checkable} verified" if checkable else "no checkable claims"
    if refuted:
        message += f", {refuted} refuted"
    return Badge(LABEL, message, COLOR_FOR_STATUS[_status_key(record.status, refuted)])


def _status_key(status: str, refuted: int) -> str:
    text = status.lower()
    if refuted or text.startswith("refuted"):
        return "refuted"
    if text.startswith("partially"):
        return "partial"
    return text if text in COLOR_FOR_STATUS else "unverified"


def render_svg(badge: Badge, *, ids: str = "badge") -> str:
    """The badge as a standalone SVG document (module docstring).

    `ids` prefixes the gradient and clip ids, so several badges inlined in one
    HTML page do not share them.
    """
    ids = re.sub(r"[^A-Za-z0-9_-]", "_", ids) or "badge"
    left = round(text_width(badge.label) + _PADDING)
    right = round(text_width(badge.message) + _PADDING)
    width = left + right
    name = quoteattr(badge.text)
    # Text is drawn at 10x and scaled down, as shields does, for sub-pixel placement.
    lx, rx = left * 5, (left + right / 2) * 10
    lw, rw = (left - _PADDING) * 10, (right - _PADDING) * 10
    label, message = escape(badge.label), escape(badge.message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label={name}>'
        f"<title>{escape(badge.text)}</title>"
        f'<linearGradient id="{ids}-s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="{ids}-r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#{ids}-r)"><rect width="{left}" height="20" fill="{_LABEL_COLOR}"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{badge.color}"/>'
        f'<rect width="{width}" height="20" fill="url(#{ids}-s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
        f'<text aria-hidden="true" x="{lx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{lw}">{label}</text>'
        f'<text x="{lx}" y="140" transform="scale(.1)" fill="#fff" textLength="{lw}">{label}</text>'
        f'<text aria-hidden="true" x="{rx:g}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{rw}">{message}</text>'
        f'<text x="{rx:g}" y="140" transform="scale(.1)" fill="#fff" textLength="{rw}">{message}</text>'
        "</g></svg>\n"
    )


def markdown_snippet(badge: Badge, *, image_url: str, link_url: str) -> str:
    """`[![verify: 9 of 12 verified](IMAGE)](LINK)`, to paste into a README."""
    alt = badge.text.replace("[", "(").replace("]", ")")
    return f"[![{alt}]({image_url})]({link_url})"
