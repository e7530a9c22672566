"""Whether bubblewrap can create the namespaces a sealed run needs here (asked once per process).

Its own module, free of the backends' imports, so that the cached-verdict
fast path (`verifier.fastpath`) asks the same question `select_backend` does.
"""

from __future__ import annotations

import functools
import shutil
import subprocess


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """Try bwrap once with the namespaces we need; None if it works, else why not."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    probe = subprocess.run(
        [exe, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-net",
         "--unshare-pid", "--die-with-parent", "--cap-drop", "ALL", "true"],
        capture_output=True, text=True, check=False, timeout=30,
    )
    if probe.returncode != 0:
        first = (probe.stderr.strip().splitlines() or ["unknown error"])[0]
        return f"bwrap cannot create namespaces here: {first}"
    return None
