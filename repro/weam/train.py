"""Pre-training loop and the one-call `pretrain` used by experiments.

The loop is BERT's recipe (Devlin et al. 2019, https://arxiv.org/abs/1810.04805):
AdamW without weight decay on biases and LayerNorm, linear warm-up then linear
decay, gradient-norm clipping. Languages are sampled with exponentially
smoothed probabilities q_i ~ p_i^alpha (mBERT: 0.7, XLM-R: 0.3; Conneau et al.
2020, https://arxiv.org/abs/1911.02116), per example, from per-language
example counts. On CPU everything is deterministic for a seed (fixed thread
count, deterministic algorithms, one seeded generator for the data); on a
GPU the forward pass runs under bf16 autocast.

Usage (what experiments call):

    world = generate_world(SyntheticConfig(seed=0))
    run = pretrain(CorpusSpec.from_world(world), "weam", steps=300, seed=0,
                   link_source="aligner")           # or "gold" / "random"
    retrieval_accuracy(run.model, run.tokenizer, world.parallel["x1"])
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import torch

from repro.weam.align import one_to_one
from repro.weam.checkpoint import load_bert_dir, save_checkpoint
from repro.weam.data.sampling import temperature_probs
from repro.weam.data.types import ParallelCorpus
from repro.weam.model import ModelConfig, WeamModel, config_for_params
from repro.weam.objectives.batching import Link, PairExample
from repro.weam.objectives.registry import LINKED, Objective, build_objective
from repro.weam.objectives.weam import matched_random_links
from repro.weam.tokenizer import Sentence, WeamTokenizer, train_tokenizer

LinkSource = Literal["aligner", "gold", "random"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping settings of one run."""

    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    warmup_frac: float = 0.1
    weight_decay: float = 0.01
    clip: float = 1.0
    alpha: float = 0.7  # language-sampling temperature exponent
    seed: int = 0
    # One thread: numbers then do not depend on the core count, and on a shared
    # 2-core box two spinning OpenMP threads were ~8x slower than one.
    threads: int = 1
    log_every: int = 50
    ckpt_every: int = 0  # 0: only the final checkpoint (if out_dir is set)
    out_dir: str | None = None
    device: str = "auto"  # "auto" -> cuda when available, else cpu


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    stats: list[dict[str, float]] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0


def set_determinism(seed: int, threads: int) -> None:
    """Seed every RNG we use and pin the CPU thread count (results depend on it)."""
    random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=False)
    # Deterministic mode also NaN-fills every fresh tensor, a debugging aid that
    # costs a fill per allocation; our code never reads uninitialised memory.
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


