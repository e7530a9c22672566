"""The exploratory probes (repro.experiments.explore) on a seconds-long stand-in."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from repro.experiments import explore
from repro.weam.model import ModelConfig, WeamModel
from tests.repro.test_experiments import TINY


def _models() -> tuple[WeamModel, WeamModel]:
    torch.manual_seed(0)
    initial = WeamModel(ModelConfig(vocab_size=50, hidden=16, layers=2, heads=2, intermediate=32, max_positions=32))
    trained = copy.deepcopy(initial)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)
    return initial, trained


@pytest.mark.parametrize("group", ["attn", "ffn", "word", "layer1"])
def test_graft_resets_exactly_its_group(group: str) -> None:
    initial, trained = _models()
    before = {n: p.clone() for n, p in trained.named_parameters()}
    n = explore.graft(trained, initial, [group])
    source = dict(initial.named_parameters())
    reset = [name for name, p in trained.named_parameters() if torch.equal(p, source[name])]
    assert n == sum(p.numel() for name, p in trained.named_parameters() if name in reset) > 0
    assert all(explore.GROUPS[group](name) for name in reset)
    assert all(torch.equal(p, before[name]) for name, p in trained.named_parameters() if name not in reset)


def test_groups_cover_the_encoder_without_overlap() -> None:
    _, model = _models()
    names = [n for n, _ in model.named_parameters() if ".encoder.layer." in n]
    for n in names:
        assert sum(explore.GROUPS[g](n) for g in ("attn", "ffn", "layer_norms")) == 1, n
    with pytest.raises(ValueError, match="unknown parameter groups"):
        explore.graft(model, model, ["nope"])


@given(st.lists(st.floats(0, 10), min_size=0, max_size=120), st.floats(0, 10))
def test_first_step_at_is_the_first_window_at_target(losses: list[float], target: float) -> None:
    step = explore.first_step_at(losses, target, window=10)
    means = [sum(losses[i - 10 : i]) / 10 for i in range(10, len(losses) + 1)]
    if step is None:
        assert all(m > target for m in means)
    else:
        assert means[step - 10] <= target and all(m > target for m in means[: step - 10])


def test_both_probes_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    over = json.dumps(TINY)
    assert explore.main(["stage", "--seed", "0", "--overrides", over, "--variant", "{}", "--variant", '{"graft": ["layers"], "steps": 3}']) == 0
    head, *lines = capsys.readouterr().out.splitlines()
    norms = json.loads(head)["norms_before_the_stage"]
    assert set(norms) == {"untrained", "mlm_cont"} and norms["untrained"] != norms["mlm_cont"]
    rows = [json.loads(line) for line in lines]
    assert [r["grafted_parameters"] > 0 for r in rows] == [False, True]
    assert all(0 <= r["low_acc_last"] <= 1 for r in rows)
    assert explore.main(["anchors", "--seed", "0", "--fraction", "0.3", "--overrides", over, "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert set(summary["acc"]) == {"imb_r1", "imb_r4"}
    assert set(summary["acc"]["imb_r1"]) == {"untrained", "mlm", "mlm_cont", "untrained_C", "mlm_cont_C"}
    # anchors are shared beyond "." and the digits, and the overlap measure sees them
    assert summary["overlap_with_en"]["x2"]["types_beyond_shared_tokens"] > 0
