"""`verify correct PAPER_ID ...` and `verify audit PAPER_ID`: the correction chain.

Exit status: `correct` 0 when the record is written, 1 when the existing
chain is broken (nothing written), 2 for bad input (unknown paper, type or
claim; missing `--manifest-before` for a first record). `audit` 0 when the
chain is intact and every corrected claim was judged since, 3 when the chain
is intact but a claim is out of date, 1 when it is broken, 2 for an unknown paper.
"""

from __future__ import annotations

from pathlib import Path

import click

from verifier.cli.common import AppContext, emit_json, json_option
from verifier.corrections import (
    CORRECTION_TYPES,
    AuditReport,
    append_correction,
    format_time,
    ledger_verdict_times,
    manifest_path,
    parse_record,
)
from verifier.corrections import (
    audit as audit_chain,
)
from verifier.digest import DIGEST_RE, file_digest
from verifier.errors import EXIT_OK, UsageError


def _resolve_before(root: Path, paper_id: str, before: str | None, unchanged: bool) -> str | None:
    """`--manifest-before` (a digest or a copy of the old manifest) or `--unchanged`, as a digest."""
    if unchanged and before is not None:
        raise UsageError("give either --manifest-before or --unchanged, not both")
    if unchanged:
        return file_digest(manifest_path(root, paper_id))
    if before is None or DIGEST_RE.match(before):
        return before
    path = Path(before)
    if not path.is_file():
        raise UsageError(f"--manifest-before {before!r} is neither sha256:<hex> nor a file")
    return file_digest(path)


@click.command()
@click.argument("paper_id")
@click.option(
    "--type",
    "kind",
    required=True,
    type=click.Choice(sorted(CORRECTION_TYPES)),
    help="Crossref Crossmark update type.",
)
@click.option("--claims", default="", help="Comma-separated claim ids touched, e.g. C1,C3.")
@click.option("--reason", required=True, help="Why, in one or two sentences.")
@click.option(
    "--manifest-before",
    "before",
    metavar="DIGEST|FILE",
    help="First record only: the manifest's digest before the edit, or a copy of the old file.",
)
@click.option("--unchanged", is_flag=True, help="The manifest was not edited (before = after).")
@click.option("--issuer", help="Who issues the correction.")
@json_option
@click.pass_obj
def correct(
    app: AppContext,
    paper_id: str,
    kind: str,
    claims: str,
    reason: str,
    before: str | None,
    unchanged: bool,
    issuer: str | None,
    as_json: bool,
) -> None:
    """Append a correction record for PAPER_ID (edit the manifest first)."""
    # An empty --claims means the record concerns the whole paper (e.g. a retraction).
    claim_ids = [c.strip() for c in claims.split(",") if c.strip()]
    path = append_correction(
        app.root,
        paper_id,
        type=kind,
        claims=claim_ids,
        reason=reason,
        manifest_before=_resolve_before(app.root, paper_id, before, unchanged),
        issuer=issuer,
        home=app.home,
    )
    digest = file_digest(path)
    record = parse_record(path.read_bytes(), source=path)
    shown = path.relative_to(app.root).as_posix() if path.is_relative_to(app.root) else str(path)
    if as_json:
        emit_json({"path": shown, "digest": digest, "record": record.model_dump(mode="json")})
        return
    click.echo(f"{shown} {digest}")
    click.echo(f"{paper_id}: correction {record.seq} ({record.type}) recorded")
    for claim in record.claims:
        click.echo(
            f"stale until verified again: {paper_id}/{claim} (verify claim {paper_id}/{claim})"
        )


@click.command()
@click.argument("paper_id")
@json_option
@click.pass_obj
def audit(app: AppContext, paper_id: str, as_json: bool) -> None:
    """Check PAPER_ID's correction chain and manifest; list claims to verify again."""
    with ledger_verdict_times(app.home) as last_verdict_time:
        report = audit_chain(app.root, paper_id, last_verdict_time=last_verdict_time, home=app.home)
    if as_json:
        emit_json(report.to_json())
    else:
        for line in audit_lines(report):
            click.echo(line)
    if report.exit_status != EXIT_OK:
        raise click.exceptions.Exit(report.exit_status)


def audit_lines(report: AuditReport) -> list[str]:
    """The human report: a summary line, one line per break, one per stale claim."""
    chain = "chain intact" if report.ok else f"chain BROKEN ({len(report.breaks)} break(s))"
    flags = "".join(f", {flag}" for flag in report.flags)
    lines = [f"{report.paper}: {report.status}, {report.count} correction(s){flags}; {chain}"]
    lines += [f"broken: {line}" for line in report.breaks]
    lines += [f"note: {line}" for line in report.notes]
    for stale in report.stale:
        last = format_time(stale.last_verdict) if stale.last_verdict else "never"
        lines.append(
            f"stale: {stale.claim}: correction {stale.seq} issued {format_time(stale.issued)}, "
            f"last verdict {last} (verify claim {stale.claim})"
        )
    return lines
