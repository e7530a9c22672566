"""judge_outcome: limits first, then the exit, then the shape of the outputs."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from verifier.sandbox.base import Limits, SandboxResult
from verifier.sandbox.outcome import hash_outputs, judge_outcome

MakeResult = Callable[..., SandboxResult]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def test_ok_results_and_hashes(make_result: MakeResult, out: Path) -> None:
    (out / "results.json").write_text('{"lr": 5e-05}')
    (out / "sub").mkdir()
    (out / "sub" / "x.bin").write_bytes(b"")
    outcome = judge_outcome(make_result(), out)
    assert outcome.status == "ok"
    assert outcome.results == {"lr": 5e-05}
    assert outcome.outputs == {
        "results.json": "sha256:" + __import__("hashlib").sha256(b'{"lr": 5e-05}').hexdigest(),
        "sub/x.bin": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }


@pytest.mark.parametrize(("changes", "status", "reason"), [
    ({"timed_out": True, "limits": Limits(timeout_s=60)}, "timeout",
     "repro exceeded its 60 s time limit and was killed"),
    ({"limit": "memory", "signal": 9, "exit_code": None}, "memory",
     "repro exceeded its 2048 MB memory limit"),
    ({"limit": "processes", "exit_code": 1}, "processes", "repro exceeded its limit of 256 processes"),
    ({"limit": "output", "exit_code": 1}, "output-limit", "repro exceeded its 256 MB output limit"),
    ({"exit_code": 2}, "crashed", "repro exited with status 2"),
    ({"exit_code": None, "signal": int(signal.SIGSEGV)}, "crashed", "repro was killed by SIGSEGV"),
])
def test_limits_and_crashes_win_over_results(
    make_result: MakeResult, out: Path, changes: dict[str, object], status: str, reason: str
) -> None:
    (out / "results.json").write_text("{}")
    outcome = judge_outcome(make_result(**changes), out)
    assert (outcome.status, outcome.reason) == (status, reason)
    assert outcome.results is None


@pytest.mark.parametrize(("payload", "status", "words"), [
    (None, "no-results", "wrote no"),
    (b"{", "invalid-results", "not valid JSON"),
    (b"\xff{}", "invalid-results", "not UTF-8"),
    (b"[1]", "invalid-results", "JSON list, not an object"),
    (b'"x"', "invalid-results", "JSON str, not an object"),
])
def test_bad_results(make_result: MakeResult, out: Path, payload: bytes | None, status: str, words: str) -> None:
    if payload is not None:
        (out / "results.json").write_bytes(payload)
    outcome = judge_outcome(make_result(), out)
    assert outcome.status == status
    assert words in outcome.reason


def test_symlink_and_fifo_outputs_are_refused(make_result: MakeResult, out: Path) -> None:
    (out / "results.json").write_text("{}")
    (out / "link").symlink_to("/etc/passwd")
    outcome = judge_outcome(make_result(), out)
    assert outcome.status == "invalid-results"
    assert "link is not a regular file" in outcome.reason
    (out / "link").unlink()
    os.mkfifo(out / "pipe")
    assert judge_outcome(make_result(), out).status == "invalid-results"


def test_output_problem_makes_outputs_invalid(make_result: MakeResult, out: Path) -> None:
    (out / "results.json").write_text("{}")
    outcome = judge_outcome(make_result(output_problem="$REPRO_OUT/x is a FIFO"), out)
    assert (outcome.status, outcome.reason) == ("invalid-results", "$REPRO_OUT/x is a FIFO")
    limited = judge_outcome(make_result(output_problem="p", timed_out=True), out)
    assert limited.status == "timeout"


def test_results_json_as_directory_is_no_results(make_result: MakeResult, out: Path) -> None:
    (out / "results.json").mkdir()
    assert judge_outcome(make_result(), out).status == "no-results"


def test_hash_outputs_is_sorted(out: Path) -> None:
    for name in ("b", "a", "c"):
        (out / name).write_text(name)
    assert list(hash_outputs(out)) == ["a", "b", "c"]
