"""`verify claim`, `verify paper`, `verify ci`, `verify list`, `verify history`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from verifier.cli.cluster import ExecutorChoice, executor_options
from verifier.cli.common import AppContext, backend_option, emit_json, json_option, no_cache_option
from verifier.cli.progress import observer_for
from verifier.errors import IntakeError, ReportedErrors, one_line, verdicts_exit_status
from verifier.root import split_claim_id

if TYPE_CHECKING:  # the pipeline is imported when a command runs it: a cached verdict needs none of it
    from verifier import fastpath
    from verifier.executor import Options, Session


def _options(app: AppContext, backend: str, no_cache: bool, jobs: int, tier: str, strict: bool,
             nonce: str | None = None, executor: ExecutorChoice = ("local", None)) -> Options:
    from verifier.executor import Options

    return Options(root=app.root, home=app.home, backend=backend, use_cache=not no_cache, jobs=jobs, tier=tier,
                   strict=strict, nonce=nonce, executor=executor[0], cluster=executor[1])


def replicate_options(func: Any) -> Any:
    """`--replicate` and `--replicate-nonce HEX`: judge multi-seed claims on fresh seeds."""
    func = click.option("--replicate-nonce", "replicate_nonce", metavar="HEX",
                        help="Replicate on the fresh seeds of this recorded nonce (8-64 hex digits), exactly.")(func)
    return click.option("--replicate", is_flag=True,
                        help="Judge multi-seed claims on fresh seeds derived from a new nonce, recorded in the verdict.")(func)


def _nonce(replicate: bool, nonce: str | None) -> str | None:
    """The replication nonce asked for: a given one (validated), a new one, or None."""
    from verifier.replication import new_nonce, valid_nonce

    if nonce is not None:
        if not valid_nonce(nonce):
            raise click.BadParameter("expected 8 to 64 lowercase hex digits", param_hint="--replicate-nonce")
        return nonce
    return new_nonce() if replicate else None


def tier_option(func: Any) -> Any:
    return click.option("--tier", type=click.Choice(["smoke", "full"]), default="smoke", show_default=True,
                        envvar="VERIFY_TIER", help="Run smoke-tier repros only, or full-tier ones too (GPU/hours).")(func)


def jobs_option(func: Any) -> Any:
    return click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
                        help="Repros to run at once on this machine.")(func)


def strict_option(func: Any) -> Any:
    return click.option("--strict", is_flag=True, help="Unverified checkable claims fail too (exit 3).")(func)


def verdict_options(func: Any) -> Any:
    """The options `verify claim`, `paper` and `ci` share, in their help's order."""
    for option in reversed((json_option, backend_option, no_cache_option, jobs_option, tier_option,
                            strict_option, replicate_options)):
        func = option(func)
    return func


def _verify(options: Options, papers: list[str], **kwargs: Any) -> Session:
    """`verify_claims` with SIGINT/SIGTERM stopping it cleanly (`verifier.cancel`).

    Raises `Interrupted` after the finished runs and verdicts are recorded;
    the CLI's boundary (`verifier.cli.main`) prints its line and exits 128 + the signal.
    """
    from verifier.cancel import handling_interrupts
    from verifier.executor import verify_claims

    observer = kwargs.get("observer")
    try:
        with handling_interrupts():
            return verify_claims(options, papers, **kwargs)
    finally:
        if observer is not None:
            observer.close()  # a live progress bar must not outlive the command


def _finish(session: Session, *, strict: bool, report: bool = True) -> None:
    """Exit with the session's status; the boundary prints each invalid paper's error line first (if `report`)."""
    errors = [p.intake.error for p in session.papers if p.intake.error is not None] if report else []
    if errors:
        raise ReportedErrors(errors, session.exit_status(strict=strict))
    raise click.exceptions.Exit(session.exit_status(strict=strict))


