"""Figures and a markdown report for the imbalance study, from one or several seeds' results.

`write_report(runs, out)`: `runs` are parsed `results.json` objects (one per seed). Writes
`aggregate.json` (per cell and per derived number: mean, 95% percentile-bootstrap CI of the
mean, per-seed values), `fig_share.png`, `fig_alpha.png`, `fig_alignment.png` and `report.md`.
With one run the CI is that run's value (no spread is known).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

OBJ_STYLE = {
    "mlm": ("MLM", "tab:gray", "o"),
    "tlm": ("TLM", "tab:brown", "v"),
    "weam": ("WEAM", "tab:green", "s"),
    "contrastive": ("MLM -> contrastive", "tab:blue", "o"),
    "weam+contrastive": ("WEAM -> contrastive", "tab:red", "s"),
}


def stats(values: list[float], resamples: int = 2000) -> dict[str, Any]:
    """Mean, percentile-bootstrap 95% CI of the mean (seeded: same input, same bytes), values."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        lo = hi = float(v.mean())
    else:
        rng = np.random.default_rng(12345)
        means = v[rng.integers(0, len(v), size=(resamples, len(v)))].mean(1)
        lo, hi = (float(x) for x in np.percentile(means, [2.5, 97.5]))
    return {"mean": round(float(v.mean()), 6), "ci95": [round(lo, 6), round(hi, 6)], "values": [round(float(x), 6) for x in v]}


def _get(obj: Any, path: list[str]) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    first = runs[0]
    cfg = first["config"]
    cells = {}
    for key in first["cells"]:
        c = first["cells"][key]
        entry = {k: c[k] for k in ("objective", "pretrain", "ratio", "alpha")}
        for metric in ("high_acc", "low_acc"):
            entry[metric] = stats([r["cells"][key][metric] for r in runs])
        for lg in c["retrieval"]:
            entry[f"acc_{lg}"] = stats([r["cells"][key]["retrieval"][lg]["acc"] for r in runs])
        if "word" in c:
            entry["word_aer"] = stats([r["cells"][key]["word"]["aer"] for r in runs])
            entry["bli_p_at_1"] = stats([r["cells"][key]["word"]["bli_p_at_1"] for r in runs])
        cells[key] = entry
    agg: dict[str, Any] = {"tier": first["tier"], "seeds": [r["seed"] for r in runs], "config": cfg, "cells": cells}
    agg["alignment"] = {
        "sizes": first["alignment"]["sizes"],
        "aer_vs_size": [stats([r["alignment"]["aer_vs_size"][i] for r in runs]) for i in range(len(first["alignment"]["sizes"]))],
    }
    if "real" in first:
        agg["real"] = {
            o: {m: stats([r["real"][o][m] for r in runs]) for m in ("high_acc", "low_acc")}
            for o in ("contrastive", "weam+contrastive")
        }
        agg["real"]["setup"] = {k: first["real"][k] for k in ("languages", "ratio", "n_test", "train_pairs")}
    return agg


def _cell(agg: dict[str, Any], o: str, r: int, a: float) -> dict[str, Any]:
    return agg["cells"][f"{o}/r{r}/a{a}"]


def _diff(runs: list[dict[str, Any]], a: list[str], b: list[str]) -> dict[str, Any]:
    """Paired per-seed difference a - b (same seed, same world)."""
    return stats([_get(r, a) - _get(r, b) for r in runs])


