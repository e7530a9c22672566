"""The public record (`verify show`): the builder, each format, escaping, attestations, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FORMULA, manifest_document
from verifier.attest.keys import init_keys, load_public_key, public_key_path
from verifier.attest.statements import verify_envelope
from verifier.attest.store import index_path, read_index, record_attestations
from verifier.cli import main
from verifier.corrections import append_correction
from verifier.executor import Options, verify_claims
from verifier.history import HistoryPoint
from verifier.history_plot import history_svg
from verifier.ledger import Ledger
from verifier.manifests import seal_manifest
from verifier.models import Check
from verifier.record import NOT_YET, PublicRecord, build_record, describe_check
from verifier.report import REPORTER_FOR_FORMAT, HtmlReporter, JsonReporter, MarkdownReporter
from verifier.root import VerificationRoot

PAPER = "demo-paper"
HOSTILE = "<script>alert('x')</script> beats *everything* [here](javascript:alert(1))"
VERIFIED_LINE = (
    "Verified (Gate 2): unsealed formula repro: computed 5e-05 matches expected 5e-05 (tolerance=5.0%)"
)


def paper_document() -> dict[str, Any]:
    """C1 verifiable, C2 a hostile descriptive claim, C3 a formula claim left unverified."""
    document = manifest_document(PAPER)
    document["review"] = {"method": "tribunal", "score": 7.5, "scale": 10}
    document["source"] = {"kind": "literature-synthesis", "doi": "10.5281/zenodo.1", "submitted": "2026-06-23"}
    document["provenance"] = {
        "contract": "source-provenance-v1",
        "publisher": "Tests",
        "level": "L4",
        "external_record": {"registered": True, "identifier": "10.5281/zenodo.1", "archive": "Zenodo"},
        "claim_lineage": {"source_grounded_claims": 3, "individual_records_public": False},
    }
    c1 = document["claims"][0]
    document["claims"] += [
        {"id": "C2", "statement": HOSTILE, "kind": "descriptive", "source": {"section": "<b>Intro</b>", "quote": HOSTILE}},
        {**c1, "id": "C3", "statement": "The same rate, never checked here."},
    ]
    return document


@pytest.fixture(scope="module")
def judged_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root whose C1 and C2 were judged (process backend); C3 never was. Built once per module."""
    root = tmp_path_factory.mktemp("published") / "root"
    (root / "bundle").mkdir(parents=True)
    (root / "bundle" / "__init__.py").write_text("")
    (root / "bundle" / "formula.py").write_text(FORMULA)
    (root / "data").mkdir()
    (root / "data" / "x.tsv").write_text("a\tb\n")
    (root / "manifests" / PAPER).mkdir(parents=True)
    (root / "manifests" / PAPER / "manifest.yaml").write_text(json.dumps(paper_document(), indent=2))
    seal_manifest(VerificationRoot.at(root), PAPER)
    options = Options(root=root, home=root / ".verify", backend="process")
    verify_claims(options, [PAPER], select=lambda _, c: c.id != "C3")
    return root


