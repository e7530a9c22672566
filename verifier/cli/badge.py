"""`verify badge PAPER_ID`: the paper's status as a shields-style SVG badge, for a README.

Exit status: 0 written; 2 unknown paper or invalid manifest.
"""

from __future__ import annotations

from pathlib import Path

import click

from verifier.cli.common import AppContext, emit_json, json_option


@click.command()
@click.argument("paper_id")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the SVG here (default: stdout).")
@click.option("--image-url", help="Where the SVG will be served, for the Markdown snippet (default: OUT's name).")
@click.option("--link", "link_url", help="Where the badge links to, for the Markdown snippet (default: the image).")
@json_option
@click.pass_obj
def badge(app: AppContext, paper_id: str, out: Path | None, image_url: str | None, link_url: str | None, as_json: bool) -> None:
    """Write PAPER_ID's badge ("verify | 9 of 12 verified") and print its Markdown snippet."""
    from verifier.badge import markdown_snippet, paper_badge, render_svg
    from verifier.record import build_record

    made = paper_badge(build_record(app.root, app.home, paper_id))
    svg = render_svg(made)
    image = image_url or (out.name if out else f"{paper_id}.svg")
    snippet = markdown_snippet(made, image_url=image, link_url=link_url or image)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(svg, encoding="utf-8")
    if as_json:
        emit_json({"paper": paper_id, "label": made.label, "message": made.message, "color": made.color,
                   "markdown": snippet, "svg": svg if out is None else str(out)})
    elif out is None:
        click.echo(svg, nl=False)
    else:
        click.echo(snippet)
