"""Statistical word alignment: the prior knowledge WEAM uses to pick the words it exchanges.

Aligners (both directions, then symmetrised):

- `eflomal`: Östling & Tiedemann 2016, "Efficient Word Alignment with Markov Chain Monte Carlo"
  (https://ufal.mff.cuni.cz/pbml/106/art-ostling-tiedemann.pdf), the PyPI package `eflomal`
  (https://github.com/robertostling/eflomal), HMM + fertility model sampled with Gibbs chains.
  NOTE: eflomal 2.0.0 seeds its sampler from `/dev/urandom`, has no seed option, and its
  OpenMP samplers race, so plain runs differ (127 of 1000 x3 sentences between two runs).
  We make it deterministic for a seed by feeding it seed-derived bytes instead (an LD_PRELOAD
  `fopen` shim compiled on first use, or a bwrap mount namespace; `eflomal_seeding`) and one
  thread; with neither available it runs unseeded with a `RuntimeWarning`. `method="ibm1"`
  is deterministic everywhere, with no compiler.
- `ibm1`: a numpy reference of fast_align's reparameterised IBM Model 2 (Dyer et al. 2013,
  "A Simple, Fast, and Effective Reparameterization of IBM Model 2",
  https://aclanthology.org/N13-1073/): IBM Model 1 lexical EM with a fixed diagonal prior and a
  null word. Deterministic (no sampling at all), used as a cross-check and fallback.
- `random`: a random one-to-one matching per sentence, the control that isolates the value of
  the statistical prior.

Symmetrisation follows Koehn et al. 2003 / Moses `grow-diag-final-and`
(https://www.statmt.org/moses/?n=FactoredTraining.AlignWords); alignment error rate follows
Och & Ney 2003, "A Systematic Comparison of Various Statistical Alignment Models"
(https://aclanthology.org/J03-1002/). Links are `(src index, tgt index)`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from repro.weam.data.types import Link

METHODS = ("eflomal", "ibm1", "random")
SYMMETRIZATIONS = (
    "grow-diag-final-and",
    "grow-diag",
    "intersection",
    "union",
    "forward",
    "reverse",
)
_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))

Pairs = Sequence[tuple[Sequence[str], Sequence[str]]]


def align(
    pairs: Pairs,
    *,
    method: str = "eflomal",
    symmetrize: str = "grow-diag-final-and",
    seed: int = 0,
) -> list[set[Link]]:
    """Word links for every sentence pair: forward and reverse alignments, symmetrised.

    Raises `ValueError` for an unknown `method` or `symmetrize`. Sentences with an empty side
    get no links. `seed` drives `random` and eflomal (when `eflomal_seeded()`); `ibm1` needs none.
    """
    if symmetrize not in SYMMETRIZATIONS:
        raise ValueError(f"unknown symmetrization {symmetrize!r}; choose one of {SYMMETRIZATIONS}")
    if method == "random":
        return random_links(pairs, seed=seed)
    if method == "eflomal":
        fwd, rev = _eflomal_directional(pairs, seed)
    elif method == "ibm1":
        fwd = ibm1_directional(pairs)
        rev = [{(i, j) for j, i in links} for links in ibm1_directional([(t, s) for s, t in pairs])]
    else:
        raise ValueError(f"unknown alignment method {method!r}; choose one of {METHODS}")
    return [symmetrize_links(f, r, how=symmetrize) for f, r in zip(fwd, rev, strict=True)]


def _eflomal_directional(pairs: Pairs, seed: int) -> tuple[list[set[Link]], list[set[Link]]]:
    """Run the eflomal binary once; it aligns both directions and writes Pharaoh `i-j` lines.

    We call the binary as `eflomal.Aligner.align` does (same options and iteration counts,
    checked with `strace -e execve`) so that it can run seeded: see `eflomal_seeding`.
    """
    import eflomal  # type: ignore[import-untyped]  # lazily: compiled, only this method needs it

    keep = [k for k, (s, t) in enumerate(pairs) if s and t]  # eflomal rejects empty sentences
    fwd: list[set[Link]] = [set() for _ in pairs]
    rev: list[set[Link]] = [set() for _ in pairs]
    if not keep:
        return fwd, rev
    with tempfile.TemporaryDirectory(prefix="weam-eflomal-") as tmp:
        d = Path(tmp)
        for name, side in (("src", 0), ("tgt", 1)):
            with (d / name).open("wb") as out:
                eflomal.to_eflomal_text_file([" ".join(pairs[k][side]) + "\n" for k in keep], out)
        # eflomal's automatic schedule: iters = 5000 / sqrt(n); IBM1 and HMM get a quarter.
        iters = max(2, round(5000 / len(keep) ** 0.5))
        quarter = max(2, iters // 4)
        binary = Path(eflomal.__file__).parent / "bin" / "eflomal"
        cmd = [
            str(binary),
            "-m",
            "3",
            "-s",
            str(d / "src"),
            "-t",
            str(d / "tgt"),
            "-n",
            "3",
            "-N",
            "0.2",
        ]
        cmd += [
            "-1",
            str(quarter),
            "-2",
            str(quarter),
            "-3",
            str(iters),
            "-q",
            "-f",
            str(d / "fwd"),
            "-r",
            str(d / "rev"),
        ]
        _run_eflomal(cmd, d, seed)
        for out_links, name in ((fwd, "fwd"), (rev, "rev")):
            lines = (d / name).read_text(encoding="utf-8").splitlines()
            for k, line in zip(keep, lines, strict=True):
                out_links[k] = parse_pharaoh(line)
    return fwd, rev


# eflomal 2.0.0 has no seed option: its binary `fopen`s /dev/urandom once for 4096 bytes of
# seed, and its OpenMP samplers race. Run with one thread and seed-derived bytes in place of
# /dev/urandom, it gives the same links every time (checked over repeated runs). Two ways to
# put the bytes there: an LD_PRELOAD shim redirecting that one `fopen` (needs a C compiler,
# works inside the verifier's sandbox, which forbids nested namespaces), or a bwrap mount
# namespace binding a file over /dev/urandom (needs user namespaces).
_SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
FILE *fopen(const char *path, const char *mode) {
    static FILE *(*real_fopen)(const char *, const char *);
    if (!real_fopen) real_fopen = (FILE *(*)(const char *, const char *))dlsym(RTLD_NEXT, "fopen");
    const char *entropy = getenv("WEAM_EFLOMAL_ENTROPY");
    if (entropy && path && strcmp(path, "/dev/urandom") == 0) path = entropy;
    return real_fopen(path, mode);
}
"""


