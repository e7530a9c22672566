"""Peak learning rate of mBERT's published XNLI fine-tuning recipe.

The claim "fine-tuning uses a peak learning rate of 5e-05" comes from the
BERT authors' multilingual recipe (google-research/bert, `multilingual.md`),
which fine-tunes with `run_classifier.py --learning_rate=5e-5
--train_batch_size=32 --num_train_epochs=2.0` and BERT's optimizer: linear
warm-up over the first 10% of steps, then linear decay to zero
(`optimization.py`).

The schedule is evaluated as `transformers.get_linear_schedule_with_warmup`
defines it (the form used by PyTorch ports of the recipe, WEAM's included):
the warm-up ramp reaches the peak exactly at the last warm-up step. BERT's
TensorFlow `optimization.py` switches to decay one step earlier, so its
largest applied rate is one warm-up increment short of the peak; that value
is reported too, as `learning_rate_tf_bert`.

This repro does not restate the number: it reads the recipe (a pinned input),
rebuilds the schedule step by step over the whole run and reports the largest
learning rate the optimizer would actually apply, with the step where it
happens. A recipe whose warm-up or decay were different would give a
different peak.

Reads: `$REPRO_INPUTS/<params.recipe>`. Writes: `$REPRO_OUT/results.json`.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path


def schedule(step: int, *, peak: float, total: int, warmup: int) -> float:
    """Learning rate at `step`: linear warm-up to `peak`, then linear decay to 0 (transformers' form)."""
    if step < warmup:
        return peak * step / max(1, warmup)
    return peak * max(0.0, (total - step) / max(1, total - warmup))


def schedule_tf_bert(step: int, *, peak: float, total: int, warmup: int) -> float:
    """The same schedule as BERT's TensorFlow optimization.py computes it (decay from step 0)."""
    if step < warmup:
        return peak * step / warmup
    return peak * max(0.0, 1.0 - step / total)


def run(recipe: dict[str, object]) -> dict[str, object]:
    flags = recipe["command_flags"]
    assert isinstance(flags, dict)
    optimizer = recipe["optimizer"]
    assert isinstance(optimizer, dict)
    base = float(flags["--learning_rate"])
    batch = int(flags["--train_batch_size"])
    epochs = float(flags["--num_train_epochs"])
    examples = int(str(recipe["train_examples"]))
    total = int(examples / batch * epochs)  # run_classifier.py: num_train_steps
    warmup = int(total * float(optimizer["warmup_proportion"]))
    rates = [schedule(s, peak=base, total=total, warmup=warmup) for s in range(total + 1)]
    peak_step = max(range(len(rates)), key=rates.__getitem__)
    tf_peak = max(schedule_tf_bert(s, peak=base, total=total, warmup=warmup) for s in range(total + 1))
    return {
        "learning_rate": rates[peak_step],
        "learning_rate_tf_bert": tf_peak,
        "peak_step": peak_step,
        "total_steps": total,
        "warmup_steps": warmup,
        "final_learning_rate": rates[-1],
        "mean_learning_rate": math.fsum(rates) / len(rates),
    }


def main() -> int:
    params = json.loads(Path(os.environ["REPRO_PARAMS"]).read_text())
    recipe_path = Path(os.environ["REPRO_INPUTS"]) / params["recipe"]
    recipe = json.loads(recipe_path.read_text())
    results = run(recipe)
    print(f"peak learning rate {results['learning_rate']} at step {results['peak_step']}", file=sys.stderr)
    out = Path(os.environ["REPRO_OUT"]) / "results.json"
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
