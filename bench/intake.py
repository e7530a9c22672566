"""Benchmark: Gate 0 over a generated root of 1,000 papers x 10 claims, sealed bundles.

Prints the time of `verify validate` (library call, stat cache and validated
cache warm, as on a second run) and, measured in the same run, of a bare `json.load` of the same
manifest files, and their ratio. Goal (issue 2): under 2 s, within 5x.

    python bench/intake.py [--papers 1000] [--claims 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from verifier.digest import file_digest, hex_of, tree_digest
from verifier.intake import validate_papers


def generate(root: Path, papers: int, claims: int) -> list[Path]:
    files = []
    for p in range(papers):
        paper = f"paper-{p:05d}"
        bundle = root / "bundles" / paper
        (bundle / "pkg").mkdir(parents=True)
        (bundle / "pkg" / "__init__.py").write_text("")
        (bundle / "pkg" / "run.py").write_text(f"print({p})\n")
        data = root / "data" / f"{paper}.tsv"
        data.parent.mkdir(exist_ok=True)
        data.write_text(f"{p}\t{p * 2}\n")
        document = {
            "contract": "paper-manifest-v1.1", "id": paper, "title": f"Paper {p}", "publisher": "bench",
            "source": {"kind": "primary-research"},
            "claims": [
                {"id": f"C{c}", "statement": f"Claim {c}.", "kind": "empirical",
                 "source": {"section": f"{c}", "quote": "q"}, "reported": {"value": c / 10},
                 "check": {"op": "approx", "rel_tol": 0.05}, "evidence": {"repro": "R1", "output": f"/v/{c}"}}
                for c in range(claims)
            ],
            "repros": [{"id": "R1", "bundle": f"bundles/{paper}", "seal": tree_digest(bundle),
                        "entrypoint": ["python", "-m", "pkg.run"], "params": {"n": p},
                        "inputs": [{"path": f"data/{paper}.tsv", "sha256": hex_of(file_digest(data))}]}],
        }
        path = root / "manifests" / paper / "manifest.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(document, indent=2))
        files.append(path)
    return files


def time_it(fn: object, repeats: int) -> float:
    return time_both(fn, repeats)[0]


def time_both(fn: object, repeats: int) -> tuple[float, float]:
    """Median wall and median CPU seconds (CPU shows a loaded machine: wall well above CPU)."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--claims", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = generate(root, args.papers, args.claims)
        home = root / ".verify"
        time.sleep(2.1)  # let the files age past the stat cache's racy window
        first = time_it(lambda: validate_papers(root, home, []), 1)  # cold: hashes every file
        results = validate_papers(root, home, [])
        assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]

        def bare() -> None:
            for path in files:
                with open(path, "rb") as handle:
                    json.load(handle)

        baseline, baseline_cpu = time_both(bare, args.repeats)
        warm, warm_cpu = time_both(lambda: validate_papers(root, home, []), args.repeats)
    print(f"papers={args.papers} claims/paper={args.claims}")
    print(f"bare json.load:            {baseline * 1000:8.1f} ms   (CPU {baseline_cpu * 1000:.1f} ms)")
    print(f"verify validate (cold):    {first * 1000:8.1f} ms")
    print(f"verify validate (warm):    {warm * 1000:8.1f} ms   (CPU {warm_cpu * 1000:.1f} ms)")
    print(f"ratio warm/bare:           {warm / baseline:8.2f}x   (goal: < 2 s and <= 5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
