"""The stat cache: file digests remembered by file metadata, so intake re-hashes only what changed.

The digests themselves (file, bytes, and the tree digest that is a bundle's
seal) are defined in `verifier.digest`.

Threat model: the `StatCache` trusts file metadata (size, mtime, ctime,
inode) to skip re-hashing unchanged files, as git's index and build tools
do. ctime cannot be set back by an unprivileged writer, and entries younger
than `RACY_WINDOW_NS` are never trusted (git's "racy clean" problem). An
attacker who controls the kernel's clock is outside this model; pass
`cache=None` to hash every byte.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from verifier.digest import PREFIX, hex_of, read_file_digest

RACY_WINDOW_NS = 2_000_000_000


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
        """`sha256:<hex>` of `path`, from the cache when its metadata is unchanged.

        Raises `IntakeError` if the file cannot be read.
        """
        key = str(path)
        sig = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        hit = self._load().get(key)
        if hit is not None and hit[:4] == sig:
            return PREFIX + hit[4]
        value = read_file_digest(path)
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) >= self._racy_window_ns:
            entry = (*sig, hex_of(value))  # stored as bare hex, as caches written before
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
