"""`--executor`, `--ray-address` and `--ray-resources`: where `verify claim|paper|ci` runs its repros.

The three options reach the command as one `executor` argument, a
(name, `ClusterOptions` or None) pair, so a command gains one parameter.
Two tuning knobs come from the environment only: `VERIFY_RAY_MAX_RETRIES`
(tries again for a run whose node was lost, default 2) and
`VERIFY_RAY_WAIT_S` (how long a run may wait for a node that can hold it,
default 60; raise it where an autoscaler adds nodes).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from verifier.executors import ADDRESS_ENV, EXECUTOR_NAMES, ClusterOptions

F = TypeVar("F", bound=Callable[..., Any])
ExecutorChoice = tuple[str, ClusterOptions | None]
_RESOURCE = re.compile(r"^([^=\s]+)=(.+)$")
_PAIR = re.compile(r"^(.+):(\d+(?:\.\d+)?)$")  # the amount is after the last colon: names may hold colons


def parse_resources(values: tuple[str, ...]) -> dict[tuple[str, str], float]:
    """`REPRO=NAME:N[,NAME:N]` (REPRO may be `paper/repro`) -> {(selector, name): amount}.

    Names and amounts obey the rules of a manifest's `limits.resources`.
    Raises `click.BadParameter` for any other form.
    """
    from pydantic import ValidationError  # the models load only when the option is given

    from verifier.models import Limits

    wanted: dict[tuple[str, str], float] = {}
    for value in values:
        match = _RESOURCE.match(value)
        pairs = [_PAIR.match(pair) for pair in match.group(2).split(",") if pair] if match else []
        if match is None or not pairs or not all(pairs):
            raise click.BadParameter(f"{value!r} is not REPRO=NAME:N[,NAME:N]", param_hint="--ray-resources")
        asked = {pair.group(1): float(pair.group(2)) for pair in pairs if pair}
        try:
            Limits(resources=asked)
        except ValidationError as e:
            error = e.errors(include_url=False)[0]
            why = str(error["msg"]).removeprefix("Value error, ")
            for name in asked:  # the model's own rule names its field: the value already says which
                why = why.removeprefix(f"resources.{name}: ")
            raise click.BadParameter(f"{value!r}: {why}", param_hint="--ray-resources") from None
        for name, amount in asked.items():
            wanted[(match.group(1), name)] = amount
    return wanted


def _env_number(name: str, default: Any, kind: Callable[[str], Any]) -> Any:
    """A tuning knob from the environment. Raises `click.BadParameter` for a value that is not a number >= 0."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise click.BadParameter(f"{name}={raw!r} is not a number >= 0")
    return value


def executor_options(func: F) -> F:
    """Add the three options; the command receives them as `executor: ExecutorChoice`."""

    @functools.wraps(func)
    def command(*args: Any, executor: str, ray_address: str | None, ray_resources: tuple[str, ...], **kwargs: Any) -> Any:
        cluster = None
        if executor != "local":
            cluster = ClusterOptions(address=ray_address, resources=parse_resources(ray_resources),
                                     max_retries=_env_number("VERIFY_RAY_MAX_RETRIES", 2, int),
                                     infeasible_s=_env_number("VERIFY_RAY_WAIT_S", 60.0, float))
        return func(*args, executor=(executor, cluster), **kwargs)

    command = click.option(
        "--ray-resources", multiple=True, metavar="REPRO=NAME:N",
        help="Custom Ray resources a repro's runs need (repeatable; REPRO or PAPER/REPRO).",
    )(command)
    command = click.option(
        "--ray-address", envvar=ADDRESS_ENV, metavar="ADDR",
        help=f"Ray cluster to join (host:port or ray://host:10001); default ${ADDRESS_ENV}, else auto.",
    )(command)
    command = click.option(
        "--executor", type=click.Choice(sorted(EXECUTOR_NAMES)), default="local", show_default=True,
        envvar="VERIFY_EXECUTOR", help="Run repros on this machine (local) or on a Ray cluster (ray).",
    )(command)
    return command  # type: ignore[return-value]
