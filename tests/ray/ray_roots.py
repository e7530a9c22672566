"""Sealed verification roots for the Ray tests: a sleeper bundle and one claim per repro."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from verifier.manifests import seal_manifest
from verifier.root import VerificationRoot

SPECIAL = "special"

SLEEPER = """\
import json, os, pathlib, time
params = json.loads(pathlib.Path(os.environ["REPRO_PARAMS"]).read_text())
time.sleep(params["seconds"])
pathlib.Path(os.environ["REPRO_OUT"], "results.json").write_text(json.dumps({"value": params["half"] * 2}))
pathlib.Path(os.environ["REPRO_OUT"], "extra").mkdir()
pathlib.Path(os.environ["REPRO_OUT"], "extra", "note.txt").write_text("seed " + os.environ["REPRO_SEED"])
print("slept", params["seconds"])
"""


def sleeper(repro_id: str, seconds: float, value: float, *, cpus: float = 1) -> dict[str, Any]:
    """A repro that sleeps, then reports `value` (computed from half of it, so no param is restated)."""
    return {
        "id": repro_id, "bundle": "bundle", "entrypoint": ["python", "-m", "bundle.sleeper"],
        "params": {"seconds": seconds, "half": value / 2}, "inputs": [{"path": "data/x.tsv"}],
        "limits": {"timeout_s": 120, "memory_mb": 256, "cpus": cpus},
    }


def claim_on(claim_id: str, repro_id: str, value: float) -> dict[str, Any]:
    return {
        "id": claim_id, "statement": f"The value is {value}.", "kind": "formula",
        "source": {"section": "1"}, "reported": {"value": value},
        "check": {"op": "approx", "rel_tol": 0.01}, "evidence": {"repro": repro_id, "output": "/value"},
    }


def paper(paper_id: str, repros: list[dict[str, Any]]) -> dict[str, Any]:
    """A paper with one claim per repro, each checking the value its repro reports."""
    return {
        "contract": "paper-manifest-v1.1", "id": paper_id, "title": "Ray test paper", "publisher": "Tests",
        "source": {"kind": "primary-research"},
        "claims": [claim_on(f"C-{r['id']}", r["id"], r["params"]["half"] * 2) for r in repros],
        "repros": repros,
    }


def build_root(base: Path, *documents: dict[str, Any]) -> VerificationRoot:
    """A sealed root: the sleeper bundle, one input, and the manifests."""
    (base / "bundle").mkdir(parents=True)
    (base / "bundle" / "__init__.py").write_text("")
    (base / "bundle" / "sleeper.py").write_text(SLEEPER)
    (base / "data").mkdir()
    (base / "data" / "x.tsv").write_text("a\tb\n")
    for document in documents:
        directory = base / "manifests" / document["id"]
        directory.mkdir(parents=True)
        (directory / "manifest.yaml").write_text(json.dumps(document, indent=2))
    root = VerificationRoot.at(base)
    for document in documents:
        seal_manifest(root, document["id"])
    return root
