"""The per-seed figure: what it draws, unbounded intervals, and escaping."""

from __future__ import annotations

import math

from verifier.seed_plot import seeds_svg

FIGURE = {"label": "per-seed value", "values": [0.1, 0.2, 0.3, 0.4], "estimate": 0.25, "low": 0.05, "high": 0.45,
          "edges": [0.0], "baseline_values": [0.0, 0.01, -0.01, 0.0], "baseline_interval": True, "baseline_low": -0.02, "baseline_high": 0.02,
          "status": "verified"}


def test_draws_seeds_interval_threshold_and_baseline() -> None:
    svg = str(seeds_svg(FIGURE))
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.endswith("</svg>")
    assert svg.count('fill="#1a7f37" fill-opacity="0.6"') == 4  # one dot per seed, in the verdict's colour
    assert svg.count('fill="none" stroke="#57606a"') == 4  # the baseline's seeds, hollow
    assert svg.count("stroke-dasharray") == 1 and ">0</text>" in svg  # the threshold, labelled
    assert "<script" not in svg and "baseline shown below" in svg


def test_an_unbounded_interval_runs_to_the_edge_with_an_arrow() -> None:
    svg = str(seeds_svg(FIGURE | {"low": None, "high": None, "baseline_values": [], "baseline_interval": False}))
    assert svg.count("<path") == 2 and "interval [-inf, inf]" in svg and ">baseline<" not in svg


def test_nothing_to_draw() -> None:
    assert str(seeds_svg(None)) == ""
    assert str(seeds_svg({"values": [], "edges": [], "low": None, "high": None, "estimate": math.nan})) == ""


def test_text_is_escaped() -> None:
    svg = str(seeds_svg(FIGURE | {"label": "<script>alert(1)</script>"}))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
