"""`verify gc`: prune what no kept verdict, attestation or history entry needs (`verifier.gc`).

Exit status: 0 done (or, with `--dry-run`, planned); 2 bad usage; 3 the
ledger cannot be read or written.
"""

from __future__ import annotations

import click

from verifier.cli.common import AppContext, emit_json, json_option


@click.command()
@click.option("--keep", type=click.IntRange(min=1), default=10, show_default=True,
              help="Verdicts to keep per claim (with the runs and artifacts they need).")
@click.option("--dry-run", is_flag=True, help="List what would go, and how many bytes, without removing it.")
@json_option
@click.pass_obj
def gc(app: AppContext, keep: int, dry_run: bool, as_json: bool) -> None:
    """Remove old verdicts, unneeded runs and unreferenced artifacts; the hash chain stays whole."""
    from verifier.gc import collect

    def waiting() -> None:
        click.echo("verify gc: waiting for running verify commands to finish", err=True)

    plan = collect(app.home, keep=keep, dry_run=dry_run, on_wait=waiting)
    if as_json:
        emit_json(plan.as_json(dry_run=dry_run))
        return
    if dry_run:
        for line in plan.lines():
            click.echo(line)
    click.echo(plan.summary(dry_run=dry_run))
