"""The artifact store (content-addressed objects under a home) and the one atomic file write.

```
<home>/artifacts/sha256/<2 hex>/<62 hex>   an object, named by the digest of its bytes, read-only
<home>/artifacts/tmp/                      writes in progress (never under a digest)
```

An object appears whole or not at all: its bytes go to a temp file, are
fsync'd, and the file is renamed to its digest's path (then the directory is
fsync'd, so the rename survives a crash too). `atomic_write` does the same
for any other file the verifier writes (an envelope, an index, a manifest,
a key): a reader sees the old file or the new one, never half of one.

The ledger keeps its run logs and outputs here; attestations keep their
envelopes here; `verify show` and `verify site` link and copy from here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Final

from verifier.digest import PREFIX, hex_of
from verifier.errors import LedgerError

ARTIFACTS_DIR: Final = "artifacts"
_CHUNK: Final = 1 << 20  # streaming buffer for put_file
_STALE_TMP_S: Final = 24 * 3600  # a temp file this old belongs to a writer that died


def atomic_write(path: Path, data: bytes, *, mode: int | None = None, exclusive: bool = False) -> Path:
    """Write `data` to `path` atomically: temp file beside it, fsync, rename, fsync the directory.

    `mode` sets the file's permission bits from the first byte on (a key is
    never readable by others, not even for an instant). With `exclusive`
    the file must not exist: the temp file is hard-linked to `path`, which
    fails instead of replacing, so of two concurrent writers exactly one wins.

    Raises `FileExistsError` (with `exclusive`) if `path` exists, `OSError`
    if it cannot be written.
    Side effects: creates parent directories.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # Without `mode`, the umask decides, as for any file the user creates.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # the umask may have taken bits away
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArtifactStore:
    """Content-addressed objects under `<home>/artifacts/` (module docstring)."""

    def __init__(self, home: Path) -> None:
        """The store of `home`; nothing is created until `open` or a write."""
        self.home = Path(home)
        self.root = self.home / ARTIFACTS_DIR

    def open(self) -> ArtifactStore:
        """Create the directories and sweep temp files of writers that died a day ago.

        Raises `OSError` if the directories cannot be created.
        """
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        now = time.time()
        for tmp in (self.root / "tmp").iterdir():
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > _STALE_TMP_S:
                    tmp.unlink()
        return self

    def path(self, digest: str) -> Path:
        """Where the object with this digest lives (whether or not it exists).

        Raises `LedgerError` if `digest` is not `sha256:<64 hex>`.
        """
        try:
            hexpart = hex_of(digest)
        except ValueError as e:
            raise LedgerError(str(e)) from e
        return self.root / "sha256" / hexpart[:2] / hexpart[2:]

    def relative(self, digest: str) -> str:
        """The object's path relative to the home, POSIX form (what indexes and pages link)."""
        return self.path(digest).relative_to(self.home).as_posix()

    def put_bytes(self, data: bytes) -> str:
        """Store bytes; return their digest `sha256:<hex>`.

        Raises `LedgerError` if the object cannot be written.
        Side effects: writes the object atomically (module docstring).
        """
        digest = PREFIX + hashlib.sha256(data).hexdigest()
        if self._present(digest, len(data)):
            return digest
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.root / "tmp", prefix="put-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self._publish(Path(tmp), digest)
        except OSError as e:
            _discard(tmp)
            raise LedgerError(f"cannot store artifact {digest}: {e}") from e
        return digest

    def put_file(self, path: Path) -> str:
        """Store a file's bytes, streaming; return their digest.

        Raises `LedgerError` if the file cannot be read or the object written.
        Side effects: as `put_bytes`; the file is copied once, into a temp
        file that is hashed as it is written and then renamed.
        """
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.root / "tmp", prefix="put-")
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                buf = bytearray(_CHUNK)
                view = memoryview(buf)
                while n := src.readinto(buf):
                    h.update(view[:n])
                    out.write(view[:n])
                out.flush()
                os.fsync(out.fileno())
            digest = PREFIX + h.hexdigest()
            if self._present(digest, os.path.getsize(tmp)):
                _discard(tmp)
            else:
                self._publish(Path(tmp), digest)
            return digest
        except OSError as e:
            _discard(tmp)
            raise LedgerError(f"cannot store {path}: {e}") from e

    def get_bytes(self, digest: str) -> bytes:
        """The bytes of a stored object, after re-checking their digest.

        Raises `LedgerError` if the object is missing or its bytes no longer match the digest.
        """
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError as e:
            raise LedgerError(f"artifact {digest} is missing from {self.root}") from e
        except OSError as e:
            raise LedgerError(f"artifact {digest} is unreadable: {e}") from e
        if PREFIX + hashlib.sha256(data).hexdigest() != digest:
            raise LedgerError(f"artifact {digest} is corrupt: its bytes no longer match the digest")
        return data

    def _present(self, digest: str, size: int) -> bool:
        # Objects only ever appear whole (rename), so a matching size means
        # the object is there; get_bytes re-hashes on every read anyway.
        try:
            return self.path(digest).stat().st_size == size
        except FileNotFoundError:
            return False

    def _publish(self, tmp: Path, digest: str) -> None:
        """Rename a complete, fsynced temp file to its digest's path (atomic on POSIX)."""
        final = self.path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp.chmod(0o444)
        os.replace(tmp, final)
        _fsync_dir(final.parent)  # so the rename itself survives a crash


def _discard(tmp: str | None) -> None:
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
