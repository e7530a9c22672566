"""The identity of the running verifier build, for caches of its own decisions.

`verify`'s stamps (`fastpath`) and its validated-manifest cache (`validated`)
hold answers that only this build would give: a different version, a
different interpreter, or any edited file of the package (an editable
install, the policy file) must miss them. Both key on `build_lines`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from verifier import __version__
from verifier.digest import walk_files

PACKAGE_DIR: Final = Path(__file__).resolve().parent  # the verifier's own files: a code change is a change


def stat_signature(st: os.stat_result) -> str:
    """What identifies a file's content without reading it (the stat cache's own rule)."""
    return f"{st.st_mode:o} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"


def build_lines(signature: Callable[[os.stat_result], str] = stat_signature) -> list[str]:
    """The version, the interpreter's binary, and one line per package file with its `signature`.

    Raises `OSError` or `IntakeError` (from the walk) when the package cannot be listed.
    """
    lines = [f"verifier {__version__}", f"python {sys.version} {os.path.realpath(sys.executable)}"]
    lines += [f"code {rel} {signature(st)}" for _, rel, st in walk_files(str(PACKAGE_DIR))]
    return lines
