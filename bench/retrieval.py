"""Benchmark: exact nearest-neighbour search, faiss `IndexFlatIP` vs a numpy baseline.

For N = 10k and 1M unit vectors of dimension `--dim` (1M x 64 float32 is
256 MB), `--queries` queries each; numpy computes query-chunked `q @ K.T`
and an argmax, with chunks sized so a score block stays under 128 MB. Both
sides return the top-1 index; the script checks they agree (a flip is only
allowed on a near-tie, |score gap| < 1e-5) and prints times and the ratio.

    python bench/retrieval.py [--dim 64] [--queries 1000] [--sizes 10000,1000000] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from repro.weam.evaluate import faiss_search, numpy_search


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


Search = Callable[..., tuple[np.ndarray, np.ndarray]]


def best_of(repeats: int, fn: Search, *args: object) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
    """Fastest of `repeats` calls and its result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
    assert out is not None
    return min(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--sizes", default="10000,1000000")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    faiss.omp_set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    queries = unit_vectors(rng, a.queries, a.dim)
    print(f"# dim {a.dim}, {a.queries} queries, top-1, threads {a.threads}")
    for n in (int(s) for s in a.sizes.split(",")):
        keys = unit_vectors(rng, n, a.dim)
        chunk = max(1, (128 << 20) // (4 * n))  # query rows per (chunk x N) float32 block
        t_np, (s_np, i_np) = best_of(a.repeats, numpy_search, queries, keys, 1, chunk)
        t_fa, (s_fa, i_fa) = best_of(a.repeats, faiss_search, queries, keys, 1)
        differ = i_np[:, 0] != i_fa[:, 0]
        gap = np.abs(s_np[:, 0] - s_fa[:, 0])
        assert np.all(gap[differ] < 1e-5), "faiss and numpy disagree beyond a near-tie"
        print(
            f"N={n:>9,d}  numpy {t_np * 1e3:9.1f} ms  faiss {t_fa * 1e3:9.1f} ms  "
            f"numpy/faiss {t_np / t_fa:5.2f}x  same top-1 {1 - differ.mean():.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
