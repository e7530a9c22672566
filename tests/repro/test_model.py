"""The config-built encoder: sizing, optimizer groups, labelled-only LM head, local loading."""

from __future__ import annotations

from pathlib import Path

import torch

from repro.weam.model import IGNORE_INDEX, ModelConfig, WeamModel, config_for_params, count_params


def tiny() -> ModelConfig:
    return ModelConfig(
        vocab_size=50, hidden=32, layers=2, heads=2, intermediate=64, max_positions=32
    )


def test_count_params_matches_module() -> None:
    for cfg in (
        tiny(),
        ModelConfig(vocab_size=300, hidden=64, layers=3, heads=2, intermediate=256),
    ):
        model = WeamModel(cfg)
        assert count_params(cfg) == sum(p.numel() for p in model.parameters())


def test_config_for_params_is_closest_rung() -> None:
    small = config_for_params(250_000, 1000)
    big = config_for_params(100_000_000, 30_000)
    assert (small.hidden, small.layers) == (64, 2)
    assert (big.hidden, big.layers) == (768, 12)
    assert big.hidden % big.heads == 0


def test_optimizer_skips_decay_on_norms_and_biases() -> None:
    model = WeamModel(tiny())
    decay, no_decay = model.configure_optimizers(1e-3, weight_decay=0.1).param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"])
    names = {id(p): n for n, p in model.named_parameters()}
    assert any("LayerNorm" in names[id(p)] for p in no_decay["params"])
    assert sum(p.numel() for g in (decay, no_decay) for p in g["params"]) == count_params(tiny())


def test_mlm_logits_only_for_labelled_positions() -> None:
    model = WeamModel(tiny())
    hidden = torch.randn(3, 7, 32)  # (B, T, C)
    labels = torch.full((3, 7), IGNORE_INDEX)
    labels[0, 2], labels[2, 5] = 11, 12
    logits, targets = model.mlm_logits(hidden, labels)
    assert logits.shape == (2, 50)
    assert targets.tolist() == [11, 12]


def test_from_pretrained_dir_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = WeamModel(tiny())
    model.mlm.save_pretrained(tmp_path)
    loaded = WeamModel.from_pretrained_dir(tmp_path)
    assert loaded.cfg == model.cfg
    for (n, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), n
