"""Gate 2 for proof claims: type-check a Lean 4 file and find the theorem in it.

Lean's elaborator can run code while it checks (`#eval` may do IO), so a
proof file is untrusted code: when bubblewrap is present, Lean runs with a
read-only view of the system, a private /tmp, no network and its own PID
namespace; without bubblewrap it runs on the host, and the verdict's reason
says so. The proof file is pinned by its digest at Gate 0. A file
that type-checks but proves the theorem with `sorry` is refuted: Lean accepts
it with a warning, and a proof with a hole proves nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from verifier.manifests import LoadedManifest
from verifier.models import Claim, Status

LEAN_TIMEOUT_S = 600


def check_proof(manifest: LoadedManifest, claim: Claim) -> tuple[Status, str]:
    """(status, reason) of a proof claim; never raises."""
    assert claim.proof is not None
    lean = shutil.which("lean")
    source = manifest.path.parents[2] / claim.proof.file
    if not source.is_file():
        return "inconclusive", f"proof file {claim.proof.file} does not exist"
    text = source.read_text(encoding="utf-8", errors="replace")
    # not `\b` after the name: Lean names may end in ' ! ? (add_comm'), where \b finds no boundary
    if not re.search(rf"\b(theorem|lemma)\s+{re.escape(claim.proof.theorem)}(?![\w'.!?])", text):
        return "refuted", f"Lean 4 proof: {claim.proof.file} declares no theorem {claim.proof.theorem}"
    if lean is None:
        return "inconclusive", f"Lean 4 is not installed (no `lean` on PATH): cannot type-check {claim.proof.file}"
    argv, contained = _contained([lean, str(source)])
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=LEAN_TIMEOUT_S, cwd=source.parent)
    except subprocess.TimeoutExpired:
        return "inconclusive", f"Lean 4 did not finish type-checking {claim.proof.file} in {LEAN_TIMEOUT_S} s"
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        first = output.splitlines()[0] if output else f"exit status {done.returncode}"
        return "refuted", f"Lean 4 proof: {claim.proof.file} does not type-check: {first}"
    if "declaration uses 'sorry'" in output:
        return "refuted", f"Lean 4 proof: {claim.proof.theorem} uses sorry"
    where = "" if contained else " (Lean ran unsandboxed: bubblewrap is not installed)"
    return "verified", f"Lean 4 proof: {claim.proof.theorem} type-checks in {claim.proof.file}{where}"


def _contained(argv: list[str]) -> tuple[list[str], bool]:
    """Wrap a command in bubblewrap (read-only system, no network), when bubblewrap exists."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return argv, False
    sandbox = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
               "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--"]
    return sandbox + argv, True
