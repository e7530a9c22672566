"""The imbalance study's entrypoint on a seconds-long stand-in of the smoke, cpu and full tiers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from repro.experiments import imbalance
from repro.experiments.tiers import CPU, FULL, SMOKE, tier_from_params

TINY = {
    "vocab_size": 60,
    "n_topics": 2,
    "n_mono_high": 100,
    "n_par_high": 40,
    "n_contrastive": 20,
    "n_test": 24,
    "n_tok_sample": 30,
    "n_heldout": 10,
    "imbalance_ratios": [1, 4],
    "scarcity_ratios": [1],
    "pretrain_steps": 3,
    "continued_steps": 2,
    "contrastive_steps": 2,
    "batch_size": 8,
    "hidden": 32,
    "heads": 2,
    "intermediate": 64,
    "tokenizer_vocab": 150,
    "max_len": 32,
}


def _run(tmp_path: Path, name: str, tier: str = "smoke", seed: int = 0, figures: bool = True, **extra: object) -> dict:
    params = {"tier": tier, "figures": figures, "overrides": {**TINY, **extra}}
    return imbalance.run(params, seed, tmp_path / name)


def test_tiers_parse_and_grow() -> None:
    assert tier_from_params({}) == SMOKE
    assert tier_from_params({"tier": "full"}) == FULL
    assert FULL.pretrain_steps > CPU.pretrain_steps >= SMOKE.pretrain_steps
    assert set(SMOKE.imbalance_ratios) <= set(CPU.imbalance_ratios) == set(FULL.imbalance_ratios)
    with pytest.raises(ValueError, match="unknown tier fields"):
        tier_from_params({"overrides": {"nope": 1}})
    with pytest.raises(ValueError, match="unknown tier"):
        tier_from_params({"tier": "huge"})


def test_plan_separates_imbalance_from_scarcity() -> None:
    cells = {c.name: c for c in imbalance.plan(CPU)}
    assert {"imb_r1", "imb_r10", "imb_r100", "scar_r1", "scar_r10", "imb_r100_a0.3"} == set(cells)
    # imbalance: high fixed, low shrinks; scarcity: low fixed at the imb_r100 amount, high grows
    assert {cells[n].mono["en"] for n in ("imb_r1", "imb_r10", "imb_r100")} == {CPU.n_mono_high}
    assert {cells[n].mono["x2"] for n in ("scar_r1", "scar_r10", "imb_r100")} == {cells["imb_r100"].mono["x2"]}
    assert cells["scar_r1"].mono["en"] == cells["scar_r1"].mono["x2"]


def test_smoke_standin_writes_what_claims_read(tmp_path: Path) -> None:
    res = _run(tmp_path, "a")
    out = tmp_path / "a"
    for f in ("results.json", "timings.json", "report.md", "aggregate.json", "fig_share.png", "fig_loss.png"):
        assert (out / f).stat().st_size > 0, f
    assert set(res["cells"]) == {"imb_r1", "imb_r4", "scar_r1"}
    arms = res["cells"]["imb_r1"]["arms"]
    assert {"untrained", "mlm", "mlm_cont", "tlm", "weam", "weam_random", "weam_gold", "untrained_C", "mlm_cont_C", "weam_C"} == set(arms)
    ev = arms["weam_C"]["eval"]
    for k in ("low_acc_mid", "low_acc_last", "high_acc_last", "low_bucc_last", "low_bli"):
        assert 0.0 <= ev[k] <= 1.0
    d = res["diff"]
    assert d["share_effect"]["mlm_cont_C"] == round(res["acc"]["imb_r1"]["mlm_cont_C"]["low_acc_last"] - res["acc"]["imb_r4"]["mlm_cont_C"]["low_acc_last"], 6)
    assert d["share_did"]["mlm_cont_C"] == round(d["share_effect"]["mlm_cont_C"] - d["share_effect"]["untrained_C"], 6)
    # one tokenizer for every cell: the untrained encoder cannot show a share effect
    assert d["share_effect"]["untrained"] == 0.0 and d["share_effect"]["untrained_C"] == 0.0
    # the scarcity cell asks about the share only: MLM-continued and the floor (smoke budget)
    assert set(res["cells"]["scar_r1"]["arms"]) == {"untrained", "mlm", "mlm_cont", "untrained_C", "mlm_cont_C"}
    # untrained_C is one model per seed (one tokenizer, one contrastive set): trained once
    assert len({json.dumps(c["arms"]["untrained_C"], sort_keys=True) for c in res["cells"].values()}) == 1
    timings = json.loads((out / "timings.json").read_text())
    assert [k for k in timings if k.endswith("untrained_C")] == ["floor/untrained_C"]
    assert set(d["imbalance_at_fixed_low"]) == set(res["cells"]["scar_r1"]["arms"])
    assert set(d["weam_vs_weam_random"]) == {"imb_r1", "imb_r4"} and "low_acc_last" in d["weam_vs_mlm_cont"]["imb_r1"]
    tk = res["tokenizer"]
    assert tk["overlap_with_en"]["x2"]["types_beyond_shared_tokens"] == 0
    assert res["cells"]["imb_r1"]["entropy"] > 0 and "x2" in res["cells"]["imb_r1"]["aligner_aer"]


def test_log2_ratios_count_correct_retrievals(tmp_path: Path) -> None:
    res = _run(tmp_path, "a", figures=False)
    queries = 2 * TINY["n_test"]  # both directions per language

    def correct(cell: str, arm: str) -> int:
        per = res["cells"][cell]["arms"][arm]["eval"]["per_lang"]
        return sum(round(per[lg]["acc_last"] * queries) for lg in ("x2", "x3"))

    lr = res["diff"]["log2_ratio"]
    want = math.log2((correct("imb_r1", "mlm_cont_C") + 0.5) / (correct("imb_r4", "mlm_cont_C") + 0.5))
    assert lr["share"]["mlm_cont_C"] == round(want, 6)
    want = math.log2((correct("imb_r1", "mlm") + 0.5) / (correct("imb_r1", "untrained") + 0.5))
    assert lr["vs_floor"]["imb_r1"]["mlm"] == round(want, 6)
    # one tokenizer and one floor per seed: the untrained encoder's ratio is 1 in every seed
    assert lr["share"]["untrained"] == lr["share"]["untrained_C"] == 0.0
    assert not any(arm.startswith("untrained") for arm in lr["vs_floor"]["imb_r4"])
    with pytest.raises(ValueError, match="not counts"):
        imbalance.low_correct({"per_lang": {"x2": {"acc_last": 0.3333}, "x3": {"acc_last": 0.0}}}, queries)


def test_scarcity_cell_leaves_the_imbalance_cells_unchanged(tmp_path: Path) -> None:
    """R-word-ci drops R-word-smoke's scarcity cell; its two cells must be the same numbers."""
    with_scar = _run(tmp_path, "a", figures=False)
    without = _run(tmp_path, "b", figures=False, scarcity_ratios=[])
    assert set(without["cells"]) == {"imb_r1", "imb_r4"}
    for cell in without["cells"]:
        assert json.dumps(without["cells"][cell], sort_keys=True) == json.dumps(with_scar["cells"][cell], sort_keys=True)
    assert "imbalance_at_fixed_low" not in without["diff"]


