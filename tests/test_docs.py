"""The documentation: the site builds with `mkdocs build --strict`, and the pages' commands run.

Pages are parsed with sybil. In a tested page:

* a fenced block with a `title="PATH"` (```python title="repros/x/run.py"```)
  writes its text to PATH, relative to the current directory;
* a ```console block holds commands (`$ ...`) each followed by the standard
  output it must print. A line `...` stands for any lines, and `...` inside
  a line for any text. A command must exit 0 unless it ends with a comment
  `# exit N`. Standard error (progress lines) is not compared.

Commands run in bash, in order, in one directory that `cd` can change,
with `verify` on PATH meaning `python -m verifier` from this checkout. The
tutorial starts in an empty directory; the getting-started page in a copy of
the repository's tracked files, as a fresh clone would be.

A comment `<!-- docs-test: the next block requires FEATURE -->` skips that
block where this checkout lacks FEATURE (see `FEATURES`), and the test then
reports a skip naming it: work that lands in pieces is tested as far as it
has landed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
HAS_BWRAP = shutil.which("bwrap") is not None

sybil = pytest.importorskip("sybil")
from sybil import Document, Region, Sybil  # noqa: E402
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer  # noqa: E402

INFO = re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE)
TITLE = re.compile(r'title="(?P<title>[^"]+)"')
EXIT = re.compile(r"#\s*exit\s+(?P<status>\d+)\s*$")
COMMAND_TIMEOUT_S = 300
REQUIRES = re.compile(r"<!--\s*docs-test: the next block requires (?P<feature>[\w.-]+)\s*-->")


def _audit_exits_3_when_stale() -> bool:
    from verifier.corrections import AuditReport

    return hasattr(AuditReport, "exit_status")


FEATURES = {"audit-exit-3": _audit_exits_3_when_stale}  # verify audit exits 3 for a stale claim (contract)


@dataclass(frozen=True)
class WriteFile:
    path: str
    text: str


@dataclass(frozen=True)
class Command:
    line: str
    expected: list[str]
    status: int


@dataclass(frozen=True)
class Session:
    commands: list[Command]


def parse_console(source: str) -> Session:
    commands: list[Command] = []
    current: tuple[str, list[str]] | None = None
    for line in source.splitlines():
        if line.startswith("$ "):
            if current is not None:
                commands.append(_command(*current))
            current = (line[2:], [])
        elif current is not None:
            current[1].append(line)
    if current is not None:
        commands.append(_command(*current))
    return Session(commands)


def _command(line: str, expected: list[str]) -> Command:
    match = EXIT.search(line)
    status = int(match.group("status")) if match else 0
    while expected and not expected[-1].strip():
        expected.pop()
    return Command(line, expected, status)


def parse_blocks(document: Document) -> Any:
    for region in RawFencedCodeBlockLexer(info_pattern=INFO)(document):
        info = str(region.lexemes["info"]).strip()
        source = str(region.lexemes["source"])
        title = TITLE.search(info)
        if title is not None:
            yield Region(region.start, region.end, WriteFile(title.group("title"), source), evaluate)
        elif info.split(" ")[0] == "console":
            yield Region(region.start, region.end, parse_console(source), evaluate)


def evaluate(example: Any) -> str | None:
    ns = example.namespace
    parsed = example.parsed
    if isinstance(parsed, WriteFile):
        path = Path(ns["cwd"]) / parsed.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(parsed.text)
        return None
    for command in parsed.commands:
        problem = run_command(ns, command)
        if problem is not None:
            return f"line {example.line}: $ {command.line}\n{problem}"
    return None


def run_command(ns: dict[str, Any], command: Command) -> str | None:
    cwd_file = Path(ns["state"]) / "cwd"
    script = f"{command.line}\n__status=$?; pwd > {shlex.quote(str(cwd_file))}; exit $__status"
    done = subprocess.run(["bash", "-c", script], cwd=ns["cwd"], env=ns["env"], capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)
    if cwd_file.is_file():
        ns["cwd"] = cwd_file.read_text().strip()
    out = done.stdout.rstrip("\n").splitlines()
    trouble = []
    if done.returncode != command.status:
        trouble.append(f"exit status {done.returncode}, the page says {command.status}")
    if not matches(command.expected, out):
        trouble.append("output differs:\n--- the page says\n" + "\n".join(command.expected)
                       + "\n--- the command printed\n" + "\n".join(out))
    if trouble:
        return "\n".join(trouble) + ("\n--- stderr\n" + done.stderr if done.stderr else "")
    return None


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line patterns against lines: `...` alone is any run of lines, `...` in a line any text."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*".join(re.escape(part) for part in head.rstrip().split("..."))
    return re.fullmatch(pattern, actual[0].rstrip()) is not None and matches(rest, actual[1:])


def environment(bin_dir: Path) -> dict[str, str]:
    """The caller's environment less verify's own variables, with `verify` meaning this checkout."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "verify"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m verifier "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    return env


def copy_clone(target: Path) -> Path:
    """The repository's tracked files, as a fresh clone has them."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    for name in listed.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


SYBIL = Sybil(parsers=[parse_blocks], path="../docs", patterns=["*.md"])

TESTED_PAGES = {"tutorial.md": "empty", "getting-started.md": "clone"}


@pytest.mark.bwrap
@pytest.mark.slow
@pytest.mark.skipif(not HAS_BWRAP, reason="the pages verify in the bubblewrap sandbox")
@pytest.mark.parametrize("page", sorted(TESTED_PAGES))
def test_the_pages_commands_run_as_written(page: str, tmp_path: Path) -> None:
    start = tmp_path / "verify"  # the directory a clone makes
    start.mkdir()
    if TESTED_PAGES[page] == "clone":
        if shutil.which("git") is None or not (REPO / ".git").exists():
            pytest.skip("needs a git checkout to copy as a clone")
        copy_clone(start)
    document = SYBIL.parse(DOCS / page)
    document.namespace.update(cwd=str(start), state=str(tmp_path), env=environment(tmp_path / "bin"))
    examples = list(document)
    assert examples, f"{page} has no tested blocks"
    markers = [(m.end(), m.group("feature")) for m in REQUIRES.finditer(document.text)]
    skipped = []
    for example in examples:
        needs = [f for end, f in markers if end <= example.start
                 and not any(end <= other.start < example.start for other in examples)]
        missing = [f for f in needs if not FEATURES[f]()]
        if missing:
            skipped.append(f"line {example.line} needs {', '.join(missing)}")
            continue
        example.evaluate()
    if skipped:
        pytest.skip(f"{page}: every block ran but these, which this checkout cannot run yet: {'; '.join(skipped)}")

def test_the_harness_matches_and_refuses() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["x: ... s"], ["x: 0.5 s"])
    assert not matches(["a"], ["a", "b"])
    assert not matches(["x: ... s"], ["y: 0.5 s"])
    session = parse_console("$ verify lint demo   # exit 1\nline one\n$ ls\n")
    assert [(c.status, c.expected) for c in session.commands] == [(1, ["line one"]), (0, [])]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "tutorial" / "index.html").is_file()
    reference = (tmp_path / "site" / "reference" / "manifest" / "index.html").read_text()
    assert "baseline" in reference and "LintWaiver" in reference  # generated from the models


def test_no_page_or_docstring_points_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared|shared/CONTRACT|project's shared documents")
    paths = [REPO / "README.md", *DOCS.rglob("*.md"), *(REPO / "verifier").rglob("*.py")]
    offenders = [str(p.relative_to(REPO)) for p in paths if outside.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
