"""`verify lint`: one test per rule, a manifest written to avoid them all, waivers and the CLI."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from verifier.cli import cli
from verifier.lint import RULES, Finding, _numbers_in, lint_paper
from verifier.manifests import load_manifest
from verifier.models import Claim
from verifier.root import VerificationRoot

RUN = """\
import json, os, pathlib, random
params = json.loads(pathlib.Path(os.environ["REPRO_PARAMS"]).read_text())
rng = random.Random(int(os.environ["REPRO_SEED"]))
area = params["side"] ** 2
acc = 0.8 + rng.random() / 100
pathlib.Path(os.environ["REPRO_OUT"], "results.json").write_text(json.dumps({"area": area, "acc": acc}))
"""

SEEDS = [0, 1, 2, 3, 4]


def clean_claims() -> list[dict[str, Any]]:
    """Claims that break no rule."""
    claims: list[dict[str, Any]] = [
        {"id": "C1", "statement": "Nothing to check.", "kind": "descriptive", "source": {"section": "1"}},
        {
            "id": "C2", "statement": "A square of side 3 has area 9.", "kind": "formula",
            "source": {"section": "2"}, "reported": {"value": 9.0},
            "check": {"op": "approx", "rel_tol": 0.01}, "evidence": {"repro": "R1", "output": "/area"},
        },
        {
            "id": "C3", "statement": "Accuracy beats the reference by at least a point.", "kind": "empirical",
            "source": {"section": "3"}, "reported": {"value": 0.0},
            "check": {"op": "gt", "margin": 0.01}, "evidence": {"repro": "R1", "output": "/acc"},
        },
    ]
    claims.append({
        "id": "C4", "statement": "Accuracy is above 0.75 over seeds.", "kind": "empirical",
        "source": {"section": "3"}, "reported": {"value": 0.75},
        "check": {"op": "gt", "samples": {"statistic": "mean", "confidence": 0.95, "min_seeds": 3}},
        "evidence": {"repro": "R1", "output": "/acc", "seeds": SEEDS},
        "baseline": {"repro": "R1", "output": "/acc", "seeds": SEEDS},
        "replicate": {"seeds": 5},
    })
    return claims


def document(claims: list[dict[str, Any]], **repro: Any) -> dict[str, Any]:
    return {
        "contract": "paper-manifest-v1.2", "id": "lint-paper", "title": "T", "publisher": "P",
        "source": {"kind": "primary-research"}, "claims": claims,
        "repros": [{"id": "R1", "bundle": "bundle", "entrypoint": ["python", "run.py"],
                    "params": {"side": 3}, **repro}],
    }


def write_root(tmp_path: Path, doc: dict[str, Any], run: str = RUN) -> VerificationRoot:
    root = tmp_path / "root"
    (root / "bundle").mkdir(parents=True, exist_ok=True)
    (root / "bundle" / "run.py").write_text(run)
    (root / "manifests" / doc["id"]).mkdir(parents=True, exist_ok=True)
    (root / "manifests" / doc["id"] / "manifest.yaml").write_text(json.dumps(doc, indent=2))
    return VerificationRoot.at(root)


def lint(tmp_path: Path, doc: dict[str, Any], run: str = RUN) -> tuple[list[Finding], list[Finding]]:
    root = write_root(tmp_path, doc, run)
    result = lint_paper(load_manifest(root, doc["id"], check_seals=False))
    return result.findings, result.waived


def with_claim(claim: dict[str, Any]) -> dict[str, Any]:
    """The clean document plus one claim (placed last, so its index is known)."""
    return document([*clean_claims(), claim])


def only(findings: list[Finding], rule: str) -> Finding:
    assert [f.rule for f in findings] == [rule], [f.line() for f in findings]
    return findings[0]


def empirical(**over: Any) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "id": "X", "statement": "s", "kind": "empirical", "source": {"section": "4"},
        "reported": {"value": 0.75},
        "check": {"op": "gt", "samples": {"statistic": "mean", "confidence": 0.95, "min_seeds": 3}},
        "evidence": {"repro": "R1", "output": "/acc", "seeds": SEEDS},
    }
    claim.update(over)
    return claim


# --------------------------------------------------------------------------- clean


def test_a_manifest_written_to_avoid_every_rule_has_no_findings(tmp_path: Path) -> None:
    findings, waived = lint(tmp_path, document(clean_claims()))
    assert findings == [] and waived == []


# --------------------------------------------------------------------------- one test per rule


def test_no_baseline_an_empirical_multi_seed_claim_without_a_null_model(tmp_path: Path) -> None:
    findings, _ = lint(tmp_path, with_claim(empirical()))
    f = only(findings, "no-baseline")
    n = len(clean_claims())
    assert f.field == f"claims[{n}].baseline" and f.claim == "X"
    assert "5 seeds" in f.problem and "null model" in f.fix


def test_no_baseline_is_satisfied_by_a_baseline(tmp_path: Path) -> None:
    claim = empirical(baseline={"repro": "R1", "output": "/acc", "seeds": SEEDS})
    findings, _ = lint(tmp_path, with_claim(claim))
    assert findings == []


def test_too_few_seeds_three_seeds_cannot_carry_a_95_percent_t_interval(tmp_path: Path) -> None:
    claim = empirical(evidence={"repro": "R1", "output": "/acc", "seeds": [0, 1, 2]},
                      lint={"waive": ["no-baseline"], "why": "rule under test is another"})
    f = only(lint(tmp_path, with_claim(claim))[0], "too-few-seeds")
    assert f.field.endswith(".evidence.seeds")
    # t(0.975, 2 df) = 4.30 > 2 x 1.96: the interval is +-4.30/sqrt(3) = 2.48 standard deviations wide
    assert "needs at least 4" in f.problem and "4.30" in f.problem and "2.48" in f.problem


@pytest.mark.parametrize(("confidence", "need"), [(0.9, 3), (0.95, 4), (0.99, 5), (0.999, 7)])
def test_the_seeds_a_t_interval_needs_grow_with_confidence(confidence: float, need: int) -> None:
    from scipy import stats as st

    from verifier.lint import t_seeds_needed

    assert t_seeds_needed(confidence) == need
    q = (1 + confidence) / 2
    assert st.t.ppf(q, need - 1) <= 2 * st.norm.ppf(q) < st.t.ppf(q, need - 2)


def test_too_few_seeds_fewer_than_min_seeds_is_inconclusive_by_construction(tmp_path: Path) -> None:
    claim = empirical(check={"op": "gt", "samples": {"min_seeds": 6}},
                      lint={"waive": ["no-baseline"], "why": "rule under test is another"})
    f = only(lint(tmp_path, with_claim(claim))[0], "too-few-seeds")
    assert "5 seed(s)" in f.problem and "at least 6" in f.problem


def test_too_few_seeds_bca_needs_ten(tmp_path: Path) -> None:
    # Intake itself refuses bca over fewer than 10 evidence seeds; the baseline and replication are lint's.
    ten = list(range(10))
    claim = empirical(check={"op": "gt", "samples": {"interval": "bca"}},
                      evidence={"repro": "R1", "output": "/acc", "seeds": ten},
                      baseline={"repro": "R1", "output": "/acc", "seeds": SEEDS}, replicate={"seeds": 5})
    findings, _ = lint(tmp_path, with_claim(claim))
    assert sorted(f.field.split(".", 1)[1] for f in findings) == ["baseline.seeds", "replicate.seeds"]
    assert all(f.rule == "too-few-seeds" and "at least 10" in f.problem for f in findings)


def test_too_few_seeds_covers_replication(tmp_path: Path) -> None:
    claim = empirical(baseline={"repro": "R1", "output": "/acc", "seeds": SEEDS}, replicate={"seeds": 2})
    f = only(lint(tmp_path, with_claim(claim))[0], "too-few-seeds")
    assert f.field.endswith(".replicate.seeds")


def trend(x: list[float], seeds: list[int] | None = None) -> dict[str, Any]:
    check: dict[str, Any] = {"op": "trend", "direction": "increasing", "x": x}
    evidence: dict[str, Any] = {"repro": "R1", "output": "/series"}
    if seeds is not None:
        check["samples"] = {"confidence": 0.95}
        evidence["seeds"] = seeds
    return {"id": "T", "statement": "s", "kind": "empirical", "source": {"section": "5"},
            "check": check, "evidence": evidence}


def test_trend_cannot_reach_three_points_on_one_seed(tmp_path: Path) -> None:
    f = only(lint(tmp_path, with_claim(trend([1, 2, 3])))[0], "trend-cannot-reach")
    assert f.field.endswith(".check.x")
    assert "(1/3!)^1 = 0.166667" in f.problem and "at least 2 seeds" in f.fix


def test_trend_over_four_points_can_reach_95_percent(tmp_path: Path) -> None:
    # 1/4! = 0.0417 < 0.05: reachable, however hard.
    assert lint(tmp_path, with_claim(trend([1, 2, 3, 4])))[0] == []


def test_trend_cannot_reach_counts_seeds(tmp_path: Path) -> None:
    claim = trend([1, 2, 3], seeds=[0])
    claim["check"]["samples"]["confidence"] = 0.999  # (1/6)^3 = 0.0046 >= 0.001 needs 4 seeds
    claim["evidence"]["seeds"] = [0, 1, 2]
    claim["baseline"] = {"repro": "R1", "output": "/series", "seeds": [0, 1, 2]}
    f = only(lint(tmp_path, with_claim(claim))[0], "trend-cannot-reach")
    assert "(1/3!)^3" in f.problem and "at least 4 seeds" in f.fix


@pytest.mark.parametrize(("check", "field"), [
    ({"op": "approx", "abs_tol": 0.5}, "check.abs_tol"),
    ({"op": "approx", "rel_tol": 1.0}, "check.rel_tol"),
    ({"op": "eq", "abs_tol": 0.3}, "check.abs_tol"),
])
def test_tolerance_covers_zero(tmp_path: Path, check: dict[str, Any], field: str) -> None:
    claim = {"id": "A", "statement": "s", "kind": "formula", "source": {"section": "6"},
             "reported": {"value": 0.3}, "check": check, "evidence": {"repro": "R1", "output": "/area"}}
    f = only(lint(tmp_path, with_claim(claim))[0], "tolerance-covers-zero")
    assert f.field.endswith(field) and "a computed 0 passes" in f.problem


def test_a_tolerance_below_the_value_is_fine(tmp_path: Path) -> None:
    claim = {"id": "A", "statement": "s", "kind": "formula", "source": {"section": "6"},
             "reported": {"value": 0.3}, "check": {"op": "approx", "abs_tol": 0.29},
             "evidence": {"repro": "R1", "output": "/area"}}
    assert lint(tmp_path, with_claim(claim))[0] == []


def test_threshold_no_effect_greater_than_zero(tmp_path: Path) -> None:
    claim = {"id": "G", "statement": "It improves.", "kind": "empirical", "source": {"section": "7"},
             "reported": {"value": 0.0}, "check": {"op": "gt"}, "evidence": {"repro": "R1", "output": "/acc"}}
    f = only(lint(tmp_path, with_claim(claim))[0], "threshold-no-effect")
    assert f.field.endswith(".check.margin") and "'gt' 0" in f.problem


def test_threshold_no_effect_against_another_arm(tmp_path: Path) -> None:
    claim = {"id": "G", "statement": "A beats B.", "kind": "empirical", "source": {"section": "7"},
             "check": {"op": "ge", "against": {"repro": "R1", "output": "/area"}},
             "evidence": {"repro": "R1", "output": "/acc"}}
    f = only(lint(tmp_path, with_claim(claim))[0], "threshold-no-effect")
    assert "the other arm" in f.problem


def test_transcribed_value_in_params(tmp_path: Path) -> None:
    claim = {"id": "F", "statement": "side is 3", "kind": "formula", "source": {"section": "8"},
             "reported": {"value": 3.0}, "check": {"op": "approx", "rel_tol": 0.01},
             "evidence": {"repro": "R1", "output": "/area"}}
    f = only(lint(tmp_path, with_claim(claim))[0], "transcribed-value")
    assert f.field.endswith(".reported.value") and "params.side" in f.problem


def test_transcribed_value_in_the_bundle_source(tmp_path: Path) -> None:
    run = RUN.replace('params["side"] ** 2', "1.25e-3 * 2")
    claim = {"id": "F", "statement": "lr", "kind": "formula", "source": {"section": "8"},
             "reported": {"value": 0.00125, "text": "0.00125"}, "check": {"op": "approx", "rel_tol": 0.01},
             "evidence": {"repro": "R1", "output": "/area"}}
    f = only(lint(tmp_path, with_claim(claim), run=run)[0], "transcribed-value")
    assert "bundle/run.py:4" in f.problem


def test_transcribed_value_in_a_pinned_input(tmp_path: Path) -> None:
    (tmp_path / "root" / "data").mkdir(parents=True)
    (tmp_path / "root" / "data" / "recipe.json").write_text('{"flags": {"--learning_rate": "5e-5"}}\n')
    claim = {"id": "F", "statement": "lr", "kind": "formula", "source": {"section": "8"},
             "reported": {"value": 5e-05, "text": "5e-05"}, "check": {"op": "approx", "rel_tol": 0.01},
             "evidence": {"repro": "R1", "output": "/area"}}
    doc = document([*clean_claims(), claim], inputs=[{"path": "data/recipe.json"}])
    f = only(lint(tmp_path, doc)[0], "transcribed-value")
    assert "data/recipe.json:1" in f.problem


# --------------------------------------------------------------------------- waivers


def test_a_waiver_moves_the_finding_to_waived(tmp_path: Path) -> None:
    claim = empirical(lint={"waive": ["no-baseline"], "why": "no null model exists for this quantity"})
    findings, waived = lint(tmp_path, with_claim(claim))
    assert findings == [] and [w.rule for w in waived] == ["no-baseline"]


@pytest.mark.parametrize(("waive", "words"), [(["no-such-rule"], "unknown rule"),
                                               (["transcribed-value"], "finds nothing")])
def test_a_bad_waiver_is_a_finding(tmp_path: Path, waive: list[str], words: str) -> None:
    claim = copy.deepcopy(clean_claims()[1]) | {"lint": {"waive": waive, "why": "because"}}
    doc = document([claim])
    f = only(lint(tmp_path, doc)[0], "waiver")
    assert words in f.problem and f.field == "claims[0].lint.waive"


def test_a_waiver_needs_a_reason(tmp_path: Path) -> None:
    from verifier.errors import IntakeError

    claim = clean_claims()[1] | {"lint": {"waive": ["no-baseline"]}}
    with pytest.raises(IntakeError) as raised:
        lint(tmp_path, document([claim]))
    assert raised.value.field == "claims[0].lint.why"


def test_every_rule_is_documented_and_tested() -> None:
    tested = {name.split("test_", 1)[1] for name in globals() if name.startswith("test_")}
    for rule in RULES:
        assert any(t.startswith(rule.replace("-", "_")) or rule.replace("-", "_") in t
                   for t in tested), rule


# --------------------------------------------------------------------------- numbers in source


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_a_number_written_with_repr_is_found(value: float) -> None:
    found = [n for n, _ in _numbers_in(f"x = {value!r}\n")]
    assert any(math.isclose(n, value, rel_tol=1e-12, abs_tol=0.0) or n == value for n in found)


def test_numbers_inside_names_and_versions_are_not_numbers() -> None:
    assert [n for n, _ in _numbers_in("x1 = v2.0.1 + layer_3")] == []


# --------------------------------------------------------------------------- CLI


def run_cli(root: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--root", str(root), "lint", *args])


def test_cli_exit_0_when_clean_and_1_with_findings(tmp_path: Path) -> None:
    write_root(tmp_path, document(clean_claims()))
    clean = run_cli(tmp_path / "root", "lint-paper")
    assert clean.exit_code == 0 and clean.stdout == ""
    (tmp_path / "root" / "manifests" / "lint-paper" / "manifest.yaml").write_text(
        json.dumps(with_claim(trend([1, 2, 3]))))
    found = run_cli(tmp_path / "root")
    assert found.exit_code == 1
    lines = found.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lint-paper/T: claims[")
    assert "; fix: " in lines[0] and lines[0].endswith("[trend-cannot-reach]")


def test_cli_json(tmp_path: Path) -> None:
    write_root(tmp_path, with_claim(trend([1, 2, 3])))
    result = run_cli(tmp_path / "root", "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["findings"] == 1 and payload["errors"] == []
    (finding,) = payload["papers"][0]["findings"]
    assert finding["rule"] == "trend-cannot-reach" and finding["field"].endswith("check.x")


def test_cli_bad_input_is_exit_2(tmp_path: Path) -> None:
    write_root(tmp_path, document(clean_claims()))
    from verifier.cli import main

    assert main(["--root", str(tmp_path / "root"), "lint", "no-such-paper"]) == 2
    broken = document(clean_claims())
    broken["claims"][1]["check"]["op"] = "nearly"
    (tmp_path / "root" / "manifests" / "lint-paper" / "manifest.yaml").write_text(json.dumps(broken))
    assert main(["--root", str(tmp_path / "root"), "lint"]) == 2


# --------------------------------------------------------------------------- the rules' arithmetic


@given(n=st.integers(3, 8), seeds=st.integers(1, 4), confidence=st.sampled_from([0.9, 0.95, 0.99, 0.999]))
def test_trend_rule_fires_exactly_when_the_smallest_p_cannot_beat_alpha(n: int, seeds: int, confidence: float) -> None:
    from fractions import Fraction

    from verifier.lint import _claim_findings
    from verifier.models import Check, Evidence, Samples

    claim = Claim(id="T", statement="s", kind="empirical", source={"section": "1"},  # type: ignore[arg-type]
                  check=Check(op="trend", direction="increasing", x=[float(i) for i in range(n)],
                              samples=Samples(confidence=confidence) if seeds > 1 else None),
                  evidence=Evidence(repro="R1", output="/s", seeds=list(range(seeds)) if seeds > 1 else None),
                  baseline=Evidence(repro="R1", output="/b", seeds=list(range(seeds)) if seeds > 1 else None))
    if seeds == 1 and confidence != 0.95:
        return  # a single series is judged at the default confidence
    smallest = Fraction(1, math.factorial(n)) ** seeds  # every seed in the claimed order, exactly
    alpha = 1 - Fraction(str(confidence))
    manifest = type("M", (), {"model": type("P", (), {"id": "p"})()})()
    rules = [f.rule for f in _claim_findings(manifest, 0, claim, None)]  # type: ignore[arg-type]
    assert ("trend-cannot-reach" in rules) == (smallest >= alpha)


@given(value=st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: abs(v) > 1e-9),
       tol=st.floats(0, 2e6, allow_nan=False))
def test_tolerance_rule_fires_exactly_when_zero_would_pass(value: float, tol: float) -> None:
    from verifier.check import compare
    from verifier.lint import _claim_findings
    from verifier.models import Check, Evidence, Reported

    check = Check(op="approx", abs_tol=tol)
    claim = Claim(id="A", statement="s", kind="empirical", source={"section": "1"},  # type: ignore[arg-type]
                  reported=Reported(value=value), check=check, evidence=Evidence(repro="R1", output="/a"))
    manifest = type("M", (), {"model": type("P", (), {"id": "p"})()})()
    rules = [f.rule for f in _claim_findings(manifest, 0, claim, None)]  # type: ignore[arg-type]
    zero_passes = compare(check, reported=Reported(value=value), computed=0.0).passed
    assert ("tolerance-covers-zero" in rules) == zero_passes
