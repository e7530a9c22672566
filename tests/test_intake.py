"""Gate 0: a table of hostile manifests, each with its exact one-line error and exit status 2."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RootFactory, manifest_document, proof_root
from verifier.cli import main

FILE = "manifests/demo-paper/manifest.yaml"


def doc_with(path: str, value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    document = manifest_document()
    node: Any = document
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if delete:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return document


def duplicate_claim() -> dict[str, Any]:
    document = manifest_document()
    document["claims"].append(copy.deepcopy(document["claims"][0]))
    return document


HOSTILE: list[tuple[str, Any, str]] = [
    ("broken-yaml", "contract: [\n", "invalid YAML at line 2, column 1: expected the node content, but found '<stream end>'"),
    ("unknown-field", doc_with("claims.0.chek", 1), "claims[0].chek: unknown field"),
    ("wrong-type", doc_with("claims.0.reported.value", "abc"), "claims[0].reported.value: expected a number or null, got a string ('abc')"),
    ("numeric-string", doc_with("claims.0.reported.value", "2"), "claims[0].reported.value: expected a number or null, got a string ('2')"),
    ("missing-field", doc_with("claims.0.statement", delete=True), "claims[0].statement: required field is missing"),
    ("bad-op", doc_with("claims.0.check.op", "approxx"), "claims[0].check.op: 'approxx' is not one of ['approx', 'eq', 'lt', 'le', 'gt', 'ge', 'between', 'trend']"),
    ("between-needs-bounds", doc_with("claims.0.check", {"op": "between", "low": 1}), "claims[0].check: op 'between' needs both low and high"),
    ("shell-string", doc_with("repros.0.entrypoint", "python x.py"), "repros[0].entrypoint: expected a list, got a string ('python x.py')"),
    ("wrong-contract", doc_with("contract", "paper-manifest-v2"), "contract: 'paper-manifest-v2' is not one of ['paper-manifest-v1.1', 'paper-manifest-v1.2']"),
    ("bad-paper-id", doc_with("id", "A!"), "id: 'A!' does not match '^[a-z0-9][a-z0-9._-]{2,63}$'"),
    ("id-mismatch", doc_with("id", "other-paper"), "id: id 'other-paper' does not match its directory 'demo-paper'"),
    ("duplicate-claim", duplicate_claim(), "claims[1].id: duplicate id 'C1'"),
    ("unknown-repro", doc_with("claims.0.evidence.repro", "R9"), "claims[0].evidence.repro: unknown repro 'R9'"),
    ("bad-pointer", doc_with("claims.0.evidence.output", "learning_rate"), "claims[0].evidence.output: 'learning_rate' does not match '^(/([^~/]|~[01])*)*$'"),
    ("path-dotdot", doc_with("repros.0.bundle", "../outside"), "repros[0].bundle: path '../outside' leaves the verification root"),
    ("path-absolute", doc_with("repros.0.bundle", "/etc"), "repros[0].bundle: path '/etc' is absolute; paths are relative to the root"),
    ("input-outside", doc_with("repros.0.inputs.0.path", "data/../../x"), "repros[0].inputs[0].path: path 'data/../../x' leaves the verification root"),
    ("missing-input", doc_with("repros.0.inputs.0.path", "data/none.tsv"), "repros[0].inputs[0].path: input 'data/none.tsv' is not a file"),
    ("nan-json", '{"contract": NaN}', "NaN is not valid JSON"),
    ("top-level-list", "- a\n- b\n", "top level is a list, not a mapping"),
    ("duplicate-key", "id: a\nid: b\n", 'invalid YAML at line 2, column 1: found duplicate key "id" with value "b" (original value: "a")'),
    ("not-utf8", b"\xff\xfe", "not UTF-8 text (byte 0)"),
    ("yaml-nan", "value: .nan\n", "value: NaN and infinity are not allowed"),
    ("empty-file", "", "top level is empty, not a mapping"),
]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(("name", "content", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_manifest_gets_one_line_and_exit_2(
    make_root: RootFactory, capsys: pytest.CaptureFixture[str], name: str, content: Any, message: str
) -> None:
    root = make_root(seal=False)
    path = root.path / FILE
    path.write_bytes(content if isinstance(content, bytes) else (content if isinstance(content, str) else json.dumps(content)).encode())
    status, _, err = run_cli(capsys, "--root", str(root.path), "validate", "demo-paper")
    assert status == 2
    assert err.splitlines() == [f"verify: error: {FILE}: {message}"]
    assert "Traceback" not in err


def test_valid_manifest_validates(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root()
    status, out, err = run_cli(capsys, "--root", str(root.path), "validate")
    assert (status, err) == (0, "")
    assert out.splitlines() == ["demo-paper: valid (1 claims, 1 repros, sealed)"]


def test_unknown_paper(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root()
    status, _, err = run_cli(capsys, "--root", str(root.path), "validate", "no-such-paper")
    assert status == 2
    assert err.strip() == "verify: error: unknown paper 'no-such-paper': no manifests/no-such-paper/manifest.yaml"


def test_symlinked_bundle_leaving_the_root_is_refused(make_root: RootFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = make_root(seal=False)
    (tmp_path / "outside").mkdir()
    (root.path / "link").symlink_to(tmp_path / "outside")
    (root.path / FILE).write_text(json.dumps(doc_with("repros.0.bundle", "link")))
    status, _, err = run_cli(capsys, "--root", str(root.path), "validate", "demo-paper")
    assert status == 2
    assert err.strip() == f"verify: error: {FILE}: repros[0].bundle: path 'link' leaves the verification root"


def test_seal_mismatch_after_a_bundle_change(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root()
    (root.path / "bundle" / "formula.py").write_text("print('tampered')\n")
    status, _, err = run_cli(capsys, "--root", str(root.path), "validate")
    assert status == 2
    assert err.startswith(f"verify: error: {FILE}: repros[0].seal: seal mismatch: bundle 'bundle' now digests to sha256:")


def test_input_digest_mismatch(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root()
    (root.path / "data" / "x.tsv").write_text("changed\n")
    status, _, err = run_cli(capsys, "--root", str(root.path), "validate")
    assert status == 2
    assert f"{FILE}: repros[0].inputs[0].sha256: digest mismatch: 'data/x.tsv' now digests to " in err


def test_unsealed_manifest_says_how_to_seal(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root(seal=False)
    status, _, err = run_cli(capsys, "--root", str(root.path), "validate")
    assert status == 2
    assert err.strip() == f"verify: error: {FILE}: repros[0].seal: no seal: run `verify seal demo-paper`"


def test_verbose_shows_the_traceback(make_root: RootFactory) -> None:
    root = make_root(seal=False)
    (root.path / FILE).write_text("contract: [\n")
    from verifier.errors import IntakeError

    with pytest.raises(IntakeError, match="invalid YAML"):
        main(["-v", "--root", str(root.path), "seal", "demo-paper"])


def test_seal_keeps_comments_and_layout(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        "# keep this comment\n"
        "contract: paper-manifest-v1.1\n"
        "id: demo-paper\n"
        "title: \"Demo\"   # and this one\n"
        "publisher: Tests\n"
        "source: {kind: primary-research}\n"
        "claims:\n"
        "  - id: C1\n"
        "    statement: s\n"
        "    kind: descriptive\n"
        "repros:\n"
        "  - id: R1\n"
        "    bundle: bundle\n"
        "    entrypoint: [python, -m, bundle.formula]\n"
        "    inputs: [{path: data/x.tsv}]\n"
    )
    root = make_root(manifest_document(), seal=False, as_yaml=text)
    status, _, _ = run_cli(capsys, "--root", str(root.path), "seal", "demo-paper")
    assert status == 0
    after = (root.path / FILE).read_text()
    kept = [line for line in after.splitlines() if "seal:" not in line and "sha256" not in line]
    assert kept == [line for line in text.splitlines() if "inputs:" not in line]
    assert "    inputs: [{path: data/x.tsv, sha256: " in after
    assert run_cli(capsys, "--root", str(root.path), "validate")[0] == 0
    # sealing again changes nothing and leaves the bytes alone
    before = (root.path / FILE).read_bytes()
    assert run_cli(capsys, "--root", str(root.path), "seal", "demo-paper")[1].endswith("sealed (0 value(s) changed)\n")
    assert (root.path / FILE).read_bytes() == before


def test_root_from_environment(make_root: RootFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_root()
    monkeypatch.setenv("VERIFY_ROOT", str(root.path))
    monkeypatch.chdir(os.sep)
    assert run_cli(capsys, "validate", "--json")[0] == 0


def test_proof_file_is_pinned_by_its_digest(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = proof_root(make_root)
    assert run_cli(capsys, "--root", str(root.path), "seal", "demo-paper")[0] == 0
    assert run_cli(capsys, "--root", str(root.path), "validate")[0] == 0
    (root.path / "proofs" / "t.lean").write_text("theorem two_two : 2 + 2 = 5 := sorry\n")
    status, _, err = run_cli(capsys, "--root", str(root.path), "validate")
    assert status == 2
    assert f"{FILE}: claims[1].proof.sha256: digest mismatch: 'proofs/t.lean' now digests to " in err
