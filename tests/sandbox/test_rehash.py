"""The post-run re-hash: unchanged files come from the stat cache, a changed one is always caught."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import RootFactory
from verifier import seal
from verifier.manifests import load_manifest
from verifier.runs import RunPlan, _changed_during_run
from verifier.seal import StatCache


def _plan(make_root: RootFactory, home: Path) -> RunPlan:
    root = make_root()
    cache = StatCache(home, racy_window_ns=0)  # as intake leaves it, once the files are old enough
    manifest = load_manifest(root, "demo-paper", cache=cache)
    cache.flush()
    return RunPlan(manifest, manifest.model.repros[0], 0)


def test_unchanged_files_are_not_read_again(make_root: RootFactory, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan(make_root, tmp_path / "home")
    hashed: list[str] = []
    real = seal.read_file_digest
    monkeypatch.setattr(seal, "read_file_digest", lambda path: hashed.append(str(path)) or real(path))
    assert _changed_during_run(plan, StatCache(tmp_path / "home")) is None
    assert hashed == []


def test_a_write_with_its_mtime_restored_still_voids_the_run(make_root: RootFactory, tmp_path: Path) -> None:
    plan = _plan(make_root, tmp_path / "home")
    target = plan.manifest.bundles[plan.repro.id] / "formula.py"
    before = target.stat()
    text = target.read_text()
    target.write_text(text.replace("value", "VALUE", 1))  # same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime back; ctime cannot go back
    assert target.stat().st_size == before.st_size and target.stat().st_mtime_ns == before.st_mtime_ns
    reason = _changed_during_run(plan, StatCache(tmp_path / "home"))
    assert reason is not None and reason.startswith("void: the bundle changed during the run")


def test_a_changed_input_voids_the_run(make_root: RootFactory, tmp_path: Path) -> None:
    plan = _plan(make_root, tmp_path / "home")
    [path] = plan.manifest.inputs[plan.repro.id].values()
    path.write_text("a\tc\n")
    assert _changed_during_run(plan, StatCache(tmp_path / "home")) == f"void: input {plan.repro.inputs[0].path} changed during the run"