def _build_shim(directory: Path) -> Path | None:
    """Compile the `fopen` shim into `directory`; None without a working C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    src, lib = directory / "weam_urandom_shim.c", directory / "weam_urandom_shim.so"
    src.write_text(_SHIM_C, encoding="utf-8")
    built = subprocess.run(
        [cc, "-shared", "-fPIC", "-O2", "-o", str(lib), str(src), "-ldl"],
        capture_output=True,
        check=False,
    )
    return lib if built.returncode == 0 else None


@functools.cache
def eflomal_seeding() -> str | None:
    """How eflomal can be seeded here: `"preload"`, `"bwrap"`, or None (runs unseeded)."""
    with tempfile.TemporaryDirectory(prefix="weam-shim-") as tmp:
        if _build_shim(Path(tmp)) is not None:
            return "preload"
    bwrap = shutil.which("bwrap")
    if bwrap is not None:
        probe = subprocess.run(
            [bwrap, "--dev-bind", "/", "/", "--", "true"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return "bwrap"
    return None


def eflomal_seeded() -> bool:
    """Whether `align(method="eflomal", seed=...)` is deterministic here (see `eflomal_seeding`)."""
    return eflomal_seeding() is not None


def _run_eflomal(cmd: list[str], workdir: Path, seed: int) -> None:
    env = dict(os.environ)
    mode = eflomal_seeding()
    entropy = workdir / "urandom"
    # 4096 bytes, sha256 in counter mode: a pure function of the seed.
    entropy.write_bytes(
        b"".join(hashlib.sha256(f"weam-eflomal-{seed}-{i}".encode()).digest() for i in range(128))
    )
    shim = _build_shim(workdir) if mode == "preload" else None
    if shim is not None:
        env.update(LD_PRELOAD=str(shim), WEAM_EFLOMAL_ENTROPY=str(entropy), OMP_NUM_THREADS="1")
    elif mode == "bwrap":
        cmd = [
            "bwrap",
            "--dev-bind",
            "/",
            "/",
            "--ro-bind",
            str(entropy),
            "/dev/urandom",
            "--",
            *cmd,
        ]
        env["OMP_NUM_THREADS"] = "1"
    else:
        warnings.warn(
            "eflomal runs unseeded (no C compiler for the seed shim, no bwrap namespaces): its links "
            "vary between runs; use method='ibm1' for byte-identical results",
            RuntimeWarning,
            stacklevel=4,
        )
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"eflomal failed with status {result.returncode}: {result.stderr.strip()[-500:]}"
        )


def parse_pharaoh(line: str) -> set[Link]:
    """Links from a Pharaoh line such as `0-0 1-2 2-1`. Raises `ValueError` on bad tokens."""
    links = set()
    for token in line.split():
        i, sep, j = token.partition("-")
        if not sep or not i.isdigit() or not j.isdigit():
            raise ValueError(f"bad alignment link {token!r} in {line!r}")
        links.add((int(i), int(j)))
    return links


def format_pharaoh(links: set[Link]) -> str:
    """The Pharaoh line of `links`, sorted: the inverse of `parse_pharaoh`."""
    return " ".join(f"{i}-{j}" for i, j in sorted(links))


# --- IBM Model 1 with a diagonal prior (fast_align-style), in numpy -----------------------------


def ibm1_directional(
    pairs: Pairs, *, iterations: int = 5, tension: float = 4.0, null_prob: float = 0.08
) -> list[set[Link]]:
    """Viterbi links `(i, j)` where every target word j picks one source word i or the null word.

    EM over all (source incl. null, target) co-occurrences at once: the E-step weights
    t(f|e) by the diagonal prior exp(-tension * |i/m - j/n|) (fast_align's favour for the
    diagonal, with its default tension 4 kept fixed) and normalises per target token; the
    M-step renormalises expected counts per source word.

    We tried re-fitting the tension each iteration by maximum likelihood (fast_align's
    `--optimize-tension`): it rises to 6-64 on our synthetic languages and *raises* AER
    (x3: 0.19 -> 0.33), so the default stays fixed; a flatter prior (tension 1) would give
    x3 about 0.07, but choosing it from gold links would tune the reference on the test.
    """
    src_ids, tgt_ids = _index_words([s for s, _ in pairs]), _index_words([t for _, t in pairs])
    e, f, tok, prior = _cooccurrences(src_ids, tgt_ids, tension, null_prob)
    if len(e) == 0:
        return [set() for _ in pairs]
    n_f = max((max(s, default=0) for s in tgt_ids), default=0) + 1
    pair_keys, pair_of = np.unique(e * n_f + f, return_inverse=True)
    pair_e = pair_keys // n_f
    t = np.ones(len(pair_keys))  # uniform start: IBM1's likelihood is convex, any start works
    for _ in range(iterations):
        w = t[pair_of] * prior
        posterior = w / np.bincount(tok, w)[tok]
        counts = np.bincount(pair_of, posterior, minlength=len(pair_keys))
        t = counts / np.bincount(pair_e, counts)[pair_e]
    return _viterbi(t[pair_of] * prior, src_ids, tgt_ids)


def _index_words(sentences: Sequence[Sequence[str]]) -> list[list[int]]:
    """Word ids from 1 in first-seen order (id 0 is the null word), stable for a given input."""
    ids: dict[str, int] = {}
    return [[ids.setdefault(w, len(ids) + 1) for w in s] for s in sentences]


def _cooccurrences(
    src_ids: list[list[int]], tgt_ids: list[list[int]], tension: float, null_prob: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat arrays over every (target token, source position incl. null) of the corpus.

    Laid out sentence by sentence as an (n, m + 1) block, row j = target word j, column 0 =
    null: `_viterbi` reshapes the same blocks back.
    """
    es, fs, toks, priors = [], [], [], []
    n_tok = 0
    for s, t in zip(src_ids, tgt_ids, strict=True):
        m, n = len(s), len(t)
        if not m or not n:
            continue
        i = np.arange(1, m + 1) / m
        j = np.arange(1, n + 1) / n
        diag = np.exp(-tension * np.abs(i[None, :] - j[:, None]))  # (n, m)
        diag *= (1 - null_prob) / diag.sum(axis=1, keepdims=True)
        priors.append(np.hstack([np.full((n, 1), null_prob), diag]).ravel())
        es.append(np.tile(np.array([0, *s]), n))
        fs.append(np.repeat(np.array(t), m + 1))
        toks.append(np.repeat(np.arange(n_tok, n_tok + n), m + 1))
        n_tok += n
    if not es:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0)
    return np.concatenate(es), np.concatenate(fs), np.concatenate(toks), np.concatenate(priors)


