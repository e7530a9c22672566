"""The validated-manifest cache: intake answers as the slow path does, for every change the cache cannot see."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import FORMULA, RootFactory, manifest_document, proof_root
from verifier import build, manifests, validated
from verifier.cli import main
from verifier.digest import bytes_digest
from verifier.errors import IntakeError
from verifier.intake import validate_papers
from verifier.manifests import load_manifest, seal_manifest
from verifier.root import VerificationRoot

FILE = "manifests/demo-paper/manifest.yaml"


def cache_file(root: VerificationRoot) -> Path:
    return root.path / ".verify" / "intake" / "validated.json"


def cli(capsys: pytest.CaptureFixture[str], root: VerificationRoot, *argv: str) -> tuple[int, str, str]:
    status = main(["--root", str(root.path), "validate", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def fast_and_slow(capsys: pytest.CaptureFixture[str], root: VerificationRoot, *argv: str) -> tuple[Any, Any]:
    """`verify validate` with the cache as it stands, then with no cache file: both outputs."""
    fast = cli(capsys, root, *argv)
    cache_file(root).unlink(missing_ok=True)
    slow = cli(capsys, root, *argv)
    return fast, slow


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names the manifests that went through steps 2-4 (the model validation)."""
    seen: list[str] = []
    real = manifests.validate_document

    def spy(document: dict[str, Any], shown: str) -> Any:
        seen.append(shown)
        return real(document, shown)

    monkeypatch.setattr(manifests, "validate_document", spy)
    return seen


def test_second_call_skips_validation_and_prints_the_same(
    make_root: RootFactory, capsys: pytest.CaptureFixture[str], counted: list[str]
) -> None:
    root = make_root()
    for argv in ((), ("--json",)):
        first = cli(capsys, root, *argv)
        counted.clear()
        second = cli(capsys, root, *argv)
        assert counted == []  # taken from the cache
        assert first == second
        assert first[0] == 0
    assert cache_file(root).is_file()
    fast, slow = fast_and_slow(capsys, root, "--json")
    assert fast == slow


def test_the_lazy_model_is_the_validated_model(make_root: RootFactory) -> None:
    root = make_root()
    home = root.path / ".verify"
    validate_papers(root.path, home, [])
    [fast] = validate_papers(root.path, home, [])
    assert fast.manifest is not None and fast.manifest._model is None  # not built yet
    slow = load_manifest(root, "demo-paper")
    assert fast.manifest.model == slow.model
    assert fast.manifest.counts == (1, 1)
    assert (fast.manifest.digest, fast.manifest.bundles, fast.manifest.inputs) == (slow.digest, slow.bundles, slow.inputs)


def _edit_manifest(root: VerificationRoot, tmp: Path) -> None:
    path = root.path / FILE
    path.write_text(path.read_text().replace('"demo-paper"', '"demo-papers"', 1))


def _edit_bundle(root: VerificationRoot, tmp: Path) -> None:
    (root.path / "bundle" / "formula.py").write_text(FORMULA + "# edited\n")


def _add_to_bundle(root: VerificationRoot, tmp: Path) -> None:
    (root.path / "bundle" / "new.py").write_text("")


def _edit_input(root: VerificationRoot, tmp: Path) -> None:
    (root.path / "data" / "x.tsv").write_text("changed\n")


def _remove_input(root: VerificationRoot, tmp: Path) -> None:
    (root.path / "data" / "x.tsv").unlink()


def _remove_bundle(root: VerificationRoot, tmp: Path) -> None:
    shutil.rmtree(root.path / "bundle")


def _bundle_links_outside(root: VerificationRoot, tmp: Path) -> None:
    # the same bytes outside the root: only confinement can refuse it
    shutil.copytree(root.path / "bundle", tmp / "outside-bundle")
    shutil.rmtree(root.path / "bundle")
    (root.path / "bundle").symlink_to(tmp / "outside-bundle")


def _input_links_outside(root: VerificationRoot, tmp: Path) -> None:
    shutil.copy(root.path / "data" / "x.tsv", tmp / "x.tsv")
    (root.path / "data" / "x.tsv").unlink()
    (root.path / "data" / "x.tsv").symlink_to(tmp / "x.tsv")


def _directory_links_outside(root: VerificationRoot, tmp: Path) -> None:
    shutil.copytree(root.path / "data", tmp / "outside-data")
    shutil.rmtree(root.path / "data")
    (root.path / "data").symlink_to(tmp / "outside-data")


