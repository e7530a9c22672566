"""`verify seal PAPER_ID`: (re)compute seals and input digests and write them into the manifest."""

from __future__ import annotations

import click

from verifier.cli.common import AppContext, emit_json, json_option
from verifier.manifests import seal_manifest
from verifier.root import VerificationRoot
from verifier.seal import StatCache


@click.command()
@click.argument("paper_id")
@json_option
@click.pass_obj
def seal(app: AppContext, paper_id: str, as_json: bool) -> None:
    """Write the seal of every bundle and the digest of every input into PAPER_ID's manifest."""
    root = VerificationRoot.at(app.root)
    cache = StatCache(app.home)
    changes = seal_manifest(root, paper_id, cache=cache)
    cache.flush()
    if as_json:
        emit_json({"paper": paper_id, "changed": [{"field": f, "value": v} for f, v in changes]})
        return
    for field, value in changes:
        click.echo(f"{paper_id}: {field} = {value}")
    click.echo(f"{paper_id}: sealed ({len(changes)} value(s) changed)")
