"""`verify hook validate|audit FILE...`: the pre-commit hooks (`.pre-commit-hooks.yaml`).

pre-commit passes the changed files; these commands map each one under
`manifests/<paper-id>/` to its paper and check only those papers:

* `hook validate`: Gate 0 (schemas, paths, seals) of every paper whose
  manifest or correction record changed. Exit 0 all valid, 2 any invalid,
  with one `verify: error: <file>: <field>: <what>` line per invalid paper.
* `hook audit`: the correction chain of each such paper. Exit 0 intact, 1
  broken. A claim made stale by a new correction is listed but does not fail
  the commit: re-verifying it is CI's job, and a correction is committed first.

Files outside `manifests/` are ignored; with none left, the hook passes.
"""

from __future__ import annotations

from pathlib import Path

import click

from verifier.cli.common import AppContext
from verifier.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUTED, ReportedErrors


@click.group()
def hook() -> None:
    """Checks for pre-commit, run on the files it passes."""


def papers_of(files: tuple[str, ...], root: Path) -> list[str]:
    """Paper ids of the files under `<root>/manifests/<paper-id>/`, in first-seen order."""
    papers: list[str] = []
    for name in files:
        path = Path(name).resolve() if Path(name).is_absolute() else (Path.cwd() / name).resolve()
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            continue
        if len(parts) >= 3 and parts[0] == "manifests" and parts[1] not in papers:
            papers.append(parts[1])
    return papers


@hook.command("validate")
@click.argument("files", nargs=-1)
@click.pass_obj
def hook_validate(app: AppContext, files: tuple[str, ...]) -> None:
    """Gate 0 for the papers of FILES (changed manifests and correction records)."""
    from verifier.intake import validate_papers

    papers = papers_of(files, app.root)
    results = validate_papers(app.root, app.home, papers) if papers else []
    failed = [r.error for r in results if r.error is not None]
    if failed:
        raise ReportedErrors(failed, EXIT_BAD_INPUT)


@hook.command("audit")
@click.argument("files", nargs=-1)
@click.pass_obj
def hook_audit(app: AppContext, files: tuple[str, ...]) -> None:
    """The correction chain of the papers of FILES; only a broken chain fails."""
    from verifier.cli.corrections import audit_lines
    from verifier.corrections import audit, ledger_verdict_times

    status, broken = EXIT_OK, []
    with ledger_verdict_times(app.home) as last_verdict_time:
        for paper in papers_of(files, app.root):
            report = audit(app.root, paper, last_verdict_time=last_verdict_time)
            if not report.ok:
                status = EXIT_REFUTED
                for line in audit_lines(report):
                    if line.startswith("broken:"):
                        broken.append(line)  # the boundary prints these, after the rest
                    else:
                        click.echo(line, err=True)
    if broken:
        raise ReportedErrors(broken, status)
    raise click.exceptions.Exit(status)
