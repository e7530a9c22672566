"""The `verify` command line: parse, call the library, print; nothing else.

Exit status, for every command (CONTRACT.md):

* 0 all verified, or nothing to do;
* 1 at least one claim refuted, or (audit) the correction chain is broken;
* 2 bad input: usage, unknown id, invalid manifest, path outside the root,
  seal or digest mismatch; nothing was run;
* 3 inconclusive: a repro crashed, timed out, hit a limit or wrote no valid
  results; or no sealed sandbox is available.

Subcommands live one per module (`verifier/cli/<name>.py`) and are imported
only when called, so `verify` starts fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence

import click

from verifier import __version__
from verifier.cli.common import AppContext, run_guarded

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
    ctx.obj = AppContext.create(root=root, verbose=verbose)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    return run_guarded(cli, list(argv) if argv is not None else sys.argv[1:])
