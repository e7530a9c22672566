"""How strong a verdict's evidence is, end to end through real sandbox runs: baselines, replication.

Small real repros (python scripts in the test root's bundle) run under the
process backend, and under bwrap where it matters that replication goes
through the sealed sandbox.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RootFactory, manifest_document
from tests.test_cli_verdicts import needs_bwrap, run, run_json
from verifier.ledger import Ledger
from verifier.manifests import seal_manifest
from verifier.replication import fresh_seeds
from verifier.root import VerificationRoot

PRELUDE = "import json, os, pathlib, random\n" \
    "params = json.loads(pathlib.Path(os.environ['REPRO_PARAMS']).read_text())\n" \
    "seed = int(os.environ['REPRO_SEED'])\n" \
    "def emit(**values):\n" \
    "    pathlib.Path(os.environ['REPRO_OUT'], 'results.json').write_text(json.dumps(values))\n"

# A trained model's gap and an untrained one's, per seed: noisy, seeded by $REPRO_SEED.
GAPS = PRELUDE + (
    "rng = random.Random(seed)\n"
    "emit(gap=params['trained'] + rng.gauss(0, 0.01), gap_untrained=params['untrained'] + rng.gauss(0, 0.01))\n"
)
# A score that is pure noise around 0.5: any seed set can be cherry-picked to look good.
NOISE = PRELUDE + "emit(score=random.Random(seed).gauss(0.5, 0.1))\n"
# Accuracy at three data shares, per seed: rising with the share, plus seed noise.
SERIES = PRELUDE + "rng = random.Random(seed)\nemit(acc=[0.2 * i + rng.uniform(0, 0.05) for i in range(3)])\n"


def build(make_root: RootFactory, *claims: dict[str, Any], **params: Any) -> VerificationRoot:
    repros = [
        {"id": "R1", "bundle": "bundle", "entrypoint": ["python", "-m", "bundle.gaps"], "limits": {"timeout_s": 60},
         "params": {"trained": params.get("trained", 0.05), "untrained": params.get("untrained", 0.0)}},
        {"id": "R2", "bundle": "bundle", "entrypoint": ["python", "-m", "bundle.noise"], "limits": {"timeout_s": 60}},
        {"id": "R3", "bundle": "bundle", "entrypoint": ["python", "-m", "bundle.series"], "limits": {"timeout_s": 60}},
    ]
    document = manifest_document(contract="paper-manifest-v1.2", claims=list(claims), repros=repros)
    root = make_root(document, seal=False)
    (root.path / "bundle" / "gaps.py").write_text(GAPS)
    (root.path / "bundle" / "noise.py").write_text(NOISE)
    (root.path / "bundle" / "series.py").write_text(SERIES)
    seal_manifest(root, "demo-paper")
    return root


def gap_claim(cid: str, *, baseline: str | None = "/gap_untrained", seeds: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "id": cid, "statement": f"Training opens a gap ({cid}).", "kind": "empirical",
        "source": {"section": "5 Results", "quote": "a gap"}, "reported": {"value": 0.0},
        "check": {"op": "gt", "samples": {"min_seeds": 3}},
        "evidence": {"repro": "R1", "output": "/gap", "seeds": seeds or [0, 1, 2, 3]},
    }
    if baseline is not None:
        claim["baseline"] = {"repro": "R1", "output": baseline}
    return claim | extra


def cherry_picked_seeds(count: int = 4) -> list[int]:
    """Seeds whose noise happens to be high: what a threshold tuned to its seeds rests on."""
    return [s for s in range(500) if random.Random(s).gauss(0.5, 0.1) > 0.66][:count]


def noise_claim(**extra: Any) -> dict[str, Any]:
    return {"id": "N1", "statement": "The score is above 0.6.", "kind": "empirical",
            "source": {"section": "5 Results", "quote": "above 0.6"}, "reported": {"value": 0.6},
            "check": {"op": "gt", "samples": {"min_seeds": 3}},
            "evidence": {"repro": "R2", "output": "/score", "seeds": cherry_picked_seeds()}} | extra


def comparable(verdict: dict[str, Any]) -> str:
    """The verdict less what differs between two runs of the same experiment: time, run ids, cache."""
    kept = {k: v for k, v in verdict.items() if k not in ("evaluated", "cached", "run", "runs")}
    return json.dumps(kept, sort_keys=True)


class TestBaseline:
    def test_a_baseline_that_passes_too_makes_the_claim_uninformative(
        self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # The trained gap is 0.05, but the "untrained" null model opens one of 0.04 too.
        root = build(make_root, gap_claim("C1"), trained=0.05, untrained=0.04)
        status, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (status, verdict["status"], verdict["informative"]) == (0, "verified", False)
        assert verdict["baseline"]["status"] == "pass" and len(verdict["baseline"]["computed"]) == 4
        assert verdict["baseline"]["interval"]["method"] == "t"
        assert verdict["line"].startswith("Verified (Gate 2, uninformative): unsealed empirical repro: mean 0.0")
        assert "; uninformative: the baseline satisfies the check too (/gap_untrained: mean 0.0" in verdict["reason"]
        assert verdict["flags"] == ["uninformative"]

    def test_a_failing_baseline_is_informative_and_the_paper_counts_the_other(
        self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]
    ) -> None:
        informative = gap_claim("C1")
        uninformative = gap_claim("C2", baseline="/gap")  # its "null model" is the model itself
        root = build(make_root, informative, uninformative, untrained=0.0)
        status, out, _ = run(capsys, root, "paper", "demo-paper", "--backend", "process")
        lines = out.splitlines()
        assert status == 0
        assert lines[0].startswith("demo-paper/C1: Verified (Gate 2): unsealed empirical repro: mean 0.0")
        # The null model's gap is about 0: its interval straddles 0, so it does not satisfy "> 0".
        assert "; baseline does not satisfy the check (/gap_untrained: mean " in lines[0]
        assert lines[1].startswith("demo-paper/C2: Verified (Gate 2, uninformative): ")
        assert lines[2].startswith("demo-paper: Verified (1 uninformative) ")
        _, session = run_json(capsys, root, "paper", "demo-paper", "--backend", "process")
        paper = session["papers"][0]
        assert [c["informative"] for c in paper["claims"]] == [True, False]
        assert paper["verdict"]["strength"] == {"replicated": 0, "uninformative": 1, "transcribed": 0}
        # The baseline reads the evidence's own runs (same repro, same seeds): 4 runs in all, all cached now.
        assert session["runs"] == {"executed": 0, "cached": 4}

    def test_a_baseline_runs_on_its_own_seeds_and_repro(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        claim = gap_claim("C1", baseline=None) | {"baseline": {"repro": "R2", "output": "/score", "seeds": [7, 8, 9]}}
        root = build(make_root, claim)
        status, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        # Noise around 0.5 is "> 0" too: the check cannot tell the model from noise.
        assert (status, verdict["informative"]) == (0, False)
        seeds = sorted((r.repro, r.seed) for r in Ledger.open(root.path / ".verify").runs_for("demo-paper"))
        assert seeds == [("R1", 0), ("R1", 1), ("R1", 2), ("R1", 3), ("R2", 7), ("R2", 8), ("R2", 9)]


class TestReplication:
    def test_two_nonces_draw_different_fresh_seeds_and_record_them(
        self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = build(make_root, gap_claim("C1", baseline=None))
        verdicts = []
        for nonce in ("0123456789abcdef", "fedcba9876543210"):
            status, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process",
                                       "--replicate-nonce", nonce)
            assert (status, verdict["status"], verdict["evidence"]) == (0, "verified", "replicated")
            assert verdict["replication"] == {"nonce": nonce, "seeds": fresh_seeds(nonce, 4, exclude=[0, 1, 2, 3])}
            assert verdict["seeds"] == verdict["replication"]["seeds"]
            assert not set(verdict["seeds"]) & {0, 1, 2, 3}
            assert verdict["line"].startswith("Verified (Gate 2, replicated on 4 fresh seeds): ")
            verdicts.append(verdict)
        assert verdicts[0]["seeds"] != verdicts[1]["seeds"]
        # The ledger keeps the nonce with the verdict, and the fresh runs under their own seeds.
        with Ledger.open(root.path / ".verify") as ledger:
            last = ledger.last_verdict("demo-paper/C1")
            ran = {r.seed for r in ledger.runs_for("demo-paper")}
        assert last is not None and last.replication is not None and last.replication.nonce == "fedcba9876543210"
        assert ran == set(verdicts[0]["seeds"]) | set(verdicts[1]["seeds"])

    def test_a_recorded_nonce_reproduces_the_verdict(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = build(make_root, gap_claim("C1"))
        status, first = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process", "--replicate")
        nonce = first["replication"]["nonce"]
        assert status == 0 and len(nonce) == 16
        # Again with the recorded nonce, every run executed afresh: the same verdict, byte for byte.
        status, again = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process",
                                 "--replicate-nonce", nonce, "--no-cache")
        assert status == 0 and not again["cached"]
        assert comparable(again) == comparable(first)
        assert {r["id"] for r in again["runs"]}.isdisjoint({r["id"] for r in first["runs"]})
        # And from the cache: fresh-seed runs are cached like any other.
        status, out, err = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process", "--replicate-nonce", nonce)
        assert out.strip() == first["line"]
        assert f"replication nonce: {nonce}" in err

    def test_without_replicate_the_manifest_seeds_are_reproduced(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = build(make_root, gap_claim("C1", baseline=None))
        _, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process")
        assert (verdict["evidence"], verdict["replication"], verdict["seeds"]) == ("reproduced", None, [0, 1, 2, 3])

    @needs_bwrap
    def test_a_claim_tuned_to_its_seeds_is_refuted_on_fresh_ones(
        self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = build(make_root, noise_claim(replicate={"seeds": 16}))
        status, verdict = run_json(capsys, root, "claim", "demo-paper/N1")
        assert (status, verdict["status"], verdict["evidence"]) == (0, "verified", "reproduced")
        assert verdict["sealed"]
        status, fresh = run_json(capsys, root, "claim", "demo-paper/N1", "--replicate-nonce", "5eed5eed5eed5eed")
        assert (status, fresh["status"], fresh["evidence"]) == (1, "refuted", "none")
        assert fresh["sealed"] and len(fresh["seeds"]) == 16
        assert fresh["line"].startswith("Refuted (Gate 2, on 16 fresh seeds): sealed-sandbox empirical repro: mean 0.")

    def test_paper_line_counts_replicated_claims(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
        root = build(make_root, gap_claim("C1", baseline=None), gap_claim("C2"), noise_claim())
        status, out, err = run(capsys, root, "paper", "demo-paper", "--backend", "process", "--replicate-nonce", "abcdef01")
        lines = out.splitlines()
        # C1 and C2 hold on fresh seeds; N1's cherry-picked margin does not survive 4 fresh ones
        # (their scores are 0.35, 0.57, 0.62, 0.81: the interval straddles 0.6).
        assert lines[2].startswith("demo-paper/N1: Inconclusive (Gate 2, on 4 fresh seeds): ")
        assert lines[-1].startswith("demo-paper: Partially verified (2 of 3 claims; 2 replicated) ")
        assert status == 3 and "replication nonce: abcdef01" in err

    @pytest.mark.parametrize("bad", ["xyz", "ABCDEF01", "abc", "0" * 65])
    def test_a_bad_nonce_is_bad_input(self, make_root: RootFactory, capsys: pytest.CaptureFixture[str], bad: str) -> None:
        root = build(make_root, gap_claim("C1"))
        status, out, err = run(capsys, root, "claim", "demo-paper/C1", "--backend", "process", "--replicate-nonce", bad)
        assert (status, out) == (2, "")
        assert "--replicate-nonce" in err and "hex" in err


class TestShow:
    def test_show_and_site_give_interval_baseline_evidence_and_the_seed_figure(
        self, make_root: RootFactory, capsys: pytest.CaptureFixture[str], tmp_path: Any
    ) -> None:
        root = build(make_root, gap_claim("C1"), gap_claim("C2", baseline="/gap"))
        run(capsys, root, "paper", "demo-paper", "--backend", "process", "--replicate-nonce", "0a0b0c0d")
        status, md, _ = run(capsys, root, "show", "demo-paper")
        assert status == 0
        assert "- **Interval:** 95% t-interval \\[" in md and "\\], n=4" in md
        assert "- **Baseline:** /gap\\_untrained does not satisfy the check (95% t-interval \\[" in md
        assert "the claim is informative" in md and "/gap passes the check too" in md
        assert "- **Evidence:** replicated on 4 fresh seeds (nonce 0a0b0c0d)" in md
        status, out, _ = run(capsys, root, "show", "demo-paper", "--format", "json")
        c1 = json.loads(out)["claims"][0]
        assert (c1["evidence"], c1["informative"], c1["interval"]["method"]) == ("replicated", True, "t")
        assert c1["baseline"]["status"] == "inconclusive" and c1["baseline"]["output"] == "/gap_untrained"
        assert len(c1["figure"]["values"]) == 4 and c1["figure"]["edges"] == [0.0]
        status, html, _ = run(capsys, root, "show", "demo-paper", "--format", "html")
        assert html.count('<svg xmlns="http://www.w3.org/2000/svg" role="img" class="seeds"') == 2
        assert "<script" not in html
        assert 'class="evidence replicated"' in html and "Verified (2 replicated, 1 uninformative)" in html
        assert 'class="badge verified"' in html
        out_dir = tmp_path / "site"
        status, _, _ = run(capsys, root, "site", str(out_dir))
        pages = [p.read_text() for p in out_dir.rglob("*.html")]
        assert status == 0 and any('class="seeds"' in page and "stroke-dasharray" in page for page in pages)


def test_bundled_c6_is_a_transcription(capsys: pytest.CaptureFixture[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """ba8256cb C6 reads 5e-05 back from the recipe it is given: the verdict must say so."""
    from verifier.cli import main

    monkeypatch.setenv("VERIFY_HOME", str(tmp_path / "home"))
    repo = Path(__file__).resolve().parent.parent
    capsys.readouterr()
    status = main(["--root", str(repo), "claim", "ba8256cb/C6", "--backend", "process", "--json"])
    verdict = json.loads(capsys.readouterr().out)
    assert (status, verdict["status"], verdict["evidence"]) == (0, "verified", "transcribed")
    assert verdict["transcription"] == {"value": 5e-05, "file": "data/recipes/mbert-xnli.json", "where": "input"}
    assert verdict["line"].startswith("Verified (Gate 2, transcribed): unsealed formula repro: computed 5e-05 matches")


def test_a_trend_over_seeds_is_judged_by_pages_exact_test(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    trend = {"id": "T1", "statement": "Accuracy rises with the share.", "kind": "empirical",
             "source": {"section": "5", "quote": "rises"},
             "check": {"op": "trend", "direction": "increasing", "x": [0.01, 0.1, 1.0], "samples": {"min_seeds": 3}},
             "evidence": {"repro": "R3", "output": "/acc", "seeds": [0, 1, 2, 3]}}
    single = trend | {"id": "T2", "check": {k: v for k, v in trend["check"].items() if k != "samples"},
                      "evidence": {"repro": "R3", "output": "/acc"}}
    root = build(make_root, trend, single)
    status, out, _ = run(capsys, root, "paper", "demo-paper", "--backend", "process")
    lines = out.splitlines()
    assert lines[0] == ("demo-paper/T1: Verified (Gate 2): unsealed empirical repro: series rises with x over 4 seeds "
                        "(exact Page test p=0.000771605 < 0.05; mean Spearman rho=1 >= 0.8)")
    assert lines[1].startswith("demo-paper/T2: Inconclusive (Gate 2): unsealed empirical repro: 3 points on 1 seed cannot "
                               "reach p < 0.05")
    assert status == 3


def test_single_value_claims_never_import_scipy(make_root: RootFactory) -> None:
    """A cached `verify ci` of formula claims stays as fast as before: scipy is imported only for samples and trends."""
    import subprocess
    import sys

    root = make_root()
    code = ("import sys; from verifier.cli import main; "
            f"status = main(['--root', {str(root.path)!r}, 'ci', '--backend', 'process']); "
            "print(status, 'scipy' in sys.modules, 'numpy' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=str(Path(__file__).resolve().parent.parent), env=env)
    assert done.stdout.splitlines()[-1] == "0 False False"


# Each seed's run waits (up to 20 s) until the other seed's run has started: only runs that
# overlap in time both see 2.
BARRIER = PRELUDE + (
    "import time\n"
    "meet = pathlib.Path(params['meet'])\n"
    "(meet / str(seed)).touch()\n"
    "deadline = time.monotonic() + 20\n"
    "while len(list(meet.iterdir())) < 2 and time.monotonic() < deadline:\n"
    "    time.sleep(0.02)\n"
    "emit(together=len(list(meet.iterdir())))\n"
)


def test_claim_jobs_runs_a_claims_seeds_side_by_side(make_root: RootFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`verify claim --jobs 2` runs two seeds of one claim at once, as `paper` and `ci` do."""
    meet = tmp_path / "meet"
    meet.mkdir()
    claim = {"id": "C1", "statement": "Both seeds run at once.", "kind": "empirical",
             "source": {"section": "4.1 Setup", "quote": "a learning rate of 5e-05"},
             "reported": {"value": 1.5}, "check": {"op": "gt", "samples": {"min_seeds": 2}},
             "evidence": {"repro": "R1", "output": "/together", "seeds": [0, 1]}}
    repro = {"id": "R1", "bundle": "bundle", "entrypoint": ["python", "-m", "bundle.barrier"],
             "limits": {"timeout_s": 60}, "params": {"meet": str(meet)}}
    root = make_root(manifest_document(contract="paper-manifest-v1.2", claims=[claim], repros=[repro]), seal=False)
    (root.path / "bundle" / "barrier.py").write_text(BARRIER)
    seal_manifest(root, "demo-paper")
    status, verdict = run_json(capsys, root, "claim", "demo-paper/C1", "--backend", "process", "--jobs", "2")
    assert (status, verdict["status"], verdict["computed"]) == (0, "verified", [2.0, 2.0])
