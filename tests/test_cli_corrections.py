"""`verify correct` and `verify audit`: exit codes and the exact lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier.cli import main
from verifier.digest import file_digest
from verifier.models import Verdict

PAPER = "demo-paper"
MANIFEST = f"""\
contract: paper-manifest-v1.1
id: {PAPER}
title: "A paper"
publisher: "Tests"
source: {{kind: primary-research}}
claims:
  - id: C1
    statement: "The learning rate is 5e-05."
    kind: descriptive
  - id: C2
    statement: "Accuracy is 81.3%."
    kind: descriptive
"""


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "manifests" / PAPER).mkdir(parents=True)
    (tmp_path / "manifests" / PAPER / "manifest.yaml").write_text(MANIFEST)
    monkeypatch.delenv("VERIFY_HOME", raising=False)
    monkeypatch.delenv("VERIFY_ROOT", raising=False)
    return tmp_path


def run(root: Path, *args: str) -> int:
    return main(["--root", str(root), *args])


def edit(root: Path) -> str:
    path = root / "manifests" / PAPER / "manifest.yaml"
    before = file_digest(path)
    path.write_text(path.read_text().replace("81.3%", "83.1%"))
    return before


def test_correct_then_audit(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = edit(root)
    status = run(
        root,
        "correct",
        PAPER,
        "--type",
        "erratum",
        "--claims",
        "C2",
        "--reason",
        "digits swapped",
        "--manifest-before",
        before,
    )
    out = capsys.readouterr().out.splitlines()
    record = root / "manifests" / PAPER / "corrections" / "0001.yaml"
    assert status == 0
    assert out == [
        f"manifests/{PAPER}/corrections/0001.yaml {file_digest(record)}",
        f"{PAPER}: correction 1 (erratum) recorded",
        f"stale until verified again: {PAPER}/C2 (verify claim {PAPER}/C2)",
    ]
    assert run(root, "audit", PAPER) == 3  # intact, but C2 is out of date (CONTRACT.md)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{PAPER}: CORRECTED, 1 correction(s); chain intact"
    assert lines[1].startswith(f"stale: {PAPER}/C2: correction 1 issued ")
    assert lines[1].endswith(f", last verdict never (verify claim {PAPER}/C2)")


def test_audit_json_and_tamper(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = edit(root)
    assert (
        run(
            root,
            "correct",
            PAPER,
            "--type",
            "correction",
            "--claims",
            "C2",
            "--reason",
            "r",
            "--manifest-before",
            before,
        )
        == 0
    )
    capsys.readouterr()
    manifest = root / "manifests" / PAPER / "manifest.yaml"
    manifest.write_text(manifest.read_text() + "# quietly changed\n")
    assert run(root, "audit", PAPER, "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["status"] == "CORRECTED" and report["count"] == 1
    assert report["breaks"][0].startswith(f"manifests/{PAPER}/manifest.yaml: digest is sha256:")
    assert [s["claim"] for s in report["stale"]] == [f"{PAPER}/C2"]
    assert run(root, "audit", PAPER) == 1
    assert (
        capsys.readouterr()
        .out.splitlines()[1]
        .startswith(f"broken: manifests/{PAPER}/manifest.yaml")
    )


def test_correct_refuses_broken_chain(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = edit(root)
    run(
        root, "correct", PAPER, "--type", "correction", "--reason", "r", "--manifest-before", before
    )
    (root / "manifests" / PAPER / "corrections" / "HEAD").write_text("garbage\n")
    capsys.readouterr()
    assert run(root, "correct", PAPER, "--type", "addendum", "--reason", "more") == 1
    err = capsys.readouterr().err
    assert err.startswith("verify: error: refusing to append to a broken chain: ")


def test_unchanged_and_before_file(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.yaml"
    old.write_bytes((root / "manifests" / PAPER / "manifest.yaml").read_bytes())
    edit(root)
    assert (
        run(
            root,
            "correct",
            PAPER,
            "--type",
            "correction",
            "--reason",
            "r",
            "--manifest-before",
            str(old),
        )
        == 0
    )
    assert (
        run(
            root,
            "correct",
            PAPER,
            "--type",
            "expression-of-concern",
            "--reason",
            "r",
            "--unchanged",
        )
        == 0
    )
    capsys.readouterr()
    assert run(root, "audit", PAPER) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{PAPER}: CORRECTED, 2 correction(s), expression-of-concern; chain intact"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--type", "oops", "--reason", "r", "--unchanged"],
            "Invalid value for '--type': 'oops' is not one of",
        ),
        (
            ["--type", "erratum", "--claims", "C9", "--reason", "r", "--unchanged"],
            "unknown claim(s)",
        ),
        (["--type", "erratum", "--reason", "r"], "needs the manifest's digest before the edit"),
        (
            ["--type", "erratum", "--reason", "r", "--manifest-before", "nope"],
            "is neither sha256:<hex> nor a file",
        ),
    ],
)
def test_correct_bad_input(
    root: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(root, "correct", PAPER, *args) == 2
    assert message in capsys.readouterr().err


def test_unknown_paper(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(root, "audit", "no-such-paper") == 2
    assert capsys.readouterr().err == (
        "verify: error: unknown paper 'no-such-paper': no manifests/no-such-paper/manifest.yaml\n"
    )


def test_stale_clears_after_a_verdict(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The ledger's last verdict decides staleness: a verdict after the correction clears it."""
    ledger_mod = pytest.importorskip("verifier.ledger")
    before = edit(root)
    run(
        root,
        "correct",
        PAPER,
        "--type",
        "correction",
        "--claims",
        "C1,C2",
        "--reason",
        "r",
        "--manifest-before",
        before,
    )
    capsys.readouterr()
    assert run(root, "audit", PAPER, "--json") == 3
    issued = json.loads(capsys.readouterr().out)["stale"][0]["issued"]
    with ledger_mod.Ledger.open(root / ".verify") as ledger:
        ledger.add_verdict(
            Verdict(
                claim=f"{PAPER}/C1",
                status="verified",
                gate=2,
                reason="ok",
                evaluated="2999-01-01T00:00:00+00:00",
            )
        )
        ledger.add_verdict(
            Verdict(
                claim=f"{PAPER}/C2",
                status="verified",
                gate=2,
                reason="ok",
                evaluated="2000-01-01T00:00:00+00:00",
            )
        )
    assert run(root, "audit", PAPER, "--json") == 3
    stale = json.loads(capsys.readouterr().out)["stale"]
    assert stale == [
        {
            "claim": f"{PAPER}/C2",
            "correction": 1,
            "issued": issued,
            "last_verdict": "2000-01-01T00:00:00Z",
        }
    ]


