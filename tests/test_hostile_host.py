"""Hostile repros through the real CLI and a real sandbox: no crash, and nothing a repro writes, maps to exit 1.

Exit 1 means *refuted*. A repro that writes a bomb instead of results, or a
verifier that breaks on it, must give inconclusive (3) with the reason,
never a traceback and never 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.cli import main
from verifier.manifests import seal_manifest
from verifier.sandbox.bwrap import BwrapSandbox

REPO = Path(__file__).resolve().parent.parent
_BWRAP_WHY = BwrapSandbox().available()
needs_bwrap = pytest.mark.skipif(_BWRAP_WHY is not None, reason=f"bwrap unavailable: {_BWRAP_WHY}")

# Each repro writes $REPRO_OUT/results.json as these bytes (built inside the sandbox, so the bundle stays small).
WRITE = """\
import os, pathlib
pathlib.Path(os.environ["REPRO_OUT"], "results.json").write_bytes({expr})
"""
HOSTILE_RESULTS: list[tuple[str, str, str]] = [
    ("nested-300k", 'b\'{"value": \' + b"[" * 300_000 + b"]" * 300_000 + b\', "v": 1}\'', "nested more than 64 levels deep"),
    ("over-size", 'b\'{"learning_rate": "\' + b"x" * (17 << 20) + b\'"}\'', "over the limit of 16777216 bytes"),
    ("many-nodes", 'b\'{"learning_rate": [\' + b"0," * 600_000 + b"0]}"', "more than 500000 nodes"),
    ("duplicate-key", 'b\'{"learning_rate": 5e-05, "learning_rate": 1}\'', "duplicate key 'learning_rate'"),
    ("huge-int", 'b\'{"learning_rate": \' + b"9" * 5001 + b"}"', "not valid JSON: Exceeds the limit (4300 digits)"),
    ("invalid-utf8", 'b\'{"learning_rate": "\\xff"}\'', "not UTF-8 text"),
    ("lone-surrogate", 'b\'{"learning_rate": 5e-05, "note": "\\\\ud800"}\'', "surrogate code point"),
    ("nul-byte", 'b\'{"learning_rate": 5e-05}\\x00\'', "not valid JSON"),
]


def _root_with_repro(make_root: RootFactory, body: str) -> Path:
    root = make_root(seal=False)
    (root.path / "bundle" / "formula.py").write_text(body)
    seal_manifest(root, "demo-paper")
    return root.path


@needs_bwrap
@pytest.mark.bwrap
@pytest.mark.parametrize(("name", "expr", "reason"), HOSTILE_RESULTS, ids=[h[0] for h in HOSTILE_RESULTS])
def test_hostile_results_are_inconclusive_with_the_reason(
    make_root: RootFactory, capsys: pytest.CaptureFixture[str], name: str, expr: str, reason: str
) -> None:
    root = _root_with_repro(make_root, WRITE.format(expr=expr))
    status = main(["--root", str(root), "claim", "demo-paper/C1", "--backend", "bwrap", "--json"])
    captured = capsys.readouterr()
    assert status == 3, captured
    verdict = json.loads(captured.out)
    assert verdict["status"] == "inconclusive"
    assert reason in json.dumps(verdict), verdict
    assert "Traceback" not in captured.err


@needs_bwrap
@pytest.mark.bwrap
def test_nested_results_through_the_console_script(make_root: RootFactory) -> None:
    """The issue's case end to end: a fresh `python -m verifier claim`, its exit status, its one line."""
    root = _root_with_repro(make_root, WRITE.format(expr=HOSTILE_RESULTS[0][1]))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "verifier", "--root", str(root), "claim", "demo-paper/C1",
                           "--backend", "bwrap"], capture_output=True, text=True, cwd=REPO, timeout=120)
    elapsed = time.perf_counter() - started
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "nested more than 64 levels deep" in done.stdout
    assert "Traceback" not in done.stderr
    print(f"nested results.json (300,000 deep): exit {done.returncode} in {elapsed:.2f} s wall")


def _nul_entrypoint_root(make_root: RootFactory) -> Path:
    """A manifest whose entrypoint holds a NUL byte: the launcher cannot exec it (a crash inside verify today)."""
    root = make_root(manifest_document())  # sealed as written; then the entrypoint gains a NUL
    manifest = root.path / "manifests" / "demo-paper" / "manifest.yaml"
    document = json.loads(manifest.read_text()) if manifest.read_text().lstrip().startswith("{") else None
    if document is None:
        from ruamel.yaml import YAML
        document = YAML(typ="safe").load(manifest.read_text())
    document["repros"][0]["entrypoint"] = ["python", "-m", "bundle.formula\u0000"]
    manifest.write_text(json.dumps(document))
    return root.path


@pytest.mark.parametrize("backend", ["process", pytest.param("bwrap", marks=[needs_bwrap, pytest.mark.bwrap])])
def test_a_crash_inside_verify_is_one_line_never_exit_1(make_root: RootFactory, backend: str) -> None:
    """Whatever breaks inside verify on hostile input: one line, a status CI cannot read as refuted."""
    root = _nul_entrypoint_root(make_root)
    done = subprocess.run([sys.executable, "-m", "verifier", "--root", str(root), "claim", "demo-paper/C1",
                           "--backend", backend], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)  # intake refuses a NUL byte in argv
    lines = [line for line in done.stderr.splitlines() if line.startswith("verify:")]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[0].endswith("repros[0].entrypoint[2]: an argument holds a NUL byte, which no program can be passed"), lines


def test_verbose_crash_shows_the_traceback_and_keeps_the_status(make_root: RootFactory) -> None:
    root = _nul_entrypoint_root(make_root)
    done = subprocess.run([sys.executable, "-m", "verifier", "-v", "--root", str(root), "claim", "demo-paper/C1",
                           "--backend", "process"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode in (2, 3), done.stderr
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith(("verify: internal error: ", "verify: error: "))


@pytest.mark.parametrize(("target", "words"), [
    ("/dev/zero", "unknown paper"),  # not a regular file
    ("/etc/passwd", "path 'manifests/demo-paper/manifest.yaml' leaves the verification root"),
])
def test_a_manifest_symlinked_out_of_the_root_is_refused(
    make_root: RootFactory, capsys: pytest.CaptureFixture[str], target: str, words: str
) -> None:
    root = make_root(seal=False)
    manifest = root.path / "manifests" / "demo-paper" / "manifest.yaml"
    manifest.unlink()
    manifest.symlink_to(target)
    assert main(["--root", str(root.path), "validate", "demo-paper"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and words in err[0], err


@needs_bwrap
@pytest.mark.bwrap
def test_a_repro_cannot_forge_log_lines(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    """A string result quoted in the verdict line stays on that line: no `::error::` workflow command, no escapes."""
    body = ('import json, os, pathlib\npathlib.Path(os.environ["REPRO_OUT"], "results.json").write_text('
            'json.dumps({"learning_rate": "x\\n::error::forged\\r\\u001b[31mred\\u2028"}))\n')
    root = _root_with_repro(make_root, body)
    status = main(["--root", str(root), "claim", "demo-paper/C1", "--backend", "bwrap"])
    out = capsys.readouterr().out
    assert status == 3
    assert len(out.splitlines()) == 1 and out.rstrip("\n").isprintable(), repr(out)
    assert not any(line.startswith("::") for line in out.splitlines())
