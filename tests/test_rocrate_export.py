"""`verify export --ro-crate`: the crate is read back by `rocrate` and passes `rocrate-validator` offline.

The validator resolves the crate's JSON-LD context,
`https://w3id.org/ro/crate/1.1/context`, over HTTP through a requests-cache
SQLite cache; with `--offline` it reads only that cache. There is no network
here, so `warm_cache` fills the cache from `tests/assets/rocrate/
ro-crate-1.1-context.jsonld`: the RO-Crate 1.1 context exactly as the
`rocrate` 0.13.0 wheel ships it (`rocrate/data/ro-crate.jsonld`; CC0, see its
`license`). Newer `rocrate` releases ship the 1.3 context instead, whose
bioschemas IRIs differ (`ComputationalWorkflow`, `FormalParameter`, `input`,
`output`), so it cannot stand in for 1.1.

The cache is filled through a `requests` transport adapter that serves the
file, so the entry is exactly what requests-cache would store from the web.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.attest.keys import init_keys
from verifier.cli import main
from verifier.executor import Options, verify_claims
from verifier.rocrate_export import PROFILES, export_crate

ASSETS = Path(__file__).parent / "assets" / "rocrate"
REPO = Path(__file__).resolve().parents[1]
CONTEXT_URL = "https://w3id.org/ro/crate/1.1/context"
VALIDATOR = shutil.which("rocrate-validator")
needs_validator = pytest.mark.skipif(VALIDATOR is None, reason="rocrate-validator not installed (pip install roc-validator)")


def warm_cache(cache_path: Path) -> None:
    """Put the RO-Crate 1.1 context into a requests-cache SQLite cache at `cache_path` (module docstring)."""
    import requests
    import requests_cache
    import urllib3
    from requests.adapters import BaseAdapter, HTTPAdapter

    body = (ASSETS / "ro-crate-1.1-context.jsonld").read_bytes()

    class ShippedContext(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            assert request.url == CONTEXT_URL, request.url  # nothing else may be fetched
            raw = urllib3.HTTPResponse(
                body=io.BytesIO(body), headers={"Content-Type": "application/ld+json"}, status=200,
                preload_content=False, request_url=request.url,
            )
            return HTTPAdapter().build_response(request, raw)

        def close(self) -> None:
            pass

    session = requests_cache.CachedSession(cache_name=str(cache_path), backend="sqlite")
    session.mount("https://", ShippedContext())
    assert session.get(CONTEXT_URL).json()["@id"] == CONTEXT_URL
    assert session.get(CONTEXT_URL).from_cache
    session.close()


def validate(crate: Path, tmp_path: Path, *, severity: str = "required", cache: bool = True) -> dict[str, Any]:
    """Run `rocrate-validator validate -p provenance-run-crate-0.5 --offline`; its JSON report."""
    assert VALIDATOR is not None
    cache_path = tmp_path / "validator-cache" / "http_cache"
    cache_path.parent.mkdir(exist_ok=True)
    if cache:
        warm_cache(cache_path)
    report = tmp_path / f"report-{severity}-{cache}.json"
    subprocess.run(
        [VALIDATOR, "-y", "--disable-color", "validate", "--offline", "--cache-path", str(cache_path),
         "-p", "provenance-run-crate-0.5", "-l", severity, "-f", "json", "-o", str(report), str(crate)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    return dict(json.loads(report.read_text()))


@pytest.fixture
def verified_root(make_root: RootFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """demo-paper, verified with the process backend and signed (a key exists before the run)."""
    monkeypatch.delenv("VERIFY_HOME", raising=False)
    document = manifest_document("demo-paper")
    document["claims"].append({"id": "C2", "statement": "A descriptive claim.", "kind": "descriptive",
                               "source": {"section": "1 Intro", "quote": "descriptive"}})
    root = make_root(document).path
    init_keys(root / ".verify")
    verify_claims(Options(root=root, home=root / ".verify", backend="process"), ["demo-paper"])
    return root


def _graph(crate: Path) -> dict[str, dict[str, Any]]:
    document = json.loads((crate / "ro-crate-metadata.json").read_text())
    return {entity["@id"]: entity for entity in document["@graph"]}


def _ids(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v["@id"] for v in values if isinstance(v, dict)]


class TestCrateContent:
    def test_rocrate_reads_it_back_with_runs_verdicts_and_attestations(self, verified_root: Path, tmp_path: Path) -> None:
        from rocrate.rocrate import ROCrate

        out = tmp_path / "crate"
        result = export_crate(verified_root, verified_root / ".verify", "demo-paper", out)
        assert result.runs == 1 and result.attestations >= 2
        crate = ROCrate(str(out))
        assert crate.mainEntity.id == "manifests/demo-paper/manifest.yaml"
        assert {"ComputationalWorkflow", "HowTo"} <= set(crate.mainEntity.type)
        graph = _graph(out)
        run = next(e for e in graph.values() if e["@type"] == "CreateAction" and e["@id"].startswith("#run-"))
        assert _ids(run["instrument"]) == ["#repro-R1"]
        assert "data/x.tsv" in _ids(run["object"])
        assert any(i.endswith("/out/results.json") for i in _ids(run["result"]))
        assert run["startTime"].endswith("+00:00") and run["endTime"] >= run["startTime"]
        env = {graph[i]["name"]: graph[i]["value"] for i in _ids(run["environment"])}
        assert env["sandbox"] == "process" and env["sealed"] == "false"
        # The verdict is attached to the claim it judges, and is the ledger's verdict byte for byte in meaning.
        review = graph["#review-C1"]
        assert _ids(review["itemReviewed"]) == ["#claim-C1"]
        assert graph[_ids(review["reviewRating"])[0]]["alternateName"].startswith("Verified")
        verdict = json.loads((out / "verdicts" / "C1.json").read_text())
        assert verdict["claim"] == "demo-paper/C1" and verdict["status"] == "verified"
        assert run["@id"] in _ids(review["isBasedOn"])
        # Attestations: present, and each about a run or a review.
        envelopes = [e for e in graph.values() if e.get("encodingFormat") == "application/vnd.in-toto+json"]
        assert envelopes and all((out / e["@id"]).is_file() for e in envelopes)
        assert {graph[_ids(e["about"])[0]]["@type"] for e in envelopes} == {"CreateAction", "ClaimReview"}
        assert (out / "keys" / "ed25519.pub.pem").is_file() and not (out / "keys" / "ed25519.pem").exists()
        # Every sealed bundle file is in the crate; interpreter caches are not.
        assert (out / "bundle" / "formula.py").read_bytes() == (verified_root / "bundle" / "formula.py").read_bytes()
        assert not list(out.rglob("__pycache__"))

    def test_agent_and_license_when_given(self, verified_root: Path, tmp_path: Path) -> None:
        out = tmp_path / "crate"
        export_crate(verified_root, verified_root / ".verify", "demo-paper", out,
                     license="https://spdx.org/licenses/CC-BY-4.0", agent="Example Lab")
        graph = _graph(out)
        assert graph["#operator"] == {"@id": "#operator", "@type": "Organization", "name": "Example Lab"}
        actions = [e for e in graph.values() if e["@type"] in ("CreateAction", "OrganizeAction", "ControlAction")]
        assert actions and all(_ids(a["agent"]) == ["#operator"] for a in actions)
        assert _ids(graph["./"]["publisher"]) == ["#operator"] == _ids(graph["./"]["author"])
        assert graph[_ids(graph["./"]["license"])[0]]["@type"] == "CreativeWork"
        # Without them nothing is claimed: the license says so in words, and no agent is invented.
        bare = tmp_path / "bare"
        export_crate(verified_root, verified_root / ".verify", "demo-paper", bare)
        assert "No license is stated" in _graph(bare)["./"]["license"]
        assert not any("agent" in e for e in _graph(bare).values())

    def test_zip_holds_the_same_crate(self, verified_root: Path, tmp_path: Path) -> None:
        out = tmp_path / "crate.zip"
        assert main(["--root", str(verified_root), "export", "demo-paper", "--ro-crate", str(out)]) == 0
        with zipfile.ZipFile(out) as archive:
            names = archive.namelist()
            assert len(names) == len(set(names))  # no file twice
            document = json.loads(archive.read("ro-crate-metadata.json"))
        assert document["@context"][0] == CONTEXT_URL

    def test_a_run_cached_from_another_paper_is_this_papers_run(self, make_root: RootFactory, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
        # The run cache is shared: other-paper's R9 is demo-paper's R1 (same bundle, argv, params),
        # so its run is recorded under R1; the crate must still name R9 as the tool that ran.
        monkeypatch.delenv("VERIFY_HOME", raising=False)
        other = manifest_document("other-paper")
        other["repros"][0]["id"] = "R9"
        other["claims"][0]["evidence"]["repro"] = "R9"
        root = make_root(manifest_document("demo-paper"), other).path
        options = Options(root=root, home=root / ".verify", backend="process")
        verify_claims(options, ["demo-paper"])
        verify_claims(options, ["other-paper"])
        out = tmp_path / "crate"
        assert export_crate(root, root / ".verify", "other-paper", out).runs == 1
        graph = _graph(out)
        runs = [e for e in graph.values() if e["@type"] == "CreateAction" and e["@id"].startswith("#run-")]
        assert len(runs) == 1 and _ids(runs[0]["instrument"]) == ["#repro-R9"]
        assert _ids(graph["manifests/other-paper/manifest.yaml"]["hasPart"]) == ["#repro-R9"]

    def test_nothing_ran_is_bad_input_in_one_line(self, make_root: RootFactory, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
        root = make_root(manifest_document("demo-paper")).path
        assert main(["--root", str(root), "export", "demo-paper", "--ro-crate", str(tmp_path / "c")]) == 2
        assert capsys.readouterr().err == (
            "verify: error: demo-paper: no run in the ledger to export; run `verify paper demo-paper` first\n"
        )


@needs_validator
class TestValidator:
    def test_passes_every_required_check_of_the_provenance_run_crate_profiles(self, verified_root: Path, tmp_path: Path) -> None:
        out = tmp_path / "crate"
        export_crate(verified_root, verified_root / ".verify", "demo-paper", out)
        report = validate(out, tmp_path)
        stats = report["statistics"]
        assert report["passed"] is True, [i["message"] for i in report["issues"]]
        assert set(stats["profiles"]) == {"ro-crate-1.1", "process-run-crate-0.5", "workflow-run-crate-0.5",
                                          "provenance-run-crate-0.5", "workflow-ro-crate-1.0"}
        assert stats["total_failed_checks"] == 0 and stats["total_passed_checks"] >= 80
        graph = _graph(out)
        assert set(_ids(graph["./"]["conformsTo"])) == set(PROFILES)

    def test_the_validator_really_needs_the_context(self, verified_root: Path, tmp_path: Path) -> None:
        # Without the warmed cache the same crate fails offline: the pass above is not vacuous.
        out = tmp_path / "crate"
        export_crate(verified_root, verified_root / ".verify", "demo-paper", out)
        assert validate(out, tmp_path, cache=False)["passed"] is False

    def test_a_broken_crate_fails(self, verified_root: Path, tmp_path: Path) -> None:
        # A tool that no action ran breaks Provenance Run Crate's "tool inverse instrument" MUST.
        out = tmp_path / "crate"
        export_crate(verified_root, verified_root / ".verify", "demo-paper", out)
        metadata = out / "ro-crate-metadata.json"
        document = json.loads(metadata.read_text())
        for entity in document["@graph"]:
            if entity["@id"].startswith("#run-") and entity["@type"] == "CreateAction":
                entity["instrument"] = {"@id": "manifests/demo-paper/manifest.yaml"}
        metadata.write_text(json.dumps(document))
        report = validate(out, tmp_path)
        assert report["passed"] is False
        assert any("instrument" in issue["message"] for issue in report["issues"])


@needs_validator
def test_the_bundled_record_exports_a_valid_crate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ba8256cb as committed: its formula claim run for real (seconds), the rest as the ledger has them."""
    monkeypatch.delenv("VERIFY_HOME", raising=False)
    home = tmp_path / "home"
    init_keys(home)
    verify_claims(Options(root=REPO, home=home, backend="process"), ["ba8256cb"],
                  select=lambda _paper, claim: claim.kind in ("formula", "descriptive"))
    out = tmp_path / "ba8256cb"
    result = export_crate(REPO, home, "ba8256cb", out)
    assert result.runs == 1 and result.claims == 8
    report = validate(out, tmp_path)
    assert report["passed"] is True, [i["message"] for i in report["issues"]]
    assert report["statistics"]["total_failed_checks"] == 0
    graph = _graph(out)
    assert graph["#review-C6"]["claimReviewed"].startswith(graph["#claim-C6"]["text"][:20])
    assert (out / "repro" / "formula" / "learning_rate.py").is_file()


if __name__ == "__main__":
    # `python -m tests.test_rocrate_export CRATE [required|recommended]`: the same offline validation
    # as the tests, for any exported crate (e.g. a bundled paper's after `verify paper`).
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        level = sys.argv[2] if len(sys.argv) > 2 else "required"
        result = validate(Path(sys.argv[1]), Path(scratch), severity=level)
        stats = result["statistics"]
        print(f"{sys.argv[1]}: {'passed' if result['passed'] else 'FAILED'} at {level}; profiles {', '.join(sorted(stats['profiles']))}; "
              f"{stats['total_passed_checks']}/{stats['total_checks']} checks passed {stats['total_checks_by_severity']}")
        for issue in result["issues"]:
            check = issue.get("check")
            print(f"  {issue.get('severity')}: {check.get('name') if isinstance(check, dict) else check}: {issue.get('message')}")
        sys.exit(0 if result["passed"] else 1)