def test_corrupt_manifest_is_a_break_not_bad_input(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = edit(root)
    assert (
        run(
            root,
            "correct",
            PAPER,
            "--type",
            "erratum",
            "--claims",
            "C2",
            "--reason",
            "r",
            "--manifest-before",
            before,
        )
        == 0
    )
    (root / "manifests" / PAPER / "manifest.yaml").write_text("claims: [unclosed\n")
    capsys.readouterr()
    assert run(root, "audit", PAPER) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith(f"broken: manifests/{PAPER}/manifest.yaml: digest is ")


def _sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_chain_written_by_the_contract_alone_audits_intact(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Another tool writes records from CONTRACT.md's rules only: no HEAD, no signature, its own YAML style."""
    manifest = root / "manifests" / PAPER / "manifest.yaml"
    directory = manifest.parent / "corrections"
    directory.mkdir()
    previous = None
    for seq, (old, new) in enumerate([("81.3%", "83.1%"), ("83.1%", "84.0%")], start=1):
        before = _sha(manifest.read_bytes())
        manifest.write_text(manifest.read_text().replace(old, new))
        record = (
            "contract: correction-record-v1\n"
            f"paper: {PAPER}\n"
            f"seq: {seq}\n"
            "type: erratum\n"
            "claims: [C2]\n"
            f"reason: 'accuracy misprinted, take {seq}'\n"
            f"issued: 2026-06-2{seq}T08:11:44Z\n"
            f"manifest_before: {before}\n"
            f"manifest_after: {_sha(manifest.read_bytes())}\n"
            f"previous: {previous or 'null'}\n"
        ).encode()
        (directory / f"{seq:04d}.yaml").write_bytes(record)
        previous = _sha(record)
    assert run(root, "audit", PAPER, "--json") == 3  # intact; C2 has no verdict since
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["breaks"], report["count"], report["head"]) == (True, [], 2, previous)
    assert [s["claim"] for s in report["stale"]] == [f"{PAPER}/C2"]
    # The next record written by `verify correct` continues the chain (and adds HEAD).
    assert run(root, "correct", PAPER, "--type", "addendum", "--reason", "more", "--unchanged") == 0
    capsys.readouterr()
    assert run(root, "audit", PAPER) == 3
    assert "chain intact" in capsys.readouterr().out


def test_audit_exit_0_once_every_claim_is_judged_again(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from verifier.ledger import Ledger

    before = edit(root)
    run(root, "correct", PAPER, "--type", "erratum", "--claims", "C2", "--reason", "r", "--manifest-before", before)
    assert run(root, "audit", PAPER) == 3
    with Ledger.open(root / ".verify") as ledger:
        ledger.add_verdict(Verdict(claim=f"{PAPER}/C2", status="verified", gate=2, reason="ok",
                                   evaluated="2999-01-01T00:00:00+00:00"))
    assert run(root, "audit", PAPER) == 0


def test_signed_chain_head(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With a key, `verify correct` signs the head; an edit that rewrites HEAD too is caught by the signature."""
    from verifier.attest.keys import init_keys

    init_keys(root / ".verify")
    before = edit(root)
    run(root, "correct", PAPER, "--type", "erratum", "--claims", "C2", "--reason", "r", "--manifest-before", before)
    run(root, "correct", PAPER, "--type", "addendum", "--reason", "more", "--unchanged")
    directory = root / "manifests" / PAPER / "corrections"
    assert (directory / "HEAD.intoto.jsonl").is_file()
    capsys.readouterr()
    assert run(root, "audit", PAPER) == 3
    assert "chain intact" in capsys.readouterr().out
    # Truncate: drop the last record, point HEAD at the one before.
    (directory / "0002.yaml").unlink()
    (directory / "HEAD").write_text(_sha((directory / "0001.yaml").read_bytes()) + "\n")
    assert run(root, "audit", PAPER) == 1
    out = capsys.readouterr().out
    assert f"broken: manifests/{PAPER}/corrections/HEAD.intoto.jsonl: signs manifests/{PAPER}/corrections/0002.yaml" in out
    assert "(truncated or edited)" in out
    # Appending on top of a chain whose signed head does not hold is refused.
    assert run(root, "correct", PAPER, "--type", "addendum", "--reason", "again", "--unchanged") == 1
    # Without the public key the signature is not checked, and says so.
    (root / ".verify" / "keys" / "ed25519.pub.pem").unlink()
    capsys.readouterr()
    assert run(root, "audit", PAPER) == 3
    assert "note: manifests/demo-paper/corrections/HEAD.intoto.jsonl: not checked" in capsys.readouterr().out
