"""`verify claim`, `verify paper`, `verify history`: exact lines and exit statuses, through real sandbox runs.

Each test builds a root with `make_root`, adds small repro scripts to the
bundle, seals it, and runs the CLI in-process (`verifier.cli.main`), which is
what the console script calls. Sealed runs go through bwrap; tests where
isolation is not the point use `--backend process`.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.cli import main
from verifier.ledger import Ledger
from verifier.manifests import seal_manifest
from verifier.root import VerificationRoot

HAS_BWRAP = shutil.which("bwrap") is not None


def needs_bwrap(test: Any) -> Any:
    """Mark a test `bwrap` and skip it where bubblewrap is missing."""
    return pytest.mark.bwrap(pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")(test))


VERIFIED_LINE = (
    "Verified (Gate 2): sealed-sandbox formula repro: computed 5e-05 matches expected 5e-05 (tolerance=5.0%)"
)

PRELUDE = "import json, os, pathlib, sys, time\n" \
    "params = json.loads(pathlib.Path(os.environ['REPRO_PARAMS']).read_text())\n" \
    "seed = int(os.environ['REPRO_SEED'])\n" \
    "def emit(**values):\n" \
    "    pathlib.Path(os.environ['REPRO_OUT'], 'results.json').write_text(json.dumps(values))\n"

SCRIPTS = {
    "crash.py": PRELUDE + "raise RuntimeError('boom')\n",
    "silent.py": PRELUDE + "print('done, but wrote nothing')\n",
    "sleepy.py": PRELUDE + "time.sleep(params.get('sleep_s', 30))\nemit(value=1.0)\n",
    "restate.py": PRELUDE + "emit(learning_rate=params['lr'])\n",
    "arms.py": PRELUDE + "emit(ours=params['ours'] * 2, baseline=params['baseline'] * 2)\n",
    "series.py": PRELUDE + "emit(acc=[params['start'] + params['step'] * i for i in range(4)])\n",
    "seeded.py": PRELUDE + "emit(score=params['center'] + params['spread'] * (seed - 2))\n",
}


@pytest.fixture(autouse=True)
def _no_ambient_state(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VERIFY_HOME", "VERIFY_ROOT", "VERIFY_BACKEND", "VERIFY_TIER"):
        monkeypatch.delenv(name, raising=False)


def build(make_root: RootFactory, *documents: dict[str, Any]) -> VerificationRoot:
    """A sealed root whose bundle also holds SCRIPTS."""
    root = make_root(*documents, seal=False)
    for name, text in SCRIPTS.items():
        (root.path / "bundle" / name).write_text(text)
    for document in documents:
        seal_manifest(root, document["id"])
    return root


def repro(rid: str, module: str, **params: Any) -> dict[str, Any]:
    limits = params.pop("limits", {"timeout_s": 60, "memory_mb": 512, "cpus": 1})
    tier = params.pop("tier", "smoke")
    return {"id": rid, "bundle": "bundle", "entrypoint": ["python", "-m", f"bundle.{module}"],
            "params": params, "limits": limits, "tier": tier}


def claim(cid: str = "C1", *, value: Any = 1.0, output: str = "/value", rid: str = "R1", **extra: Any) -> dict[str, Any]:
    document = {"id": cid, "statement": f"Claim {cid}.", "kind": "empirical",
                "source": {"section": "5 Results", "quote": "see table"},
                "reported": {"value": value}, "check": {"op": "approx", "rel_tol": 0.05},
                "evidence": {"repro": rid, "output": output}}
    document.update(extra)
    return document


def run(capsys: pytest.CaptureFixture[str], root: VerificationRoot, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["--root", str(root.path), *args])
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys: pytest.CaptureFixture[str], root: VerificationRoot, *args: str) -> tuple[int, dict[str, Any]]:
    status, out, _ = run(capsys, root, *args, "--json")
    return status, json.loads(out)


class TestClaimLine:
    @needs_bwrap
    def test_verified_formula_prints_the_contract_line(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        status, out, _ = run(capsys, root, "claim", "demo-paper/C1")
        assert (status, out) == (0, VERIFIED_LINE + "\n")

    @needs_bwrap
    def test_wrong_reported_value_is_refuted(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        document = manifest_document()
        document["claims"][0]["reported"] = {"value": 6e-05}
        root = make_root(document)
        status, out, _ = run(capsys, root, "claim", "demo-paper/C1")
        assert status == 1
        assert out == ("Refuted (Gate 2): sealed-sandbox formula repro: computed 5e-05 does not match "
                       "expected 6e-05 (tolerance=5.0%)\n")

    @needs_bwrap
    def test_json_has_every_contract_field(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        status, verdict = run_json(capsys, root, "claim", "demo-paper/C1")
        assert status == 0
        for field in ("claim", "status", "gate", "reason", "expected", "computed", "check", "backend",
                      "sealed", "cached", "evaluated", "run"):
            assert field in verdict, field
        assert set(verdict["run"]) >= {"id", "seal", "duration_s", "exit_code"}
        assert verdict["claim"] == "demo-paper/C1"
        assert (verdict["status"], verdict["gate"], verdict["backend"]) == ("verified", 2, "bwrap")
        assert (verdict["expected"], verdict["computed"]) == (5e-05, 5e-05)
        assert verdict["check"] == {"op": "approx", "rel_tol": 0.05, "tolerance": "5.0%"}
        assert (verdict["sealed"], verdict["cached"]) == (True, False)
        assert verdict["run"]["exit_code"] == 0
        assert verdict["run"]["seal"] == root_seal(root)
        assert verdict["evaluated"].endswith("Z")
        assert verdict["policy_digest"].startswith("sha256:")

    def test_process_backend_says_unsealed(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        status, out, _ = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (status, out) == (0, VERIFIED_LINE.replace("sealed-sandbox", "unsealed") + "\n")
        status, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (verdict["sealed"], verdict["backend"], verdict["cached"]) == (False, "process", True)

    def test_unknown_claim_is_bad_input_in_one_line(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        status, out, err = run(capsys, root, "claim", "demo-paper/C9", "--backend", "process")
        assert (status, out) == (2, "")
        assert err == "verify: error: manifests/demo-paper/manifest.yaml: unknown claim demo-paper/C9\n"
        assert not (root.path / ".verify" / "runs").exists() or not Ledger.open(root.path / ".verify").runs_for()


def root_seal(root: VerificationRoot) -> str:
    return str(json.loads((root.path / "manifests" / "demo-paper" / "manifest.yaml").read_text())["repros"][0]["seal"])


class TestInconclusive:
    @pytest.mark.parametrize(
        ("module", "limits", "reason"),
        [
            ("crash", None, "Inconclusive (Gate 2): repro R1 (seed 0) gave no results: "),
            ("silent", None, "Inconclusive (Gate 2): repro R1 (seed 0) gave no results: "),
            ("sleepy", {"timeout_s": 0.5, "memory_mb": 512, "cpus": 1},
             "Inconclusive (Gate 2): repro R1 (seed 0) gave no results: "),
        ],
    )
    def test_run_without_results_is_inconclusive(
        self, make_root: RootFactory, capsys: pytest.CaptureFixture[str], module: str, limits: Any, reason: str
    ) -> None:
        spec = repro("R1", module) if limits is None else repro("R1", module, limits=limits)
        root = build(make_root, manifest_document(claims=[claim()], repros=[spec]))
        status, out, _ = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert status == 3
        assert out.startswith(reason)
        record = Ledger.open(root.path / ".verify").runs_for("demo-paper")[0]
        expected_status = {"crash": "crashed", "silent": "no-results", "sleepy": "timeout"}[module]
        assert record.status == expected_status
        assert out == f"{reason}{record.reason}\n"

    def test_failed_runs_are_not_cached(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = build(make_root, manifest_document(claims=[claim()], repros=[repro("R1", "crash")]))
        for _ in range(2):
            status, _, _ = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
            assert status == 3
        assert len(Ledger.open(root.path / ".verify").runs_for("demo-paper")) == 2

    def test_pointer_to_nothing_is_inconclusive(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        document = manifest_document()
        document["claims"][0]["evidence"]["output"] = "/nope"
        root = make_root(document)
        status, out, _ = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (status, out) == (3, "Inconclusive (Gate 2): results.json of repro R1 has no value at /nope\n")


class TestNotAttempted:
    def test_full_tier_is_unverified_and_fails_only_under_strict(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        document = manifest_document()
        document["repros"][0]["tier"] = "full"
        root = make_root(document)
        line = ("Unverified (Gate 2): full-tier repro R1 not run in a smoke run (needs a GPU or hours); "
                "run with --tier full\n")
        assert run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")[:2] == (0, line)
        assert run(capsys, root, "claim", "demo-paper/C1", "--backend", "process", "--strict")[:2] == (3, line)
        assert not Ledger.open(root.path / ".verify").runs_for()  # nothing ran
        status, out, _ = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process", "--tier", "full")
        assert (status, out) == (0, VERIFIED_LINE.replace("sealed-sandbox", "unsealed") + "\n")

    def test_claim_without_source_anchor_stops_at_gate_1(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        document = manifest_document()
        del document["claims"][0]["source"]
        root = make_root(document)
        status, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert status == 0
        assert (verdict["status"], verdict["gate"], verdict["run"]) == ("unverified", 1, None)
        assert verdict["line"] == "Unverified (Gate 1): no source anchor: the claim names no section of the source"
        assert run(capsys, root, "claim", "demo-paper/C1", "--backend", "process", "--strict")[0] == 3
        assert not Ledger.open(root.path / ".verify").runs_for()

    def test_descriptive_claim_has_no_gate_2_check(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        document = manifest_document()
        document["claims"].append({"id": "D1", "statement": "We use mBERT.", "kind": "descriptive",
                                   "source": {"section": "3 Method", "quote": "we use mBERT"}})
        root = make_root(document)
        status, out, _ = run(capsys, root, "claim", "demo-paper/D1", "--backend", "process", "--strict")
        assert (status, out) == (0, "Unverified (Gate 1): grounded in section '3 Method'; a descriptive claim has no Gate 2 check\n")
        status, verdict = run_json(capsys, root, "claim", "demo-paper/D1", "--backend", "process")
        assert (verdict["checkable"], verdict["check"], verdict["computed"]) == (False, None, None)
        assert not Ledger.open(root.path / ".verify").runs_for()


class TestClaimKinds:
    def test_comparative_claim_reads_both_arms(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        beats = claim("C1", value=None, output="/ours",
                      check={"op": "gt", "margin": 0.02, "against": {"repro": "R2", "output": "/baseline"}})
        loses = claim("C2", value=None, output="/ours",
                      check={"op": "gt", "margin": 0.10, "against": {"repro": "R2", "output": "/baseline"}})
        del beats["reported"], loses["reported"]
        document = manifest_document(claims=[beats, loses],
                                     repros=[repro("R1", "arms", ours=0.4, baseline=0.0),
                                             repro("R2", "arms", ours=0.0, baseline=0.375)])
        root = build(make_root, document)
        status, out, _ = run(capsys, root, "paper", "demo-paper", "--backend", "process")
        assert status == 1
        assert out.splitlines()[:2] == [
            "demo-paper/C1: Verified (Gate 2): unsealed empirical repro: computed 0.8 > 0.75 + 0.02 (other arm)",
            "demo-paper/C2: Refuted (Gate 2): unsealed empirical repro: computed 0.8 is not > 0.75 + 0.1 (other arm)",
        ]
        status, session = run_json(capsys, root, "paper", "demo-paper", "--backend", "process")
        c1 = session["papers"][0]["claims"][0]
        assert (c1["expected"], c1["computed"]) == (0.75, 0.8)
        assert len(c1["runs"]) == 2  # one per arm, both named
        assert session["runs"] == {"executed": 0, "cached": 2}

    @pytest.mark.parametrize(("step", "status", "word"), [(0.05, 0, "Verified"), (-0.05, 1, "Refuted")])
    def test_trend_claim(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str], step: float, status: int, word: str) -> None:
        trend = claim(output="/acc", check={"op": "trend", "x": [1, 2, 4, 8], "direction": "increasing"})
        del trend["reported"]
        root = build(make_root, manifest_document(claims=[trend], repros=[repro("R1", "series", start=0.5, step=step)]))
        code, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (code, verdict["status"]) == (status, word.lower())
        assert verdict["computed"] == pytest.approx([0.5 + step * i for i in range(4)])
        assert verdict["line"].startswith(f"{word} (Gate 2): unsealed empirical repro: ")
        assert "rho" in verdict["reason"]

    @needs_bwrap
    def test_multi_seed_claim_runs_once_per_seed(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        seeded = claim(value=0.8, output="/score", evidence={"repro": "R1", "output": "/score", "seeds": [0, 1, 2, 3, 4]},
                       check={"op": "approx", "abs_tol": 0.05, "samples": {"min_seeds": 3, "resamples": 500}})
        root = build(make_root, manifest_document(claims=[seeded], repros=[repro("R1", "seeded", center=0.8, spread=0.001)]))
        status, verdict = run_json(capsys, root, "claim", "demo-paper/C1")
        assert (status, verdict["status"]) == (0, "verified")
        assert verdict["computed"] == pytest.approx([0.798, 0.799, 0.8, 0.801, 0.802])
        assert len(verdict["runs"]) == 5 and len({r["id"] for r in verdict["runs"]}) == 5
        runs = Ledger.open(root.path / ".verify").runs_for("demo-paper")
        assert sorted(r.seed for r in runs) == [0, 1, 2, 3, 4]
        assert all(r.sealed for r in runs)
        assert verdict["reason"] == ("sealed-sandbox empirical repro: mean 0.8 over 5 seeds, 95% t-interval [0.798, 0.802] "
                                     "matches expected 0.8 (tolerance=abs 0.05)")
        assert verdict["interval"]["method"] == "t" and verdict["interval"]["n"] == 5
        assert (verdict["seeds"], verdict["evidence"], verdict["replication"]) == ([0, 1, 2, 3, 4], "reproduced", None)

    def test_too_few_seeds_is_inconclusive(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        seeded = claim(value=0.8, evidence={"repro": "R1", "output": "/score", "seeds": [0, 1]},
                       check={"op": "approx", "abs_tol": 0.05, "samples": {"min_seeds": 3}})
        root = build(make_root, manifest_document(claims=[seeded], repros=[repro("R1", "seeded", center=0.8, spread=0.001)]))
        status, out, _ = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (status, out) == (3, "Inconclusive (Gate 2): unsealed empirical repro: 3 seeds needed, 2 given\n")
        assert len(Ledger.open(root.path / ".verify").runs_for("demo-paper")) == 2

    def test_interval_straddling_the_threshold_is_inconclusive(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        # scores 0.3 .. 0.7 around the threshold 0.5: the mean's CI straddles it
        seeded = claim(value=0.5, evidence={"repro": "R1", "output": "/score", "seeds": [0, 1, 2, 3, 4]},
                       check={"op": "gt", "samples": {"min_seeds": 3, "resamples": 500}})
        root = build(make_root, manifest_document(claims=[seeded], repros=[repro("R1", "seeded", center=0.5, spread=0.1)]))
        status, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (status, verdict["status"]) == (3, "inconclusive")
        assert verdict["interval"]["low"] < 0.5 < verdict["interval"]["high"]
        assert "straddles 0.5 (reported)" in verdict["reason"]

    def test_restated_param_is_transcribed(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        copied = claim(value=5e-05, output="/learning_rate")
        root = build(make_root, manifest_document(claims=[copied], repros=[repro("R1", "restate", lr=5e-05)]))
        status, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (status, verdict["status"], verdict["flags"]) == (0, "verified", ["transcribed"])
        assert verdict["reason"] == ("unsealed empirical repro: computed 5e-05 matches expected 5e-05 (tolerance=5.0%); "
                                     "transcribed: 5e-05 appears verbatim in the repro's params")
        assert verdict["line"].startswith("Verified (Gate 2, transcribed): ")
        assert verdict["evidence"] == "transcribed"
        assert verdict["transcription"] == {"value": 5e-05, "file": "manifest.yaml", "where": "params"}

    def test_value_read_back_from_an_input_is_transcribed(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root(seal=False)
        (root.path / "data" / "x.tsv").write_text("name\tlearning_rate\nmbert\t5e-5\n")
        seal_manifest(root, "demo-paper")
        status, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (status, verdict["evidence"]) == (0, "transcribed")
        assert verdict["transcription"] == {"value": 5e-05, "file": "data/x.tsv", "where": "input"}
        assert verdict["reason"].endswith("; transcribed: 5e-05 appears verbatim in data/x.tsv")

    def test_derived_value_is_not_flagged(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        _, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (verdict["flags"], verdict["evidence"], verdict["transcription"]) == ([], "reproduced", None)


class TestPaper:
    def test_partially_verified_paper(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        document = manifest_document()
        unattempted = dict(document["claims"][0], id="C2", evidence=None)
        del unattempted["evidence"]
        descriptive = {"id": "D1", "statement": "We use mBERT.", "kind": "descriptive",
                       "source": {"section": "3 Method", "quote": "we use mBERT"}}
        document["claims"] += [unattempted, descriptive]
        root = make_root(document)
        status, out, err = run(capsys, root, "paper", "demo-paper", "--backend", "process")
        assert status == 0
        assert out.splitlines() == [
            "demo-paper/C1: " + VERIFIED_LINE.replace("sealed-sandbox", "unsealed"),
            "demo-paper/C2: Unverified (Gate 2): no repro is linked to this claim yet",
            "demo-paper/D1: Unverified (Gate 1): grounded in section '3 Method'; a descriptive claim has no Gate 2 check",
            "demo-paper: Partially verified (1 of 2 claims) (level L2, tier UNASSESSED)",
        ]
        assert err.splitlines()[-1] == "runs: 1 executed, 0 cached"
        assert run(capsys, root, "paper", "demo-paper", "--backend", "process", "--strict")[0] == 3


class TestHistory:
    def test_history_says_when_it_last_passed_and_what_changed(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        assert run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")[0] == 0
        manifest = root.path / "manifests" / "demo-paper" / "manifest.yaml"
        document = json.loads(manifest.read_text())
        document["repros"][0]["params"]["batch"] = 19  # now 5.9375e-05: refuted
        manifest.write_text(json.dumps(document))
        status, out, _ = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert status == 1 and out.startswith("Refuted (Gate 2): unsealed formula repro: computed 5.9375e-05")
        status, report = run_json(capsys, root, "history", "demo-paper/C1")
        assert status == 0
        assert [v["status"] for v in report["verdicts"]] == ["refuted", "verified"]
        assert report["last_passed"] == report["verdicts"][1]["evaluated"]
        assert [c.split(" ")[0] for c in report["changed_since_pass"]] == ["params_digest"]
        status, out, _ = run(capsys, root, "history", "demo-paper/C1")
        assert f"last passed: {report['last_passed']}" in out.splitlines()
        assert any(line.startswith("changed since: params_digest sha256:") for line in out.splitlines())

    def test_history_names_a_new_seal_after_the_bundle_changed(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        assert run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")[0] == 0
        old_seal = root_seal(root)
        formula = root.path / "bundle" / "formula.py"
        formula.write_text(formula.read_text().replace("value = ", "value = 1.5 * "))
        status, out, err = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (status, out) == (2, "")
        assert err.startswith("verify: error: ") and "seal" in err and err.count("\n") == 1
        assert run(capsys, root, "seal", "demo-paper")[0] == 0
        status, out, _ = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (status, out) == (1, "Refuted (Gate 2): unsealed formula repro: computed 7.5e-05 does not match "
                                    "expected 5e-05 (tolerance=5.0%)\n")
        _, report = run_json(capsys, root, "history", "demo-paper/C1")
        assert [v["status"] for v in report["verdicts"]] == ["refuted", "verified"]
        assert report["changed_since_pass"] == [f"seal {old_seal[:19]} -> {root_seal(root)[:19]}"]

    def test_history_of_a_claim_never_verified(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        status, out, _ = run(capsys, root, "history", "demo-paper/C1")
        assert (status, out) == (0, "last passed: never\n")

    def test_history_of_an_unknown_claim_is_bad_input(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root()
        status, out, err = run(capsys, root, "history", "demo-paper/C9")
        assert (status, out) == (2, "")
        assert err == "verify: error: manifests/demo-paper/manifest.yaml: unknown claim demo-paper/C9\n"


def test_list_shows_last_status(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root()
    status, out, _ = run(capsys, root, "list")
    assert (status, out) == (0, "demo-paper/C1\tformula\tnever verified\t\n")
    run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
    status, rows = run_json(capsys, root, "list")
    assert [(r["claim"], r["status"]) for r in rows] == [("demo-paper/C1", "verified")]

def test_comparative_claim_against_a_full_tier_arm_is_not_attempted(
    make_root: RootFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: the other arm's tier counts too; a smoke run must not call the claim inconclusive."""
    beats = claim("C1", value=None, output="/ours",
                  check={"op": "gt", "against": {"repro": "R2", "output": "/baseline"}})
    del beats["reported"]
    document = manifest_document(claims=[beats], repros=[repro("R1", "arms", ours=0.4, baseline=0.0),
                                                         repro("R2", "arms", ours=0.0, baseline=0.3, tier="full")])
    root = build(make_root, document)
    status, out, _ = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
    assert (status, out) == (0, "Unverified (Gate 2): full-tier repro R2 not run in a smoke run (needs a GPU or hours); "
                                "run with --tier full\n")
    status, out, _ = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process", "--tier", "full")
    assert (status, out) == (0, "Verified (Gate 2): unsealed empirical repro: computed 0.8 > 0.6 (other arm)\n")


