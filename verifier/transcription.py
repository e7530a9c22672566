"""The transcription flag: a computed value that was already written down before the repro ran.

A repro that reads its answer back (from its params, a pinned input or a
literal in its own code) reproduces nothing. `find` looks the computed
number up, as the same number, in:

1. the repro's `params` (any number: reading a configured value back is a transcription);
2. its sealed inputs, then every text file of its bundle: here only a
   *distinctive* number counts (`distinctive`), because `0.5`, `1` or `12`
   occur in any source tree by coincidence.

Numbers are read from text with one pattern (`5e-5`, `0.15`, `-3`, `1,000`
is two numbers), parsed as floats and compared exactly: `5e-5` and `5e-05`
are the same number.

The numbers of a file tree or input are indexed once per digest (the
bundle's seal, the input's SHA-256) and the index kept under
`<home>/index/numbers/`: a cached `verify ci` reads a small JSON file
instead of scanning a 6 MB bundle on every verdict.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INDEX_VERSION = 1
NUMBER = re.compile(rb"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
MAX_FILE_BYTES = 64 << 20  # a bigger file is data, not source: skipped
_lock = threading.Lock()
_memory: dict[tuple[str, str], dict[str, str]] = {}


@dataclass(frozen=True)
class Found:
    """Where a computed number was found verbatim."""

    value: float
    file: str  # root-relative path, or "manifest.yaml" for params
    where: str  # params | input | bundle


def key(x: float) -> str:
    """The index key of a number: its repr at 12 significant digits (`5e-05`, `0.15`, `3.0`).

    Twelve digits absorb binary noise (`0.1 + 0.2` is `0.3` here) and nothing a paper prints.
    """
    return repr(float(f"{x:.12g}"))


def distinctive(x: float) -> bool:
    """True for a number unlikely to occur in a source tree by coincidence.

    Not an integer below 1000 or a power of ten (loop bounds, sizes, `1e3`), not
    a one-digit decimal between 0.01 and 1 (`0.5`, `0.1`): those appear in
    any code. A number with two or more significant digits (`0.15`, `0.8125`),
    or one below 0.01 (`5e-05`, a learning rate) or of 1000 and above that is
    not a round power of ten, counts.
    """
    x = float(x)
    if not math.isfinite(x) or x == 0:
        return False
    a = abs(x)
    if x.is_integer():
        return a >= 1000 and not math.log10(a).is_integer()
    if a < 0.01:
        return True
    mantissa = f"{a:.15g}".split("e")[0].replace(".", "").strip("0")
    return len(mantissa) >= 2


def numbers_in(data: bytes) -> set[float]:
    """Every number written in `data` (finite floats)."""
    out: set[float] = set()
    for match in NUMBER.finditer(data):
        try:
            value = float(match.group())
        except ValueError:
            continue
        if math.isfinite(value):
            out.add(value)
    return out


def _param_numbers(value: Any) -> Iterable[float]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _param_numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _param_numbers(item)
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        yield float(value)


def index_tree(directory: Path, shown: str) -> dict[str, str]:
    """Distinctive number -> root-relative file of its first occurrence, over a tree's text files."""
    index: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", ".git"))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            rel = f"{shown}/{path.relative_to(directory).as_posix()}"
            _add(index, path, rel)
    return index


def index_file(path: Path, shown: str) -> dict[str, str]:
    """Distinctive number -> `shown`, for one file."""
    index: dict[str, str] = {}
    if path.is_file() and path.stat().st_size <= MAX_FILE_BYTES:
        _add(index, path, shown)
    return index


def _add(index: dict[str, str], path: Path, shown: str) -> None:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:  # binary: its bytes are not written numbers
        return
    for value in numbers_in(data):
        if distinctive(value):
            index.setdefault(key(value), shown)


class NumberIndex:
    """Indexes of numbers per digest, on disk under `home` and in memory for the process."""

    def __init__(self, home: Path | None) -> None:
        self.directory = home / "index" / "numbers" if home is not None else None

    def get(self, digest: str, build: Any) -> dict[str, str]:
        """The index for `digest` (`sha256:<hex>` or hex), built by `build()` on a miss."""
        hexdigest = digest.split(":", 1)[-1]
        memo = (str(self.directory), hexdigest)
        with _lock:
            if memo in _memory:
                return _memory[memo]
        index: dict[str, str] | None = None
        path = self.directory / f"{hexdigest}.json" if self.directory is not None else None
        if path is not None:
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict) and loaded.get("version") == INDEX_VERSION and isinstance(loaded.get("numbers"), dict):
                    index = {str(k): str(v) for k, v in loaded["numbers"].items()}
            except (OSError, ValueError):
                index = None
        if index is None:
            index = build()
            if path is not None:
                self._store(path, index)
        with _lock:
            _memory[memo] = index
        return index

    def _store(self, path: Path, index: dict[str, str]) -> None:
        from verifier.store import atomic_write

        # Atomic: concurrent writers write the same content; an index that cannot be kept is rebuilt next time.
        with contextlib.suppress(OSError):
            atomic_write(path, json.dumps({"version": INDEX_VERSION, "numbers": index}, sort_keys=True).encode())


@dataclass(frozen=True)
class Sources:
    """Where one repro's numbers could have been written before it ran (build once per repro)."""

    params: frozenset[str]  # keys of every number in the params
    inputs: tuple[tuple[str, str, Path], ...]  # (root-relative path, digest, file)
    bundle: tuple[str, str, Path] | None  # (root-relative path, seal, directory)


def sources(
    params: Mapping[str, Any], inputs: Iterable[tuple[str, str, Path]], bundle: tuple[str, str, Path] | None
) -> Sources:
    """The `Sources` of a repro: its params' numbers, its pinned inputs, its sealed bundle."""
    return Sources(frozenset(key(v) for v in _param_numbers(params)), tuple(inputs), bundle)


def find(computed: float, where: Sources, index: NumberIndex) -> Found | None:
    """Where `computed` appears verbatim first: params, then inputs, then the bundle; or None.

    Params match any number (to 12 significant digits); inputs and the
    bundle only a `distinctive` one.
    """
    computed = float(computed)
    if not math.isfinite(computed):
        return None
    wanted = key(computed)
    if wanted in where.params:
        return Found(computed, "manifest.yaml", "params")
    if not distinctive(computed):
        return None
    for shown, digest, path in where.inputs:
        hit = index.get(digest, lambda p=path, s=shown: index_file(p, s)).get(wanted)
        if hit is not None:
            return Found(computed, shown, "input")
    if where.bundle is not None:
        shown, seal, directory = where.bundle
        hit = index.get(seal, lambda: index_tree(directory, shown)).get(wanted)
        if hit is not None:
            return Found(computed, hit, "bundle")
    return None
