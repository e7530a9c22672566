"""The CI action and the pre-commit hooks, checked with the tools that consume them.

* `action.yml` against the GitHub Actions schema (`check-jsonschema
  --builtin-schema vendor.github-actions`, the schema SchemaStore publishes,
  vendored in check-jsonschema, so no network).
* `.pre-commit-hooks.yaml` through `pre-commit try-repo` on a throwaway
  repository of papers: a good manifest passes; a broken one fails with one
  `verify: error:` line. pre-commit installs this repository into a fresh
  virtualenv as it would for a user (`language: python`); the virtualenv
  sees the system's site-packages (`VIRTUALENV_SYSTEM_SITE_PACKAGES`), so the
  install takes the dependencies already here instead of fetching them.
* `verify hook validate|audit` directly, for the mapping of files to papers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import RootFactory, manifest_document
from verifier.cli import main
from verifier.cli.hooks import papers_of

REPO = Path(__file__).resolve().parents[1]
CHECK_JSONSCHEMA = shutil.which("check-jsonschema")
PRE_COMMIT = shutil.which("pre-commit")
GIT = shutil.which("git")


@pytest.mark.skipif(CHECK_JSONSCHEMA is None, reason="check-jsonschema not installed")
def test_action_yml_passes_the_github_actions_schema() -> None:
    assert CHECK_JSONSCHEMA is not None
    done = subprocess.run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-actions", str(REPO / "action.yml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def test_action_runs_verify_ci_with_its_inputs() -> None:
    action = YAML(typ="safe").load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"root", "strict", "backend", "replicate"} <= set(action["inputs"])
    script = next(step["run"] for step in action["runs"]["steps"] if step.get("id") == "verify")
    for needed in ("ci", "--junit", "--summary", "GITHUB_STEP_SUMMARY", 'exit "$status"', "--strict", "--replicate"):
        assert needed in script, needed
    # Inputs reach the script through env only: no `${{ inputs.* }}` inside a shell script.
    assert all("${{" not in step.get("run", "") for step in action["runs"]["steps"])


def test_a_broken_action_fails_the_schema(tmp_path: Path) -> None:
    if CHECK_JSONSCHEMA is None:
        pytest.skip("check-jsonschema not installed")
    action = YAML(typ="safe").load((REPO / "action.yml").read_text())
    del action["runs"]["using"]
    broken = tmp_path / "action.yml"
    broken.write_text(json.dumps(action))
    done = subprocess.run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-actions", str(broken)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1


class TestHookCommands:
    @pytest.fixture
    def root(self, make_root: RootFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
        path = make_root(manifest_document("demo-paper"), manifest_document("other-paper")).path
        monkeypatch.chdir(path)
        monkeypatch.delenv("VERIFY_HOME", raising=False)
        return path

    def test_files_map_to_their_papers(self, root: Path) -> None:
        files = ("manifests/demo-paper/manifest.yaml", "manifests/demo-paper/corrections/0001.yaml",
                 "README.md", "manifests/other-paper/manifest.yaml", "../elsewhere/manifests/x/manifest.yaml")
        assert papers_of(files, root) == ["demo-paper", "other-paper"]

    def test_validate_only_the_changed_paper(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        (root / "manifests" / "other-paper" / "manifest.yaml").write_text("contract: nope\n")
        assert main(["hook", "validate", "manifests/demo-paper/manifest.yaml"]) == 0
        assert main(["hook", "validate", "manifests/other-paper/manifest.yaml"]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("verify: error: manifests/other-paper/manifest.yaml: ")

    def test_audit_fails_only_on_a_broken_chain(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["hook", "audit", "manifests/demo-paper/manifest.yaml"]) == 0
        corrections = root / "manifests" / "demo-paper" / "corrections"
        corrections.mkdir()
        (corrections / "0002.yaml").write_text("contract: correction-record-v1\n")  # seq 1 is missing
        assert main(["hook", "audit", "manifests/demo-paper/corrections/0002.yaml"]) == 1
        assert "verify: error: broken:" in capsys.readouterr().err

    def test_no_manifest_changed_passes(self, root: Path) -> None:
        assert main(["hook", "validate", "README.md"]) == 0
        assert main(["hook", "validate"]) == 0


def _git(cwd: Path, *args: str) -> None:
    assert GIT is not None
    subprocess.run([GIT, *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"})


def _try_repo(papers: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert PRE_COMMIT is not None
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
           "VIRTUALENV_SYSTEM_SITE_PACKAGES": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VERIFY_HOME", None)
    return subprocess.run([PRE_COMMIT, "try-repo", str(REPO), *args], cwd=papers, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
@pytest.mark.skipif(PRE_COMMIT is None or GIT is None, reason="pre-commit or git not installed")
def test_pre_commit_try_repo_passes_a_good_manifest_and_fails_a_broken_one(make_root: RootFactory, tmp_path: Path) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("try-repo needs this repository as a git checkout")
    papers = make_root(manifest_document("demo-paper")).path
    _git(papers, "init", "-q")
    _git(papers, "add", ".")
    _git(papers, "commit", "-qm", "papers")
    good = _try_repo(papers, tmp_path, "--all-files")  # both hooks
    assert good.returncode == 0, good.stdout + good.stderr
    assert "verify validate (Gate 0 of changed manifests)" in good.stdout and "Passed" in good.stdout
    assert "verify audit (correction chains)" in good.stdout

    manifest = papers / "manifests" / "demo-paper" / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace('"op": "approx"', '"op": "approximately"'))
    bad = _try_repo(papers, tmp_path, "verify-validate", "--files", "manifests/demo-paper/manifest.yaml")
    assert bad.returncode != 0
    errors = [line for line in bad.stdout.splitlines() if line.startswith("verify:")]
    assert errors == [
        "verify: error: manifests/demo-paper/manifest.yaml: claims[0].check.op: 'approximately' is not one of "
        "['approx', 'eq', 'lt', 'le', 'gt', 'ge', 'between', 'trend']"
    ], bad.stdout
    print(f"pre-commit try-repo (broken manifest), python {sys.version_info[:2]}:\n{bad.stdout}")
