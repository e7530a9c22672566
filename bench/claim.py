"""Benchmark: a cached `verify claim` (one claim whose run is in the ledger), wall and CPU time.

Generates a root of one paper with one sealed formula claim (`bench/status.py`'s
generator), runs `verify claim` once to fill the cache and, once the files are
older than the stat cache's racy window (2 s: a file written since is never
trusted, `verifier.seal`), once more, which leaves the fast path's stamp
(`verifier.fastpath`); then times it as a user runs it: a subprocess, `python -m verifier`, median of `--repeats`. In the same
run it times a bare interpreter start (`python -c pass`), the floor no command
can go under, and prints both and their ratio. Goal (issue 13): under 0.3 s wall.

    python bench/claim.py [--repeats 9] [--backend auto]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from status import generate_root, median_of, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-claim-")) / "root"
    root.mkdir(parents=True)
    generate_root(root, 1, 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
    claim = [sys.executable, "-m", "verifier", "--root", str(root), "claim", "paper-0000/C0", "--backend", args.backend]
    timed(claim, env=env)  # fills the cache
    time.sleep(2.1)  # past the racy window: the next call may stamp what it judged
    _, out = timed([*claim, "--json"], env=env)
    assert json.loads(out)["cached"] is True, out[:500]
    ours, samples, ours_cpu = median_of(args.repeats, claim, env=env)
    floor, _, floor_cpu = median_of(args.repeats, [sys.executable, "-c", "pass"], env=env)
    print(f"cached verify claim: median {ours:.3f} s wall of {args.repeats} "
          f"({', '.join(f'{s:.3f}' for s in samples)}); CPU {ours_cpu:.3f} s")
    print(f"bare interpreter start (python -c pass): median {floor:.3f} s wall; CPU {floor_cpu:.3f} s")
    print(f"ratio verify claim / interpreter start: {ours / floor:.1f}x wall, {ours_cpu / max(floor_cpu, 1e-3):.1f}x CPU "
          f"(goal: verify claim under 0.3 s wall)")


if __name__ == "__main__":
    main()