def _viterbi(
    scores: np.ndarray, src_ids: list[list[int]], tgt_ids: list[list[int]]
) -> list[set[Link]]:
    out: list[set[Link]] = []
    pos = 0
    for s, t in zip(src_ids, tgt_ids, strict=True):
        m, n = len(s), len(t)
        if not m or not n:
            out.append(set())
            continue
        block = scores[pos : pos + n * (m + 1)].reshape(n, m + 1)
        pos += n * (m + 1)
        best = block.argmax(axis=1)  # ties go to the lowest index, i.e. null first: deterministic
        out.append({(int(b) - 1, j) for j, b in enumerate(best) if b > 0})
    return out


# --- controls, symmetrisation, projection, evaluation -------------------------------------------


def random_links(pairs: Pairs, *, seed: int = 0) -> list[set[Link]]:
    """A random one-to-one matching of min(m, n) word pairs per sentence (the random control)."""
    rng = random.Random(f"weam-random-links-{seed}")
    out = []
    for s, t in pairs:
        k = min(len(s), len(t))
        out.append(
            set(zip(rng.sample(range(len(s)), k), rng.sample(range(len(t)), k), strict=True))
        )
    return out


def symmetrize_links(
    forward: set[Link], reverse: set[Link], *, how: str = "grow-diag-final-and"
) -> set[Link]:
    """Combine two directional alignments of one sentence pair (Koehn's heuristics).

    `grow-diag` starts from the intersection and repeatedly adds union links that neighbour
    (diagonals included) an existing link and cover a not-yet-aligned word; `-final-and` then
    adds union links of each direction whose two words are both still unaligned.
    """
    union = forward | reverse
    if how == "forward":
        return set(forward)
    if how == "reverse":
        return set(reverse)
    if how == "union":
        return union
    alignment = forward & reverse
    if how == "intersection":
        return alignment
    if how not in ("grow-diag", "grow-diag-final-and"):
        raise ValueError(f"unknown symmetrization {how!r}; choose one of {SYMMETRIZATIONS}")
    src_done = {i for i, _ in alignment}
    tgt_done = {j for _, j in alignment}
    grew = True
    while grew:
        grew = False
        for i, j in sorted(alignment):  # sorted: the same input always grows the same way
            for di, dj in _NEIGHBOURS:
                cand = (i + di, j + dj)
                if (
                    cand in union
                    and cand not in alignment
                    and (cand[0] not in src_done or cand[1] not in tgt_done)
                ):
                    alignment.add(cand)
                    src_done.add(cand[0])
                    tgt_done.add(cand[1])
                    grew = True
    if how == "grow-diag-final-and":
        for direction in (forward, reverse):
            for i, j in sorted(direction):
                if i not in src_done and j not in tgt_done:
                    alignment.add((i, j))
                    src_done.add(i)
                    tgt_done.add(j)
    return alignment


