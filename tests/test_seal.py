"""Seals: known answers, sensitivity to every byte/name/exec bit, location independence, refusals."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.digest import file_digest, tree_digest
from verifier.errors import IntakeError
from verifier.seal import StatCache

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=12).filter(
    lambda n: n not in {".", ".."} and not n.endswith(".pyc") and n != "__pycache__"
)
trees = st.dictionaries(
    keys=st.lists(names, min_size=1, max_size=3).map(lambda parts: "/".join(parts)),
    values=st.tuples(st.binary(max_size=64), st.booleans()),
    min_size=1,
    max_size=6,
)


def write_tree(base: Path, tree: dict[str, tuple[bytes, bool]]) -> Path:
    base.mkdir(parents=True)
    for rel, (data, executable) in tree.items():
        path = base / rel
        if any(parent.is_file() for parent in path.parents if parent != base and parent.is_relative_to(base)):
            continue  # a name used both as file and directory: keep the first
        if path.is_dir():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if executable else 0o644)
    return base


def fresh(tmp_path: Path) -> Path:
    directory = tmp_path / os.urandom(6).hex()
    return directory


def test_known_answer_matches_the_docstring_shell_definition(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    (bundle / "pkg").mkdir(parents=True)
    (bundle / "pkg" / "a.py").write_bytes(b"print(1)\n")
    (bundle / "run.sh").write_bytes(b"#!/bin/sh\n")
    (bundle / "run.sh").chmod(0o755)
    (bundle / "pkg" / "__pycache__").mkdir()
    (bundle / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    lines = "".join(
        f"{mode} {hashlib.sha256(data).hexdigest()} {path}\n"
        for mode, data, path in sorted(
            [("100644", b"print(1)\n", "pkg/a.py"), ("100755", b"#!/bin/sh\n", "run.sh")], key=lambda t: t[2]
        )
    )
    expected = "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
    assert tree_digest(bundle) == expected
    shell = subprocess.run(
        ["bash", "-c", "cd \"$1\" && find . \\( -name __pycache__ -prune \\) -o -type f ! -name '*.pyc' -printf '%P\\n'"
         " | LC_ALL=C sort | while IFS= read -r f; do [ -x \"$f\" ] && m=100755 || m=100644;"
         " printf '%s %s %s\\n' \"$m\" \"$(sha256sum < \"$f\" | cut -d' ' -f1)\" \"$f\"; done | sha256sum", "_", str(bundle)],
        capture_output=True, text=True, check=True,
    )
    assert "sha256:" + shell.stdout.split()[0] == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees, data=st.data())
def test_one_byte_name_or_exec_bit_changes_the_seal(tmp_path: Path, tree: dict[str, tuple[bytes, bool]], data: st.DataObject) -> None:
    bundle = write_tree(fresh(tmp_path), tree)
    files = sorted(p for p in bundle.rglob("*") if p.is_file())
    before = tree_digest(bundle)
    target = data.draw(st.sampled_from(files))
    change = data.draw(st.sampled_from(["byte", "name", "exec"]))
    if change == "byte":
        content = bytearray(target.read_bytes() or b"\0")
        index = data.draw(st.integers(0, len(content) - 1))
        content[index] ^= data.draw(st.integers(1, 255))
        target.write_bytes(bytes(content))
    elif change == "name":
        target.rename(target.with_name(target.name + "x"))
    else:
        mode = target.stat().st_mode
        target.chmod(mode & ~0o111 if mode & 0o111 else mode | 0o100)
    assert tree_digest(bundle) != before


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees)
def test_identical_trees_on_different_paths_seal_the_same(tmp_path: Path, tree: dict[str, tuple[bytes, bool]]) -> None:
    first = write_tree(fresh(tmp_path), tree)
    second = tmp_path / "elsewhere" / os.urandom(4).hex() / "copy"
    shutil.copytree(first, second)
    os.utime(second, (1, 1))
    assert tree_digest(first) == tree_digest(second)


def test_symlink_inside_is_sealed_and_outside_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "a.txt").write_text("x")
    (bundle / "inside").symlink_to("a.txt")
    sealed = tree_digest(bundle)
    (bundle / "inside").unlink()
    (bundle / "inside").symlink_to("a.txt ")
    (bundle / "a.txt ").write_text("x")
    assert tree_digest(bundle) != sealed
    (tmp_path / "secret").write_text("s")
    (bundle / "escape").symlink_to("../secret")
    with pytest.raises(IntakeError, match="symlink points outside the bundle"):
        tree_digest(bundle)


def test_fifo_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    os.mkfifo(bundle / "pipe")
    with pytest.raises(IntakeError, match="a FIFO"):
        tree_digest(bundle)


def test_stat_cache_skips_unchanged_files_and_sees_changes(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"one")
    old = 1_000_000_000
    os.utime(target, ns=(old, old))
    cache = StatCache(tmp_path / "home", racy_window_ns=0)
    assert cache.digest(target, target.stat()) == file_digest(target)
    cache.flush()
    reopened = StatCache(tmp_path / "home", racy_window_ns=0)
    # Same metadata, so the cache answers without reading: prove it by lying in the cached entry.
    reopened._load()[str(target)] = (*reopened._load()[str(target)][:4], "cached")
    assert reopened.digest(target, target.stat()) == "sha256:cached"
    target.write_bytes(b"two")  # a write changes ctime even if mtime is forged back
    os.utime(target, ns=(old, old))
    assert reopened.digest(target, target.stat()) == "sha256:" + hashlib.sha256(b"two").hexdigest()


def test_stat_cache_never_trusts_a_file_changed_within_the_racy_window(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"fresh")
    cache = StatCache(tmp_path / "home")
    cache.digest(target, target.stat())
    cache.flush()
    assert not (tmp_path / "home" / "statcache.sqlite3").exists()
