"""The one error boundary of the CLI: every error line printed in one place, and no status 1 for a bug."""

from __future__ import annotations

import click
import pytest

from tests.conftest import RootFactory
from verifier.cli import COMMAND_FOR_NAME, console, main
from verifier.errors import IntakeError, ReportedErrors


@click.command()
@click.option("--kind", default="bug")
def boom(kind: str) -> None:
    """A command that fails the way a bug or an error would."""
    if kind == "bug":
        raise KeyError("no such thing\nsecond line")
    if kind == "recursion":
        raise RecursionError("maximum recursion depth exceeded")
    if kind == "intake":
        raise IntakeError("bad value", file="f.yaml", field="a.b")
    raise ReportedErrors(["p1: broken", "p2: broken\ntoo"], 2)


@pytest.fixture
def with_boom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(COMMAND_FOR_NAME, "boom", f"{__name__}:boom")


@pytest.mark.usefixtures("with_boom")
@pytest.mark.parametrize("kind", ["bug", "recursion"])
def test_a_bug_is_one_line_and_exit_3(capsys: pytest.CaptureFixture[str], kind: str) -> None:
    assert main(["boom", "--kind", kind]) == 3
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("verify: internal error: ")
    assert err.rstrip().endswith("; run with -v for the traceback")


@pytest.mark.usefixtures("with_boom")
def test_errors_print_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["boom", "--kind", "intake"]) == 2
    assert capsys.readouterr().err == "verify: error: f.yaml: a.b: bad value\n"
    assert main(["boom", "--kind", "reported"]) == 2
    assert capsys.readouterr().err.splitlines() == ["verify: error: p1: broken", "verify: error: p2: broken too"]


@pytest.mark.usefixtures("with_boom")
def test_verbose_raises_and_the_console_script_keeps_the_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(KeyError):
        main(["-v", "boom"])
    monkeypatch.setattr("sys.argv", ["verify", "-v", "boom"])
    with pytest.raises(SystemExit) as exited:
        console()
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().splitlines()[-1].startswith("verify: internal error: KeyError")
    monkeypatch.setattr("sys.argv", ["verify", "-v", "boom", "--kind", "intake"])
    with pytest.raises(SystemExit) as exited:
        console()
    assert exited.value.code == 2


def test_validate_reports_every_bad_paper(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import manifest_document

    root = make_root(manifest_document("paper-a"), manifest_document("paper-b"), seal=False)
    status = main(["--root", str(root.path), "validate"])
    err = capsys.readouterr().err.splitlines()
    assert status == 2
    assert err == [
        "verify: error: manifests/paper-a/manifest.yaml: repros[0].seal: no seal: run `verify seal paper-a`",
        "verify: error: manifests/paper-b/manifest.yaml: repros[0].seal: no seal: run `verify seal paper-b`",
    ]