@pytest.fixture
def published(judged_once: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A private copy of `judged_once` (tests may add keys, verdicts, corrections). Returns (root, home)."""
    monkeypatch.delenv("VERIFY_HOME", raising=False)
    root = tmp_path / "root"
    shutil.copytree(judged_once, root)
    return root, root / ".verify"


@pytest.fixture
def record(published: tuple[Path, Path]) -> PublicRecord:
    return build_record(*published, PAPER)


class TestBuild:
    def test_gate_verdict_is_the_best_supported_line_and_the_aggregate(self, record: PublicRecord) -> None:
        assert record.gate["line"] == VERIFIED_LINE
        assert record.gate["claim"] == f"{PAPER}/C1"
        assert record.gate["deciding_gate"] == 2
        # C3 is checkable and was never verified: the paper is only partly verified.
        assert record.status == "Partially verified (1 of 2 claims)"

    def test_every_claim_in_manifest_order_never_verified_ones_say_so(self, record: PublicRecord) -> None:
        assert [c.id for c in record.claims] == ["C1", "C2", "C3"]
        c1, c2, c3 = record.claims
        assert (c1.status, c1.line, c1.computed, c1.check) == ("verified", VERIFIED_LINE, 5e-05, "approx, rel_tol 5%")
        assert c2.status == "unverified" and c2.gate == 1
        assert (c3.status, c3.line, c3.runs, c3.logs) == (None, NOT_YET, [], [])

    def test_run_environment_and_logs_point_into_the_artifact_store(self, record: PublicRecord, published: tuple[Path, Path]) -> None:
        _, home = published
        (run,) = record.claims[0].runs
        assert run.backend == "process" and run.sealed is False and run.status == "ok"
        assert run.interpreter.startswith("cpython ") and run.os != "-" and run.cpu != "-"
        labels = {link.label.split(" ", 1)[1] for link in record.claims[0].logs}
        assert {"stdout", "stderr", "results.json"} <= labels
        for link in record.claims[0].logs:
            assert link.path.startswith("artifacts/sha256/") and (home / link.path).is_file()

    def test_header_level_quality_corrections_provenance(self, record: PublicRecord) -> None:
        assert (record.review_score, record.doi, record.submitted) == ("7.5/10", "10.5281/zenodo.1", "2026-06-23")
        assert record.verification["level"] == "L2"  # every claim has a section and a quote
        assert record.verification["source_grounded_claims"] == 3
        assert set(record.quality["dimensions"]) == {
            "evidence_strength", "citation_grounding", "uncertainty_disclosure", "reproducibility_status"
        }
        assert record.corrections["status"] == "CURRENT" and record.corrections["ok"] is True
        assert record.provenance is not None and record.provenance["level_definition"].startswith("external archival record")

    def test_a_correction_makes_the_claim_stale(self, published: tuple[Path, Path]) -> None:
        root, home = published
        _correct(root)
        record = build_record(root, home, PAPER)
        assert record.corrections["status"] == "CORRECTED" and record.corrections["count"] == 1
        assert [s["claim"] for s in record.corrections["stale"]] == [f"{PAPER}/C1"]

    def test_unknown_paper_is_bad_input(self, published: tuple[Path, Path]) -> None:
        from verifier.errors import IntakeError

        with pytest.raises(IntakeError, match="no-such-paper"):
            build_record(*published, "no-such-paper")


def _correct(root: Path) -> None:
    """Edit C1's note and record the erratum the way `verify correct` does."""
    from verifier.digest import file_digest

    path = root / "manifests" / PAPER / "manifest.yaml"
    before = file_digest(path)
    document = json.loads(path.read_text())
    document["claims"][0]["note"] = "corrected"
    path.write_text(json.dumps(document, indent=2))
    append_correction(root, PAPER, type="erratum", claims=["C1"], reason="note added", manifest_before=before)


class TestFormats:
    def test_json_is_stable_sorted_and_complete(self, record: PublicRecord) -> None:
        text = JsonReporter().render(record)
        assert text == JsonReporter().render(record)
        document = json.loads(text)
        assert document["contract"] == "public-record-v1"
        assert list(document) == sorted(document)
        assert document["gate"]["line"] == VERIFIED_LINE
        assert [c["id"] for c in document["claims"]] == ["C1", "C2", "C3"]
        assert document["claims"][1]["statement"] == HOSTILE  # data stays data in JSON

    def test_markdown_has_sections_in_order_and_escapes(self, record: PublicRecord) -> None:
        text = MarkdownReporter().render(record)
        sections = ["## Verification level", "## Gate verdict", "## Quality tier", "## Quality dimensions",
                    "## Correction record", "## Provenance", "## Claims"]
        positions = [text.index(s) for s in sections]
        assert positions == sorted(positions)
        assert f"> {VERIFIED_LINE}" in text
        for claim in ("### C1", "### C2", "### C3"):
            assert claim in text
        assert "<script>" not in text and "&lt;script&gt;" in text
        assert "\\[here\\](javascript:" in text  # the hostile link syntax is escaped, not a link
        assert NOT_YET in text

    def test_html_escapes_everything_and_shows_every_claim(self, record: PublicRecord) -> None:
        page = HtmlReporter().render(record)
        assert "<script>" not in page and "&lt;script&gt;alert(" in page
        assert "&lt;b&gt;Intro&lt;/b&gt;" in page
        assert VERIFIED_LINE in page
        for claim in ("C1", "C2", "C3"):
            assert f'id="claim-{claim}"' in page
        assert 'class="badge partial"' in page and "Partially verified (1 of 2 claims)" in page
        assert '<link rel="stylesheet"' not in page and "<style>" in page  # self-contained

    def test_describe_check(self) -> None:
        assert describe_check(Check(op="between", low=0.7, high=0.9)) == "between 0.7 and 0.9"
        assert describe_check(Check(op="approx", abs_tol=0.01, precision=True)) == "approx, abs_tol 0.01, plus the printed precision"


class TestHistory:
    def test_two_evaluations_draw_an_svg_with_escaped_text(self) -> None:
        points = [
            HistoryPoint("2026-01-01T00:00:00Z", 0, 2, {"C1": "refuted"}),
            HistoryPoint("2026-01-02T00:00:00<x>", 2, 2, {"C1": "verified", "C2": "verified"}),
        ]
        svg = str(history_svg(points, ["C1", "C2"]))
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        assert "&lt;x&gt;" in svg and "<x>" not in svg
        assert svg.count("<rect") == 1 + 3  # the panel, then one cell per (claim, evaluation) judged

    def test_one_evaluation_draws_nothing(self) -> None:
        assert str(history_svg([HistoryPoint("2026-01-01T00:00:00Z", 1, 1, {"C1": "verified"})], ["C1"])) == ""

    def test_record_history_counts_verified_checkable_claims(self, record: PublicRecord) -> None:
        assert record.history[-1].verified == 1 and record.history[-1].checkable == 2
        assert record.history[-1].statuses == {"C1": "verified", "C2": "unverified"}


class TestAttestations:
    def test_no_key_writes_nothing(self, published: tuple[Path, Path], record: PublicRecord) -> None:
        _, home = published
        assert not (home / "attestations").exists()
        assert all(c.attestations == [] for c in record.claims)

    def test_with_a_key_every_verdict_is_signed_indexed_and_linked(self, published: tuple[Path, Path]) -> None:
        root, home = published
        init_keys(home)
        verify_claims(Options(root=root, home=home, backend="process"), [PAPER])
        record = build_record(root, home, PAPER)
        key = load_public_key(public_key_path(home))
        for claim in record.claims:
            index = read_index(home, f"{PAPER}/{claim.id}")
            assert index is not None and index["evaluated"] == claim.evaluated
            labels = [link.label for link in claim.attestations]
            assert labels[0] == "verdict summary (VSA)"
            for link in claim.attestations:
                envelope = json.loads((home / link.path).read_text())
                statement = verify_envelope(envelope, key)
                assert statement["_type"] == "https://in-toto.io/Statement/v1"
        c1 = record.claims[0]
        assert any("provenance (SLSA)" in link.label for link in c1.attestations)
        assert index_path(home, f"{PAPER}/C1").is_file()

    def test_cached_runs_are_not_signed_twice(self, published: tuple[Path, Path]) -> None:
        root, home = published
        init_keys(home)
        verify_claims(Options(root=root, home=home, backend="process"), [PAPER])
        first = read_index(home, f"{PAPER}/C1")
        outcome = verify_claims(Options(root=root, home=home, backend="process"), [PAPER])
        second = read_index(home, f"{PAPER}/C1")
        assert first is not None and second is not None
        assert first["runs"] == second["runs"] and first["verdict"] != second["verdict"]
        with Ledger.open(home) as ledger:
            # Everything was indexed already: one verdict envelope per claim, no run envelope.
            signed = [(p.intake.manifest, v) for p in outcome.papers if p.intake.manifest for v in p.verdicts]
            assert record_attestations(ledger, home, signed, policy_uri="https://example.invalid/policy") == 3


class TestCli:
    def test_show_formats_and_exit_status(self, published: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
        root, _ = published
        assert main(["--root", str(root), "show", PAPER, "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["gate"]["line"] == VERIFIED_LINE
        assert main(["--root", str(root), "show", PAPER]) == 0
        assert VERIFIED_LINE.split(":")[0] in capsys.readouterr().out

    def test_show_html_to_a_file(self, published: tuple[Path, Path], tmp_path: Path) -> None:
        root, _ = published
        out = tmp_path / "page.html"
        assert main(["--root", str(root), "show", PAPER, "--format", "html", "--out", str(out)]) == 0
        assert "Partially verified (1 of 2 claims)" in out.read_text()

    def test_unknown_paper_exits_2(self, published: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
        root, _ = published
        assert main(["--root", str(root), "show", "no-such-paper"]) == 2
        assert "verify: error:" in capsys.readouterr().err


def test_the_cli_formats_are_the_registry() -> None:
    """`verify show --format` offers exactly the reporters `REPORTER_FOR_FORMAT` registers, and each renders."""
    from verifier.cli.report import show

    [fmt] = [p for p in show.params if p.name == "fmt"]
    assert sorted(fmt.type.choices) == sorted(REPORTER_FOR_FORMAT)  # type: ignore[attr-defined]
    assert REPORTER_FOR_FORMAT["json"] is JsonReporter and REPORTER_FOR_FORMAT["html"] is HtmlReporter
    assert REPORTER_FOR_FORMAT["md"] is MarkdownReporter
