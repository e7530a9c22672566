"""`verify init`: a new paper's manifest skeleton and repro bundle, ready to seal and verify.

The skeleton is a working example rather than a form to fill in: one claim of
each kind (the proof claim commented out, since it needs Lean 4), a repro
that computes every number its claims read, and comments that say what each
field does. `verify init demo && verify seal demo && verify paper demo`
verifies it as written; the author then replaces the claims and the
computations with the paper's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from verifier.errors import UsageError
from verifier.models import PAPER_ID_PATTERN
from verifier.root import VerificationRoot

MANIFEST_TEMPLATE = """\
# Claim manifest of {paper_id}, written by `verify init`: a working example to
# replace with your paper's claims. Every field is described in the
# documentation (docs/reference/manifest.md); `verify lint {paper_id}` finds
# claims that cannot fail. After editing:
#
#     verify seal {paper_id}      # pin the repro bundle's digest into this file
#     verify paper {paper_id}     # run the repros, judge every claim
contract: paper-manifest-v1.2
id: {paper_id}                 # the directory name under manifests/
title: "Title of the paper"
publisher: "Who publishes it"
source:
  kind: primary-research       # or literature-synthesis, ...
  note: "Skeleton written by verify init."

claims:
  # A descriptive claim is grounded in a section of the source (Gate 1) and has
  # no numeric check: the record shows it, nothing is run for it.
  - id: C1
    statement: "Two point clouds in the plane can be told apart by their centroids."
    kind: descriptive
    source: {{section: "1 Introduction", quote: "The sentence of the paper that says it, verbatim."}}

  # A formula claim: a number that follows from the repro's parameters by a
  # rule. The repro must compute it, not restate it (lint: transcribed-value).
  - id: C2
    statement: "The integers 1 to 100 sum to 5050."
    kind: formula
    source: {{section: "2 Method", quote: "The sum of the integers from 1 to 100 is 5050."}}
    reported: {{value: 5050, text: "5050"}}
    check: {{op: eq}}                       # exact; approx takes rel_tol and/or abs_tol
    evidence: {{repro: R1, output: /sum}}   # a JSON Pointer into the repro's results.json

  # An empirical claim: a measurement repeated over seeds (one run per seed,
  # $REPRO_SEED), judged by the confidence interval of the mean over seeds.
  # It passes only when the whole interval lies above 0.75. The baseline runs
  # the same check on a null model (labels shuffled before training): if that
  # passed too, the claim would say nothing, and its verdict would say so.
  - id: C3
    statement: "A nearest-centroid classifier reaches a test accuracy above 0.75."
    kind: empirical
    source: {{section: "3 Results", quote: "Accuracy stays above 0.75 over five seeds."}}
    reported: {{value: 0.75}}
    check:
      op: gt
      samples: {{statistic: mean, confidence: 0.95, min_seeds: 3}}
    evidence: {{repro: R1, output: /accuracy, seeds: [0, 1, 2, 3, 4]}}
    baseline: {{repro: R1, output: /accuracy_shuffled, seeds: [0, 1, 2, 3, 4]}}
    replicate: {{seeds: 5}}                # `verify paper --replicate` draws 5 fresh seeds

  # A proof claim names a Lean 4 file and the theorem it must prove; it needs
  # `lean` on PATH, so it is left commented out here.
  # - id: C4
  #   statement: "Addition of natural numbers is commutative."
  #   kind: proof
  #   source: {{section: "2 Method"}}
  #   proof: {{file: proofs/{paper_id}.lean, theorem: add_comm'}}

repros:
  - id: R1
    bundle: {bundle}           # the directory sealed and run (read-only in the sandbox)
    entrypoint: [python, run.py]      # argv, run in the bundle; never a shell string
    params: {{n: 100, points: 200, separation: 2.0}}   # the file $REPRO_PARAMS
    limits: {{timeout_s: 60, memory_mb: 512, cpus: 1}}
    tier: smoke                # smoke runs anywhere; full may need a GPU or hours
"""

RUN_TEMPLATE = '''\
"""Repro of {paper_id}, written by `verify init`: replace the computations with your paper's.

