"""What every subcommand shares: the application context and common options."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AppContext:
    """State shared by subcommands through `ctx.obj`."""

    root: Path
    home: Path

    @classmethod
    def create(cls, *, root: str) -> AppContext:
        root_path = Path(root).resolve()
        home = Path(os.environ["VERIFY_HOME"]).resolve() if os.environ.get("VERIFY_HOME") else root_path / ".verify"
        return cls(root=root_path, home=home)


def json_option(func: F) -> F:
    """`--json`: machine-readable output on stdout."""
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)


def backend_option(func: F) -> F:
    """`--backend`: which sandbox runs repros."""
    return click.option(
        "--backend",
        type=click.Choice(["auto", "bwrap", "docker", "process"]),
        default="auto",
        show_default=True,
        envvar="VERIFY_BACKEND",
        help="Sandbox backend; 'process' runs unsealed.",
    )(func)


def no_cache_option(func: F) -> F:
    """`--no-cache`: run repros even when the ledger has a run for the same key."""
    return click.option("--no-cache", is_flag=True, help="Run again even if a cached run exists.")(func)


def emit_json(payload: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))
