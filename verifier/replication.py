"""Fresh seeds for `--replicate`: derived from a nonce, so they are new and yet re-runnable.

The verifier re-running the seeds a claim's thresholds were chosen on only
pins a regression. A replication judges a multi-seed claim on seeds nobody
chose: `fresh_seeds(nonce, n, exclude)` are the first `n` values of

    seed_i = int(sha256("verify-replicate-v1:" + nonce + ":" + i)[:8 bytes]) mod 2**31

that are not among the manifest's seeds (`exclude`) and not repeated. The
verdict records the nonce and the seeds; `--replicate-nonce HEX` re-runs
exactly those seeds, and the runs are cached by their run keys like any
other run. Every claim of a session draws from the same stream, so claims
that read the same repro share its fresh runs.

Seeds stay below 2**31: every framework's seeding accepts them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from verifier.digest import raw_sha256

NONCE_RE = re.compile(r"^[0-9a-f]{8,64}$")
SEED_LIMIT = 2**31
NONCE_BYTES = 8


def new_nonce() -> str:
    """A fresh random nonce: 16 hex digits."""
    return secrets.token_hex(NONCE_BYTES)


def valid_nonce(nonce: str) -> bool:
    """8 to 64 lowercase hex digits."""
    return NONCE_RE.fullmatch(nonce) is not None


def fresh_seeds(nonce: str, count: int, exclude: Iterable[int] = ()) -> list[int]:
    """The first `count` seeds derived from `nonce`, none in `exclude`, none repeated.

    Raises `ValueError` for an invalid nonce or a negative count.
    """
    if not valid_nonce(nonce) or count < 0:
        raise ValueError(f"fresh seeds of nonce {nonce!r}, count {count}")
    skip = set(exclude)
    seeds: list[int] = []
    i = 0
    while len(seeds) < count:
        digest = raw_sha256(f"verify-replicate-v1:{nonce}:{i}".encode())
        seed = int.from_bytes(digest[:8], "big") % SEED_LIMIT
        if seed not in skip:
            skip.add(seed)
            seeds.append(seed)
        i += 1
    return seeds
