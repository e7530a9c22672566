"""Figures and a markdown report for the imbalance study, from one or several seeds' results.

`write_report(runs, out)`: `runs` are parsed `results.json` objects (one per seed). Writes
`aggregate.json` (per cell, arm and metric, and per contrast: mean, 95% Student-t interval of
the mean, per-seed values), `fig_share.png`, `fig_loss.png` and `report.md`, whose tables put
the untrained floor beside every trained arm. With one run the interval is that run's value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

ARM_STYLE = {
    "untrained": ("untrained (floor)", "k", "x"),
    "untrained_C": ("untrained -> C (floor)", "k", "x"),
    "mlm": ("MLM", "tab:gray", "o"),
    "mlm_cont": ("MLM-continued", "tab:gray", "o"),
    "tlm": ("TLM-continued", "tab:brown", "v"),
    "weam": ("WEAM (aligner links)", "tab:green", "s"),
    "weam_random": ("WEAM (random links)", "tab:olive", "D"),
    "weam_gold": ("WEAM (gold links)", "tab:cyan", "^"),
    "mlm_cont_C": ("MLM-continued -> C", "tab:blue", "o"),
    "tlm_C": ("TLM -> C", "tab:brown", "v"),
    "weam_C": ("WEAM -> C", "tab:red", "s"),
    "weam_random_C": ("WEAM random -> C", "tab:pink", "D"),
    "weam_gold_C": ("WEAM gold -> C", "tab:purple", "^"),
}
METRICS = ("low_acc_mid", "low_acc_last", "high_acc_mid", "high_acc_last", "low_bucc_last", "high_bucc_last", "low_bli", "high_bli")


def stats(values: list[float], confidence: float = 0.95) -> dict[str, Any]:
    """Mean, Student-t interval of the mean and the values (one value: no interval)."""
    from scipy import stats as st

    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean())
    if len(v) < 2:
        lo = hi = m
    else:
        half = float(st.t.ppf(0.5 + confidence / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
        lo, hi = m - half, m + half
    return {"mean": round(m, 6), "ci95": [round(lo, 6), round(hi, 6)], "values": [round(float(x), 6) for x in v]}


def flat_diff(run: dict[str, Any]) -> dict[str, float]:
    """The run's nested `/diff` as {"a/b/c": value} (the JSON pointer's path, unescaped)."""
    out: dict[str, float] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}/{k}" if prefix else k, v)
        else:
            out[prefix] = node

    walk("", run["diff"])
    return out


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    first = runs[0]
    agg: dict[str, Any] = {"tier": first["tier"], "seeds": [r["seed"] for r in runs], "config": first["config"], "cells": {}}
    for name, c in first["cells"].items():
        cell: dict[str, Any] = {k: c[k] for k in ("design", "ratio", "alpha", "mono", "par")}
        cell["entropy"] = stats([r["cells"][name]["entropy"] for r in runs])
        cell["mlm_loss"] = stats([r["cells"][name]["mlm_loss"] for r in runs])
        cell["aligner_aer"] = {lg: stats([r["cells"][name]["aligner_aer"][lg] for r in runs]) for lg in c["aligner_aer"]}
        cell["arms"] = {}
        for arm, a in c["arms"].items():
            entry = {m: stats([r["cells"][name]["arms"][arm]["eval"][m] for r in runs]) for m in METRICS if m in a["eval"]}
            if "loss" in a:
                entry["loss"] = stats([r["cells"][name]["arms"][arm]["loss"] for r in runs])
            if "heldout_loss" in a:
                entry["heldout_loss"] = {lg: stats([r["cells"][name]["arms"][arm]["heldout_loss"][lg] for r in runs]) for lg in a["heldout_loss"]}
            cell["arms"][arm] = entry
        agg["cells"][name] = cell
    agg["diff"] = {k: stats([flat_diff(r)[k] for r in runs]) for k in flat_diff(first)}
    agg["tokenizer"] = {
        "pieces_per_word": {lg: stats([r["tokenizer"]["pieces_per_word"][lg] for r in runs]) for lg in first["tokenizer"]["pieces_per_word"]},
        "overlap_token_share": {lg: stats([r["tokenizer"]["overlap_with_en"][lg]["token_share"] for r in runs]) for lg in first["tokenizer"]["overlap_with_en"]},
        "overlap_types_beyond_shared": {lg: stats([r["tokenizer"]["overlap_with_en"][lg]["types_beyond_shared_tokens"] for r in runs]) for lg in first["tokenizer"]["overlap_with_en"]},
    }
    if "real" in first:
        agg["real"] = {arm: {m: stats([r["real"]["arms"][arm][m] for r in runs]) for m in ("low_acc_last", "high_acc_last")} for arm in first["real"]["arms"]}
        agg["real_setup"] = {k: v for k, v in first["real"].items() if k != "arms"}
    return agg


def _fmt(s: dict[str, Any] | None) -> str:
    if s is None:
        return "-"
    if len(s["values"]) < 2:
        return f"{s['mean']:.3f}"
    return f"{s['mean']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"


def _resolved(d: dict[str, Any]) -> str:
    lo, hi = d["ci95"]
    if len(d["values"]) < 2:
        return "one seed"
    if lo > 0:
        return "positive"
    if hi < 0:
        return "negative"
    return "not resolved"


def figures(agg: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = list(agg["cells"])
    x = np.arange(len(cells))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric, title in (
        (axes[0], "low_acc_last", "low-resource en-x2/x3 (zero-shot after C)"),
        (axes[1], "high_acc_last", "high-resource en-x1"),
    ):
        for arm in agg["cells"][cells[0]]["arms"]:
            name, color, marker = ARM_STYLE.get(arm, (arm, None, "o"))
            nan = {"mean": np.nan, "ci95": [np.nan, np.nan]}
            s = [agg["cells"][c]["arms"].get(arm, {}).get(metric, nan) for c in cells]  # arms missing in side cells
            m = np.array([v["mean"] for v in s], dtype=float)
            err = [m - np.array([v["ci95"][0] for v in s], dtype=float), np.array([v["ci95"][1] for v in s], dtype=float) - m]
            ls = "--" if arm.startswith("untrained") else "-"
            ax.errorbar(x, m, yerr=err, label=name, color=color, marker=marker, ls=ls, capsize=3)
        ax.axhline(1 / agg["config"]["n_test"], color="k", lw=0.6, ls=":", label="chance")
        ax.set_xticks(x, cells)
        ax.set_ylabel("accuracy@1, last layer, both directions")
        ax.set_title(title, fontsize=9)
    axes[1].legend(fontsize=6, ncol=2)
    fig.suptitle(f"Retrieval by cell and arm, untrained floor dashed ({agg['tier']}, seeds {agg['seeds']}, 95% t-interval)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "fig_share.png", dpi=110, metadata={"Software": None})
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 4))
    ent = [agg["cells"][c]["entropy"]["mean"] for c in cells]
    loss = [agg["cells"][c]["mlm_loss"]["mean"] for c in cells]
    ax.bar(x - 0.2, ent, 0.4, label="unigram entropy of training subwords", color="tab:gray")
    ax.bar(x + 0.2, loss, 0.4, label="final MLM loss", color="tab:blue")
    ax.set_xticks(x, cells)
    ax.set_ylabel("nats")
    ax.legend(fontsize=7)
    ax.set_title("MLM pre-training: loss against the unigram entropy", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "fig_loss.png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def markdown(agg: dict[str, Any]) -> str:
    cfg = agg["config"]
    lines = [
        f"# Imbalance study: {agg['tier']} tier, seeds {agg['seeds']}",
        "",
        "Generated by `python -m repro.experiments.imbalance`; mean over seeds and 95% Student-t",
        f"interval of the mean. Retrieval: accuracy@1 (both directions), {cfg['n_test']} multi-way test",
        f"pairs (chance {1 / cfg['n_test']:.3f}); low = mean of en-x2 and en-x3; `_C` = after the",
        "contrastive stage on en-x1 only (zero-shot on the low pairs). BUCC: F1 at the dev-split",
        "threshold, last layer. BLI: P@1 without the tokens shared by construction (middle layer).",
        "",
        "## Tokenizer (one per seed, shared by every cell and arm)",
        "",
        "| language | pieces per word | test tokens whose piece also occurs in en | shared piece types beyond . and digits |",
        "| --- | --- | --- | --- |",
    ]
    tk = agg["tokenizer"]
    for lg in tk["pieces_per_word"]:
        lines.append(f"| {lg} | {_fmt(tk['pieces_per_word'][lg])} | {_fmt(tk['overlap_token_share'].get(lg))} | {_fmt(tk['overlap_types_beyond_shared'].get(lg))} |")
    for name, c in agg["cells"].items():
        aer = ", ".join(f"{lg} {_fmt(v)}" for lg, v in c["aligner_aer"].items())
        lines += [
            "",
            f"## Cell {name} ({c['design']} design, 1:{c['ratio']}, alpha {c['alpha']})",
            "",
            f"Monolingual sentences {c['mono']}, en-x pairs {c['par']}. Unigram entropy of the training",
            f"subwords {_fmt(c['entropy'])} nats; final MLM loss {_fmt(c['mlm_loss'])}. Aligner AER: {aer}.",
            "",
            "| arm | final loss | low acc mid | low acc last | high acc mid | high acc last | low BUCC | high BUCC | low BLI | high BLI |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for arm, a in c["arms"].items():
            row = [_fmt(a.get("loss"))] + [_fmt(a.get(m)) for m in ("low_acc_mid", "low_acc_last", "high_acc_mid", "high_acc_last", "low_bucc_last", "high_bucc_last", "low_bli", "high_bli")]
            lines.append(f"| {ARM_STYLE.get(arm, (arm,))[0]} | " + " | ".join(row) + " |")
    lines += ["", "## Contrasts (paired per seed)", "", "| contrast | mean [95% t-interval] | per seed | sign |", "| --- | --- | --- | --- |"]
    for k, d in agg["diff"].items():
        lines.append(f"| {k} | {_fmt(d)} | {', '.join(f'{v:.3f}' for v in d['values'])} | {_resolved(d)} |")
    if "real" in agg:
        st = agg["real_setup"]
        lines += ["", "## Real languages (Django catalogs)", "", f"{json.dumps(st, sort_keys=True)}", "", "| arm | low acc last | high acc last |", "| --- | --- | --- |"]
        for arm, a in agg["real"].items():
            lines.append(f"| {arm} | {_fmt(a['low_acc_last'])} | {_fmt(a['high_acc_last'])} |")
    lines += ["", "Figures: `fig_share.png`, `fig_loss.png`.", ""]
    return "\n".join(lines)


def write_report(runs: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    runs = sorted(runs, key=lambda r: r["seed"])
    agg = aggregate(runs)
    (out / "aggregate.json").write_text(json.dumps(agg, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    figures(agg, out)
    (out / "report.md").write_text(markdown(agg), encoding="utf-8")
    return agg