def alignment_error_rate(
    predicted: Sequence[set[Link]],
    sure: Sequence[set[Link]],
    possible: Sequence[set[Link]] | None = None,
) -> float:
    """Och & Ney AER = 1 - (|A∩S| + |A∩P|) / (|A| + |S|), summed over the corpus (P ⊇ S).

    `possible` defaults to `sure` (then AER = 1 - F1). Raises `ValueError` if the sequences
    differ in length. Returns 0.0 when there is nothing to predict and nothing was predicted.
    """
    possible = sure if possible is None else possible
    if not len(predicted) == len(sure) == len(possible):
        raise ValueError(
            f"lengths differ: {len(predicted)} predicted, {len(sure)} sure, {len(possible)} possible"
        )
    hit_s = hit_p = n_a = n_s = 0
    for a, s, p in zip(predicted, sure, possible, strict=True):
        hit_s += len(a & s)
        hit_p += len(a & (p | s))
        n_a += len(a)
        n_s += len(s)
    if n_a + n_s == 0:
        return 0.0
    return 1.0 - (hit_s + hit_p) / (n_a + n_s)


def project_to_subwords(
    links: set[Link], src_word_of: Sequence[int], tgt_word_of: Sequence[int]
) -> set[Link]:
    """Word links to subword links: every subword of a linked source word links every subword of
    its linked target word. `word_of[k]` is the word index of subword k, -1 for special tokens
    (which never get links)."""
    src_subwords: dict[int, list[int]] = {}
    tgt_subwords: dict[int, list[int]] = {}
    for k, w in enumerate(src_word_of):
        if w >= 0:
            src_subwords.setdefault(w, []).append(k)
    for k, w in enumerate(tgt_word_of):
        if w >= 0:
            tgt_subwords.setdefault(w, []).append(k)
    return {
        (a, b) for i, j in links for a in src_subwords.get(i, ()) for b in tgt_subwords.get(j, ())
    }


