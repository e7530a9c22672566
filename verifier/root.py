"""The verification root: where manifests live and what paths may point at.

Every path in a manifest is relative to the root and must stay inside it
after resolving `..` and symlinks (CONTRACT.md); `resolve_inside` is the one
place that decides.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from verifier.errors import IntakeError

# The id forms live here, not in `verifier.models`, so that code which only
# names papers and claims (the cached-verdict fast path) need not build the models.
PAPER_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"
_PAPER_ID = re.compile(PAPER_ID_PATTERN)
_GLOBAL_CLAIM_ID = re.compile(r"^([^/]+)/([^/]+)$")


def split_claim_id(global_id: str) -> tuple[str, str]:
    """`paper/claim` -> (paper, claim). Raises `IntakeError` for any other form."""
    match = _GLOBAL_CLAIM_ID.match(global_id)
    if match is None:
        raise IntakeError(f"malformed claim id {global_id!r} (expected PAPER_ID/CLAIM_ID)")
    return match.group(1), match.group(2)


@dataclass(frozen=True)
class VerificationRoot:
    """A directory holding `manifests/<paper-id>/manifest.yaml` and the bundles they cite.

    A root made by `for_one_pass` remembers each directory it resolved (see
    `_realpath`); a plain one resolves every path afresh.
    """

    path: Path
    _dirs: dict[str, str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def at(cls, path: Path) -> VerificationRoot:
        """The root at `path`, resolved. Raises `IntakeError` if it is not a directory."""
        resolved = path.resolve()
        if not resolved.is_dir():
            raise IntakeError("verification root is not a directory", file=path)
        return cls(resolved)

    def for_one_pass(self) -> VerificationRoot:
        """This root, remembering resolved directories for the length of one pass (one intake call).

        A thousand papers share the root's directories; each is resolved once.
        A symlink swapped during the pass may go unseen by the rest of it, as
        one swapped between a resolve and a read always can; the next pass sees it.
        """
        return VerificationRoot(self.path, {})

    @property
    def manifests_dir(self) -> Path:
        return self.path / "manifests"

    def paper_ids(self) -> list[str]:
        """Ids of every paper under `manifests/` that has a manifest, sorted."""
        if not self.manifests_dir.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.manifests_dir.iterdir()
            if (entry / "manifest.yaml").is_file()
        )

    def manifest_path(self, paper_id: str) -> Path:
        """Path of a paper's manifest. Raises `IntakeError` for a malformed or unknown id."""
        if not _PAPER_ID.fullmatch(paper_id):
            raise IntakeError(f"malformed paper id {paper_id!r} (expected {PAPER_ID_PATTERN})")
        # strings, not `/`: intake calls this for every paper, and pathlib's joins cost more than the stat
        path = os.path.join(self.path, "manifests", paper_id, "manifest.yaml")
        if not os.path.isfile(path):
            raise IntakeError(f"unknown paper {paper_id!r}: no {self.relative(Path(path))}")
        return Path(path)

    def resolve_inside(self, relative: str, *, file: Path, field: str) -> Path:
        """Resolve a manifest path against the root, refusing anything that leaves it.

        Raises `IntakeError` naming `file` and `field` for an absolute path, a
        path that leaves the root through `..` or a symlink, or a NUL byte.
        """
        if "\0" in relative:
            raise IntakeError("path contains a NUL byte", file=file, field=field)
        if relative.startswith("/") or os.path.isabs(relative):  # PurePosixPath's and the host's rule
            raise IntakeError(f"path {relative!r} is absolute; paths are relative to the root", file=file, field=field)
        # os.path.realpath resolves `..` and every symlink, like Path.resolve, at a fraction of its cost.
        joined = os.path.join(self._prefix, relative)
        try:
            resolved = self._realpath(joined)
        except FileNotFoundError:
            resolved = os.path.realpath(joined)  # a missing file is reported by the caller
            _refuse_loop(resolved, relative, file=file, field=field)
        except OSError as e:  # a symlink loop, a component that is not a directory
            raise IntakeError(f"path {relative!r} cannot be resolved: {e.strerror}", file=file, field=field) from e
        if not (resolved + os.sep).startswith(self._prefix):
            raise IntakeError(f"path {relative!r} leaves the verification root", file=file, field=field)
        return Path(resolved)

    def _realpath(self, path: str) -> str:
        """`os.path.realpath(path, strict=True)`, taking the parent's from the pass's memo when there is one.

        Only a leaf that exists and is not a symlink is joined to its parent's
        resolved path (what realpath computes for it); anything else, and any
        error, is realpath's own.
        """
        if self._dirs is None:
            return os.path.realpath(path, strict=True)
        parent, name = os.path.split(path)
        if not parent or name in ("", ".", "..") or parent == path:
            return os.path.realpath(path, strict=True)
        try:
            link = stat.S_ISLNK(os.lstat(path).st_mode)
        except OSError:
            link = True
        if link:
            return os.path.realpath(path, strict=True)
        resolved = self._dirs.get(parent)
        if resolved is None:
            resolved = self._dirs[parent] = self._realpath(parent)
        return os.path.join(resolved, name)

    @property
    def _prefix(self) -> str:
        return str(self.path).rstrip(os.sep) + os.sep

    def relative(self, path: Path) -> str:
        """`path` relative to the root when inside it (for messages), else as given."""
        try:
            return path.relative_to(self.path).as_posix()
        except ValueError:
            return str(path)


def _refuse_loop(resolved: str, relative: str, *, file: Path, field: str) -> None:
    """Refuse a path that non-strict realpath left on a symlink loop (`a/missing/../loop`).

    Raises `IntakeError` when stat-ing `resolved` meets a loop; a plainly missing file passes.
    """
    try:
        os.stat(resolved)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise IntakeError(f"path {relative!r} cannot be resolved: {e.strerror}", file=file, field=field) from e
