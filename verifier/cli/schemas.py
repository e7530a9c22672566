"""`verify schemas [--write DIR | --check DIR]`: the published JSON Schemas."""

from __future__ import annotations

from pathlib import Path

import click

from verifier.errors import EXIT_BAD_INPUT, ReportedErrors
from verifier.schemas import MODEL_FOR_CONTRACT, render, write_all


@click.command()
@click.option("--write", "write_dir", type=click.Path(file_okay=False, path_type=Path), help="Write them here.")
@click.option("--check", "check_dir", type=click.Path(file_okay=False, path_type=Path), help="Fail if these differ.")
def schemas(write_dir: Path | None, check_dir: Path | None) -> None:
    """Generate the JSON Schemas from the models, or check committed ones for drift."""
    if write_dir is not None:
        for path in write_all(write_dir):
            click.echo(str(path))
        return
    if check_dir is not None:
        stale = [c for c in MODEL_FOR_CONTRACT if _read(check_dir / f"{c}.schema.json") != render(c)]
        if stale:
            raise ReportedErrors([f"{check_dir}/{c}.schema.json: out of date; run `verify schemas --write {check_dir}`"
                                  for c in stale], EXIT_BAD_INPUT)
        return
    for contract in MODEL_FOR_CONTRACT:
        click.echo(contract)


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None