@click.command()
@click.argument("claim_id")
@verdict_options
@executor_options
@click.pass_obj
def claim(app: AppContext, claim_id: str, as_json: bool, backend: str, no_cache: bool, jobs: int, tier: str,
          strict: bool, replicate: bool, replicate_nonce: str | None, executor: ExecutorChoice) -> None:
    """Run Gates 0-2 for one claim (PAPER_ID/CLAIM_ID) and print its verdict."""
    from verifier import fastpath

    started_ns = time.time_ns()
    paper, local = split_claim_id(claim_id)
    asked = fastpath.Invocation(app.root, app.home, "claim", (paper,), local, backend, tier)
    stampable = _stampable(no_cache, replicate, replicate_nonce, executor)
    cached = fastpath.answer(asked) if stampable else None
    if cached is not None:  # nothing changed since the stamped verdict (verifier.fastpath)
        [verdict] = cached.verdicts()
        _print_verdict(verdict, verdict["line"], as_json=as_json)
        raise click.exceptions.Exit(verdicts_exit_status([(verdict["status"], verdict["checkable"])], strict=strict))
    nonce = _nonce(replicate, replicate_nonce)
    session = _verify(_options(app, backend, no_cache, jobs, tier, strict, nonce, executor), [paper],
                            select=lambda _, c: c.id == local, observer=observer_for(sys.stderr))
    outcome = session.papers[0]
    if outcome.intake.ok and not outcome.verdicts:  # the manifest is valid but has no such claim
        raise IntakeError(f"unknown claim {paper}/{local}", file=f"manifests/{paper}/manifest.yaml")
    if outcome.intake.ok:  # else `_finish` reports the intake error
        from verifier.gates import line

        _print_verdict(outcome.verdicts[0].model_dump(mode="json"), line(outcome.verdicts[0]), as_json=as_json)
    if stampable:
        _stamp(asked, session, started_ns)
    if nonce is not None and outcome.intake.ok:
        click.echo(f"replication nonce: {nonce} (re-run these seeds with --replicate-nonce {nonce})", err=True)
    _finish(session, strict=strict)


def _print_verdict(payload: dict[str, Any], line: str, *, as_json: bool) -> None:
    """One verdict: its JSON, or its line (which may quote a repro's output, hence `one_line`)."""
    if as_json:
        emit_json(payload)
    else:
        click.echo(one_line(line))


def _stampable(no_cache: bool, replicate: bool, nonce: str | None, executor: ExecutorChoice) -> bool:
    """Whether the fast path may answer this call, and its slow path leave a stamp (`verifier.fastpath`)."""
    return not no_cache and not replicate and nonce is None and executor[0] == "local"


def _stamp(asked: fastpath.Invocation, session: Session, started_ns: int) -> None:
    """Stamp a slow call's verdicts for the next call, when it ran nothing and every paper was valid."""
    from verifier import fastpath

    if session.runs_executed or any(p.intake.manifest is None for p in session.papers):
        return
    papers = []
    for p in session.papers:
        assert p.intake.manifest is not None
        papers.append(fastpath.PaperStamp(manifest=p.intake.manifest, verdicts=p.verdicts, intake=p.intake.as_json(),
                                          verdict=p.verdict.as_json() if p.verdict else None,
                                          quality=p.quality.as_json() if p.quality else None))
    fastpath.record(asked, papers, runs_cached=session.runs_cached, started_ns=started_ns)


def _answered(asked: fastpath.Invocation, *, as_json: bool, strict: bool) -> None:
    """Print and exit with the stamped verdicts of a paper or ci call, when nothing changed; else return."""
    from verifier import fastpath

    cached = fastpath.answer(asked)
    if cached is None:
        return
    _print_session(cached.as_json(), as_json=as_json)
    statuses = [(v["status"], v["checkable"]) for v in cached.verdicts()]
    raise click.exceptions.Exit(verdicts_exit_status(statuses, strict=strict))


@click.command()
@click.argument("paper_id")
@verdict_options
@executor_options
@click.pass_obj
def paper(app: AppContext, paper_id: str, as_json: bool, backend: str, no_cache: bool, jobs: int, tier: str, strict: bool,
          replicate: bool, replicate_nonce: str | None, executor: ExecutorChoice) -> None:
    """Verify every claim of a paper, then print the paper's verdict."""
    from verifier import fastpath

    started_ns = time.time_ns()
    asked = fastpath.Invocation(app.root, app.home, "paper", (paper_id,), None, backend, tier)
    stampable = _stampable(no_cache, replicate, replicate_nonce, executor)
    if stampable:
        _answered(asked, as_json=as_json, strict=strict)
    nonce = _nonce(replicate, replicate_nonce)
    session = _verify(_options(app, backend, no_cache, jobs, tier, strict, nonce, executor), [paper_id],
                            observer=observer_for(sys.stderr))
    _print_session(session.as_json(), as_json=as_json)
    if stampable:
        _stamp(asked, session, started_ns)
    _finish(session, strict=strict, report=not as_json)


