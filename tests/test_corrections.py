"""Correction records: the hash chain, audit, append (verifier.corrections)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.corrections import (
    append_correction,
    audit,
    correction_status,
    dump_record,
    format_time,
    parse_record,
    read_records,
)
from verifier.digest import bytes_digest, file_digest
from verifier.errors import ChainError, IntakeError
from verifier.models import CorrectionRecord

PAPER = "c276350e5bdb6ee6"
T0 = datetime(2026, 6, 23, 8, 11, 44, tzinfo=UTC)

MANIFEST = f"""\
contract: paper-manifest-v1.1
id: {PAPER}
title: "A paper"
publisher: "Someone"
source: {{kind: literature-synthesis}}
claims:
  - id: C1
    statement: "Fine-tuning uses a peak learning rate of 5e-05."
    kind: formula
  - id: C2
    statement: "Accuracy is 81.3%."
    kind: empirical
  - id: C3
    statement: "The method is new."
    kind: descriptive
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "manifests" / PAPER).mkdir(parents=True)
    (tmp_path / "manifests" / PAPER / "manifest.yaml").write_text(MANIFEST)
    return tmp_path


def manifest(root: Path) -> Path:
    return root / "manifests" / PAPER / "manifest.yaml"


def edit_manifest(root: Path, text: str) -> str:
    """Edit the manifest (append a comment); return the digest it had before."""
    before = file_digest(manifest(root))
    with manifest(root).open("a") as fh:
        fh.write(f"# {text}\n")
    return before


def correct(root: Path, n: int, *, start: datetime = T0) -> list[Path]:
    """n corrections, each after an edit of the manifest."""
    paths = []
    for i in range(n):
        before = edit_manifest(root, f"edit {i}")
        paths.append(
            append_correction(
                root,
                PAPER,
                type="correction",
                claims=["C1"] if i % 2 == 0 else ["C2", "C3"],
                reason=f"fix number {i}",
                manifest_before=before if i == 0 else None,
                issued=start + timedelta(hours=i),
            )
        )
    return paths


class TestDigests:
    def test_known_answer(self, tmp_path: Path) -> None:
        path = tmp_path / "f"
        path.write_bytes(b"abc")
        assert file_digest(path) == (
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )


