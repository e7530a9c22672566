"""Benchmark: `verify ci` over 1,000 claims whose runs are all cached, against `dvc status`.

Two shapes of 1,000 claims, in the same run (`--shapes`, default
`100x10,1000x1`): 100 papers x 10 claims (100 repros), and the harder 1,000
papers x 1 claim (1,000 repros, as many units as the 1,000 DVC stages). For
each, it generates a root where each paper has one sealed formula repro that
all its claims read, runs `verify ci` once to fill the cache, then times
`verify ci` as a user runs it (a subprocess, `python -m verifier`, median of
`--repeats`).

In the same run it builds an equivalent DVC project of 1,000 stages (each
depending on a script, `--dvc-deps 2` adds a data file, writing one output),
brings every output up to date (`dvc commit` of the outputs, which is
what `dvc repro` leaves, at a fraction of its time), and times `dvc status`
the same way, and a no-op `dvc repro` once.
DVC is the `bench` extra's (`pip install -e .[bench]`); without it, the
benchmark's own venv (`--dvc-venv`, created with `python -m venv` and
`pip install dvc` when missing).

Also times re-judging the 1,000 cached claims after a tolerance change in
every manifest (a subprocess `verify ci` again: no run, new verdicts).

Prints the times and the ratio for each shape. Goal (issues 4 and 13):
`verify ci` at least 10x faster than `dvc status` on both shapes.

    python bench/status.py [--shapes 100x10,1000x1] [--repeats 5] [--backend auto]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from verifier.manifests import seal_manifest  # noqa: E402
from verifier.root import VerificationRoot  # noqa: E402

FORMULA = """\
import json, os, pathlib
params = json.loads(pathlib.Path(os.environ["REPRO_PARAMS"]).read_text())
values = {f"c{i}": params["base"] * (i + 1) for i in range(params["claims"])}
pathlib.Path(os.environ["REPRO_OUT"], "results.json").write_text(json.dumps(values))
"""


def generate_root(root: Path, papers: int, claims: int, rel_tol: float = 0.05) -> None:
    """`papers` papers of `claims` claims, one sealed formula repro each (its own bundle)."""
    for p in range(papers):
        paper = f"paper-{p:04d}"
        bundle = root / "bundles" / paper / "formula"
        bundle.mkdir(parents=True)
        (bundle / "__init__.py").write_text("")
        (bundle / "run.py").write_text(FORMULA)
        data = root / "data" / f"{paper}.tsv"
        data.parent.mkdir(exist_ok=True)
        data.write_text(f"{p}\n")
        base = 1e-05 * (p + 1)
        write_manifest(root, paper, claims, base, rel_tol)
        seal_manifest(VerificationRoot.at(root), paper)


def write_manifest(root: Path, paper: str, claims: int, base: float, rel_tol: float, seal: str | None = None,
                   input_digest: str | None = None) -> None:
    repro = {"id": "R1", "bundle": f"bundles/{paper}", "entrypoint": ["python", "-m", "formula.run"],
             "params": {"base": base, "claims": claims}, "inputs": [{"path": f"data/{paper}.tsv"}],
             "limits": {"timeout_s": 60, "memory_mb": 512, "cpus": 1}}
    if seal is not None:
        repro["seal"] = seal
        repro["inputs"][0]["sha256"] = input_digest
    document = {
        "contract": "paper-manifest-v1.1", "id": paper, "title": f"Paper {paper}", "publisher": "bench",
        "source": {"kind": "primary-research"},
        "claims": [
            {"id": f"C{c}", "statement": f"Claim {c}.", "kind": "formula",
             "source": {"section": "4", "quote": "q"}, "reported": {"value": base * (c + 1) * 1.02},
             "check": {"op": "approx", "rel_tol": rel_tol}, "evidence": {"repro": "R1", "output": f"/c{c}"}}
            for c in range(claims)
        ],
        "repros": [repro],
    }
    path = root / "manifests" / paper / "manifest.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))


def set_tolerance(root: Path, rel_tol: float) -> None:
    """Rewrite every manifest with a new tolerance (seals unchanged: no re-run needed)."""
    for path in sorted((root / "manifests").glob("*/manifest.yaml")):
        document = json.loads(path.read_text())
        for claim in document["claims"]:
            claim["check"]["rel_tol"] = rel_tol
        path.write_text(json.dumps(document, indent=2))


def generate_dvc(project: Path, stages: int, dvc: Path, deps: int = 1) -> None:
    """A DVC project of `stages` stages, each: a script (and with deps=2 a data file) in, one output out."""
    project.mkdir(parents=True)
    subprocess.run([str(dvc), "init", "--no-scm", "-q"], cwd=project, check=True)
    (project / "scripts").mkdir()
    (project / "data").mkdir()
    (project / "out").mkdir()
    lines = ["stages:"]
    for s in range(stages):
        script = project / "scripts" / f"s{s:04d}.sh"
        script.write_text(f"echo '{{\"v\": {s}}}' > out/s{s:04d}.json\n")
        (project / "data" / f"s{s:04d}.tsv").write_text(f"{s}\n")
        lines += [
            f"  s{s:04d}:",
            f"    cmd: sh scripts/s{s:04d}.sh",
            f"    deps: [scripts/s{s:04d}.sh{f', data/s{s:04d}.tsv' if deps > 1 else ''}]",
            f"    outs: [out/s{s:04d}.json]",
        ]
    (project / "dvc.yaml").write_text("\n".join(lines) + "\n")


def ensure_dvc(venv: Path) -> Path:
    """The `dvc` beside this interpreter (the bench extra), else one in `venv` (installed when missing)."""
    here = Path(sys.executable).parent / "dvc"
    if here.exists():
        return here
    dvc = venv / "bin" / "dvc"
    if not dvc.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "dvc"], check=True)
    return dvc


CPU: dict[str, list[float]] = {}  # argv[0:3] joined -> CPU seconds (user + sys) of each timed run


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
          expect: int = 0) -> tuple[float, str]:
    """Wall seconds and stdout of one run; its CPU seconds go to CPU (less sensitive to a busy machine)."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    CPU.setdefault(" ".join(argv[:3]), []).append(_children_cpu() - cpu)
    if proc.returncode != expect:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def median_of(repeats: int, argv: list[str], **kwargs: object) -> tuple[float, list[float], float]:
    """Median wall seconds, the samples, and the median CPU seconds of `repeats` runs."""
    samples = [timed(argv, **kwargs)[0] for _ in range(repeats)]  # type: ignore[arg-type]
    return statistics.median(samples), samples, statistics.median(CPU[" ".join(argv[:3])][-repeats:])


