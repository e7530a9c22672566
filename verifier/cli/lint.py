"""`verify lint [PAPER_ID ...]`: claims that are weak by construction (see `verifier.lint`).

Exit status: 0 no findings (waived ones aside), 1 at least one finding,
2 bad input (an unknown paper or an invalid manifest: nothing was linted).
"""

from __future__ import annotations

import click

from verifier.cli.common import AppContext, emit_json, json_option
from verifier.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUTED, IntakeError
from verifier.lint import PaperLint, lint_paper
from verifier.manifests import load_manifest
from verifier.root import VerificationRoot


@click.command()
@click.argument("paper_ids", nargs=-1, metavar="[PAPER_ID]...")
@json_option
@click.pass_obj
def lint(app: AppContext, paper_ids: tuple[str, ...], as_json: bool) -> None:
    """Find claims that cannot fail, cannot pass, or pass on nothing (every paper when none is named)."""
    root = VerificationRoot.at(app.root)
    ids = list(paper_ids) or root.paper_ids()
    results: list[PaperLint] = []
    errors: list[dict[str, str]] = []
    for paper in ids:
        try:
            # Lint reads the manifest as written: it runs before `verify seal`, so seals are not checked.
            results.append(lint_paper(load_manifest(root, paper, check_seals=False)))
        except IntakeError as e:
            if paper_ids and len(paper_ids) == 1:
                raise
            errors.append({"paper": paper, "error": e.diagnostics()})
    findings = [f for r in results for f in r.findings]
    if as_json:
        emit_json({"papers": [r.as_json() for r in results], "errors": errors,
                   "findings": len(findings), "waived": sum(len(r.waived) for r in results)})
    else:
        for finding in findings:
            click.echo(finding.line())
        for error in errors:
            click.echo(f"verify: error: {error['error']}", err=True)
        waived = sum(len(r.waived) for r in results)
        tail = f", {waived} waived" if waived else ""
        click.echo(f"lint: {len(results)} paper(s), {len(findings)} finding(s){tail}", err=True)
    status = EXIT_BAD_INPUT if errors else (EXIT_REFUTED if findings else EXIT_OK)
    raise click.exceptions.Exit(status)
