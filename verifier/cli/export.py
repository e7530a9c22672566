"""`verify export PAPER_ID --ro-crate OUT`: a paper's verification as an RO-Crate (Provenance Run Crate).

Exit status: 0 written; 2 unknown paper, invalid manifest, nothing ran yet,
or OUT cannot be written.
"""

from __future__ import annotations

from pathlib import Path

import click

from verifier.cli.common import AppContext, emit_json, json_option


@click.command()
@click.argument("paper_id")
@click.option(
    "--ro-crate",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Write the crate to this directory, or to a zip file when it ends in .zip.",
)
@click.option("--license", "license_", help="License of the crate: a URL (e.g. an SPDX page) or text.")
@click.option("--agent", help="Organization that ran the verification and publishes the crate (actions' agent, author, publisher).")
@json_option
@click.pass_obj
def export(app: AppContext, paper_id: str, out: Path, license_: str | None, agent: str | None, as_json: bool) -> None:
    """Export PAPER_ID's manifest, bundles, runs, verdicts and attestations as an RO-Crate 1.1."""
    from verifier.rocrate_export import export_crate  # lazy: rocrate only for this command

    result = export_crate(app.root, app.home, paper_id, out, license=license_, agent=agent)
    if as_json:
        emit_json({"paper": paper_id, "path": str(result.path), "runs": result.runs, "claims": result.claims,
                   "files": result.files, "attestations": result.attestations, "profiles": result.profiles})
        return
    click.echo(f"{result.path} ({paper_id}: {result.runs} run(s), {result.claims} claim(s), "
               f"{result.files} file(s), {result.attestations} attestation(s); Provenance Run Crate 0.5)")
