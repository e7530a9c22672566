"""Launch slots and the warm pool: late commands arrive intact, unused slots run nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.sandbox import judge_outcome
from verifier.sandbox.base import Limits
from verifier.sandbox.bwrap import BwrapSandbox
from verifier.sandbox.launch import Slot, WarmPool, one_line
from verifier.sandbox.supervise import supervise

BWRAP_WHY = BwrapSandbox().available()
PRINTF = "/usr/bin/printf"


def _run(slot: Slot, tmp: Path, rest: list[str] | tuple[str, ...] = ()) -> str:
    raw = supervise(slot, limits=Limits(timeout_s=20), log_dir=tmp / "logs", max_log_bytes=100_000, rest=rest)
    assert raw.exit_code == 0, (tmp / "logs" / "stderr.log").read_text()
    return (tmp / "logs" / "stdout.log").read_bytes().decode()


# Any text the shell could misread: quotes, $, backticks, globs, backslashes, spaces.
ARG = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n"), max_size=12)


@settings(max_examples=25, deadline=None)
@given(st.lists(ARG, max_size=5))
def test_late_command_arrives_verbatim(tmp_path_factory: pytest.TempPathFactory, args: list[str]) -> None:
    tmp = tmp_path_factory.mktemp("late")
    slot = Slot.spawn([PRINTF], env={}, cwd=tmp, late=True)
    out = _run(slot, tmp, ["%s\\0", *args] if args else ["%s\\0", ""])
    assert out.split("\0")[:-1] == (args or [""])


def test_fixed_slot_runs_its_own_argv(tmp_path: Path) -> None:
    slot = Slot.spawn([PRINTF, "%s", "fixed"], env={}, cwd=tmp_path)
    assert _run(slot, tmp_path) == "fixed"


def test_a_multiline_rest_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    slot = Slot.spawn(["/usr/bin/touch", str(marker)], env={}, cwd=tmp_path, late=True)
    assert not one_line(["a\nb"])
    with pytest.raises(ValueError, match="one line"):
        slot.go(Limits(), ["a\nb"])
    assert slot.proc.returncode is not None
    assert not marker.exists()


def test_a_discarded_slot_runs_nothing_and_leaves_no_cgroup(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    slot = Slot.spawn(["/usr/bin/touch", str(marker)], env={}, cwd=tmp_path)
    dirs = list(slot.group.dirs.values()) if slot.group is not None else []
    slot.discard()
    assert slot.proc.returncode is not None
    assert not marker.exists()
    assert [d for d in dirs if d.exists()] == []


class TestWarmPool:
    def test_refills_in_the_background_and_closes_cleanly(self, tmp_path: Path) -> None:
        made: list[Slot] = []

        def factory() -> Slot:
            slot = Slot.spawn([PRINTF, "x"], env={}, cwd=tmp_path)
            made.append(slot)
            return slot

        pool = WarmPool(factory)
        first = pool.take()
        deadline = time.monotonic() + 20
        while not pool.ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.ready() == 1 and len(made) == 2, "the pool makes the next slot while the first is in use"
        second = pool.take()
        assert second is not first and second in made  # the ready one, not a new one
        assert len(made) == 2
        for slot in (first, second):
            assert _run(slot, tmp_path) == "x"
        ran = threading.Event()
        pool.later(ran.set)
        pool.close()
        assert ran.wait(5)
        assert all(slot.proc.returncode is not None for slot in made)

    def test_later_after_close_runs_at_once(self) -> None:
        pool = WarmPool(lambda: pytest.fail("no slot is needed"))
        pool.close()
        done: list[int] = []
        pool.later(lambda: done.append(1))
        assert done == [1]


@pytest.mark.bwrap
@pytest.mark.skipif(BWRAP_WHY is not None, reason=f"bwrap unavailable: {BWRAP_WHY}")
def test_bwrap_entrypoint_with_a_newline_runs_unpooled(make_request: object, tmp_path: Path) -> None:
    code = "import json, os\nopen(os.path.join(os.environ['REPRO_OUT'], 'results.json'), 'w').write('{\"a\": 1}')\n"
    request = make_request("", entrypoint=("python", "-c", code))  # type: ignore[operator]
    result = BwrapSandbox().run(request)
    outcome = judge_outcome(result, request.out_dir)
    assert outcome.status == "ok", result.stderr_path.read_text()
    assert outcome.results == {"a": 1}


@pytest.mark.bwrap
@pytest.mark.skipif(BWRAP_WHY is not None, reason=f"bwrap unavailable: {BWRAP_WHY}")
def test_no_descriptor_of_ours_reaches_the_repro(make_request: object) -> None:
    code = (
        "import json, os\n"
        "fds = {}\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        fds[fd] = os.readlink('/proc/self/fd/' + fd)\n"
        "    except OSError:\n"
        "        pass  # the listing's own descriptor, closed by now\n"
        "json.dump({'fds': fds}, open(os.path.join(os.environ['REPRO_OUT'], 'results.json'), 'w'))\n"
    )
    for _ in range(2):  # the second run comes from a warm slot
        request = make_request(code)  # type: ignore[operator]
        result = BwrapSandbox().run(request)
        outcome = judge_outcome(result, request.out_dir)
        assert outcome.status == "ok", result.stderr_path.read_text()
        assert outcome.results is not None
        fds = outcome.results["fds"]
        # stdin, stdout, stderr, the listing's own descriptor and the results file: no memfd of ours.
        assert not [target for target in fds.values() if "memfd" in target], fds
        assert len(fds) <= 5, fds
        for path in request.out_dir.iterdir():
            path.unlink()


def test_cleanups_still_run_after_a_slot_could_not_be_made() -> None:
    def factory() -> Slot:
        raise OSError("no more processes")

    pool = WarmPool(factory)
    with pytest.raises(OSError):
        pool.take()  # the take reports it; the worker stops refilling
    ran = threading.Event()
    pool.later(ran.set)
    assert ran.wait(10), "the worker must keep running deferred cleanups"
    pool.close()