def test_same_seed_same_bytes_other_seed_other_numbers(tmp_path: Path) -> None:
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        _run(tmp_path, name, seed=seed, figures=False)
    a, b, c = ((tmp_path / d / "results.json").read_bytes() for d in "abc")
    assert a == b
    assert a != c


def test_report_aggregates_seeds(tmp_path: Path) -> None:
    for s in (0, 1):
        _run(tmp_path, f"s{s}", seed=s, figures=False)
    assert imbalance.main(["report", "--runs", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "agg")]) == 0
    agg = json.loads((tmp_path / "agg" / "aggregate.json").read_text())
    assert agg["seeds"] == [0, 1]
    s = agg["cells"]["imb_r1"]["arms"]["weam_C"]["low_acc_last"]
    assert s["ci95"][0] <= s["mean"] <= s["ci95"][1]
    text = (tmp_path / "agg" / "report.md").read_text()
    assert "seeds [0, 1]" in text and "untrained (floor)" in text


def test_full_tier_standin_with_real_languages(tmp_path: Path) -> None:
    """The full tier's code path (incl. the Django cell), shrunk to seconds."""
    res = _run(tmp_path, "full", tier="full", figures=False, device="cpu", layers=2, real_test=10, real_tokenizer_vocab=300, imbalance_ratios=[1, 4], scarcity_ratios=[1, 2], alphas=[1.0, 0.3])
    assert res["tier"] == "full" and res["config"]["real"] is True
    assert {"untrained_C", "mlm_cont_C", "weam_C"} <= set(res["real"]["arms"])
    assert res["real"]["n_test"] == 10
    assert "imb_r4_a0.3" in res["cells"]
    assert {"weam", "weam_C"} <= set(res["cells"]["scar_r1"]["arms"])  # cpu and full keep WEAM there
