"""Benchmark: the same trivial repro run bare and through each available sandbox backend.

Runs `python -m bench_bundle.main` (writes a tiny results.json) 20 times
bare (a plain subprocess with the same environment) and 20 times through
each backend that is available here, then prints per backend the median
wall time, the median overhead over the bare run and the ratio to it, and
the median extra CPU time (this process and its children: a figure that
does not grow with the machine's load, unlike wall time).
Goals: bwrap adds under 15 ms, the container backend under 1 s.

Usage: python bench/sandbox.py [--runs N] [--backends bwrap,docker,process]
Side effects: temporary directories (removed), containers (removed).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from verifier.sandbox import BACKEND_FOR_NAME
from verifier.sandbox.base import Limits, SandboxRequest
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backends", default="bwrap,docker,process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        base = Path(tmp)
        bundle = make_bundle(base)
        runners: dict[str, Runner] = {"bare": bare_runner(bundle, base)}
        for name in args.backends.split(","):
            runner = backend_runner(name, bundle, base)
            if isinstance(runner, str):
                print(f"{name}: unavailable: {runner}")
            else:
                runners[name] = runner
        times: dict[str, list[float]] = {name: [] for name in runners}
        cpu: dict[str, list[float]] = {name: [] for name in runners}
        # Interleave the backends round by round, so that drift in the
        # machine's load affects them all alike.
        for i in range(args.runs + 1):
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
        print(f"{args.runs} runs each, interleaved; load average {load} on {os.cpu_count()} CPUs")
        print(f"{'backend':<10} {'median':>10} {'overhead':>10} {'ratio':>7} {'cpu overhead':>13}")
        for name, values in times.items():
            med = statistics.median(values)
            # CPU time of the run (its cgroup) plus our supervision: it does not
            # grow with the machine's load, but misses the container engine's own work.
            extra_cpu = "n/a" if name == "docker" else f"{(statistics.median(cpu[name]) - bare_cpu) * 1000:+.1f}ms"
            print(f"{name:<10} {med * 1000:>8.1f}ms {(med - bare) * 1000:>+8.1f}ms {med / bare:>6.2f}x"
                  f" {extra_cpu:>13}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
