"""File and tree digests: the seals of repro bundles and the digests of inputs.

A **file digest** is the hex SHA-256 of the file's bytes, streamed.

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

Threat model: the `StatCache` trusts file metadata (size, mtime, ctime,
inode) to skip re-hashing unchanged files, as git's index and build tools
do. ctime cannot be set back by an unprivileged writer, and entries younger
than `RACY_WINDOW_NS` are never trusted (git's "racy clean" problem). An
attacker who controls the kernel's clock is outside this model; pass
`cache=None` to hash every byte.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from verifier.errors import IntakeError

IGNORED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"})
IGNORED_SUFFIXES = (".pyc",)
CHUNK = 1 << 20
RACY_WINDOW_NS = 2_000_000_000


def sha256_file(path: Path | str) -> str:
    """Hex SHA-256 of a file, streamed through one reused buffer.

    Raises `IntakeError` if the file cannot be read.
    """
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    try:
        with open(path, "rb", buffering=0) as handle:
            while n := handle.readinto(buffer):
                digest.update(view[:n])
    except OSError as e:
        raise IntakeError(f"cannot read: {e.strerror}", file=path) from e
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """`sha256:<hex>` of bytes, the contract's digest form."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class StatCache:
    """Remembers file digests by (path, size, mtime, ctime, inode), in SQLite.

    Side effects: creates `<home>/statcache.sqlite3` on the first `flush`.
    A cache that cannot be written (read-only home) is silently not kept:
    it only saves time, never changes an answer.
    """

    def __init__(self, home: Path, *, racy_window_ns: int = RACY_WINDOW_NS) -> None:
        self._file = home / "statcache.sqlite3"
        self._racy_window_ns = racy_window_ns
        self._entries: dict[str, tuple[int, int, int, int, str]] | None = None
        self._dirty: dict[str, tuple[int, int, int, int, str]] = {}

    def _load(self) -> dict[str, tuple[int, int, int, int, str]]:
        if self._entries is None:
            self._entries = {}
            if self._file.exists():
                try:
                    with sqlite3.connect(self._file) as db:
                        for row in db.execute("SELECT path, size, mtime, ctime, inode, digest FROM files"):
                            self._entries[row[0]] = (row[1], row[2], row[3], row[4], row[5])
                except sqlite3.Error:
                    self._entries = {}  # a damaged cache is only a slower run
        return self._entries

    def digest(self, path: Path | str, st: os.stat_result) -> str:
        """Hex SHA-256 of `path`, from the cache when its metadata is unchanged."""
        key = str(path)
        sig = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        hit = self._load().get(key)
        if hit is not None and hit[:4] == sig:
            return hit[4]
        value = sha256_file(path)
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) >= self._racy_window_ns:
            entry = (*sig, value)
            self._load()[key] = entry
            self._dirty[key] = entry
        return value

    def flush(self) -> None:
        """Write new entries; never raises."""
        if not self._dirty:
            return
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(self._file, timeout=30) as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER,"
                    " ctime INTEGER, inode INTEGER, digest TEXT)"
                )
                db.executemany(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                    [(k, *v) for k, v in self._dirty.items()],
                )
            self._dirty.clear()
        except (OSError, sqlite3.Error):
            pass


@dataclass(frozen=True)
class TreeEntry:
    """One line of a tree digest."""

    path: str
    mode: str
    sha256: str

    def line(self) -> bytes:
        return f"{self.mode} {self.sha256} {self.path}\n".encode()


def tree_entries(bundle: Path, cache: StatCache | None = None) -> list[TreeEntry]:
    """The sorted entries of a bundle's tree digest (see the module docstring).

    Raises `IntakeError` for a symlink leaving the bundle, a device, FIFO or
    socket, a newline in a name, or an unreadable file.
    """
    root = os.path.realpath(bundle)
    entries: list[TreeEntry] = []
    for path, rel, st in _walk(root):
        if "\n" in rel or "\r" in rel:
            raise IntakeError("a file name contains a line break", file=path)
        if stat.S_ISLNK(st.st_mode):
            _refuse_escaping_link(path, root)
            target = os.fsencode(os.readlink(path))
            entries.append(TreeEntry(rel, "120000", hashlib.sha256(target).hexdigest()))
        elif stat.S_ISREG(st.st_mode):
            mode = "100755" if st.st_mode & 0o111 else "100644"
            digest = cache.digest(path, st) if cache is not None else sha256_file(path)
            entries.append(TreeEntry(rel, mode, digest))
        else:
            raise IntakeError(f"not a regular file, directory or symlink ({_kind(st.st_mode)})", file=path)
    entries.sort(key=lambda e: e.path.encode())
    return entries


def tree_digest(bundle: Path, cache: StatCache | None = None) -> str:
    """The seal of a bundle: `sha256:<hex>` (see the module docstring).

    Raises `IntakeError` as `tree_entries` does, or if `bundle` is not a directory.
    """
    if not bundle.is_dir():
        raise IntakeError("bundle is not a directory", file=bundle)
    digest = hashlib.sha256()
    for entry in tree_entries(bundle, cache):
        digest.update(entry.line())
    return "sha256:" + digest.hexdigest()


def _walk(root: str) -> Iterator[tuple[str, str, os.stat_result]]:
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
