"""A multi-seed claim's evidence as a small inline SVG: seeds, interval, threshold, baseline.

One horizontal value axis, two rows:

* the claim: a dot per seed, the interval of the statistic as a bar with the
  estimate as a tick (coloured by the verdict's status);
* the baseline (when the claim has one): its seeds as hollow dots and its
  interval as a grey bar.

The check's thresholds (the edges of its passing region) are dashed
vertical lines across both rows. An interval that the samples cannot bound
runs to the edge of the axis, with an arrow. No scripts and no external
resources: the page's CSP allows neither. Every text drawn is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from markupsafe import Markup, escape

from verifier.history_plot import COLOURS

_W, _LEFT, _RIGHT = 440, 70, 16
_ROW_H, _TOP = 26, 20


def seeds_svg(figure: Mapping[str, Any] | None) -> Markup:
    """The SVG of `report.figure_data`'s dict, or an empty string when there is nothing to draw."""
    if not figure:
        return Markup("")
    values = list(figure.get("values") or [])
    base_values = list(figure.get("baseline_values") or [])
    has_base = bool(base_values) or bool(figure.get("baseline_interval"))
    finite = [v for v in [*values, *base_values, figure.get("estimate"), figure.get("low"), figure.get("high"),
                          figure.get("baseline_low"), figure.get("baseline_high"), *figure.get("edges", [])]
              if isinstance(v, int | float) and math.isfinite(v)]
    if not finite:
        return Markup("")
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.08 or max(abs(lo) * 0.1, 1e-9)
    lo, hi = lo - pad, hi + pad
    rows = 2 if has_base else 1
    height = _TOP + rows * _ROW_H + 22
    plot_w = _W - _LEFT - _RIGHT

    def x(v: float) -> float:
        return _LEFT + (min(max(v, lo), hi) - lo) / (hi - lo) * plot_w

    colour = COLOURS.get(str(figure.get("status")), COLOURS["unverified"])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="seeds" width="{_W}" height="{height}" '
        f'viewBox="0 0 {_W} {height}">',
        f"<title>{escape(_title(figure))}</title>",
    ]
    y1 = _TOP + _ROW_H / 2
    parts.append(f'<text x="4" y="{y1 + 4:.1f}" class="axis">claim</text>')
    parts += _interval(x, figure.get("low"), figure.get("high"), y1, colour, lo, hi)
    if isinstance(figure.get("estimate"), int | float):
        ex = x(float(figure["estimate"]))
        parts.append(f'<line x1="{ex:.1f}" x2="{ex:.1f}" y1="{y1 - 7:.1f}" y2="{y1 + 7:.1f}" stroke="{colour}" stroke-width="2"/>')
    parts += [f'<circle cx="{x(v):.1f}" cy="{y1:.1f}" r="3.5" fill="{colour}" fill-opacity="0.6"/>' for v in _finite(values)]
    if has_base:
        y2 = y1 + _ROW_H
        parts.append(f'<text x="4" y="{y2 + 4:.1f}" class="axis">baseline</text>')
        if figure.get("baseline_interval"):
            parts += _interval(x, figure.get("baseline_low"), figure.get("baseline_high"), y2, "#8c959f", lo, hi)
        parts += [f'<circle cx="{x(v):.1f}" cy="{y2:.1f}" r="3.5" fill="none" stroke="#57606a"/>' for v in _finite(base_values)]
    bottom = _TOP + rows * _ROW_H
    for edge in _finite(figure.get("edges", [])):
        ex = x(edge)
        parts.append(f'<line x1="{ex:.1f}" x2="{ex:.1f}" y1="{_TOP - 4}" y2="{bottom:.1f}" stroke="#24292f" '
                     f'stroke-dasharray="3,3"/>')
        # Threshold labels above the plot, the axis range below: they never overlap.
        parts.append(f'<text x="{ex:.1f}" y="{_TOP - 8}" class="axis" text-anchor="middle">{escape(_fmt(edge))}</text>')
    parts.append(f'<text x="{_LEFT}" y="{height - 2}" class="axis">{escape(_fmt(lo))}</text>')
    parts.append(f'<text x="{_W - _RIGHT}" y="{height - 2}" class="axis" text-anchor="end">{escape(_fmt(hi))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _interval(x: Any, low: Any, high: Any, y: float, colour: str, lo: float, hi: float) -> list[str]:
    """A bar from low to high; a None (unbounded) end runs to the axis edge with an arrowhead."""
    a = x(float(low)) if low is not None else x(lo)
    b = x(float(high)) if high is not None else x(hi)
    out = [f'<line x1="{a:.1f}" x2="{b:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="5" stroke-opacity="0.35"/>']
    for end, open_end, direction in ((a, low is None, -1), (b, high is None, 1)):
        if open_end:
            out.append(f'<path d="M{end:.1f},{y - 5:.1f} L{end + 6 * direction:.1f},{y:.1f} L{end:.1f},{y + 5:.1f} Z" fill="{colour}"/>')
    return out


_SHOWN: Final = 4


def _fmt(v: float) -> str:
    return format(v, f".{_SHOWN}g")


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]


def _title(figure: Mapping[str, Any]) -> str:
    low = "-inf" if figure.get("low") is None else _fmt(figure["low"])
    high = "inf" if figure.get("high") is None else _fmt(figure["high"])
    text = f"{len(figure.get('values') or [])} {figure.get('label', 'values')}s; interval [{low}, {high}]"
    edges = _finite(figure.get("edges", []))
    if edges:
        text += "; threshold " + ", ".join(_fmt(e) for e in edges)
    if figure.get("baseline_values") or figure.get("baseline_interval"):
        text += "; baseline shown below"
    return text
