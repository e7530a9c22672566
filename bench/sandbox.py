"""Benchmark: the sandbox backends' cost, on a trivial repro and on one seed of the study.

Workload 1 (always): runs `python -m bench_bundle.main` (writes a tiny
results.json) N times bare (a plain subprocess with the same environment)
and N times through each backend that is available here, interleaved, then
prints per backend the median wall time, the median overhead over the bare
run and the ratio to it, and the median extra CPU time (this process and
the run's cgroup: a figure that does not grow with the machine's load,
unlike wall time). Goals: bwrap adds under 15 ms, the container backend
under 1 s.

Workload 2 (`--study`, minutes): one smoke-tier seed of the imbalance study
(the R-word-ci repro of manifests/weam-imbalance, its params, limits and
image) on bwrap and then on docker, in the same run; prints each seed's
wall and CPU time and results.json digest, the docker/bwrap ratios of the
per-seed medians, and whether the digests are equal (the exit status is 1
when not). Goal: docker within 1.15x of bwrap. `--study-jobs N` runs seeds
0..N-1 at once per backend, as `verify --jobs N` does;
`--study-side-by-side` runs the two backends at the same time, so that a
shared machine's changing load falls on both alike; `--study-overrides
JSON` shrinks the tier for a quick stand-in.

Usage: python bench/sandbox.py [--runs N] [--backends bwrap,docker,process]
                               [--study [--study-jobs N] [--study-side-by-side]
                                        [--study-overrides '{"pretrain_steps": 20}']]
Side effects: temporary directories (removed), containers (removed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from verifier.models import Repro
from verifier.sandbox import BACKEND_FOR_NAME
from verifier.sandbox.base import Limits, Sandbox, SandboxRequest
from verifier.sandbox.docker import default_image

REPRO = """\
import json, os
with open(os.path.join(os.environ["REPRO_OUT"], "results.json"), "w") as f:
    json.dump({"value": 5e-05}, f)
"""


def cpu_seconds(who: int) -> float:
    """User + system CPU so far of this process (RUSAGE_SELF) or its reaped children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def make_bundle(base: Path) -> Path:
    bundle = base / "bench_bundle"
    bundle.mkdir()
    (bundle / "__init__.py").write_text("")
    (bundle / "main.py").write_text(REPRO)
    return bundle


Runner = Callable[[int], "float | None"]


