"""Build an objective by name (the axis experiments sweep over)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from repro.weam.objectives.codeswitch import CodeSwitchObjective
from repro.weam.objectives.contrastive import ContrastiveObjective, ContrastiveWEAMObjective
from repro.weam.objectives.mlm import MLMObjective, PairMLMObjective
from repro.weam.objectives.tlm import TLMObjective
from repro.weam.objectives.weam import WEAMObjective

Objective = (
    MLMObjective
    | PairMLMObjective
    | TLMObjective
    | WEAMObjective
    | CodeSwitchObjective
    | ContrastiveObjective
    | ContrastiveWEAMObjective
)


def _combined(vocab_size: int, max_len: int, **kw: Any) -> ContrastiveWEAMObjective:
    mu = kw.pop("mu", 1.0)
    kind = kw.pop("kind", "ams")
    return ContrastiveWEAMObjective(
        weam=WEAMObjective(vocab_size=vocab_size, max_len=max_len, **kw),
        contrastive=ContrastiveObjective(vocab_size=vocab_size, max_len=max_len, kind=kind),
        mu=mu,
    )


OBJECTIVE_FOR_NAME: dict[str, Callable[..., Objective]] = {
    "mlm": MLMObjective,
    "pair-mlm": PairMLMObjective,
    "tlm": TLMObjective,
    "weam": WEAMObjective,
    "codeswitch": CodeSwitchObjective,
    "contrastive": ContrastiveObjective,
    "infonce": lambda **kw: ContrastiveObjective(kind="infonce", **kw),
    "weam+contrastive": _combined,
}

# Objectives that read word links (from the aligner, gold, or random controls).
LINKED = frozenset({"weam", "codeswitch", "weam+contrastive"})


def build_objective(name: str, *, vocab_size: int, max_len: int = 64, **kw: Any) -> Objective:
    """Raises `KeyError` naming the known objectives if `name` is unknown."""
    try:
        factory = OBJECTIVE_FOR_NAME[name]
    except KeyError:
        raise KeyError(f"unknown objective {name!r}; known: {sorted(OBJECTIVE_FOR_NAME)}") from None
    return factory(vocab_size=vocab_size, max_len=max_len, **kw)
