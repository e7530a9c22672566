"""The `verify` command line: parse, call the library, print; nothing else.

Exit status, for every command (docs/reference/contract.md):

* 0 all verified, or nothing to do;
* 1 at least one claim refuted, or (audit) the correction chain is broken;
* 2 bad input: usage, unknown id, invalid manifest, path outside the root,
  seal or digest mismatch; nothing was run;
* 3 inconclusive: a repro crashed, timed out, hit a limit or wrote no valid
  results; or no sealed sandbox is available; or verify itself failed
  (`verify: internal error: ...`): a bug is never read as a verdict.

`main` is the one error boundary: a `VerifierError` becomes its
`verify: error: <file>: <field>: <what>` line(s) and its status, any other
exception one `verify: internal error: ...` line and status 3. With `-v`
the exception propagates instead (for a debugger); the console script
`console` then prints its traceback and still exits with that status.

Subcommands live one per module (`verifier/cli/<name>.py`) and are imported
only when called, so `verify` starts fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

import click

from verifier import __version__
from verifier.cli.common import AppContext
from verifier.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, VerifierError, one_line

# name -> "module:attribute"; imported lazily (hatch and click's LazyGroup pattern).
COMMAND_FOR_NAME: dict[str, str] = {
    "validate": "verifier.cli.validate:validate",
    "seal": "verifier.cli.seal:seal",
    "claim": "verifier.cli.verdicts:claim",
    "paper": "verifier.cli.verdicts:paper",
    "ci": "verifier.cli.verdicts:ci",
    "list": "verifier.cli.verdicts:list_claims",
    "history": "verifier.cli.verdicts:history",
    "correct": "verifier.cli.corrections:correct",
    "audit": "verifier.cli.corrections:audit",
    "keys": "verifier.cli.attest:keys",
    "attest": "verifier.cli.attest:attest",
    "show": "verifier.cli.report:show",
    "site": "verifier.cli.report:site",
    "schemas": "verifier.cli.schemas:schemas",
    "export": "verifier.cli.export:export",
    "badge": "verifier.cli.badge:badge",
    "hook": "verifier.cli.hooks:hook",
    "init": "verifier.cli.init:init",
    "lint": "verifier.cli.lint:lint",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMAND_FOR_NAME if self._importable(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMAND_FOR_NAME.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:  # the command is not built yet
                return None
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    @staticmethod
    def _importable(name: str) -> bool:
        module_name = COMMAND_FOR_NAME[name].split(":")[0]
        return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=str),
    envvar="VERIFY_ROOT",
    default=".",
    show_default=True,
    help="Verification root (or VERIFY_ROOT).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks for debugging.")
@click.version_option(__version__, prog_name="verify")
@click.pass_context
def cli(ctx: click.Context, root: str, verbose: bool) -> None:
    """Verify that the numbers a paper reports can be reproduced."""
    # `verbose` is read from argv by the boundary, which must know it even when parsing fails.
    ctx.obj = AppContext.create(root=root)


def main(argv: Sequence[str] | None = None, *, group: click.Group = cli) -> int:
    """Run `verify` (or `group`, for tests) and return the exit status; the module docstring says how errors end."""
    args = list(argv) if argv is not None else sys.argv[1:]
    verbose = "-v" in args or "--verbose" in args
    try:
        # Without standalone mode click returns a command's `ctx.exit(n)` status instead of exiting.
        status = group.main(args=args, prog_name="verify", standalone_mode=False)
    except VerifierError as e:
        if verbose:
            raise
        for line in e.lines():
            click.echo(f"verify: error: {line}", err=True)
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
    except Exception as e:
        if verbose:
            raise
        click.echo(f"verify: internal error: {internal_error_text(e)}; run with -v for the traceback", err=True)
        return EXIT_INTERNAL
    return status if isinstance(status, int) else 0


def internal_error_text(error: BaseException) -> str:
    """`Type: first line of the message`, one line, at most 300 characters."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = one_line(f"{type(error).__name__}: {message}" if message else type(error).__name__)
    return text if len(text) <= 300 else text[:297] + "..."


def console() -> NoReturn:
    """The `verify` console script: `main`, and with `-v` the traceback, then the same status."""
    try:
        status = main()
    except VerifierError as e:  # only with -v
        traceback.print_exc()
        for line in e.lines():
            click.echo(f"verify: error: {line}", err=True)
        status = e.exit_status
    except Exception as e:  # only with -v
        traceback.print_exc()
        click.echo(f"verify: internal error: {internal_error_text(e)}", err=True)
        status = EXIT_INTERNAL
    sys.exit(status)
