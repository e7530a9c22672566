"""`verify init`: the skeleton seals, verifies in the real sandbox, lints clean, and never overwrites."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from verifier.cli import main
from verifier.lint import lint_paper
from verifier.manifests import load_manifest
from verifier.root import VerificationRoot

HAS_BWRAP = shutil.which("bwrap") is not None


def verify(root: Path, *args: str) -> int:
    return main(["--root", str(root), *args])


@pytest.mark.bwrap
@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")
def test_init_seal_paper_verifies_straight_away(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "fresh"  # does not exist yet: init makes it
    assert verify(root, "init", "demo") == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["wrote manifests/demo/manifest.yaml", "wrote repros/demo/run.py",
                                "next: verify seal demo && verify paper demo"]
    assert verify(root, "seal", "demo") == 0
    capsys.readouterr()
    assert verify(root, "paper", "demo", "--json") == 0
    session = json.loads(capsys.readouterr().out)
    (paper,) = session["papers"]
    statuses = {v["claim"]: (v["status"], v["sealed"]) for v in paper["claims"]}
    assert statuses == {"demo/C1": ("unverified", False), "demo/C2": ("verified", True),
                        "demo/C3": ("verified", True)}
    assert paper["verdict"]["status"] == "Verified"


def test_the_skeleton_has_one_claim_of_each_kind_and_comments(tmp_path: Path) -> None:
    assert verify(tmp_path, "init", "demo") == 0
    text = (tmp_path / "manifests/demo/manifest.yaml").read_text()
    manifest = load_manifest(VerificationRoot.at(tmp_path), "demo", check_seals=False)
    kinds = [c.kind for c in manifest.model.claims]
    assert kinds == ["descriptive", "formula", "empirical"]
    assert "#   kind: proof" in text  # the proof claim is shown, commented out: it needs Lean 4
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) >= 15
    run = (tmp_path / "repros/demo/run.py").read_text()
    assert "REPRO_PARAMS" in run and "REPRO_SEED" in run and "results.json" in run


def test_the_skeleton_lints_clean(tmp_path: Path) -> None:
    assert verify(tmp_path, "init", "demo") == 0
    findings = lint_paper(load_manifest(VerificationRoot.at(tmp_path), "demo", check_seals=False)).findings
    assert findings == []


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(tmp_path, "init", "demo") == 0
    manifest = tmp_path / "manifests/demo/manifest.yaml"
    manifest.write_text("mine\n")
    assert verify(tmp_path, "init", "demo") == 2
    assert "manifests/demo/manifest.yaml already exists" in capsys.readouterr().err
    assert manifest.read_text() == "mine\n"
    # a bundle directory that holds files is not overwritten either
    (tmp_path / "repros/other").mkdir(parents=True)
    (tmp_path / "repros/other/x.py").write_text("x = 1\n")
    assert verify(tmp_path, "init", "other") == 2
    assert not (tmp_path / "manifests/other").exists()


def test_init_refuses_a_malformed_id_and_a_bundle_outside_the_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(tmp_path, "init", "Bad Id") == 2
    err = capsys.readouterr().err
    assert err.startswith("verify: error: ") and "malformed paper id" in err and len(err.splitlines()) == 1
    assert verify(tmp_path, "init", "demo", "--bundle", "../elsewhere") == 2
    assert "leaves the verification root" in capsys.readouterr().err
    assert not (tmp_path.parent / "elsewhere").exists()


def test_init_with_a_bundle_option(tmp_path: Path) -> None:
    assert verify(tmp_path, "init", "demo", "--bundle", "code/demo") == 0
    assert (tmp_path / "code/demo/run.py").is_file()
    manifest = load_manifest(VerificationRoot.at(tmp_path), "demo", check_seals=False)
    assert manifest.model.repros[0].bundle == "code/demo"