def _input_links_inside(root: VerificationRoot, tmp: Path) -> None:
    # a symlink that stays inside the root, to the same bytes: still valid
    shutil.copy(root.path / "data" / "x.tsv", root.path / "data" / "y.tsv")
    (root.path / "data" / "x.tsv").unlink()
    (root.path / "data" / "x.tsv").symlink_to("y.tsv")


def _input_becomes_directory(root: VerificationRoot, tmp: Path) -> None:
    (root.path / "data" / "x.tsv").unlink()
    (root.path / "data" / "x.tsv").mkdir()


def _manifest_links_outside(root: VerificationRoot, tmp: Path) -> None:
    path = root.path / FILE
    shutil.copy(path, tmp / "manifest.yaml")
    path.unlink()
    path.symlink_to(tmp / "manifest.yaml")


CHANGES: dict[str, tuple[Callable[[VerificationRoot, Path], None], str | None]] = {
    "manifest-byte": (_edit_manifest, "id: id 'demo-papers' does not match its directory 'demo-paper'"),
    "bundle-file": (_edit_bundle, "repros[0].seal: seal mismatch: bundle 'bundle' now digests to sha256:"),
    "bundle-new-file": (_add_to_bundle, "repros[0].seal: seal mismatch: bundle 'bundle' now digests to sha256:"),
    "input-file": (_edit_input, "repros[0].inputs[0].sha256: digest mismatch: 'data/x.tsv' now digests to "),
    "input-removed": (_remove_input, "repros[0].inputs[0].path: input 'data/x.tsv' is not a file"),
    "input-directory": (_input_becomes_directory, "repros[0].inputs[0].path: input 'data/x.tsv' is not a file"),
    "bundle-removed": (_remove_bundle, "repros[0].bundle: bundle 'bundle' is not a directory"),
    "bundle-symlink-outside": (_bundle_links_outside, "repros[0].bundle: path 'bundle' leaves the verification root"),
    "input-symlink-outside": (_input_links_outside, "repros[0].inputs[0].path: path 'data/x.tsv' leaves the verification root"),
    "directory-symlink-outside": (_directory_links_outside, "repros[0].inputs[0].path: path 'data/x.tsv' leaves the verification root"),
    "manifest-symlink-outside": (_manifest_links_outside, ": path 'manifests/demo-paper/manifest.yaml' leaves the verification root"),
    "input-symlink-inside": (_input_links_inside, None),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_every_change_gets_the_slow_paths_answer(
    make_root: RootFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    root = make_root()
    assert cli(capsys, root)[0] == 0
    assert cli(capsys, root)[0] == 0  # warm: served from the cache
    assert cache_file(root).is_file()
    change, message = CHANGES[name]
    outside = tmp_path / "outside"
    outside.mkdir()
    change(root, outside)
    fast, slow = fast_and_slow(capsys, root)
    assert fast == slow
    status, out, err = fast
    if message is None:
        assert (status, out, err) == (0, "demo-paper: valid (1 claims, 1 repros, sealed)\n", "")
    else:
        assert status == 2
        assert len(err.splitlines()) == 1
        assert err.startswith(f"verify: error: {FILE}{'' if message.startswith(':') else ': '}{message}")
        assert "Traceback" not in err


def test_proof_file_change_and_removal(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root, lean = proof_root(make_root)
    assert main(["--root", str(root.path), "seal", "demo-paper"]) == 0
    assert cli(capsys, root)[0] == 0 and cli(capsys, root)[0] == 0
    lean.write_text("theorem two_two : 2 + 2 = 5 := sorry\n")
    fast, slow = fast_and_slow(capsys, root)
    assert fast == slow and fast[0] == 2
    assert f"{FILE}: claims[1].proof.sha256: digest mismatch: 'proofs/t.lean' now digests to " in fast[2]
    assert main(["--root", str(root.path), "seal", "demo-paper"]) == 0
    capsys.readouterr()
    assert cli(capsys, root)[0] == 0 and cli(capsys, root)[0] == 0
    lean.unlink()
    fast, slow = fast_and_slow(capsys, root)
    assert fast == slow
    assert fast[:2] == (2, "demo-paper: invalid\n")
    assert fast[2] == f"verify: error: {FILE}: claims[1].proof.file: proof file 'proofs/t.lean' is not a file\n"


def test_same_bytes_under_another_paper_id_are_validated_anew(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root()
    assert cli(capsys, root)[0] == 0
    other = root.path / "manifests" / "other-paper"
    other.mkdir()
    shutil.copy(root.path / FILE, other / "manifest.yaml")
    status, _, err = cli(capsys, root, "other-paper")
    assert status == 2
    assert err == ("verify: error: manifests/other-paper/manifest.yaml: id: id 'demo-paper' does not match its"
                   " directory 'other-paper'\n")


def test_a_new_verifier_version_empties_the_cache(
    make_root: RootFactory, capsys: pytest.CaptureFixture[str], counted: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root()
    assert cli(capsys, root)[0] == 0
    counted.clear()
    monkeypatch.setattr(build, "__version__", "99.0.0")
    assert cli(capsys, root)[0] == 0
    assert counted == [FILE]  # validated anew under the new version
    counted.clear()
    assert cli(capsys, root)[0] == 0
    assert counted == []  # and kept for it


def test_a_changed_code_file_empties_the_cache(
    make_root: RootFactory, capsys: pytest.CaptureFixture[str], counted: list[str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = tmp_path / "package"
    package.mkdir()
    (package / "models.py").write_text("A = 1\n")
    monkeypatch.setattr(build, "PACKAGE_DIR", package)
    root = make_root()
    assert cli(capsys, root)[0] == 0
    counted.clear()
    assert cli(capsys, root)[0] == 0
    assert counted == []
    (package / "models.py").write_text("A = 22\n")
    assert cli(capsys, root)[0] == 0
    assert counted == [FILE]


@pytest.mark.parametrize("content", [
    b"", b"{", b"[]", b'{"format": 1}', b"\xff\xfe",
    # the right code, entries of the wrong form
    None,
])
def test_a_damaged_cache_is_ignored(make_root: RootFactory, capsys: pytest.CaptureFixture[str], content: bytes | None) -> None:
    root = make_root()
    expected = cli(capsys, root)
    assert expected[0] == 0
    if content is None:
        document = json.loads(cache_file(root).read_bytes())
        key = next(iter(document["entries"]))
        for entry in (None, 3, [], [1, [], [], None, 5], [1, [["R1", "bundle", None, []]], [], None],
                      [1, [["R1", "bundle", "sha256:" + "0" * 64, [["data/x.tsv", None]]]], [], None],
                      [1, [["R1", "", "sha256:" + "0" * 64, []]], [], None], ["1", [], [], None],
                      [1, [], [[0, "p", 5]], None], [1, [], [], 7]):
            document["entries"][key] = entry
            cache_file(root).write_text(json.dumps(document))
            assert cli(capsys, root) == expected
        return
    cache_file(root).write_bytes(content)
    assert cli(capsys, root) == expected


def test_a_forged_entry_cannot_skip_the_files(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    """Even pins that lie about a digest are checked against the files: the cache never accepts for them."""
    root = make_root()
    assert cli(capsys, root)[0] == 0
    document = json.loads(cache_file(root).read_bytes())
    key = next(iter(document["entries"]))
    document["entries"][key][1][0][2] = "sha256:" + "0" * 64
    cache_file(root).write_text(json.dumps(document))
    status, _, err = cli(capsys, root)
    assert status == 2
    assert err.startswith(f"verify: error: {FILE}: repros[0].seal: seal mismatch")


def test_an_unwritable_home_still_validates(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root()
    (root.path / ".verify").mkdir(exist_ok=True)
    (root.path / ".verify" / "intake").write_text("not a directory")
    assert cli(capsys, root)[0] == 0
    assert cli(capsys, root)[0] == 0


def test_the_lstat_chain_resolves_as_realpath_does(make_root: RootFactory, tmp_path: Path) -> None:
    root = make_root()
    (root.path / "link").symlink_to("data")
    (root.path / "loop").symlink_to("loop")
    (tmp_path / "away").mkdir()
    (root.path / "away").symlink_to(tmp_path / "away")
    (root.path / "data" / "up").symlink_to("..")
    plain = VerificationRoot(root.path)  # not made by `at`: realpath for every path
    assert root._real and not plain._real
    cases = ["data/x.tsv", "link/x.tsv", "data/../data/x.tsv", "bundle/../data/x.tsv", "data/none", "data/x.tsv/y",
             "loop/x", "away/x", "link/../bundle", "./data", "data/", "data/.", "data//x.tsv", "data/up/data/x.tsv",
             "data/up/../x", "manifests/demo-paper/manifest.yaml", "bundle", "data"]
    for relative in cases:
        answers = []
        for r in (root, plain):
            try:
                answers.append(str(r.resolve_inside(relative, file=Path("f"), field="p")))
            except IntakeError as e:
                answers.append(e.diagnostics())
        assert answers[0] == answers[1], relative


# ----------------------------------------------------------------- property: fast and slow intake agree

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-1, 1, allow_nan=False),
                    st.sampled_from(["", "bundle", "data/x.tsv", "../x", "/etc", "R1", "C1", "approx", "demo-paper",
                                     "sha256:" + "0" * 64, "0" * 64]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=2),
                                                       st.dictionaries(st.sampled_from(["id", "op", "path", "x"]), inner, max_size=2)),
                      max_leaves=4)
FILE_CHANGES = st.sampled_from(["none", *CHANGES])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


@st.composite
def edits(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A sealed-style manifest document with a few random edits (often none), and a change to the files."""
    document = manifest_document()
    for _ in range(draw(st.integers(0, 2))):
        paths = [p for p in _paths(document) if p]
        where = draw(st.sampled_from(paths))
        node: Any = document
        for part in where[:-1]:
            node = node[part]
        if draw(st.booleans()) and isinstance(node, dict):
            del node[where[-1]]
        else:
            node[where[-1]] = draw(VALUES)
    return document, draw(FILE_CHANGES)


def _outcome(result: Any) -> tuple[Any, ...]:
    return (result.error, result.line(), json.dumps(result.as_json(), sort_keys=True),
            result.manifest.model.model_dump(mode="json") if result.manifest is not None else None)


def _slow(root: Path) -> tuple[Any, ...]:
    from verifier.intake import IntakeResult

    try:
        plain = VerificationRoot(root.resolve())  # realpath for every path, no stat cache, no validated cache
        result = IntakeResult("demo-paper", load_manifest(plain, "demo-paper"), None)
    except IntakeError as e:
        result = IntakeResult("demo-paper", None, e.diagnostics())
    return _outcome(result)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits())
def test_fast_and_slow_intake_agree(edit: tuple[dict[str, Any], str]) -> None:
    document, change = edit
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "root"
        (root / "bundle").mkdir(parents=True)
        (root / "bundle" / "__init__.py").write_text("")
        (root / "bundle" / "formula.py").write_text(FORMULA)
        (root / "data").mkdir()
        (root / "data" / "x.tsv").write_text("a\tb\n")
        manifest = root / FILE
        manifest.parent.mkdir(parents=True)
        manifest.write_text(json.dumps(manifest_document(), indent=2))
        vroot = VerificationRoot.at(root)
        seal_manifest(vroot, "demo-paper")
        home = root / ".verify"
        assert validate_papers(root, home, [])[0].ok  # the cache holds the valid manifest
        sealed = json.loads(manifest.read_text())
        # the edited document keeps the seals of the valid one where it still has their places
        for i, repro in enumerate(document.get("repros") if isinstance(document.get("repros"), list) else []):
            if isinstance(repro, dict) and repro.get("bundle") == "bundle" and i < len(sealed["repros"]):
                repro.setdefault("seal", sealed["repros"][0]["seal"])
                for item in repro.get("inputs") if isinstance(repro.get("inputs"), list) else []:
                    if isinstance(item, dict) and item.get("path") == "data/x.tsv":
                        item.setdefault("sha256", sealed["repros"][0]["inputs"][0]["sha256"])
        manifest.write_text(json.dumps(document, indent=2))
        for _ in range(2):  # the first call may fill the cache with the edited manifest, the second uses it
            fast = _outcome(validate_papers(root, home, [])[0])
            assert fast == _slow(root)
        event(f"edited manifest {'valid' if fast[0] is None else 'invalid'}")
        if change != "none":
            (base / "outside").mkdir()
            CHANGES[change][0](vroot, base / "outside")
            assert _outcome(validate_papers(root, home, [])[0]) == _slow(root)


def test_each_paper_keeps_only_its_newest_versions(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root(manifest_document(), manifest_document("other-paper"))
    for title in range(validated.MAX_PER_PAPER + 3):
        path = root.path / FILE
        path.write_text(json.dumps({**json.loads(path.read_text()), "title": f"T{title}"}, indent=2))
        assert cli(capsys, root)[0] == 0
    keys = list(json.loads(cache_file(root).read_bytes())["entries"])
    assert sum(k.startswith("demo-paper ") for k in keys) == validated.MAX_PER_PAPER
    assert [k for k in keys if k.startswith("other-paper ")] != []  # another paper's entry stays
    assert keys[-1] == f"demo-paper {bytes_digest((root.path / FILE).read_bytes())}"
