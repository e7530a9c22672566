"""`verify init PAPER_ID`: write a manifest skeleton and a repro bundle that verify as written."""

from __future__ import annotations

import click

from verifier.cli.common import AppContext, emit_json, json_option
from verifier.scaffold import write_scaffold


@click.command()
@click.argument("paper_id")
@click.option("--bundle", metavar="DIR", help="Bundle directory under the root (default: repros/PAPER_ID).")
@json_option
@click.pass_obj
def init(app: AppContext, paper_id: str, bundle: str | None, as_json: bool) -> None:
    """Start a new paper: a commented manifest with one claim of each kind, and its repro."""
    done = write_scaffold(app.root, paper_id, bundle=bundle)
    if as_json:
        emit_json({"paper": paper_id, "manifest": done.manifest, "bundle": done.bundle, "files": done.files})
        return
    for path in done.files:
        click.echo(f"wrote {path}")
    click.echo(f"next: verify seal {paper_id} && verify paper {paper_id}")
