"""Shared fixtures: a factory for verification roots with real bundles and manifests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from verifier.manifests import seal_manifest
from verifier.root import VerificationRoot

FORMULA = """\
import json, os, pathlib
params = json.loads(pathlib.Path(os.environ["REPRO_PARAMS"]).read_text())
value = params["base_lr"] * params["batch"] / params["ref_batch"]
pathlib.Path(os.environ["REPRO_OUT"], "results.json").write_text(json.dumps({"learning_rate": value}))
"""


def manifest_document(paper_id: str = "demo-paper", **overrides: Any) -> dict[str, Any]:
    """A valid manifest document with one formula claim and one repro."""
    document: dict[str, Any] = {
        "contract": "paper-manifest-v1.1",
        "id": paper_id,
        "title": "A demo paper",
        "publisher": "Tests",
        "source": {"kind": "primary-research"},
        "claims": [
            {
                "id": "C1",
                "statement": "Fine-tuning uses a peak learning rate of 5e-05.",
                "kind": "formula",
                "source": {"section": "4.1 Setup", "quote": "a learning rate of 5e-05"},
                "reported": {"value": 5e-05, "text": "5e-05"},
                "check": {"op": "approx", "rel_tol": 0.05},
                "evidence": {"repro": "R1", "output": "/learning_rate"},
            }
        ],
        "repros": [
            {
                "id": "R1",
                "bundle": "bundle",
                "entrypoint": ["python", "-m", "bundle.formula"],
                "params": {"base_lr": 1e-04, "batch": 16, "ref_batch": 32},
                "inputs": [{"path": "data/x.tsv"}],
                "limits": {"timeout_s": 60, "memory_mb": 512, "cpus": 1},
            }
        ],
    }
    document.update(overrides)
    return document


RootFactory = Callable[..., VerificationRoot]


@pytest.fixture
def make_root(tmp_path: Path) -> RootFactory:
    """Build a root under tmp_path: a bundle, an input, and manifests; sealed unless told not to."""

    def factory(*documents: dict[str, Any], seal: bool = True, as_yaml: str | None = None) -> VerificationRoot:
        root = tmp_path / "root"
        (root / "bundle").mkdir(parents=True, exist_ok=True)
        (root / "bundle" / "__init__.py").write_text("")
        (root / "bundle" / "formula.py").write_text(FORMULA)
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / "x.tsv").write_text("a\tb\n")
        for document in documents or (manifest_document(),):
            directory = root / "manifests" / document["id"]
            directory.mkdir(parents=True, exist_ok=True)
            text = as_yaml if as_yaml is not None else json.dumps(document, indent=2)
            (directory / "manifest.yaml").write_text(text)
        verification_root = VerificationRoot.at(root)
        if seal:
            for document in documents or (manifest_document(),):
                seal_manifest(verification_root, document["id"])
        return verification_root

    return factory


def proof_root(make_root: RootFactory) -> tuple[VerificationRoot, Path]:
    """An unsealed root whose manifest adds a proof claim, P1, and the proof file it names."""
    document = manifest_document()
    document["claims"].append({"id": "P1", "statement": "2 + 2 = 4", "kind": "proof",
                               "source": {"section": "A"}, "proof": {"file": "proofs/t.lean", "theorem": "two_two"}})
    root = make_root(document, seal=False)
    (root.path / "proofs").mkdir()
    lean = root.path / "proofs" / "t.lean"
    lean.write_text("theorem two_two : 2 + 2 = 4 := rfl\n")
    return root, lean

