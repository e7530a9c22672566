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
    """A directory holding `manifests/<paper-id>/manifest.yaml` and the bundles they cite."""

    path: Path
    # Set by `at`: `path` is a real path, so a path under it with no symlink is its own realpath.
    _real: bool = field(default=False, compare=False, repr=False)

    @classmethod
    def at(cls, path: Path) -> VerificationRoot:
        """The root at `path`, resolved. Raises `IntakeError` if it is not a directory."""
        resolved = path.resolve()
        if not resolved.is_dir():
            raise IntakeError("verification root is not a directory", file=path)
        return cls(resolved, True)

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
            resolved = self._realpath(joined, relative)
        except FileNotFoundError:
            resolved = os.path.realpath(joined)  # a missing file is reported by the caller
            _refuse_loop(resolved, relative, file=file, field=field)
        except OSError as e:  # a symlink loop, a component that is not a directory
            raise IntakeError(f"path {relative!r} cannot be resolved: {e.strerror}", file=file, field=field) from e
        if not (resolved + os.sep).startswith(self._prefix):
            raise IntakeError(f"path {relative!r} leaves the verification root", file=file, field=field)
        return Path(resolved)

    def _realpath(self, joined: str, relative: str) -> str:
        """`os.path.realpath(joined, strict=True)`, by `plain_realpath` when that is enough."""
        plain = plain_realpath(str(self.path), relative) if self._real else None
        return plain if plain is not None else os.path.realpath(joined, strict=True)

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


def plain_realpath(real_base: str, relative: str) -> str | None:
    """The realpath of `relative` under the real directory `real_base`, when an lstat of each component shows it.

    A relative path of plain names (no `.`, `..` or empty part) none of which
    is a symlink is its own realpath: the same lstat calls realpath makes,
    without its bookkeeping (intake and the fast path resolve every path of
    every paper on every call). None for anything else (a symlink, a missing
    part, any error): the caller asks `os.path.realpath`, whose answer that is.
    """
    parts = relative.split("/")
    if "" in parts or "." in parts or ".." in parts:
        return None
    path = real_base.rstrip(os.sep)
    for part in parts:
        path = f"{path}{os.sep}{part}"
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return None
        except OSError:
            return None
    return path

