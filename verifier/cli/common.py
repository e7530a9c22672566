"""What every subcommand shares: the application context, common options, error boundary."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from verifier.cancel import Interrupted
from verifier.errors import EXIT_BAD_INPUT, VerifierError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AppContext:
    """State shared by subcommands through `ctx.obj`."""

    root: Path
    home: Path
    verbose: bool

    @classmethod
    def create(cls, *, root: str, verbose: bool) -> AppContext:
        root_path = Path(root).resolve()
        home = Path(os.environ["VERIFY_HOME"]).resolve() if os.environ.get("VERIFY_HOME") else root_path / ".verify"
        return cls(root=root_path, home=home, verbose=verbose)


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


def fail(ctx: click.Context, status: int) -> None:
    """Leave the command with `status` (click's way, so tests see it)."""
    ctx.exit(status)


def run_guarded(group: click.Group, argv: list[str]) -> int:
    """Run the click group; turn every `VerifierError` into one stderr line and its status.

    With `-v` the traceback is shown instead. Usage errors keep click's own
    message and get exit status 2, as the contract says.
    """
    verbose = "-v" in argv or "--verbose" in argv
    try:
        # Without standalone mode click returns a command's `ctx.exit(n)` status instead of exiting.
        status = group.main(args=argv, prog_name="verify", standalone_mode=False)
    except Interrupted as e:
        click.echo(f"verify: {e}", err=True)
        return e.exit_status
    except VerifierError as e:
        if verbose:
            raise
        click.echo(f"verify: error: {e.diagnostics()}", err=True)
        return e.exit_status
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.ClickException as e:
        e.show()
        return EXIT_BAD_INPUT
    except click.exceptions.Abort:
        click.echo("verify: aborted", err=True)
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    return status if isinstance(status, int) else 0
