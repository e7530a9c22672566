"""`verify show` (a paper's public record) and `verify site` (a static site of all papers).

Both only read: the manifest, the ledger, the correction chain and the
attestation index. Exit status: 0, or 2 for an unknown paper or an invalid
manifest (CONTRACT.md); `site` writes what it can and exits 2 if a
paper could not be read.
"""

from __future__ import annotations

from pathlib import Path

import click

from verifier.cli.common import AppContext
from verifier.errors import EXIT_BAD_INPUT


@click.command()
@click.argument("paper_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json", "html"]),
    default="md",
    show_default=True,
    help="Markdown for people, JSON for machines (stable, sorted keys), HTML (self-contained page).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_obj
def show(app: AppContext, paper_id: str, fmt: str, out: Path | None, as_json: bool) -> None:
    """Print PAPER_ID's public record: verdicts, quality, corrections, provenance, every claim."""
    from verifier.record import build_record
    from verifier.report import REPORTER_FOR_FORMAT

    record = build_record(app.root, app.home, paper_id)

    def href(path: str) -> str:
        # Outside a site the links point into the home's artifact store itself.
        return (app.home / path).as_uri()

    reporter = REPORTER_FOR_FORMAT["json" if as_json else fmt](href=href)
    text = reporter.render(record)
    if out is None:
        click.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(f"{out} ({record.paper}: {record.status})", err=True)


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--paper", "papers", multiple=True, help="Only this paper (repeatable); default: all.")
@click.pass_obj
def site(app: AppContext, out_dir: Path, papers: tuple[str, ...]) -> None:
    """Write a static site of the public records to OUT_DIR (index.html + one page per paper)."""
    from verifier.site import build_site

    result = build_site(app.root, app.home, out_dir, list(papers))
    for paper, error in result.failed:
        click.echo(f"verify: warning: {paper}: {error}", err=True)
    click.echo(f"{result.index} ({len(result.pages)} paper(s), {result.copied} linked file(s) copied)")
    if result.failed:
        # The site is written all the same; a paper that could not be read is bad input.
        raise click.exceptions.Exit(EXIT_BAD_INPUT)
