"""`verify ledger check`: walk the ledger's hash chain, every stored artifact and every envelope.

Exit status: 0 nothing wrong; 1 at least one problem (one line each on
stdout, or `--json`); 3 the ledger cannot be opened at all.
"""

from __future__ import annotations

from pathlib import Path

import click

from verifier.cli.common import AppContext, emit_json, json_option


@click.group()
def ledger() -> None:
    """Check the state under the verification home."""


@ledger.command()
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Public key to check envelope signatures with (default: the home's, if any).")
@json_option
@click.pass_context
def check(ctx: click.Context, key_path: Path | None, as_json: bool) -> None:
    """Re-walk the hash chain, re-hash every artifact, check every envelope's signature."""
    from verifier.state_check import check_state

    app: AppContext = ctx.obj
    key = None
    if key_path is not None:
        from verifier.attest.keys import load_public_key

        key = load_public_key(key_path)
    report = check_state(app.home, public_key=key)
    if as_json:
        emit_json(report.as_json())
    else:
        for problem in report.problems:
            click.echo(problem.line())
        click.echo(report.summary())
    if not report.ok:
        ctx.exit(1)
