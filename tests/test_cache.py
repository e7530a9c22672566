"""Runs are cached by run key, verdicts are not: what reuses a run, what forces a new one, what voids one."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.cli import main
from verifier.executor import Options, verify_claims
from verifier.ledger import Ledger
from verifier.manifests import seal_manifest
from verifier.root import VerificationRoot
from verifier.runs import RunPlan

HAS_BWRAP = shutil.which("bwrap") is not None


@pytest.fixture(autouse=True)
def _no_ambient_state(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VERIFY_HOME", "VERIFY_ROOT", "VERIFY_BACKEND", "VERIFY_TIER"):
        monkeypatch.delenv(name, raising=False)


def ci(capsys: pytest.CaptureFixture[str], root: VerificationRoot, *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    status = main(["--root", str(root.path), "ci", "--json", "--backend", "process", *args])
    out, _ = capsys.readouterr()
    return status, json.loads(out) if out.strip() else {}


def runs_in(root: VerificationRoot) -> int:
    with Ledger.open(root.path / ".verify") as ledger:
        return len(ledger.runs_for())


def manifest_path(root: VerificationRoot) -> Path:
    return root.path / "manifests" / "demo-paper" / "manifest.yaml"


def edit_manifest(root: VerificationRoot, change: Any) -> None:
    document = json.loads(manifest_path(root).read_text())
    change(document)
    manifest_path(root).write_text(json.dumps(document, indent=2))


def only_claim(session: dict[str, Any]) -> dict[str, Any]:
    [paper] = session["papers"]
    [claim] = paper["claims"]
    return claim


class TestCache:
    def test_second_ci_is_served_from_the_ledger(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        status, first = ci(capsys, root)
        assert (status, first["runs"], only_claim(first)["cached"]) == (0, {"executed": 1, "cached": 0}, False)
        status, second = ci(capsys, root)
        assert (status, second["runs"], only_claim(second)["cached"]) == (0, {"executed": 0, "cached": 1}, True)
        assert only_claim(second)["run"] == only_claim(first)["run"]
        assert only_claim(second)["evaluated"] != only_claim(first)["evaluated"]  # verdicts are not cached
        assert runs_in(root) == 1

    def test_tolerance_change_rejudges_without_a_run(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        document = manifest_document()
        document["claims"][0]["reported"] = {"value": 5.2e-05}  # 4% off: passes at 5%, fails at 1%
        root = make_root(document)
        assert ci(capsys, root)[0] == 0
        edit_manifest(root, lambda d: d["claims"][0]["check"].update(rel_tol=0.01))
        options = Options(root=root.path, home=root.path / ".verify", backend="process")
        start = time.perf_counter()
        session = verify_claims(options, [])
        elapsed = time.perf_counter() - start
        [verdict] = session.verdicts()
        assert (verdict.status, verdict.cached, session.runs_executed) == ("refuted", True, 0)
        assert verdict.reason == "unsealed formula repro: computed 5e-05 does not match expected 5.2e-05 (tolerance=1.0%)"
        assert elapsed < 0.5, f"re-judging one cached claim took {elapsed:.3f} s"
        assert runs_in(root) == 1

    def test_no_cache_forces_a_run(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        _, first = ci(capsys, root)
        status, forced = ci(capsys, root, "--no-cache")
        assert (status, forced["runs"], only_claim(forced)["cached"]) == (0, {"executed": 1, "cached": 0}, False)
        assert only_claim(forced)["run"]["id"] != only_claim(first)["run"]["id"]
        assert runs_in(root) == 2
        assert ci(capsys, root)[1]["runs"] == {"executed": 0, "cached": 1}

    def test_params_are_part_of_the_run_key(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        ci(capsys, root)
        edit_manifest(root, lambda d: d["repros"][0]["params"].update(batch=32))
        status, session = ci(capsys, root)
        assert (status, session["runs"], only_claim(session)["computed"]) == (1, {"executed": 1, "cached": 0}, 1e-04)

    def test_changed_bundle_is_refused_until_resealed_then_runs_again(
        self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = make_root()
        _, first = ci(capsys, root)
        formula = root.path / "bundle" / "formula.py"
        formula.write_text(formula.read_text() + "# a comment changes the seal\n")
        capsys.readouterr()
        status = main(["--root", str(root.path), "ci", "--backend", "process"])
        out, err = capsys.readouterr()
        assert (status, out) == (2, "demo-paper: invalid\n")
        assert err.splitlines()[-1].startswith("verify: error: ") and "seal" in err.splitlines()[-1]  # the error last
        assert runs_in(root) == 1  # nothing was run
        assert main(["--root", str(root.path), "seal", "demo-paper"]) == 0
        status, session = ci(capsys, root)
        assert (status, session["runs"]) == (0, {"executed": 1, "cached": 0})
        assert only_claim(session)["run"]["seal"] != only_claim(first)["run"]["seal"]
        assert runs_in(root) == 2


class _TamperOnStart:
    """An observer that edits the bundle on the host while the repro runs."""

    def __init__(self, target: Path, delay_s: float) -> None:
        self.target, self.delay_s = target, delay_s
        self.threads: list[threading.Thread] = []

    def runs_planned(self, total: int, cached: int) -> None:
        pass

    def run_started(self, plan: RunPlan) -> None:
        def tamper() -> None:
            time.sleep(self.delay_s)
            self.target.write_text(self.target.read_text() + "# tampered\n")

        thread = threading.Thread(target=tamper)
        thread.start()
        self.threads.append(thread)

    def run_finished(self, plan: RunPlan, obtained: object) -> None:
        pass


@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")
@pytest.mark.bwrap
def test_bundle_modified_during_the_run_voids_it(make_root: RootFactory) -> None:
    document = manifest_document()
    document["repros"][0]["entrypoint"] = ["python", "-m", "bundle.slow"]
    root = make_root(document, seal=False)
    (root.path / "bundle" / "slow.py").write_text("import time\ntime.sleep(1.5)\nfrom bundle import formula\n")
    seal_manifest(root, "demo-paper")
    observer = _TamperOnStart(root.path / "bundle" / "formula.py", delay_s=0.3)
    options = Options(root=root.path, home=root.path / ".verify", backend="bwrap")
    session = verify_claims(options, [], observer=observer)
    for thread in observer.threads:
        thread.join()
    [verdict] = session.verdicts()
    assert session.exit_status(strict=False) == 3
    assert verdict.status == "inconclusive"
    assert verdict.reason.startswith("repro R1 (seed 0) gave no results: void: the bundle changed during the run (seal now sha256:")
    with Ledger.open(root.path / ".verify") as ledger:
        [record] = ledger.runs_for()
    assert (record.status, record.results_digest, record.exit_code) == ("void", None, 0)
    assert [o.path for o in record.outputs] == ["results.json"]  # the repro did write its answer; it is not used
