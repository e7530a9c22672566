"""MkDocs hook: add the reference pages generated from the code (docs/gen_reference.py) to every build."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

HERE = Path(__file__).resolve().parent

ARCHITECTURE_PLACEHOLDER = """# Architecture

This page describes the layout of the `verifier` package and the walk of one
claim through it. It is written alongside the code (`docs/ARCHITECTURE.md`)
and has not been added to this checkout yet; until then, the module
docstrings of `verifier/` are the reference: start at `verifier/cli/` for the
commands, `verifier/models.py` for the formats and `verifier/gates.py` for how
a verdict is reached.
"""


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_reference", HERE / "gen_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def on_files(files: Files, config: Any) -> Files:
    for page, text in _generator().pages().items():
        files.append(File.generated(config, page, content=text))
    if files.get_file_from_path("ARCHITECTURE.md") is None:  # written by the refactor of issue 13
        files.append(File.generated(config, "ARCHITECTURE.md", content=ARCHITECTURE_PLACEHOLDER))
    return files