def bare_runner(bundle: Path, base: Path) -> Runner:
    """A plain subprocess with the contract's environment: the baseline."""
    out = base / "bare-out"
    out.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "REPRO_OUT": str(out),
           "PYTHONPATH": str(bundle.parent), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}

    def run(_: int) -> float | None:
        c0 = cpu_seconds(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-m", "bench_bundle.main"], env=env, cwd=bundle, check=True)
        return cpu_seconds(resource.RUSAGE_CHILDREN) - c0

    return run


def backend_runner(name: str, bundle: Path, base: Path) -> Runner | str:
    """One `Sandbox.run` per call, or why the backend is unavailable."""
    backend = BACKEND_FOR_NAME[name]()
    why = backend.available()
    if why is not None:
        return why

    def run(i: int) -> float | None:
        request = SandboxRequest(
            bundle=bundle, entrypoint=("python", "-m", "bench_bundle.main"), params={}, inputs=(),
            seed=0, limits=Limits(timeout_s=60), out_dir=base / f"{name}-{i}" / "out",
            log_dir=base / f"{name}-{i}" / "logs", image=default_image() if name == "docker" else None,
        )
        result = backend.run(request)
        assert result.exit_code == 0, result.stderr_path.read_text()
        return result.cpu_time_s  # the run's cgroup (or rusage), as the backend measured it

    return run


ROOT = Path(__file__).resolve().parent.parent
STUDY_MANIFEST = ROOT / "manifests" / "weam-imbalance" / "manifest.yaml"
STUDY_REPRO = "R-word-ci"  # the smoke tier CI runs


def study_request(repro: Repro, overrides: dict[str, Any], base: Path, name: str, seed: int) -> SandboxRequest:
    """One seed of the study's repro, as the verifier would run it."""
    # the stand-in's overrides go on top of the repro's own (R-word-ci has some)
    merged = {**repro.params.get("overrides", {}), **overrides}
    params = {**repro.params, **({"overrides": merged} if merged else {})}
    return SandboxRequest(
        bundle=ROOT / repro.bundle, entrypoint=tuple(repro.entrypoint), params=params, inputs=(),
        seed=seed, limits=repro.limits, out_dir=base / f"{name}-{seed}" / "out",
        log_dir=base / f"{name}-{seed}" / "logs", image=repro.image if name == "docker" else None,
    )


Seed = tuple[float, float, str]  # wall s, CPU s, results.json digest


def study_seeds(backend: Sandbox, requests: list[SandboxRequest]) -> dict[int, Seed]:
    """Run the requests at once (as `verify --jobs N` does); each seed's wall, CPU and digest."""
    rows: dict[int, Seed] = {}

    def one(request: SandboxRequest) -> None:
        t0 = time.perf_counter()
        result = backend.run(request)
        wall = time.perf_counter() - t0
        results = request.out_dir / "results.json"
        if result.exit_code != 0 or not results.is_file():
            raise SystemExit(f"study: {backend.name} seed {request.seed} failed: "
                             f"{result.stderr_path.read_text()[-2000:]}")
        digest = "sha256:" + hashlib.sha256(results.read_bytes()).hexdigest()
        rows[request.seed] = (wall, result.cpu_time_s or 0.0, digest)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        for future in [pool.submit(one, request) for request in requests]:
            future.result()
    return rows


def study(overrides: dict[str, Any], jobs: int, side_by_side: bool) -> int:
    """Workload 2: the study's seeds on bwrap, then on docker (or both at once); ratios and digests."""
    raw = yaml.safe_load(STUDY_MANIFEST.read_text())
    repro = Repro.model_validate(next(r for r in raw["repros"] if r["id"] == STUDY_REPRO))
    rows: dict[str, dict[int, Seed]] = {}
    with tempfile.TemporaryDirectory(prefix="verify-bench-study-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # the container's uid must reach the output area's parent
        backends: dict[str, Sandbox] = {}
        for name in ("bwrap", "docker"):
            backends[name] = BACKEND_FOR_NAME[name]()
            why = backends[name].available()
            if why is not None:
                print(f"study: {name} unavailable: {why}")
                return 1

        def one_backend(name: str) -> None:
            requests = [study_request(repro, overrides, base, name, s) for s in range(jobs)]
            rows[name] = study_seeds(backends[name], requests)
            for seed, (wall, cpu, digest) in sorted(rows[name].items()):
                print(f"study {name:<7} seed {seed} wall {wall:8.1f}s  cpu {cpu:8.1f}s  results.json {digest}",
                      flush=True)

        if side_by_side:  # the same machine load for both: fairer on a shared machine
            with ThreadPoolExecutor(max_workers=2) as pool:
                for future in [pool.submit(one_backend, name) for name in backends]:
                    future.result()
        else:
            for name in backends:
                one_backend(name)
    bwrap, docker = rows["bwrap"], rows["docker"]
    same = all(bwrap[s][2] == docker[s][2] for s in bwrap)
    wall_ratio = statistics.median(docker[s][0] for s in docker) / statistics.median(bwrap[s][0] for s in bwrap)
    cpu_ratio = statistics.median(docker[s][1] for s in docker) / max(1e-9, statistics.median(bwrap[s][1] for s in bwrap))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    mode = "side by side" if side_by_side else "back to back"
    print(f"study docker/bwrap per seed ({jobs} at once per backend, {mode}): wall {wall_ratio:.2f}x, cpu {cpu_ratio:.2f}x; "
          f"results.json {'identical' if same else 'DIFFERENT'}; load average {load} on {os.cpu_count()} CPUs")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backends", default="bwrap,docker,process")
    parser.add_argument("--study", action="store_true", help="also run one seed of the study on bwrap and docker")
    parser.add_argument("--study-overrides", type=json.loads, default={}, help="tier overrides (JSON)")
    parser.add_argument("--study-jobs", type=int, default=1, help="seeds run at once per backend (like --jobs)")
    parser.add_argument("--study-side-by-side", action="store_true",
                        help="run the two backends at the same time (same machine load), not back to back")
    args = parser.parse_args()
    if args.runs > 0:
        trivial(args.runs, args.backends)
    return study(args.study_overrides, args.study_jobs, args.study_side_by_side) if args.study else 0


def trivial(runs: int, backends: str) -> None:
    """Workload 1: the trivial repro, bare and through each backend, interleaved."""
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        base = Path(tmp)
        bundle = make_bundle(base)
        runners: dict[str, Runner] = {"bare": bare_runner(bundle, base)}
        for name in backends.split(","):
            runner = backend_runner(name, bundle, base)
            if isinstance(runner, str):
                print(f"{name}: unavailable: {runner}")
            else:
                runners[name] = runner
        times: dict[str, list[float]] = {name: [] for name in runners}
        cpu: dict[str, list[float]] = {name: [] for name in runners}
        # Interleave the backends round by round, so that drift in the
        # machine's load affects them all alike.
        for i in range(runs + 1):
            for name, runner in runners.items():
                c0, t0 = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
                run_cpu = runner(i)
                if i > 0:  # round 0 warms caches (fingerprint, image lookup, page cache)
                    times[name].append(time.perf_counter() - t0)
                    # our own supervision work plus the run's
                    own = cpu_seconds(resource.RUSAGE_SELF) - c0 if name != "bare" else 0.0
                    cpu[name].append(own + (run_cpu or 0.0))
        bare = statistics.median(times["bare"])
        bare_cpu = statistics.median(cpu["bare"])
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{runs} runs each, interleaved; load average {load} on {os.cpu_count()} CPUs")
        print(f"{'backend':<10} {'median':>10} {'overhead':>10} {'ratio':>7} {'cpu overhead':>13}")
        for name, values in times.items():
            med = statistics.median(values)
            # CPU time of the run (its cgroup) plus our supervision: it does not
            # grow with the machine's load, but misses the container engine's own work.
            extra_cpu = "n/a" if name == "docker" else f"{(statistics.median(cpu[name]) - bare_cpu) * 1000:+.1f}ms"
            print(f"{name:<10} {med * 1000:>8.1f}ms {(med - bare) * 1000:>+8.1f}ms {med / bare:>6.2f}x"
                  f" {extra_cpu:>13}")


if __name__ == "__main__":
    raise SystemExit(main())
