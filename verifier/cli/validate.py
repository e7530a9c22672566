"""`verify validate [PAPER_ID ...]`: intake only (schemas, paths, seals)."""

from __future__ import annotations

import click

from verifier.cli.common import AppContext, emit_json, json_option
from verifier.errors import EXIT_BAD_INPUT, ReportedErrors
from verifier.intake import validate_papers


@click.command()
@click.argument("paper_ids", nargs=-1)
@json_option
@click.pass_obj
def validate(app: AppContext, paper_ids: tuple[str, ...], as_json: bool) -> None:
    """Check manifests, paths and seals of the given papers (default: all)."""
    results = validate_papers(app.root, app.home, list(paper_ids))
    if as_json:
        emit_json({"papers": [r.as_json() for r in results], "ok": all(r.ok for r in results)})
    else:
        for result in results:
            click.echo(result.line())
    failures = [r.error for r in results if r.error is not None]
    if failures:
        raise ReportedErrors([] if as_json else failures, EXIT_BAD_INPUT)