class TestProof:
    def build(self, make_root: RootFactory, theorem: str) -> VerificationRoot:
        proof = {"id": "P1", "statement": "Addition commutes.", "kind": "proof",
                 "source": {"section": "A.1", "quote": "a + b = b + a"},
                 "proof": {"file": "proofs/add.lean", "theorem": theorem}}
        root = make_root(manifest_document(claims=[proof], repros=[]), seal=False)
        (root.path / "proofs").mkdir()
        (root.path / "proofs" / "add.lean").write_text("theorem add_comm' (a b : Nat) : a + b = b + a := Nat.add_comm a b\n")
        seal_manifest(root, "demo-paper")
        return root

    @pytest.mark.skipif(shutil.which("lean") is not None, reason="Lean 4 is installed")
    def test_without_lean_a_proof_claim_is_inconclusive(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = self.build(make_root, "add_comm'")
        status, out, _ = run(capsys, root, "claim", "demo-paper/P1")
        assert (status, out) == (3, "Inconclusive (Gate 2): Lean 4 is not installed (no `lean` on PATH): "
                                    "cannot type-check proofs/add.lean\n")

    @pytest.mark.parametrize("theorem", ["mul_comm", "add_comm"])  # add_comm: only add_comm' is declared
    def test_a_proof_file_without_the_theorem_is_refuted(
        self, make_root: RootFactory, capsys: pytest.CaptureFixture[str], theorem: str
    ) -> None:
        root = self.build(make_root, theorem)
        status, out, _ = run(capsys, root, "claim", "demo-paper/P1")
        assert (status, out) == (1, f"Refuted (Gate 2): Lean 4 proof: proofs/add.lean declares no theorem {theorem}\n")