class TestAppend:
    def test_first_record(self, root: Path) -> None:
        before = edit_manifest(root, "C1 fixed")
        path = append_correction(
            root,
            PAPER,
            type="erratum",
            claims=["C1"],
            reason="typo",
            manifest_before=before,
            issued=T0,
        )
        assert path == root / "manifests" / PAPER / "corrections" / "0001.yaml"
        text = path.read_text()
        assert text == (
            "contract: correction-record-v1\n"
            f'paper: "{PAPER}"\n'
            "seq: 1\n"
            "type: erratum\n"
            'claims: ["C1"]\n'
            'reason: "typo"\n'
            "issued: 2026-06-23T08:11:44Z\n"
            f"manifest_before: {before}\n"
            f"manifest_after: {file_digest(manifest(root))}\n"
            "previous: null\n"
        )
        head = (path.parent / "HEAD").read_text()
        assert head == bytes_digest(path.read_bytes()) + "\n"
        report = audit(root, PAPER)
        assert report.ok, report.breaks
        assert (report.status, report.count) == ("CORRECTED", 1)

    def test_chain_links(self, root: Path) -> None:
        paths = correct(root, 3)
        records = [parse_record(p.read_bytes()) for p in paths]
        assert [r.seq for r in records] == [1, 2, 3]
        assert records[0].previous is None
        assert records[1].previous == file_digest(paths[0])
        assert records[2].previous == file_digest(paths[1])
        assert records[1].manifest_before == records[0].manifest_after
        assert records[2].manifest_after == file_digest(manifest(root))
        assert audit(root, PAPER).ok

    def test_first_record_needs_manifest_before(self, root: Path) -> None:
        with pytest.raises(IntakeError, match=r"first correction .* needs the manifest's digest"):
            append_correction(root, PAPER, type="correction", claims=["C1"], reason="r")
        assert not (root / "manifests" / PAPER / "corrections").exists()

    def test_later_manifest_before_must_agree(self, root: Path) -> None:
        correct(root, 1)
        edit_manifest(root, "again")
        with pytest.raises(IntakeError, match="contradicts the chain"):
            append_correction(
                root,
                PAPER,
                type="correction",
                claims=["C1"],
                reason="r",
                manifest_before="sha256:" + "0" * 64,
            )

    def test_unknown_type(self, root: Path) -> None:
        with pytest.raises(IntakeError, match="unknown correction type 'oops'"):
            append_correction(
                root,
                PAPER,
                type="oops",
                claims=["C1"],
                reason="r",
                manifest_before="sha256:" + "0" * 64,
            )

    def test_unknown_claim(self, root: Path) -> None:
        with pytest.raises(IntakeError, match=r"unknown claim.*C9"):
            append_correction(
                root,
                PAPER,
                type="erratum",
                claims=["C9"],
                reason="r",
                manifest_before="sha256:" + "0" * 64,
            )

    def test_unknown_paper(self, root: Path) -> None:
        with pytest.raises(IntakeError, match="unknown paper 'nope-paper'"):
            append_correction(root, "nope-paper", type="erratum", claims=[], reason="r")

    def test_malformed_paper_id(self, root: Path) -> None:
        with pytest.raises(IntakeError, match="malformed paper id"):
            audit(root, "../etc")

    def test_issued_cannot_go_back(self, root: Path) -> None:
        correct(root, 1)
        with pytest.raises(IntakeError, match="is before record 1"):
            append_correction(
                root,
                PAPER,
                type="addendum",
                claims=[],
                reason="r",
                issued=T0 - timedelta(seconds=1),
            )

    def test_refuses_broken_chain(self, root: Path) -> None:
        paths = correct(root, 2)
        paths[0].write_bytes(paths[0].read_bytes().replace(b"fix number 0", b"fix number X"))
        with pytest.raises(
            ChainError, match=r"refusing to append to a broken chain: .*0002\.yaml: previous"
        ):
            append_correction(root, PAPER, type="addendum", claims=[], reason="more")
        assert sorted(p.name for p in paths[0].parent.glob("*.yaml")) == ["0001.yaml", "0002.yaml"]

    def test_never_overwrites(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A concurrent writer that wins the race keeps its record; we fail cleanly."""
        correct(root, 1)
        import verifier.corrections as corrections

        real = corrections._next_record

        def racing(*args: object, **kwargs: object) -> CorrectionRecord:
            record = real(*args, **kwargs)  # type: ignore[arg-type]
            (root / "manifests" / PAPER / "corrections" / "0002.yaml").write_bytes(b"theirs\n")
            return record

        monkeypatch.setattr(corrections, "_next_record", racing)
        with pytest.raises(ChainError, match="written by someone else"):
            append_correction(root, PAPER, type="addendum", claims=[], reason="r")
        assert (
            root / "manifests" / PAPER / "corrections" / "0002.yaml"
        ).read_bytes() == b"theirs\n"
        assert not list((root / "manifests" / PAPER / "corrections").glob(".*tmp"))

    def test_concurrent_writers_one_wins(self, root: Path) -> None:
        correct(root, 1)
        results: list[object] = []

        def write(i: int) -> None:
            try:
                results.append(
                    append_correction(root, PAPER, type="addendum", claims=[], reason=f"w{i}")
                )
            except (ChainError, IntakeError) as e:
                results.append(e)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Whatever interleaving happened, no record was overwritten and the chain a reader sees is valid
        # once the writers are done (HEAD is rewritten last, by the winner of each seq).
        records, _ = read_records(root, PAPER)
        assert all(r.record is not None for r in records)
        assert audit(root, PAPER).ok, audit(root, PAPER).breaks

    def test_unchanged_manifest(self, root: Path) -> None:
        """An expression of concern without an edit: before == after."""
        digest = file_digest(manifest(root))
        path = append_correction(
            root,
            PAPER,
            type="expression-of-concern",
            claims=[],
            reason="data questioned",
            manifest_before=digest,
        )
        record = parse_record(path.read_bytes())
        assert record.manifest_before == record.manifest_after == digest
        report = audit(root, PAPER)
        assert (
            report.ok
            and report.status == "CORRECTED"
            and report.flags == ("expression-of-concern",)
        )


class TestAudit:
    def test_no_corrections(self, root: Path) -> None:
        report = audit(root, PAPER)
        assert (report.ok, report.status, report.count, report.head) == (True, "CURRENT", 0, None)

    def test_manifest_changed_outside_chain(self, root: Path) -> None:
        correct(root, 2)
        edit_manifest(root, "sneaky")
        report = audit(root, PAPER)
        assert len(report.breaks) == 1
        assert report.breaks[0].startswith(f"manifests/{PAPER}/manifest.yaml: digest is sha256:")
        assert "0002.yaml says manifest_after" in report.breaks[0]

    def test_edited_middle_record(self, root: Path) -> None:
        paths = correct(root, 3)
        paths[1].write_bytes(paths[1].read_bytes().replace(b"fix number 1", b"fix number 9"))
        report = audit(root, PAPER)
        assert report.breaks == (
            f"manifests/{PAPER}/corrections/0003.yaml: previous is {parse_record(paths[2].read_bytes()).previous}, "
            f"expected the digest of manifests/{PAPER}/corrections/0002.yaml ({file_digest(paths[1])})",
        )

    def test_edited_last_record_caught_by_head(self, root: Path) -> None:
        paths = correct(root, 2)
        paths[1].write_bytes(paths[1].read_bytes().replace(b"C2", b"C1"))
        (breaks,) = audit(root, PAPER).breaks
        assert breaks.startswith(f"manifests/{PAPER}/corrections/HEAD: names sha256:")

    def test_deleted_last_record(self, root: Path) -> None:
        paths = correct(root, 2)
        paths[1].unlink()
        breaks = audit(root, PAPER).breaks
        assert any("HEAD: names" in b for b in breaks)
        assert any("manifest.yaml: digest is" in b for b in breaks)

    def test_gap(self, root: Path) -> None:
        paths = correct(root, 3)
        paths[1].unlink()
        breaks = audit(root, PAPER).breaks
        assert breaks[0] == (
            f"manifests/{PAPER}/corrections/0003.yaml: expected 0002.yaml here "
            "(records must run 0001, 0002, ... with no gap)"
        )

    def test_head_is_optional(self, root: Path) -> None:
        """CONTRACT.md: HEAD is an extra, checked when present, never required."""
        paths = correct(root, 2)
        (paths[0].parent / "HEAD").unlink()
        assert audit(root, PAPER).ok
        append_correction(root, PAPER, type="addendum", claims=[], reason="more")
        assert audit(root, PAPER).ok and (paths[0].parent / "HEAD").is_file()

    def test_head_without_records(self, root: Path) -> None:
        directory = root / "manifests" / PAPER / "corrections"
        directory.mkdir(parents=True)
        (directory / "HEAD").write_text("sha256:" + "0" * 64 + "\n")
        (b,) = audit(root, PAPER).breaks
        assert b == f"manifests/{PAPER}/corrections/HEAD: present but there is no record"

    def test_wrong_paper_and_seq(self, root: Path) -> None:
        paths = correct(root, 1)
        rec = parse_record(paths[0].read_bytes())
        bad = rec.model_copy(update={"paper": "other-paper", "seq": 2})
        paths[0].write_bytes(dump_record(bad))
        breaks = audit(root, PAPER).breaks
        assert f"manifests/{PAPER}/corrections/0001.yaml: seq is 2, the file name says 1" in breaks
        assert (
            f"manifests/{PAPER}/corrections/0001.yaml: paper is 'other-paper', expected '{PAPER}'"
            in breaks
        )

    def test_unreadable_record(self, root: Path) -> None:
        paths = correct(root, 1)
        paths[0].write_bytes(b"contract: [unclosed\n")
        breaks = audit(root, PAPER).breaks
        assert breaks[0].startswith(
            f"manifests/{PAPER}/corrections/0001.yaml: unreadable: 0001.yaml: invalid YAML"
        )

    def test_stray_file(self, root: Path) -> None:
        paths = correct(root, 1)
        (paths[0].parent / "2.yaml").write_text("x: 1\n")
        (b,) = audit(root, PAPER).breaks
        assert b == f"manifests/{PAPER}/corrections/2.yaml: not a record name (NNNN.yaml)"


class TestStatus:
    @staticmethod
    def rec(kind: str, seq: int = 1) -> CorrectionRecord:
        return CorrectionRecord(
            contract="correction-record-v1",
            paper=PAPER,
            seq=seq,
            type=kind,  # type: ignore[arg-type]
            claims=[],
            reason="r",
            issued=T0,
            manifest_before="sha256:" + "0" * 64,
            manifest_after="sha256:" + "0" * 64,
            previous=None,
        )

    @pytest.mark.parametrize(
        ("kinds", "status"),
        [
            ([], "CURRENT"),
            (["correction"], "CORRECTED"),
            (["erratum", "addendum"], "CORRECTED"),
            (["expression-of-concern"], "CORRECTED"),
            (["correction", "retraction"], "RETRACTED"),
            (["retraction", "addendum"], "RETRACTED"),
            (["withdrawal"], "WITHDRAWN"),
            (["retraction", "withdrawal"], "WITHDRAWN"),
        ],
    )
    def test_status(self, kinds: list[str], status: str) -> None:
        assert correction_status([self.rec(k, i + 1) for i, k in enumerate(kinds)]) == status


class TestStale:
    def test_stale_until_verified_again(self, root: Path) -> None:
        correct(root, 2)  # 0001 touches C1 at T0; 0002 touches C2, C3 at T0+1h
        verdicts: dict[str, datetime] = {
            f"{PAPER}/C1": T0 + timedelta(minutes=30),  # after 0001: fresh
            f"{PAPER}/C2": T0 - timedelta(days=1),  # before 0002: stale
        }
        report = audit(root, PAPER, last_verdict_time=verdicts.get)
        assert [(s.claim, s.seq, s.last_verdict) for s in report.stale] == [
            (f"{PAPER}/C2", 2, T0 - timedelta(days=1)),
            (f"{PAPER}/C3", 2, None),
        ]
        verdicts[f"{PAPER}/C2"] = verdicts[f"{PAPER}/C3"] = T0 + timedelta(hours=2)
        assert audit(root, PAPER, last_verdict_time=verdicts.get).stale == ()

    def test_naive_verdict_time_is_utc(self, root: Path) -> None:
        correct(root, 1)
        naive = (T0 + timedelta(seconds=1)).replace(tzinfo=None)
        assert audit(root, PAPER, last_verdict_time=lambda _c: naive).stale == ()


class TestYaml:
    @given(st.text())
    def test_quoted_strings_round_trip(self, reason: str) -> None:
        rec = TestStatus.rec("correction").model_copy(
            update={"reason": reason or "x", "issuer": reason}
        )
        assert parse_record(dump_record(rec)) == rec

    @pytest.mark.parametrize("cid", ["1e3", "null", "true", "0x1F", "1.0"])
    def test_ids_stay_strings(self, cid: str) -> None:
        rec = TestStatus.rec("correction").model_copy(update={"claims": [cid]})
        assert parse_record(dump_record(rec)).claims == [cid]

    def test_format_time(self) -> None:
        assert format_time(T0) == "2026-06-23T08:11:44Z"
        assert (
            format_time(datetime(2026, 6, 23, 10, 11, 44, tzinfo=UTC).astimezone())
            == "2026-06-23T10:11:44Z"
        )


def _files(root: Path) -> list[Path]:
    corrections = sorted((root / "manifests" / PAPER / "corrections").iterdir())
    return [manifest(root), *corrections]


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Roots with 1, 2 and 3 corrections, built once (appending fsyncs, which is slow)."""
    built = {}
    for n in (1, 2, 3):
        root = tmp_path_factory.mktemp(f"chain{n}")
        (root / "manifests" / PAPER).mkdir(parents=True)
        manifest(root).write_text(MANIFEST)
        correct(root, n)
        built[n] = root
    return built


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(1, 3), data=st.data())
def test_any_one_byte_change_is_caught(
    chains: dict[int, Path], tmp_path: Path, n: int, data: st.DataObject
) -> None:
    """Property: change one byte of any record, of HEAD or of the manifest, and the audit breaks."""
    root = Path(tempfile.mkdtemp(dir=tmp_path)) / "root"
    shutil.copytree(chains[n], root)
    assert audit(root, PAPER).ok
    target = data.draw(st.sampled_from(_files(root)), label="file")
    raw = bytearray(target.read_bytes())
    pos = data.draw(st.integers(0, len(raw) - 1), label="offset")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[pos]), label="byte")
    raw[pos] = new
    target.write_bytes(bytes(raw))
    # With a verdict lookup the manifest's claims are read too: a corrupt manifest is still a break.
    assert not audit(root, PAPER, last_verdict_time=lambda _claim: None).ok, (target.name, pos, new)


def test_digest_is_of_stored_bytes(root: Path) -> None:
    (path,) = correct(root, 1)
    assert file_digest(path) == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_paper_id_with_trailing_newline_refused(root: Path) -> None:
    with pytest.raises(IntakeError, match="malformed paper id"):
        audit(root, PAPER + "\n")


def test_default_issued_rounds_up(root: Path) -> None:
    """A verdict reached just before the correction, in the same second, must not count as newer."""
    before_append = datetime.now(UTC)
    digest = file_digest(manifest(root))
    path = append_correction(
        root, PAPER, type="addendum", claims=["C1"], reason="r", manifest_before=digest
    )
    issued = parse_record(path.read_bytes()).issued
    assert issued.microsecond == 0 and issued >= before_append
    (stale,) = audit(root, PAPER, last_verdict_time=lambda _c: before_append).stale
    assert stale.claim == f"{PAPER}/C1"