class LanguageSampler:
    """Draw examples: a language by q_i, then an example of it uniformly."""

    def __init__(self, data: Mapping[str, Sequence[Any]], alpha: float, gen: torch.Generator):
        # Sorted keys: the draw must not depend on the order the caller built `data` in.
        sizes = {k: len(data[k]) for k in sorted(data)}
        self.probs = {k: q for k, q in temperature_probs(sizes, alpha).items() if q > 0}
        self.langs = list(self.probs)
        self.data = data
        self.gen = gen
        self._q = torch.tensor([self.probs[k] for k in self.langs], dtype=torch.float64)

    def draw(self, n: int) -> list[Any]:
        langs = torch.multinomial(self._q, n, replacement=True, generator=self.gen).tolist()
        picks = torch.rand(n, generator=self.gen, dtype=torch.float64).tolist()
        out = []
        for li, u in zip(langs, picks, strict=True):
            pool = self.data[self.langs[li]]
            out.append(pool[min(int(u * len(pool)), len(pool) - 1)])
        return out


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up to 1 over `warmup` steps, then linear decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested) batch dataclass to `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if is_dataclass(batch) and not isinstance(batch, type):
        for f in fields(batch):
            setattr(batch, f.name, to_device(getattr(batch, f.name), device))
    elif isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train(
    model: WeamModel,
    objective: Objective,
    data: Mapping[str, Sequence[Any]],
    cfg: TrainConfig,
    *,
    meta: dict[str, Any] | None = None,
    log: TextIO = sys.stderr,
    on_step: Callable[[int, float], None] | None = None,
    interleave: tuple[Objective, Mapping[str, Sequence[Any]]] | None = None,
) -> TrainResult:
    """Train `model` in place on examples drawn from `data` ({language: examples}).

    `interleave=(objective, data)` adds a second stream: every step also draws a batch of
    `data` for that objective and the two losses are summed (continued pre-training with
    MLM interleaved, as XLM alternates MLM and TLM).
    """
    set_determinism(cfg.seed, cfg.threads)
    device = resolve_device(cfg.device)
    model.to(device).train()
    gen = torch.Generator().manual_seed(cfg.seed)  # data order and masking only
    sampler = LanguageSampler(data, cfg.alpha, gen)
    second = (interleave[0], LanguageSampler(interleave[1], cfg.alpha, gen)) if interleave else None
    opt = model.configure_optimizers(cfg.lr, cfg.weight_decay)
    warmup = max(1, int(cfg.warmup_frac * cfg.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.steps, warmup))
    result, t0 = TrainResult(), time.perf_counter()
    for step in range(cfg.steps):
        batch = objective.make_batch(sampler.draw(cfg.batch_size), gen)
        result.tokens += batch.n_tokens
        batch = to_device(batch, device)
        # bf16 autocast on GPU only: CPU autocast would change the numbers the
        # deterministic smoke tier pins.
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss, stats = objective.loss(model, batch)  # type: ignore[arg-type]
        if second is not None:
            extra = to_device(second[0].make_batch(second[1].draw(cfg.batch_size), gen), device)
            result.tokens += extra.n_tokens
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss2, stats2 = second[0].loss(model, extra)  # type: ignore[arg-type]
            loss = loss + loss2
            stats = {**stats, **{f"interleaved/{k}": v for k, v in stats2.items()}}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        sched.step()
        result.losses.append(float(loss.detach()))
        result.stats.append(stats)
        if on_step is not None:
            on_step(step, result.losses[-1])
        _log_progress(log, step, cfg, result, t0)
        if cfg.out_dir and cfg.ckpt_every and (step + 1) % cfg.ckpt_every == 0:
            _checkpoint(model, cfg, step + 1, meta)
    result.seconds = time.perf_counter() - t0
    if cfg.out_dir:
        _checkpoint(model, cfg, cfg.steps, meta)
    model.eval()
    return result


def _log_progress(log: TextIO, step: int, cfg: TrainConfig, res: TrainResult, t0: float) -> None:
    if cfg.log_every <= 0 or ((step + 1) % cfg.log_every and step + 1 != cfg.steps):
        return
    recent = res.losses[-cfg.log_every :]
    tps = res.tokens / max(1e-9, time.perf_counter() - t0)
    print(
        f"step {step + 1}/{cfg.steps} loss {sum(recent) / len(recent):.4f} tok/s {tps:.0f}",
        file=log,
        flush=True,
    )


def _checkpoint(model: WeamModel, cfg: TrainConfig, step: int, meta: dict[str, Any] | None) -> None:
    assert cfg.out_dir is not None
    extra = {"train_config": asdict(cfg), "seeds": {"torch": cfg.seed, "data": cfg.seed}}
    save_checkpoint(cfg.out_dir, model, step=step, meta={**extra, **(meta or {})})


# --- one-call pre-training for experiments -------------------------------------------------


@dataclass(frozen=True)
class CorpusSpec:
    """Text for one pre-training run.

    `monolingual[lang]`: sentences for MLM; `parallel[lang]`: base->lang pairs
    for the paired objectives (gold links used only by the oracle control);
    `links[lang]`: precomputed aligner links per pair (else `pretrain` aligns).
    """

    monolingual: Mapping[str, Sequence[Sentence]]
    parallel: Mapping[str, ParallelCorpus]
    links: Mapping[str, Sequence[set[Link]]] | None = None

    @classmethod
    def from_world(cls, world: Any) -> CorpusSpec:
        """From a `repro.weam.data.synthetic.SyntheticWorld`."""
        return cls(monolingual=world.monolingual, parallel=world.parallel)

    def texts(self) -> dict[str, list[Sentence]]:
        """All sentences per language (tokenizer training data)."""
        out: dict[str, list[Sentence]] = {k: list(v) for k, v in self.monolingual.items()}
        for corpus in self.parallel.values():
            out.setdefault(corpus.src_lang, []).extend(p.src for p in corpus.pairs)
            out.setdefault(corpus.tgt_lang, []).extend(p.tgt for p in corpus.pairs)
        return out


@dataclass
class Pretrained:
    model: WeamModel
    tokenizer: WeamTokenizer
    result: TrainResult
    objective: str
    link_source: str | None = None


def resolve_links(
    corpus: ParallelCorpus,
    source: LinkSource,
    *,
    aligner_links: Sequence[set[Link]] | None,
    aligner: str,
    seed: int,
) -> list[set[Link]]:
    """Word links per pair from the aligner, the gold standard, or the random control.

    The random control keeps, per pair, as many links as the aligner's 1-to-1 set.
    """
    if source == "gold":
        return [set(p.gold or ()) for p in corpus.pairs]
    if aligner_links is None:
        from repro.weam.align import align  # numpy/eflomal only when links are needed

        aligner_links = align([(p.src, p.tgt) for p in corpus.pairs], method=aligner, seed=seed)
    if source == "aligner":
        return [set(x) for x in aligner_links]
    rng = random.Random(f"weam-matched-random-{seed}-{corpus.tgt_lang}")
    return [
        set(matched_random_links(len(p.src), len(p.tgt), len(one_to_one(set(lk))), rng))
        for p, lk in zip(corpus.pairs, aligner_links, strict=True)
    ]


def build_examples(
    corpus: CorpusSpec,
    tokenizer: WeamTokenizer,
    *,
    paired: bool,
    link_source: LinkSource | None,
    aligner: str,
    seed: int,
) -> dict[str, list[Any]]:
    """Pre-encode the training examples once: {lang: Encoded} or {lang: PairExample}."""
    if not paired:
        return {k: tokenizer.encode_many(v) for k, v in sorted(corpus.monolingual.items())}
    out: dict[str, list[Any]] = {}
    for lang, pc in sorted(corpus.parallel.items()):
        links: list[set[Link]] = [set() for _ in pc.pairs]
        if link_source is not None:
            given = corpus.links.get(lang) if corpus.links else None
            links = resolve_links(pc, link_source, aligner_links=given, aligner=aligner, seed=seed)
        out[lang] = [
            PairExample(
                tokenizer.encode_words(p.src), tokenizer.encode_words(p.tgt), tuple(sorted(lk))
            )
            for p, lk in zip(pc.pairs, links, strict=True)
        ]
    return out


def _load_init(path: Path, tokenizer: WeamTokenizer | None) -> tuple[WeamModel, WeamTokenizer]:
    """Our checkpoint (`tokenizer.json`) or a user's BERT directory (`vocab.txt`)."""
    if (path / "tokenizer.json").exists():
        return WeamModel.from_pretrained_dir(path), tokenizer or WeamTokenizer.load(
            path / "tokenizer.json"
        )
    model, bert_tok = load_bert_dir(path)
    return model, tokenizer or bert_tok


def pretrain(
    corpus: CorpusSpec,
    objective: str,
    *,
    steps: int = 300,
    seed: int = 0,
    link_source: LinkSource = "aligner",
    aligner: str = "ibm1",
    model_params: int | None = None,
    model_cfg: ModelConfig | None = None,
    vocab_size: int = 1000,
    max_len: int = 64,
    train_cfg: TrainConfig | None = None,
    tokenizer: WeamTokenizer | None = None,
    init_dir: str | Path | None = None,
    objective_kwargs: Mapping[str, Any] | None = None,
) -> Pretrained:
    """Train a tokenizer (unless given), build a model and pre-train it with `objective`.

    Model: `init_dir` (a local checkpoint, for continued pre-training) or
    `model_cfg` or `config_for_params(model_params)`; default hidden 128, 2 layers.
    `train_cfg` defaults to `TrainConfig(steps=steps, seed=seed)`.
    """
    cfg = train_cfg or TrainConfig(steps=steps, seed=seed)
    set_determinism(cfg.seed, cfg.threads)
    if init_dir is not None:
        model, tokenizer = _load_init(Path(init_dir), tokenizer)
    tokenizer = tokenizer or train_tokenizer(
        corpus.texts(), vocab_size=vocab_size, alpha=cfg.alpha, seed=cfg.seed
    )
    if init_dir is None:
        mcfg = model_cfg or (
            config_for_params(model_params, tokenizer.vocab_size)
            if model_params
            else ModelConfig(vocab_size=tokenizer.vocab_size)
        )
        torch.manual_seed(cfg.seed)  # weights depend on the seed only
        model = WeamModel(mcfg)
    obj = build_objective(
        objective, vocab_size=tokenizer.vocab_size, max_len=max_len, **dict(objective_kwargs or {})
    )
    links = link_source if objective in LINKED else None
    data = build_examples(
        corpus, tokenizer, paired=obj.paired, link_source=links, aligner=aligner, seed=cfg.seed
    )
    meta = {"objective": objective, "link_source": links, "aligner": aligner}
    result = train(model, obj, data, cfg, meta=meta)
    if cfg.out_dir:
        tokenizer.save(Path(cfg.out_dir) / "tokenizer.json")
    return Pretrained(model, tokenizer, result, objective, links)