@click.command()
@verdict_options
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a Markdown summary here.")
@executor_options
@click.pass_obj
def ci(app: AppContext, as_json: bool, backend: str, no_cache: bool, jobs: int, tier: str, strict: bool,
       replicate: bool, replicate_nonce: str | None, junit_path: Path | None, summary_path: Path | None,
       executor: ExecutorChoice) -> None:
    """Verify every paper under manifests/ and exit with the contract's status."""
    from verifier import fastpath

    started_ns = time.time_ns()
    asked = fastpath.Invocation(app.root, app.home, "ci", (), None, backend, tier)
    stampable = _stampable(no_cache, replicate, replicate_nonce, executor) and junit_path is None and summary_path is None
    if stampable:
        _answered(asked, as_json=as_json, strict=strict)
    from verifier.junit import junit_xml, summary_markdown, write

    nonce = _nonce(replicate, replicate_nonce)
    session = _verify(_options(app, backend, no_cache, jobs, tier, strict, nonce, executor), [],
                            observer=observer_for(sys.stderr))
    _print_session(session.as_json(), as_json=as_json)
    if junit_path is not None:
        write(junit_path, junit_xml(session, strict=strict))
    if summary_path is not None:
        write(summary_path, summary_markdown(session))
    if stampable:
        _stamp(asked, session, started_ns)
    _finish(session, strict=strict, report=not as_json)


def _print_session(session: dict[str, Any], *, as_json: bool) -> None:
    """A session in its JSON form (`Session.as_json`, or a stamped answer's): the document, or one line per claim and paper."""
    if as_json:
        emit_json(session)
        return
    for paper in session["papers"]:
        if not paper["ok"]:
            click.echo(f"{paper['paper']}: invalid")  # `_finish` reports the error itself
            continue
        for verdict in paper["claims"]:
            click.echo(one_line(f"{verdict['claim']}: {verdict['line']}"))
        if paper["verdict"] is not None and paper["quality"] is not None:
            q = paper["quality"]
            click.echo(f"{paper['paper']}: {paper['verdict']['status']} (level {q['verification_level']}, tier {q['tier']})")
    runs = session["runs"]
    click.echo(f"runs: {runs['executed']} executed, {runs['cached']} cached", err=True)
    nonce = (session["replication"] or {}).get("nonce")
    if nonce is not None:
        click.echo(f"replication nonce: {nonce} (re-run these seeds with --replicate-nonce {nonce})", err=True)


@click.command(name="list")
@json_option
@click.pass_obj
def list_claims(app: AppContext, as_json: bool) -> None:
    """List papers and claims with their last verdict."""
    from verifier.history import last_verdicts

    rows = last_verdicts(app.root, app.home)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        if "error" in row:
            click.echo(f"{row['paper']}: invalid ({row['error']})")
        else:
            click.echo(f"{row['claim']}\t{row['kind']}\t{row['status'] or 'never verified'}\t{row['evaluated'] or ''}")


@click.command()
@click.argument("claim_id")
@json_option
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_obj
def history(app: AppContext, claim_id: str, as_json: bool, limit: int) -> None:
    """When a claim last passed, and what changed since (seal, params, environment)."""
    from verifier.history import claim_history

    report = claim_history(app.home, claim_id, limit=limit)
    if not report["verdicts"]:  # no history: a typo must be exit 2, not "never passed"
        from verifier.manifests import load_manifest
        from verifier.root import VerificationRoot

        paper, local = split_claim_id(claim_id)
        load_manifest(VerificationRoot.at(app.root), paper, check_seals=False).claim(local)
    if as_json:
        emit_json(report)
        return
    for entry in report["verdicts"]:
        click.echo(one_line(f"{entry['evaluated']}  {entry['status']:<12} {entry['line']}"))
    passed = report["last_passed"]
    click.echo(f"last passed: {passed or 'never'}")
    for change in report["changed_since_pass"]:
        click.echo(f"changed since: {change}")