def one_to_one(links: set[Link]) -> set[Link]:
    """Only the links whose source word and target word each have exactly one link."""
    src_deg: dict[int, int] = {}
    tgt_deg: dict[int, int] = {}
    for i, j in links:
        src_deg[i] = src_deg.get(i, 0) + 1
        tgt_deg[j] = tgt_deg.get(j, 0) + 1
    return {(i, j) for i, j in links if src_deg[i] == 1 and tgt_deg[j] == 1}


def main(argv: list[str] | None = None) -> int:
    """`python -m repro.weam.align [--n-parallel N] [--seed S]`: AER of every method on the
    synthetic languages, one tab-separated row per language, on stdout."""
    import argparse
    import time

    from repro.weam.data.synthetic import SyntheticConfig, generate_world

    parser = argparse.ArgumentParser(prog="python -m repro.weam.align", description=main.__doc__)
    parser.add_argument("--n-parallel", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--symmetrize", default="grow-diag-final-and", choices=SYMMETRIZATIONS)
    args = parser.parse_args(argv)
    world = generate_world(
        SyntheticConfig(seed=args.seed, n_sentences=1, n_parallel=args.n_parallel)
    )
    print("lang\t" + "\t".join(METHODS))
    for lang, corpus in world.parallel.items():
        pairs = [(p.src, p.tgt) for p in corpus.pairs]
        gold = [set(p.gold or ()) for p in corpus.pairs]
        row = []
        for method in METHODS:
            start = time.perf_counter()
            links = align(pairs, method=method, symmetrize=args.symmetrize, seed=args.seed)
            row.append(f"{alignment_error_rate(links, gold):.4f}")
            print(f"{lang} {method}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
        print(lang + "\t" + "\t".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
