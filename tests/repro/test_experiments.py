"""The imbalance study's entrypoint on a seconds-long stand-in of the smoke and full tiers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repro.experiments import imbalance
from repro.experiments.tiers import FULL, SMOKE, tier_from_params

TINY = {
    "vocab_size": 60,
    "n_mono_high": 60,
    "n_par_high": 40,
    "n_test": 16,
    "ratios": [1, 2, 4],
    "alpha_ratio": 4,
    "pretrain_steps": 3,
    "contrastive_steps": 2,
    "batch_size": 8,
    "hidden": 32,
    "heads": 2,
    "intermediate": 64,
    "tokenizer_vocab": 120,
    "max_len": 32,
    "align_sizes": [5, 10, 20],
}


def _run(tmp_path: Path, name: str, tier: str = "smoke", seed: int = 0, **extra: object) -> dict:
    params = {"tier": tier, "overrides": {**TINY, **extra}}
    return imbalance.run(params, seed, tmp_path / name)


def test_tiers_parse_and_full_is_larger() -> None:
    assert tier_from_params({}) == SMOKE
    assert tier_from_params({"tier": "full"}) == FULL
    assert FULL.pretrain_steps > SMOKE.pretrain_steps and FULL.n_par_high > SMOKE.n_par_high
    assert FULL.ratios[: len(SMOKE.ratios)] == SMOKE.ratios  # full extends the smoke grid
    with pytest.raises(ValueError, match="unknown tier fields"):
        tier_from_params({"overrides": {"nope": 1}})
    with pytest.raises(ValueError, match="unknown tier"):
        tier_from_params({"tier": "huge"})


def test_smoke_standin_writes_the_pointers_claims_read(tmp_path: Path) -> None:
    res = _run(tmp_path, "a")
    out = tmp_path / "a"
    for f in ("results.json", "timings.json", "report.md", "aggregate.json", "fig_share.png", "fig_alpha.png", "fig_alignment.png"):
        assert (out / f).stat().st_size > 0, f
    assert set(res["summary"]["low_resource_acc"]) == {"mlm", "tlm", "weam", "contrastive", "weam_contrastive"}
    assert len(res["trend"]["low_share_acc"]["contrastive"]) == 3
    assert len(res["alpha"]["contrastive"]["low_acc"]) == 3
    assert len(res["alignment"]["aer_vs_size"]) == 3
    cell = res["cells"]["contrastive/r4/a0.3"]
    assert cell["pretrain"] == "mlm" and 0.0 <= cell["low_acc"] <= 1.0
    assert set(cell["retrieval"]) == {"x1", "x2", "x3"}
    assert "word" in res["cells"]["mlm/r1/a1.0"]
    gap = res["gaps"]["weam_contrastive_vs_contrastive_low_r4"]
    assert gap == round(res["cells"]["weam+contrastive/r4/a1.0"]["low_acc"] - res["cells"]["contrastive/r4/a1.0"]["low_acc"], 6)
    assert "contrastive_low_balanced_vs_r4" in res["gaps"]


def test_same_seed_same_bytes_other_seed_other_numbers(tmp_path: Path) -> None:
    imbalance.run({"tier": "smoke", "figures": False, "overrides": TINY}, 0, tmp_path / "a")
    imbalance.run({"tier": "smoke", "figures": False, "overrides": TINY}, 0, tmp_path / "b")
    imbalance.run({"tier": "smoke", "figures": False, "overrides": TINY}, 1, tmp_path / "c")
    a, b, c = ((tmp_path / d / "results.json").read_bytes() for d in "abc")
    assert a == b
    assert a != c


def test_report_aggregates_seeds(tmp_path: Path) -> None:
    for s in (0, 1):
        imbalance.run({"tier": "smoke", "figures": False, "overrides": TINY}, s, tmp_path / f"s{s}")
    assert imbalance.main(["report", "--runs", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "agg")]) == 0
    agg = json.loads((tmp_path / "agg" / "aggregate.json").read_text())
    assert agg["seeds"] == [0, 1]
    lo, hi = agg["cells"]["contrastive/r1/a1.0"]["low_acc"]["ci95"]
    assert lo <= agg["cells"]["contrastive/r1/a1.0"]["low_acc"]["mean"] <= hi
    assert "seeds [0, 1]" in (tmp_path / "agg" / "report.md").read_text()


def test_full_tier_standin_with_real_languages(tmp_path: Path) -> None:
    """The full tier's code path (incl. the Django cell), shrunk to seconds."""
    res = _run(tmp_path, "full", tier="full", aligner="ibm1", device="cpu", layers=2, real_test=10, real_tokenizer_vocab=300)
    assert res["tier"] == "full" and res["config"]["real"] is True
    assert set(res["real_summary"]) == {"contrastive", "weam_contrastive"}
    assert res["real"]["n_test"] == 10
