"""Training end to end on a tiny synthetic world: every objective learns, runs repeat exactly,
checkpoints round-trip, and a saved checkpoint can be pre-trained further."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from repro.weam.data.synthetic import SyntheticConfig, generate_world
from repro.weam.model import ModelConfig
from repro.weam.tokenizer import WeamTokenizer, train_tokenizer, vocab_digest
from repro.weam.train import (
    CorpusSpec,
    LanguageSampler,
    Pretrained,
    TrainConfig,
    lr_factor,
    pretrain,
    resolve_links,
)

OBJECTIVES = ("mlm", "tlm", "weam", "codeswitch", "contrastive", "infonce", "weam+contrastive")


@pytest.fixture(scope="module")
def corpus() -> CorpusSpec:
    cfg = SyntheticConfig(
        seed=0, vocab_size=60, n_sentences=200, n_parallel=200, languages=("en", "x1")
    )
    return CorpusSpec.from_world(generate_world(cfg))


@pytest.fixture(scope="module")
def tokenizer(corpus: CorpusSpec) -> WeamTokenizer:
    return train_tokenizer(corpus.texts(), vocab_size=200, seed=0)


def tiny_run(
    corpus: CorpusSpec, tok: WeamTokenizer, objective: str, steps: int = 40, **kw: object
) -> Pretrained:
    model_cfg = ModelConfig(
        vocab_size=tok.vocab_size, hidden=32, layers=1, heads=2, intermediate=64, max_positions=64
    )
    cfg = TrainConfig(steps=steps, batch_size=16, lr=3e-3, log_every=0, **kw)  # type: ignore[arg-type]
    return pretrain(
        corpus,
        objective,
        link_source="gold",
        model_cfg=model_cfg,
        max_len=48,
        train_cfg=cfg,
        tokenizer=tok,
    )


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_each_objective_learns(
    corpus: CorpusSpec, tokenizer: WeamTokenizer, objective: str
) -> None:
    losses = tiny_run(corpus, tokenizer, objective).result.losses
    assert all(torch.isfinite(torch.tensor(losses)))
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < 0.95 * first, (objective, first, last)


def test_same_seed_same_losses_and_weights(corpus: CorpusSpec, tokenizer: WeamTokenizer) -> None:
    a = tiny_run(corpus, tokenizer, "weam", steps=6)
    b = tiny_run(corpus, tokenizer, "weam", steps=6)
    assert a.result.losses == b.result.losses
    for (name, x), y in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), name
    c = tiny_run(corpus, tokenizer, "weam", steps=6, seed=1)
    assert c.result.losses != a.result.losses


def test_tokenizer_is_deterministic(corpus: CorpusSpec, tokenizer: WeamTokenizer) -> None:
    again = train_tokenizer(corpus.texts(), vocab_size=200, seed=0)
    assert vocab_digest(again) == vocab_digest(tokenizer)
    enc = tokenizer.encode_words(("zzzqqq", "en"))
    assert enc.word_of[0] == 0 and enc.word_of[-1] == 1


def test_checkpoint_sidecar_and_continued_pretraining(
    corpus: CorpusSpec, tokenizer: WeamTokenizer, tmp_path: Path
) -> None:
    first = tiny_run(corpus, tokenizer, "mlm", steps=4, out_dir=str(tmp_path))
    meta = json.loads((tmp_path / "meta_000004.json").read_text())
    assert meta["step"] == 4 and meta["objective"] == "mlm"
    assert meta["seeds"] == {"torch": 0, "data": 0}
    assert meta["model_config"]["hidden"] == 32 and "git_hash" in meta
    assert (tmp_path / "tokenizer.json").exists()
    # Continued pre-training starts from the saved weights, not from scratch.
    cont = pretrain(
        corpus,
        "tlm",
        init_dir=tmp_path,
        link_source="gold",
        max_len=48,
        train_cfg=TrainConfig(steps=2, batch_size=8, lr=0.0, log_every=0),
    )
    for (name, x), y in zip(
        first.model.state_dict().items(), cont.model.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), name  # lr 0: weights unchanged after loading


def test_links_controls(corpus: CorpusSpec) -> None:
    pc = corpus.parallel["x1"]
    aligner = [{(0, 0), (1, 1), (1, 2)} for _ in pc.pairs]
    rand = resolve_links(pc, "random", aligner_links=aligner, aligner="ibm1", seed=0)
    # one 1-to-1 aligner link per pair -> one random link per pair
    assert all(len(r) == 1 for r in rand)
    gold = resolve_links(pc, "gold", aligner_links=None, aligner="ibm1", seed=0)
    assert gold[0] == set(pc.pairs[0].gold or ())


def test_language_sampler_and_schedule() -> None:
    gen = torch.Generator().manual_seed(0)
    s = LanguageSampler({"hi": list(range(900)), "lo": list(range(1000, 1100))}, 0.5, gen)
    assert abs(s.probs["lo"] - 0.25) < 1e-9  # (0.1^.5) / (0.9^.5 + 0.1^.5)
    draws = s.draw(4000)
    assert abs(sum(d >= 1000 for d in draws) / 4000 - 0.25) < 0.03
    assert lr_factor(0, 100, 10) == 0.1 and lr_factor(9, 100, 10) == 1.0
    assert lr_factor(55, 100, 10) == 0.5 and lr_factor(100, 100, 10) == 0.0


def test_progress_goes_to_the_log(corpus: CorpusSpec, tokenizer: WeamTokenizer) -> None:
    from repro.weam.model import WeamModel
    from repro.weam.objectives.mlm import MLMObjective
    from repro.weam.train import train

    log = io.StringIO()
    model = WeamModel(ModelConfig(vocab_size=tokenizer.vocab_size, hidden=32, layers=1, heads=2))
    data = {"en": tokenizer.encode_many(corpus.monolingual["en"][:20])}
    train(
        model,
        MLMObjective(vocab_size=tokenizer.vocab_size),
        data,
        TrainConfig(steps=2, log_every=1),
        log=log,
    )
    assert log.getvalue().startswith("step 1/2 loss ")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_bf16_training_matches_cpu_loss_scale(
    corpus: CorpusSpec, tokenizer: WeamTokenizer
) -> None:
    gpu = tiny_run(corpus, tokenizer, "weam", steps=20, device="cuda")
    cpu = tiny_run(corpus, tokenizer, "weam", steps=20)
    # bf16 autocast changes the numbers, not the trajectory's scale.
    assert abs(gpu.result.losses[-1] - cpu.result.losses[-1]) < 0.5 * cpu.result.losses[-1]
