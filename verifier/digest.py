"""Digests, in one form everywhere: `sha256:` + 64 lowercase hex.

A **file digest** (`file_digest`) and a **bytes digest** (`bytes_digest`) are
`sha256:` + the hex SHA-256 of the bytes, the contract's form; `hex_of` gives
the bare hex where a format wants it (a manifest's `inputs[].sha256`, an
in-toto DigestSet, a tree line).

A **tree digest** (a bundle's seal) is defined as follows, so that anyone can
recompute it without this code:

1. Walk the bundle directory recursively. Skip the directories named in
   `IGNORED_DIRS` (interpreter caches such as `__pycache__`; they are written
   by local imports, never read by a sealed run) and files ending in `.pyc`.
2. Every other entry must be a regular file, a directory, or a symlink whose
   target resolves inside the bundle. A symlink leaving the bundle, a device,
   a FIFO or a socket is refused, and so is a path containing a newline.
3. For each regular file, one line `<mode> <sha256-hex> <path>\\n`, where
   `<mode>` is `100755` if any execute bit is set, else `100644`, and
   `<path>` is the POSIX path relative to the bundle. For each symlink,
   `120000 <sha256-hex of the link text> <path>\\n`. Directories add no line
   (an empty directory does not change the seal), as in git.
4. Sort the lines by the bytes of `<path>` (UTF-8); the seal is
   `sha256:` + hex SHA-256 of the concatenated lines.

Equivalent shell, for a bundle without symlinks:

    find . \\( -name __pycache__ -prune \\) -o -type f ! -name '*.pyc' -printf '%P\\n' \\
      | LC_ALL=C sort | while IFS= read -r f; do
          [ -x "$f" ] && m=100755 || m=100644
          printf '%s %s %s\\n' "$m" "$(sha256sum < "$f" | cut -d' ' -f1)" "$f"
        done | sha256sum

File names, modes and contents count; owners, times and the bundle's own
location do not, so identical trees on different machines seal the same.

This module is the only place that calls `hashlib.sha256` for the verifier's
digests (besides the ledger's chained entry hash, `raw_sha256`).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from verifier.errors import IntakeError

PREFIX: Final = "sha256:"
DIGEST_PATTERN: Final = r"^sha256:[0-9a-f]{64}$"
DIGEST_RE: Final = re.compile(DIGEST_PATTERN)
IGNORED_DIRS: Final = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"})
IGNORED_SUFFIXES: Final = (".pyc",)
CHUNK: Final = 1 << 20


def bytes_digest(data: bytes) -> str:
    """`sha256:<hex>` of bytes."""
    return PREFIX + hashlib.sha256(data).hexdigest()


def raw_sha256(data: bytes) -> bytes:
    """The 32 raw bytes of SHA-256 (for hash chains that hash hashes)."""
    return hashlib.sha256(data).digest()


def file_digest(path: Path | str, *, follow_symlinks: bool = True) -> str:
    """`sha256:<hex>` of a file's bytes, streamed through one reused buffer.

    With `follow_symlinks=False` a symlink is refused (`O_NOFOLLOW`): a
    repro's outputs must never lead the host to read elsewhere.

    Raises `OSError` if the file cannot be read.
    """
    hasher = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    flags = os.O_RDONLY | (0 if follow_symlinks else os.O_NOFOLLOW)
    with os.fdopen(os.open(path, flags), "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            hasher.update(view[:n])
    return PREFIX + hasher.hexdigest()


def hex_of(digest: str) -> str:
    """The hex part of a `sha256:<hex>` digest.

    Raises `ValueError` if `digest` is not `sha256:` followed by 64 lowercase hex digits.
    """
    if not DIGEST_RE.match(digest):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return digest[len(PREFIX) :]


def read_file_digest(path: Path | str) -> str:
    """`file_digest`, with a read failure as `IntakeError` (bad input, exit 2) naming the file."""
    try:
        return file_digest(path)
    except OSError as e:
        raise IntakeError(f"cannot read: {e.strerror}", file=path) from e


class FileDigests(Protocol):
    """A source of file digests that may skip re-hashing (`verifier.seal.StatCache`)."""

    def digest(self, path: Path | str, st: os.stat_result) -> str: ...


@dataclass(frozen=True)
class TreeEntry:
    """One line of a tree digest."""

    path: str
    mode: str
    sha256: str  # bare hex: the line format is `<mode> <hex> <path>`

    def line(self) -> bytes:
        """`<mode> <hex> <path>\\n`."""
        return f"{self.mode} {self.sha256} {self.path}\n".encode()


def tree_entries(bundle: Path, cache: FileDigests | None = None, *, resolved: bool = False) -> list[TreeEntry]:
    """The sorted entries of a bundle's tree digest (see the module docstring).

    `resolved`: `bundle` is already a real path (no symlink, no `..`), as intake's step 5 leaves it.
    Raises `IntakeError` for a symlink leaving the bundle, a device, FIFO or
    socket, a newline in a name, or an unreadable file.
    """
    root = str(bundle) if resolved else os.path.realpath(bundle)
    entries: list[TreeEntry] = []
    for path, rel, st in walk_files(root):
        if "\n" in rel or "\r" in rel:
            raise IntakeError("a file name contains a line break", file=path)
        if stat.S_ISLNK(st.st_mode):
            _refuse_escaping_link(path, root)
            target = os.fsencode(os.readlink(path))
            entries.append(TreeEntry(rel, "120000", hex_of(bytes_digest(target))))
        elif stat.S_ISREG(st.st_mode):
            mode = "100755" if st.st_mode & 0o111 else "100644"
            digest = cache.digest(path, st) if cache is not None else read_file_digest(path)
            entries.append(TreeEntry(rel, mode, hex_of(digest)))
        else:
            raise IntakeError(f"not a regular file, directory or symlink ({_kind(st.st_mode)})", file=path)
    entries.sort(key=lambda e: e.path.encode())
    return entries


def tree_digest(bundle: Path, cache: FileDigests | None = None, *, resolved: bool = False) -> str:
    """The seal of a bundle: `sha256:<hex>` (see the module docstring); `resolved` as for `tree_entries`.

    Raises `IntakeError` as `tree_entries` does, or if `bundle` is not a directory.
    """
    if not bundle.is_dir():
        raise IntakeError("bundle is not a directory", file=bundle)
    hasher = hashlib.sha256()
    for entry in tree_entries(bundle, cache, resolved=resolved):
        hasher.update(entry.line())
    return PREFIX + hasher.hexdigest()


def walk_files(root: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """Yield (path, posix path relative to root, lstat) of every non-directory entry.

    Plain strings and `os.scandir` rather than `pathlib`: intake walks every
    bundle on every call, and this is its hot loop.
    """
    stack = [("", root)]
    while stack:
        rel_dir, directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                children = list(it)
        except OSError as e:
            raise IntakeError(f"cannot list: {e.strerror}", file=directory) from e
        for child in children:
            st = child.stat(follow_symlinks=False)
            rel = f"{rel_dir}/{child.name}" if rel_dir else child.name
            if stat.S_ISDIR(st.st_mode):
                if child.name not in IGNORED_DIRS:
                    stack.append((rel, child.path))
            elif not child.name.endswith(IGNORED_SUFFIXES):
                yield child.path, rel, st


def _refuse_escaping_link(link: str, root: str) -> None:
    try:
        resolved = Path(link).resolve(strict=False)
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop
        raise IntakeError(f"symlink cannot be resolved: {e}", file=link) from e
    if not resolved.is_relative_to(root):
        raise IntakeError(f"symlink points outside the bundle (to {resolved})", file=link)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "an unknown file type"
