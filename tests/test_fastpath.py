"""The cached-verdict fast path of `verify claim`: the same bytes as the slow path, and never taken after a change."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RootFactory
from verifier import build, clock, fastpath
from verifier.cli import main
from verifier.ledger import Ledger
from verifier.manifests import seal_manifest
from verifier.root import VerificationRoot
from verifier.sandbox import fingerprint

CLAIM = "demo-paper/C1"
FIXED = "2026-01-31T12:00:00.123456Z"


@pytest.fixture(autouse=True)
def _quiet_and_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VERIFY_HOME", "VERIFY_ROOT", "VERIFY_BACKEND", "VERIFY_TIER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(fastpath, "RACY_WINDOW_NS", 0)  # files written by the test are stamped at once
    monkeypatch.setattr(clock, "evaluated_now", lambda: FIXED)


class Calls:
    """Runs `verify claim` in-process and says which path answered."""

    def __init__(self, root: VerificationRoot, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.capsys = capsys
        self.fast: list[bool] = []
        real = fastpath.answer

        def spy(invocation: fastpath.Invocation) -> fastpath.Answer | None:
            got = real(invocation)
            self.fast.append(got is not None)
            return got

        monkeypatch.setattr(fastpath, "answer", spy)

    def claim(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        status = main(["--root", str(self.root.path), "claim", CLAIM, "--backend", "process", *args])
        out, err = self.capsys.readouterr()
        return status, out, err

    def was_fast(self) -> bool:
        return self.fast[-1]

    def stamped(self) -> tuple[int, str, str]:
        """Fill the cache (one run), then a slow cached call that writes the stamp; return that call."""
        assert self.claim()[0] == 0
        slow = self.claim()
        assert not self.was_fast()
        return slow


@pytest.fixture
def calls(make_root: RootFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Calls:
    return Calls(make_root(), capsys, monkeypatch)


def last_verdict_bodies(root: VerificationRoot, n: int) -> list[str]:
    with Ledger.open(root.path / ".verify") as ledger:
        ledger.verify_chain()
        return [body for _, kind, body in ledger.live_entries() if kind == "verdict"][-n:]


class TestSameAnswer:
    @pytest.mark.parametrize("as_json", [False, True])
    def test_fast_output_is_the_slow_output_byte_for_byte(self, calls: Calls, as_json: bool) -> None:
        flag = ("--json",) if as_json else ()
        assert calls.claim()[0] == 0
        slow = calls.claim(*flag)
        fast = calls.claim(*flag)
        assert calls.fast[-2:] == [False, True]
        assert fast == slow
        if as_json:
            assert json.loads(fast[1])["cached"] is True

    def test_the_ledger_gets_the_same_verdict_entry(self, calls: Calls) -> None:
        calls.stamped()
        calls.claim()
        assert calls.was_fast()
        slow_body, fast_body = last_verdict_bodies(calls.root, 2)
        assert fast_body == slow_body  # the chain verified too

    def test_a_new_time_each_answer(self, calls: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
        calls.stamped()
        monkeypatch.setattr(clock, "evaluated_now", lambda: "2026-02-01T00:00:00Z")
        status, out, _ = calls.claim("--json")
        assert calls.was_fast() and status == 0
        assert json.loads(out)["evaluated"] == "2026-02-01T00:00:00Z"
        assert json.loads(last_verdict_bodies(calls.root, 1)[0])["evaluated"] == "2026-02-01T00:00:00Z"

    def test_strict_and_refuted_exit_as_the_slow_path(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        from tests.conftest import manifest_document

        document = manifest_document()
        document["claims"][0]["reported"] = {"value": 7e-05}  # refuted
        calls = Calls(make_root(document), capsys, monkeypatch)
        assert calls.claim()[0] == 1
        slow = calls.claim()
        fast = calls.claim()
        assert calls.fast[-2:] == [False, True]
        assert fast == slow and fast[0] == 1


def _edit_manifest(root: VerificationRoot) -> None:
    path = root.path / "manifests" / "demo-paper" / "manifest.yaml"
    document = json.loads(path.read_text())
    document["claims"][0]["check"]["rel_tol"] = 0.01
    path.write_text(json.dumps(document, indent=2))


def _edit_bundle(root: VerificationRoot) -> None:
    with (root.path / "bundle" / "formula.py").open("a") as handle:
        handle.write("# an unsealed edit\n")


def _edit_input(root: VerificationRoot) -> None:
    (root.path / "data" / "x.tsv").write_text("a\tb\nc\td\n")


def _reseal_after_bundle_edit(root: VerificationRoot) -> None:
    _edit_bundle(root)
    seal_manifest(root, "demo-paper")


def _add_correction(root: VerificationRoot) -> None:
    directory = root.path / "manifests" / "demo-paper" / "corrections"
    directory.mkdir()
    (directory / "0001.yaml").write_text("contract: correction-record-v1\n")


def _add_key(root: VerificationRoot) -> None:
    keys = root.path / ".verify" / "keys"
    keys.mkdir()
    (keys / "ed25519.pem").write_text("not used: the path alone makes the slow path sign\n")


def _drop_results(root: VerificationRoot) -> None:
    with Ledger.open(root.path / ".verify") as ledger:
        [run] = ledger.runs_for("demo-paper")
        assert run.results_digest is not None
        path = ledger.store.path(run.results_digest)
    path.chmod(0o644)
    path.unlink()


CHANGES: dict[str, Callable[[VerificationRoot], None]] = {
    "manifest": _edit_manifest,
    "bundle (seal no longer matches)": _edit_bundle,
    "input (digest no longer matches)": _edit_input,
    "bundle and seal": _reseal_after_bundle_edit,
    "corrections": _add_correction,
    "signing key": _add_key,
    "results object": _drop_results,
}


class TestAnyChangeTakesTheSlowPath:
    @pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
    def test_change(self, calls: Calls, change: str) -> None:
        calls.stamped()
        CHANGES[change](calls.root)
        status, _, err = calls.claim("--json")
        assert not calls.was_fast()
        if change.startswith(("bundle (", "input (")):
            assert status == 2 and "mismatch" in err  # the slow path's Gate 0, not a stale verdict

    def test_a_newer_run_for_the_same_key(self, calls: Calls) -> None:
        calls.stamped()
        _, out, _ = calls.claim("--json", "--no-cache")  # records a second run with the same key
        newer = json.loads(out)["run"]["id"]
        _, out, _ = calls.claim("--json")
        assert not calls.was_fast()
        assert json.loads(out)["run"]["id"] == newer

    def test_the_policy_and_code(self, calls: Calls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        package = tmp_path / "package"
        shutil.copytree(build.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
        monkeypatch.setattr(build, "PACKAGE_DIR", package)
        calls.stamped()
        calls.claim()
        assert calls.was_fast()
        with (package / "policy" / "quality-v1.yaml").open("a") as handle:
            handle.write("# a policy edit\n")
        calls.claim()
        assert not calls.was_fast()  # and this slow call stamps the new state
        calls.claim()
        assert calls.was_fast()
        (package / "gates.py").write_text((package / "gates.py").read_text() + "\n")
        calls.claim()
        assert not calls.was_fast()

    def test_the_verifier_version(self, calls: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
        calls.stamped()
        monkeypatch.setattr(build, "__version__", "99.0.0")
        calls.claim()
        assert not calls.was_fast()

    def test_the_environment_fingerprint(self, calls: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
        calls.stamped()
        real = fingerprint.host_fingerprint

        def other(backend: str) -> dict[str, Any]:
            return {**real(backend), "cpu": "another CPU"}

        monkeypatch.setattr(fingerprint, "host_fingerprint", other)
        calls.claim()
        assert not calls.was_fast()

    def test_other_options_are_another_stamp(self, calls: Calls) -> None:
        calls.stamped()
        calls.claim("--tier", "full")
        assert not calls.was_fast()


class TestNotStamped:
    @pytest.mark.parametrize("flags", [("--no-cache",), ("--replicate",)])
    def test_options_that_ask_for_new_work(self, calls: Calls, flags: tuple[str, ...]) -> None:
        assert calls.claim()[0] == 0
        calls.claim(*flags)
        calls.claim(*flags)
        assert not any(calls.fast)
        assert not (calls.root.path / ".verify" / fastpath.DIRECTORY).exists()

    def test_a_call_that_ran_a_repro(self, calls: Calls) -> None:
        calls.claim()
        assert not (calls.root.path / ".verify" / fastpath.DIRECTORY).exists()

    def test_files_within_the_racy_window(self, calls: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(fastpath, "RACY_WINDOW_NS", 3600 * 10**9)  # every file is "just written"
        calls.claim()
        calls.claim()
        calls.claim()
        assert not any(calls.fast)

    def test_an_unreadable_stamp_is_no_answer(self, calls: Calls) -> None:
        calls.stamped()
        [stamp] = (calls.root.path / ".verify" / fastpath.DIRECTORY).iterdir()
        stamp.write_text("{not json")
        assert calls.claim()[0] == 0
        assert not calls.was_fast()


class TestPaperAndCi:
    """`verify paper` and `verify ci` keep one stamp per call, over every paper they cover."""

    def run(self, root: VerificationRoot, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main(["--root", str(root.path), *args, "--backend", "process"])
        out, err = capsys.readouterr()
        return status, out, err

    @pytest.fixture
    def two_papers(self, make_root: RootFactory) -> VerificationRoot:
        from tests.conftest import manifest_document

        refuted = manifest_document("other-paper")
        refuted["claims"][0]["reported"] = {"value": 7e-05}
        return make_root(manifest_document(), refuted)

    @pytest.mark.parametrize("command", [("ci",), ("ci", "--json"), ("paper", "demo-paper"), ("paper", "other-paper", "--json")])
    def test_fast_output_is_the_slow_output(self, two_papers: VerificationRoot, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]) -> None:
        calls = Calls(two_papers, capsys, monkeypatch)
        self.run(two_papers, capsys, "ci")  # fills the cache
        slow = self.run(two_papers, capsys, *command)
        fast = self.run(two_papers, capsys, *command)
        assert calls.fast[-2:] == [False, True]
        assert fast == slow
        assert "runs: 0 executed" in fast[2] or command[-1] == "--json"

    def test_ci_exit_status_and_ledger(self, two_papers: VerificationRoot, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
        calls = Calls(two_papers, capsys, monkeypatch)
        self.run(two_papers, capsys, "ci")
        assert self.run(two_papers, capsys, "ci", "--strict")[0] == 1  # one paper refuted
        assert self.run(two_papers, capsys, "ci", "--strict")[0] == 1
        assert calls.fast[-1]
        assert last_verdict_bodies(two_papers, 2) == last_verdict_bodies(two_papers, 4)[:2]

    def test_one_changed_paper_is_a_slow_ci(self, two_papers: VerificationRoot, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
        calls = Calls(two_papers, capsys, monkeypatch)
        self.run(two_papers, capsys, "ci")
        self.run(two_papers, capsys, "ci")
        _edit_manifest(two_papers)
        _, out, _ = self.run(two_papers, capsys, "ci", "--json")
        assert not calls.fast[-1]
        assert json.loads(out)["papers"][0]["claims"][0]["check"]["rel_tol"] == 0.01

    def test_a_new_paper_is_a_slow_ci(self, two_papers: VerificationRoot, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
        from tests.conftest import manifest_document

        calls = Calls(two_papers, capsys, monkeypatch)
        self.run(two_papers, capsys, "ci")
        self.run(two_papers, capsys, "ci")
        directory = two_papers.path / "manifests" / "third-paper"
        directory.mkdir()
        (directory / "manifest.yaml").write_text(json.dumps(manifest_document("third-paper")))
        status, _, err = self.run(two_papers, capsys, "ci")
        assert not calls.fast[-1]
        assert status == 2 and "third-paper" in err  # unsealed: the slow path's Gate 0

    def test_junit_is_never_answered_from_a_stamp(self, two_papers: VerificationRoot, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        calls = Calls(two_papers, capsys, monkeypatch)
        self.run(two_papers, capsys, "ci")
        self.run(two_papers, capsys, "ci")
        self.run(two_papers, capsys, "ci", "--junit", str(tmp_path / "junit.xml"))
        assert calls.fast == [False, False]  # the junit call did not even ask
        assert (tmp_path / "junit.xml").is_file()


def test_the_state_resolves_paths_as_realpath_does(tmp_path: Path) -> None:
    """The state's resolver (an lstat per component under the root) gives `os.path.realpath`'s answer: symlinks, `..`, loops, missing files."""
    import os

    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "x").mkdir()
    (tmp_path / "a" / "b" / "c" / "f").write_text("")
    (tmp_path / "lnk").symlink_to(tmp_path / "a" / "b")
    (tmp_path / "a" / "rel").symlink_to("../x")
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "a" / "b" / "flink").symlink_to("c/f")
    resolve = fastpath._resolver(tmp_path.resolve())
    paths = ["a/b/c/f", "lnk/c/f", "a/rel", "a/rel/none", "loop", "loop/x", "a/b/flink", "a/b/../b/c", "missing/y",
             "a/b/c/f/g", "lnk/flink", "."]
    for rel in paths * 2:  # twice: nothing is remembered between calls
        path = os.path.join(tmp_path, rel)
        assert resolve(path) == os.path.realpath(path), rel