def bench_shape(work: Path, papers: int, claims: int, args: argparse.Namespace, env: dict[str, str]) -> float:
    """Fill the cache of a `papers` x `claims` root, then time a cached `verify ci`; return its median wall time."""
    total = papers * claims
    root = work / f"root-{papers}x{claims}"
    root.mkdir(parents=True)
    verify = [sys.executable, "-m", "verifier", "--root", str(root), "ci", "--backend", args.backend]

    start = time.perf_counter()
    generate_root(root, papers, claims)
    print(f"[{papers}x{claims}] generated {papers} papers x {claims} claims in {time.perf_counter() - start:.1f} s")
    fill, out = timed([*verify, "--jobs", str(args.jobs)], env=env)
    print(f"[{papers}x{claims}] first verify ci (fills the cache, {papers} runs, --jobs {args.jobs}): {fill:.1f} s")
    _, out = timed([*verify, "--json"], env=env)
    session = json.loads(out)
    verdicts = [c for p in session["papers"] for c in p["claims"]]
    assert session["runs"] == {"executed": 0, "cached": papers}, session["runs"]
    assert len(verdicts) == total and all(v["status"] == "verified" and v["cached"] for v in verdicts)

    ours, samples, ours_cpu = median_of(args.repeats, verify, env=env)
    CPU[f"{papers}x{claims}"] = [ours_cpu]
    print(f"[{papers}x{claims}] verify ci, {total} cached claims: median {ours:.3f} s of {args.repeats} "
          f"({', '.join(f'{s:.3f}' for s in samples)}); CPU {ours_cpu:.3f} s")

    set_tolerance(root, 0.01)  # reported values are 2% off: every claim now fails, re-judged from stored results
    rejudge, out = timed([*verify, "--json"], env=env, expect=1)
    session = json.loads(out)
    assert session["runs"] == {"executed": 0, "cached": papers}, session["runs"]
    assert all(c["status"] == "refuted" for p in session["papers"] for c in p["claims"])
    print(f"[{papers}x{claims}] re-judge {total} cached claims after a tolerance change: {rejudge:.3f} s (0 runs); "
          f"CPU {CPU[' '.join(verify[:3])][-1]:.3f} s")
    set_tolerance(root, 0.05)
    return ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="100x10,1000x1", help="PAPERSxCLAIMS,... (each 1,000 claims by default)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--jobs", type=int, default=4, help="parallel runs while filling the cache")
    parser.add_argument("--dvc-venv", type=Path, default=Path("/tmp/bench-dvc"))
    parser.add_argument("--skip-dvc", action="store_true")
    parser.add_argument("--dvc-deps", type=int, choices=(1, 2), default=1, help="deps per DVC stage")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated trees here")
    args = parser.parse_args()
    shapes = [tuple(int(n) for n in shape.split("x")) for shape in args.shapes.split(",")]
    total = max(p * c for p, c in shapes)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-status-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    ours = {(p, c): bench_shape(work, p, c, args, env) for p, c in shapes}

    if args.skip_dvc:
        return
    dvc = ensure_dvc(args.dvc_venv)
    project = work / "dvc"
    generate_dvc(project, total, dvc, args.dvc_deps)
    # `dvc repro` of 1,000 fresh stages takes tens of minutes (it rewrites dvc.lock per stage), so
    # run the stages' commands directly and let `dvc commit` record every output as up to date.
    for script in sorted((project / "scripts").glob("*.sh")):
        subprocess.run(["sh", str(script.relative_to(project))], cwd=project, check=True)
    commit_s, _ = timed([str(dvc), "commit", "-f", "-q"], cwd=project)
    print(f"dvc commit of {total} stages (fills dvc.lock and the cache): {commit_s:.1f} s")
    _, status_out = timed([str(dvc), "status"], cwd=project)
    assert "up to date" in status_out, status_out[-500:]
    theirs, samples, theirs_cpu = median_of(args.repeats, [str(dvc), "status"], cwd=project)
    print(f"dvc status, {total} up-to-date stages: median {theirs:.3f} s of {args.repeats} "
          f"({', '.join(f'{s:.3f}' for s in samples)}); CPU {theirs_cpu:.3f} s")
    noop, _ = timed([str(dvc), "repro", "-q"], cwd=project)
    print(f"dvc repro, nothing to do: {noop:.3f} s")
    for (p, c), wall in ours.items():
        cpu = CPU[f"{p}x{c}"][0]
        print(f"ratio dvc status / verify ci [{p} papers x {c} claims]: {theirs / wall:.1f}x wall, "
              f"{theirs_cpu / cpu:.1f}x CPU (goal: >= 10x)")


if __name__ == "__main__":
    main()
