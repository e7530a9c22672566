"""Benchmark: the Ray executor against the local one, on a real cluster started here.

Two figures, measured in the same run:

1. per-run overhead: 100 tiny repros (distinct run keys, each a sealed
   bwrap run that writes one number) through `--executor local --jobs 1`
   and through `--executor ray` on a 1-node cluster with 1 CPU (the same
   parallelism), and 1 tiny repro each way, interleaved, best of 3.
   The fixed cost of an invocation (joining the cluster, starting the
   node's worker process) is ray(1) - local(1); the overhead per run is
   (ray(100) - local(100) - fixed) / 99. Goal: under 50 ms per run.
2. scaling: 8 repros that sleep 5 s each, on that 1-node cluster and then
   with a second node (each `--num-cpus 1`). Goal: at least 1.8x faster on
   2 nodes.

Usage: python bench/distributed.py [--tiny N] [--sleepers N] [--seconds S]
Side effects: a local Ray cluster (stopped by pid), temporary directories (removed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "ray"))
sys.path.insert(0, str(REPO))

from ray_cluster import LocalCluster  # noqa: E402
from ray_roots import build_root, paper, sleeper  # noqa: E402

from verifier.executor import Options, verify_claims  # noqa: E402
from verifier.executors import ClusterOptions  # noqa: E402


def timed(options: Options) -> float:
    """Wall seconds of one `verify ci` over the root (every claim must verify)."""
    start = time.perf_counter()
    session = verify_claims(options, [])
    elapsed = time.perf_counter() - start
    bad = [v.claim for v in session.verdicts() if v.status != "verified"]
    if bad:
        raise SystemExit(f"not verified: {bad[:3]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repeats; the minimum of each counts")
    parser.add_argument("--sleepers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    roots = {n: build_root(base / f"tiny{n}", paper(f"bench-tiny{n}", [sleeper(f"T{i}", 0, i + 1) for i in range(n)]))
             for n in (1, args.tiny)}
    slow = build_root(base / "slow", paper("bench-slow",
                                           [sleeper(f"S{i}", args.seconds, i + 1) for i in range(args.sleepers)]))
    cluster = LocalCluster()
    try:
        start = time.perf_counter()
        cluster.start(workers=[])
        print(f"cluster: 1 node (1 CPU) up in {time.perf_counter() - start:.1f} s")
        ray = ClusterOptions(address=cluster.address)

        def run(n: int, executor: str) -> float:
            return timed(Options(root=roots[n].path, home=base / f"home-{executor}", backend="bwrap", use_cache=False,
                                 executor=executor, cluster=ray if executor == "ray" else None))

        run(1, "ray")  # warm-up: fingerprint caches, the first worker process
        best: dict[tuple[int, str], float] = {}
        for _ in range(args.rounds):
            for n in (1, args.tiny):
                for executor in ("local", "ray"):
                    seconds = run(n, executor)
                    best[(n, executor)] = min(seconds, best.get((n, executor), seconds))
        fixed = best[(1, "ray")] - best[(1, "local")]
        per_run = (best[(args.tiny, "ray")] - best[(args.tiny, "local")] - fixed) / (args.tiny - 1)
        print(f"1 tiny repro: local {best[(1, 'local')]:.2f} s, ray {best[(1, 'ray')]:.2f} s "
              f"(fixed cost of --executor ray per invocation: {fixed:.2f} s; joining, worker start)")
        print(f"{args.tiny} tiny repros: local {best[(args.tiny, 'local')]:.2f} s "
              f"({1000 * best[(args.tiny, 'local')] / args.tiny:.0f} ms/run), ray {best[(args.tiny, 'ray')]:.2f} s "
              f"(best of {args.rounds}, interleaved)")
        print(f"ray overhead per run: {1000 * per_run:.1f} ms (goal < 50 ms) {'PASS' if per_run < 0.05 else 'FAIL'}")
        slow_options = Options(root=slow.path, home=base / "home-slow", backend="bwrap", use_cache=False,
                               executor="ray", cluster=ray)
        t_one = timed(slow_options)
        cluster.add_worker({})
        t_two = timed(slow_options)
        speedup = t_one / t_two
        print(f"{args.sleepers} x {args.seconds:g} s repros: 1 node {t_one:.1f} s, 2 nodes {t_two:.1f} s, "
              f"speedup {speedup:.2f}x (goal >= 1.8x) {'PASS' if speedup >= 1.8 else 'FAIL'}")
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)  # the roots and ledgers of this run


if __name__ == "__main__":
    main()