def figures(agg: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = agg["config"]
    ratios, objectives = cfg["ratios"], cfg["objectives"]
    share = [1 / r for r in ratios]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    for ax, metric, title in (
        (axes[0], "low_acc", "low-resource pairs en-x2/x3 (zero-shot for contrastive)"),
        (axes[1], "high_acc", "high-resource pair en-x1"),
    ):
        for o in objectives:
            name, color, marker = OBJ_STYLE.get(o, (o, None, "o"))
            s = [_cell(agg, o, r, 1.0)[metric] for r in ratios]
            m = np.array([x["mean"] for x in s])
            lo = m - np.array([x["ci95"][0] for x in s])
            hi = np.array([x["ci95"][1] for x in s]) - m
            ax.errorbar(share, m, yerr=[lo, hi], label=name, color=color, marker=marker, capsize=3)
        chance = 1 / cfg["n_test"]
        ax.axhline(chance, color="k", lw=0.8, ls=":", label="chance")
        ax.set_xscale("log")
        ax.set_xlabel("low-resource share of pre-training data (1 = balanced)")
        ax.set_ylabel("retrieval accuracy@1 (mean of both directions)")
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Zero-shot retrieval against data share ({agg['tier']} tier, {len(agg['seeds'])} seed(s), 95% CI)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "fig_share.png", dpi=110, metadata={"Software": None})
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    alphas, ar = cfg["alphas"], cfg["alpha_ratio"]
    for o in cfg["alpha_objectives"]:
        name, color, marker = OBJ_STYLE.get(o, (o, None, "o"))
        base = _cell(agg, o, ar, 1.0)
        cost = [base["high_acc"]["mean"] - _cell(agg, o, ar, a)["high_acc"]["mean"] for a in alphas]
        gain = [_cell(agg, o, ar, a)["low_acc"]["mean"] - base["low_acc"]["mean"] for a in alphas]
        ax.plot(cost, gain, marker=marker, color=color, label=name)
        for a, x, y in zip(alphas, cost, gain, strict=True):
            ax.annotate(f"α={a}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.axhline(0, color="k", lw=0.6)
    ax.axvline(0, color="k", lw=0.6)
    ax.set_xlabel("high-resource cost (drop in en-x1 accuracy vs α=1)")
    ax.set_ylabel("low-resource gain (rise in en-x2/x3 accuracy vs α=1)")
    ax.set_title(f"Sampling temperature at 1:{ar} (mean of {len(agg['seeds'])} seed(s))", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "fig_alpha.png", dpi=110, metadata={"Software": None})
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    al = agg["alignment"]
    m = [x["mean"] for x in al["aer_vs_size"]]
    axes[0].plot(al["sizes"], m, marker="o", color="k")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("en-x2 sentence pairs the aligner learns from")
    axes[0].set_ylabel("AER against gold (lower is better)")
    axes[0].set_title(f"statistical aligner ({cfg['aligner']})", fontsize=9)
    for o in objectives:
        if "word_aer" not in _cell(agg, o, ratios[0], 1.0):
            continue
        name, color, marker = OBJ_STYLE.get(o, (o, None, "o"))
        axes[1].plot(share, [_cell(agg, o, r, 1.0)["word_aer"]["mean"] for r in ratios], marker=marker, color=color, label=name)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("low-resource share of pre-training data")
    axes[1].set_ylabel("embedding word-alignment AER, en-x2")
    axes[1].set_title("encoder's own word alignment (SimAlign argmax)", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "fig_alignment.png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def _fmt(s: dict[str, Any]) -> str:
    if len(s["values"]) < 2:
        return f"{s['mean']:.3f}"
    return f"{s['mean']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"


def _resolved(d: dict[str, Any]) -> str:
    lo, hi = d["ci95"]
    if len(d["values"]) < 2:
        return "one seed: no interval"
    if lo > 0:
        return "resolved: positive"
    if hi < 0:
        return "resolved: negative"
    return "not resolved (CI straddles 0)"


def markdown(agg: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    cfg = agg["config"]
    ratios, hi_r, ar = cfg["ratios"], max(cfg["ratios"]), cfg["alpha_ratio"]
    lines = [
        f"# Imbalance study: {agg['tier']} tier, seeds {agg['seeds']}",
        "",
        "Generated by `python -m repro.experiments.imbalance`; values are the mean over seeds with a",
        "95% percentile-bootstrap CI of the mean (paired per-seed differences for comparisons).",
        f"Retrieval: accuracy@1, mean of both directions, last layer, {cfg['n_test']} held-out test",
        f"sentences per pair (chance {1 / cfg['n_test']:.3f}). Low = mean of en-x2 and en-x3.",
        "",
        "## Retrieval by objective and data share (alpha = 1)",
        "",
        "| objective | " + " | ".join(f"low @1:{r}" for r in ratios) + " | " + " | ".join(f"high @1:{r}" for r in ratios) + " |",
        "| --- | " + " | ".join("---" for _ in ratios * 2) + " |",
    ]
    for o in cfg["objectives"]:
        row = [_fmt(_cell(agg, o, r, 1.0)["low_acc"]) for r in ratios] + [_fmt(_cell(agg, o, r, 1.0)["high_acc"]) for r in ratios]
        lines.append(f"| {o} | " + " | ".join(row) + " |")
    lines += ["", "## Comparisons (paired over seeds)", ""]
    comps = []
    for o in cfg["objectives"]:
        d = _diff(runs, ["cells", f"{o}/r{min(ratios)}/a1.0", "low_acc"], ["cells", f"{o}/r{hi_r}/a1.0", "low_acc"])
        comps.append((f"{o}: low-resource accuracy at 1:{min(ratios)} minus at 1:{hi_r}", d))
    pairs = [("weam+contrastive", "contrastive"), ("weam", "mlm"), ("tlm", "mlm"), ("contrastive", "mlm"), ("weam", "tlm")]
    for a, b in pairs:
        if a in cfg["objectives"] and b in cfg["objectives"]:
            for r in (min(ratios), hi_r):
                for m in ("low_acc", "high_acc"):
                    d = _diff(runs, ["cells", f"{a}/r{r}/a1.0", m], ["cells", f"{b}/r{r}/a1.0", m])
                    comps.append((f"{a} minus {b}, {m.replace('_acc', '')}-resource accuracy at 1:{r}", d))
    for o in cfg["alpha_objectives"]:
        lo_a = min(cfg["alphas"])
        for m in ("low_acc", "high_acc"):
            d = _diff(runs, ["cells", f"{o}/r{ar}/a{lo_a}", m], ["cells", f"{o}/r{ar}/a1.0", m])
            comps.append((f"{o} at 1:{ar}: {m.replace('_acc', '')}-resource accuracy at alpha {lo_a} minus alpha 1.0", d))
    lines += ["| comparison | mean difference [95% CI] | per seed | |", "| --- | --- | --- | --- |"]
    for name, d in comps:
        lines.append(f"| {name} | {_fmt(d)} | {', '.join(f'{v:.3f}' for v in d['values'])} | {_resolved(d)} |")
    lines += ["", f"## Sampling temperature at 1:{ar}", "", "| objective | alpha | low | high |", "| --- | --- | --- | --- |"]
    for o in cfg["alpha_objectives"]:
        for a in cfg["alphas"]:
            c = _cell(agg, o, ar, a)
            lines.append(f"| {o} | {a} | {_fmt(c['low_acc'])} | {_fmt(c['high_acc'])} |")
    lines += ["", "## Word alignment", "", "Statistical aligner (en-x2) AER against gold, by training pairs:", ""]
    lines.append("| pairs | " + " | ".join(str(s) for s in agg["alignment"]["sizes"]) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in agg["alignment"]["sizes"]) + " |")
    lines.append("| AER | " + " | ".join(_fmt(s) for s in agg["alignment"]["aer_vs_size"]) + " |")
    wl = [o for o in cfg["objectives"] if "word_aer" in _cell(agg, o, ratios[0], 1.0)]
    if wl:
        lines += ["", "Encoder embedding word alignment (en-x2 test) AER / BLI P@1:", "", "| objective | " + " | ".join(f"AER @1:{r}" for r in ratios) + " | " + " | ".join(f"BLI @1:{r}" for r in ratios) + " |", "| --- | " + " | ".join("---" for _ in ratios * 2) + " |"]
        for o in wl:
            lines.append(f"| {o} | " + " | ".join(_fmt(_cell(agg, o, r, 1.0)["word_aer"]) for r in ratios) + " | " + " | ".join(_fmt(_cell(agg, o, r, 1.0)["bli_p_at_1"]) for r in ratios) + " |")
    if "real" in agg:
        st = agg["real"]["setup"]
        lines += ["", "## Real languages (Django catalogs)", "", f"High {st['languages']['high']}, low {st['languages']['low']} at 1:{st['ratio']}; train pairs {st['train_pairs']}; {st['n_test']} test strings.", "", "| objective | low | high |", "| --- | --- | --- |"]
        for o in ("contrastive", "weam+contrastive"):
            lines.append(f"| {o} | {_fmt(agg['real'][o]['low_acc'])} | {_fmt(agg['real'][o]['high_acc'])} |")
        d = _diff(runs, ["real", "weam+contrastive", "low_acc"], ["real", "contrastive", "low_acc"])
        lines += ["", f"weam+contrastive minus contrastive, low: {_fmt(d)} ({_resolved(d)})."]
    lines += ["", "Figures: `fig_share.png`, `fig_alpha.png`, `fig_alignment.png`.", ""]
    return "\n".join(lines)


def write_report(runs: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    runs = sorted(runs, key=lambda r: r["seed"])
    agg = aggregate(runs)
    (out / "aggregate.json").write_text(json.dumps(agg, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    figures(agg, out)
    (out / "report.md").write_text(markdown(agg, runs), encoding="utf-8")
    return agg
