"""`verify ci --junit FILE --summary FILE`: JUnit XML a CI system can read, and a Markdown summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.cli import main
from verifier.manifests import seal_manifest
from verifier.root import VerificationRoot


@pytest.fixture(autouse=True)
def _no_ambient_state(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VERIFY_HOME", "VERIFY_ROOT", "VERIFY_BACKEND", "VERIFY_TIER"):
        monkeypatch.delenv(name, raising=False)


def mixed_paper() -> dict[str, Any]:
    """One claim of each status: verified, refuted, inconclusive, unverified (full tier), descriptive."""
    document = manifest_document("mixed")
    c1 = document["claims"][0]
    document["claims"] = [
        c1,
        dict(c1, id="C2", reported={"value": 6e-05}),
        dict(c1, id="C3", evidence={"repro": "R2", "output": "/learning_rate"}),
        dict(c1, id="C4", evidence={"repro": "R3", "output": "/learning_rate"}),
        {"id": "D1", "statement": "We use mBERT & <friends>.", "kind": "descriptive", "source": {"section": "3"}},
    ]
    r1 = document["repros"][0]
    document["repros"] = [r1, dict(r1, id="R2", entrypoint=["python", "-m", "bundle.crash"]), dict(r1, id="R3", tier="full")]
    return document


def build(make_root: RootFactory, *documents: dict[str, Any]) -> VerificationRoot:
    root = make_root(*documents, seal=False)
    (root.path / "bundle" / "crash.py").write_text("raise SystemExit('crash & burn <here>')\n")
    for document in documents:
        seal_manifest(root, document["id"])
    return root


def ci(root: VerificationRoot, tmp_path: Path, *args: str) -> tuple[int, ET.Element, str]:
    junit, summary = tmp_path / "reports" / "junit.xml", tmp_path / "reports" / "summary.md"
    status = main(["--root", str(root.path), "ci", "--backend", "process",
                   "--junit", str(junit), "--summary", str(summary), *args])
    return status, ET.fromstring(junit.read_bytes()), summary.read_text()


def cases(suite: ET.Element) -> dict[str, str]:
    """testcase name -> its outcome element (failure/error/skipped) or 'passed'."""
    out = {}
    for case in suite.iter("testcase"):
        marks = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        out[case.get("name", "")] = marks[0] if marks else "passed"
    return out


def counts(suite: ET.Element) -> dict[str, int]:
    return {key: int(suite.get(key, "-1")) for key in ("tests", "failures", "errors", "skipped")}


class TestJUnit:
    def test_statuses_map_to_junit_outcomes(self, make_root: RootFactory, tmp_path: Path) -> None:
        root = build(make_root, mixed_paper())
        status, xml, _ = ci(root, tmp_path)
        assert status == 1
        assert xml.tag == "testsuites"
        [suite] = xml.findall("testsuite")
        assert suite.get("name") == "mixed"
        assert cases(suite) == {"C1": "passed", "C2": "failure", "C3": "error", "C4": "skipped", "D1": "skipped"}
        assert counts(suite) == {"tests": 5, "failures": 1, "errors": 1, "skipped": 2}
        failure = suite.find("testcase[@name='C2']/failure")
        assert failure is not None and failure.get("message", "").startswith("Refuted (Gate 2): unsealed formula repro: computed 5e-05")
        c1 = suite.find("testcase[@name='C1']")
        assert c1 is not None and float(c1.get("time", "x")) >= 0

    def test_strict_turns_checkable_unverified_into_failures(self, make_root: RootFactory, tmp_path: Path) -> None:
        root = build(make_root, mixed_paper())
        status, xml, _ = ci(root, tmp_path, "--strict")
        assert status == 1
        [suite] = xml.findall("testsuite")
        assert cases(suite)["C4"] == "failure"
        assert cases(suite)["D1"] == "skipped"  # a descriptive claim has nothing to fail
        assert counts(suite) == {"tests": 5, "failures": 2, "errors": 1, "skipped": 1}

    def test_invalid_paper_is_an_error_case(self, make_root: RootFactory, tmp_path: Path) -> None:
        root = build(make_root, manifest_document("good-paper"), manifest_document("bad-paper"))
        manifest = root.path / "manifests" / "bad-paper" / "manifest.yaml"
        document = json.loads(manifest.read_text())
        document["repros"][0]["seal"] = "sha256:" + "0" * 64
        manifest.write_text(json.dumps(document))
        status, xml, summary = ci(root, tmp_path)
        assert status == 2
        suites = {s.get("name"): s for s in xml.findall("testsuite")}
        assert cases(suites["bad-paper"]) == {"intake": "error"}
        assert counts(suites["bad-paper"]) == {"tests": 1, "failures": 0, "errors": 1, "skipped": 0}
        assert cases(suites["good-paper"]) == {"C1": "passed"}
        assert "## bad-paper: invalid: " in summary


class TestSummary:
    def test_one_row_per_claim(self, make_root: RootFactory, tmp_path: Path) -> None:
        root = build(make_root, mixed_paper())
        _, _, summary = ci(root, tmp_path)
        lines = summary.splitlines()
        assert lines[0] == "# Verification summary"
        assert "Runs: 2 executed, 0 from the cache." in lines
        assert "## mixed: Refuted" in lines
        rows = [line for line in lines if line.startswith("| mixed/")]
        assert [row.split(" | ")[:4] for row in rows] == [
            ["| mixed/C1", "verified", "2", "reproduced"], ["| mixed/C2", "refuted", "2", "none"],
            ["| mixed/C3", "inconclusive", "2", "none"], ["| mixed/C4", "unverified", "2", "none"],
            ["| mixed/D1", "unverified", "1", "none"],
        ]
        assert all(row.endswith(" |") and row.count(" | ") == 4 for row in rows)  # no stray pipes from reasons
        _, _, again = ci(root, tmp_path)
        assert "Runs: 1 executed, 1 from the cache." in again.splitlines()  # the crash is tried again