The verifier runs this file in a sealed sandbox, with the bundle as working
directory (read-only), no network, and these environment variables:

    REPRO_PARAMS  path of a JSON file holding the manifest's `params`
    REPRO_SEED    the seed of this run (a multi-seed claim runs once per seed)
    REPRO_OUT     an empty directory; write results.json there
    REPRO_INPUTS  where the manifest's pinned `inputs` are mounted

results.json is one JSON object; each claim reads its value by JSON Pointer
(`evidence.output`, e.g. /accuracy). Only the standard library is used here.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path


def integer_sum(n: int) -> int:
    """C2: 1 + 2 + ... + n, added up (the claim states the closed form's value)."""
    return sum(range(1, n + 1))


def centroid_accuracy(points: int, separation: float, rng: random.Random, *, shuffle: bool = False) -> float:
    """C3: test accuracy of a nearest-centroid classifier on two Gaussian clouds.

    Class 0 is centred at (-separation/2, 0), class 1 at (+separation/2, 0),
    both with unit variance; half the points train the centroids, half test
    them. `shuffle` gives the null model: training labels shuffled.
    """
    data = []
    for i in range(points):
        label = i % 2
        centre = separation / 2 if label else -separation / 2
        data.append(((rng.gauss(centre, 1.0), rng.gauss(0.0, 1.0)), label))
    rng.shuffle(data)
    train, test = data[: points // 2], data[points // 2 :]
    if shuffle:
        labels = [y for _, y in train]
        rng.shuffle(labels)
        train = [(p, y) for (p, _), y in zip(train, labels)]
    centroids = []
    for label in (0, 1):
        xs = [p for p, y in train if y == label]
        centroids.append((sum(x for x, _ in xs) / len(xs), sum(y for _, y in xs) / len(xs)))

    def predict(p: tuple[float, float]) -> int:
        d = [(p[0] - cx) ** 2 + (p[1] - cy) ** 2 for cx, cy in centroids]
        return 0 if d[0] <= d[1] else 1

    return sum(predict(p) == y for p, y in test) / len(test)


def main() -> int:
    params = json.loads(Path(os.environ["REPRO_PARAMS"]).read_text())
    seed = int(os.environ.get("REPRO_SEED", "0"))
    results = {{
        "sum": integer_sum(int(params["n"])),
        "accuracy": centroid_accuracy(int(params["points"]), float(params["separation"]), random.Random(seed)),
        "accuracy_shuffled": centroid_accuracy(
            int(params["points"]), float(params["separation"]), random.Random(seed), shuffle=True
        ),
    }}
    out = Path(os.environ["REPRO_OUT"]) / "results.json"
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''


@dataclass(frozen=True)
class Scaffold:
    """What `init` wrote, relative to the root."""

    manifest: str
    bundle: str
    files: list[str]


def write_scaffold(root_dir: Path, paper_id: str, *, bundle: str | None = None) -> Scaffold:
    """Write `manifests/<paper_id>/manifest.yaml` and the bundle `repros/<paper_id>/run.py`.

    Raises `IntakeError` for a malformed paper id and `UsageError` when the
    manifest or a non-empty bundle directory already exists (nothing is
    overwritten). Side effects: creates the root's directories as needed.
    """
    if not re.fullmatch(PAPER_ID_PATTERN, paper_id):
        raise UsageError(f"malformed paper id {paper_id!r} (expected {PAPER_ID_PATTERN})")
    root_dir.mkdir(parents=True, exist_ok=True)
    root = VerificationRoot.at(root_dir)
    manifest = root.manifests_dir / paper_id / "manifest.yaml"
    if manifest.exists():
        raise UsageError(f"{root.relative(manifest)} already exists; choose another id or remove it")
    bundle_rel = bundle or f"repros/{paper_id}"
    bundle_dir = root.resolve_inside(bundle_rel, file=Path("verify init"), field="--bundle")
    if bundle_dir.exists() and (not bundle_dir.is_dir() or any(bundle_dir.iterdir())):
        raise UsageError(f"{bundle_rel} already exists and is not an empty directory; choose another --bundle")
    run = bundle_dir / "run.py"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    manifest.write_text(MANIFEST_TEMPLATE.format(paper_id=paper_id, bundle=bundle_rel), encoding="utf-8")
    run.write_text(RUN_TEMPLATE.format(paper_id=paper_id), encoding="utf-8")
    files = [root.relative(manifest), root.relative(run)]
    return Scaffold(manifest=files[0], bundle=bundle_rel, files=files)
