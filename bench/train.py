"""Benchmark: tokens/s of our MLM, TLM and WEAM training steps vs Hugging Face `Trainer`.

Both sides train the same `BertForMaskedLM` config (hidden 128, 2 layers, the
small tier) on the very same pre-built batches (our objectives' `make_batch`),
with AdamW, linear warm-up/decay and clipping at 1.0, one thread each. Each
measurement runs in a fresh subprocess so that its peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`) is its own; runs alternate
(ours, Trainer, ours, ...) so that load on a shared machine hits both alike.
Timed: steps after the first `--warmup`, data already built.

For WEAM the Trainer gets one label tensor, the union of the TLM and WEAM
targets (disjoint positions), so it does the same work with lambda-weighting
folded into one mean; a fair throughput comparison, not the same loss value.

    python bench/train.py [--steps 40] [--warmup 5] [--threads 1] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

HIDDEN, LAYERS, BATCH, MAX_LEN, VOCAB = 128, 2, 32, 64, 2000


def build(objective: str, steps: int) -> tuple[Any, list[Any], Any]:
    """The model config, `steps` batches and the objective, all from seed 0."""
    from repro.weam.data.synthetic import SyntheticConfig, generate_world
    from repro.weam.model import ModelConfig
    from repro.weam.objectives.registry import build_objective
    from repro.weam.tokenizer import train_tokenizer
    from repro.weam.train import CorpusSpec, LanguageSampler, build_examples

    world = generate_world(SyntheticConfig(seed=0, n_sentences=2000, n_parallel=1000))
    corpus = CorpusSpec.from_world(world)
    tok = train_tokenizer(corpus.texts(), vocab_size=VOCAB, seed=0)
    obj = build_objective(objective, vocab_size=tok.vocab_size, max_len=MAX_LEN)
    links = "gold" if objective == "weam" else None
    data = build_examples(corpus, tok, paired=obj.paired, link_source=links, aligner="ibm1", seed=0)
    gen = torch.Generator().manual_seed(0)
    sampler = LanguageSampler(data, 0.7, gen)
    batches = [obj.make_batch(sampler.draw(BATCH), gen) for _ in range(steps)]
    cfg = ModelConfig(vocab_size=tok.vocab_size, hidden=HIDDEN, layers=LAYERS, heads=2)
    return cfg, batches, obj


def run_ours(objective: str, steps: int, warmup: int) -> list[float]:
    from repro.weam.model import WeamModel
    from repro.weam.train import lr_factor

    cfg, batches, obj = build(objective, steps)
    torch.manual_seed(0)
    model = WeamModel(cfg).train()
    opt = model.configure_optimizers(1e-3, 0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps, warmup))
    stamps = []
    for batch in batches:
        loss, _ = obj.loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        stamps.append(time.perf_counter())
    return _tokens_per_second(batches, stamps, warmup)


def run_trainer(objective: str, steps: int, warmup: int) -> list[float]:
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from repro.weam.model import WeamModel

    cfg, batches, _ = build(objective, steps)
    torch.manual_seed(0)
    model = WeamModel(cfg).mlm
    rows = [_hf_batch(b) for b in batches]
    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, max_steps=steps, per_device_train_batch_size=1, learning_rate=1e-3,
            warmup_steps=warmup, weight_decay=0.01, max_grad_norm=1.0, lr_scheduler_type="linear",
            logging_steps=10_000, save_strategy="no", report_to=[], use_cpu=True,
            dataloader_num_workers=0, disable_tqdm=True, seed=0,
        )  # fmt: skip
        trainer = Trainer(
            model=model, args=args, train_dataset=rows, data_collator=lambda items: items[0],
            callbacks=[Stamp()],
        )  # fmt: skip
        trainer.train()
    return _tokens_per_second(batches, stamps, warmup)


def _hf_batch(b: Any) -> dict[str, torch.Tensor]:
    """Our batch as `BertForMaskedLM` keyword arguments (WEAM targets merged into labels)."""
    labels = b.labels
    if b.aux_labels is not None:
        labels = torch.where(b.aux_labels != -100, b.aux_labels, labels)
    return {
        "input_ids": b.input_ids, "attention_mask": b.attention_mask,
        "token_type_ids": b.token_type_ids, "position_ids": b.position_ids, "labels": labels,
    }  # fmt: skip


def _tokens_per_second(batches: list[Any], stamps: list[float], warmup: int) -> list[float]:
    tokens = sum(b.n_tokens for b in batches[warmup:])
    return [tokens / (stamps[-1] - stamps[warmup - 1]), float(len(stamps))]


def worker(side: str, objective: str, steps: int, warmup: int, threads: int) -> None:
    torch.set_num_threads(threads)
    tps, n = (run_ours if side == "ours" else run_trainer)(objective, steps, warmup)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tokens_per_s": tps, "steps": n, "peak_rss_mb": peak_mb}))


def measure(side: str, objective: str, a: argparse.Namespace) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", side, objective, "--steps", str(a.steps)]
    cmd += ["--warmup", str(a.warmup), "--threads", str(a.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--objectives", default="mlm,tlm,weam")
    p.add_argument("--worker", nargs=2, metavar=("SIDE", "OBJECTIVE"))
    a = p.parse_args()
    if a.worker:
        return worker(a.worker[0], a.worker[1], a.steps, a.warmup, a.threads)
    print(f"# hidden {HIDDEN}, layers {LAYERS}, batch {BATCH}, max_len {MAX_LEN}, "
          f"vocab {VOCAB}, threads {a.threads}, {a.steps} steps ({a.warmup} untimed)")  # fmt: skip
    for objective in a.objectives.split(","):
        res: dict[str, list[dict[str, float]]] = {"ours": [], "trainer": []}
        for _ in range(a.repeats):
            for side in res:
                res[side].append(measure(side, objective, a))
        tps = {s: statistics.median(r["tokens_per_s"] for r in v) for s, v in res.items()}
        mem = {s: max(r["peak_rss_mb"] for r in v) for s, v in res.items()}
        print(
            f"{objective:5s} ours {tps['ours']:8.0f} tok/s  Trainer {tps['trainer']:8.0f} tok/s  "
            f"ratio {tps['ours'] / tps['trainer']:.2f}x  peak RSS ours {mem['ours']:.0f} MB, "
            f"Trainer {mem['trainer']:.0f} MB",
            flush=True,
        )
    return None


if __name__ == "__main__":
    main()
