"""Fuzz the loader: random bytes and random JSON-like trees give only IntakeError, never anything else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import manifest_document
from verifier.errors import IntakeError
from verifier.manifests import load_manifest
from verifier.root import VerificationRoot

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


def load(root: Path, data: bytes) -> None:
    path = root / "manifests" / "fuzz-paper" / "manifest.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        load_manifest(VerificationRoot.at(root), "fuzz-paper")
    except IntakeError as e:
        assert "\n" not in e.diagnostics()
        assert e.exit_status == 2


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    load(tmp_path, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=json_like)
def test_random_json_trees(tmp_path: Path, tree: Any) -> None:
    load(tmp_path, json.dumps(tree).encode())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["claims", "repros", "source", "id", "contract", "review", "provenance"]), value=json_like)
def test_valid_manifest_with_one_random_field(tmp_path: Path, key: str, value: Any) -> None:
    document = manifest_document("fuzz-paper")
    document[key] = value
    load(tmp_path, json.dumps(document).encode())


scalars = st.one_of(st.text(min_size=0, max_size=8), st.integers(), st.floats(), st.none(), st.booleans())


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(["id", "title", "publisher", "note", "verification_level"]),
    claim_key=st.sampled_from(["id", "kind", "statement", "note", "reported", "check", "source"]),
    top_value=scalars,
    claim_value=scalars | json_like,
)
def test_model_acceptance_implies_schema_acceptance(key: str, claim_key: str, top_value: Any, claim_value: Any) -> None:
    """The fast path (model first) is sound only if the schema accepts all the model accepts."""
    from pydantic import ValidationError

    from verifier.models import MANIFEST_CONTRACT, PaperManifest
    from verifier.schemas import first_error

    top = manifest_document("fuzz-paper")
    top[key] = top_value
    nested = manifest_document("fuzz-paper")
    nested["claims"][0][claim_key] = claim_value
    for candidate in (top, nested):
        try:
            PaperManifest.model_validate(candidate)
        except ValidationError:
            continue
        assert first_error(MANIFEST_CONTRACT, candidate) is None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="{}[]:,- \n'\"!&*|>#%@`abc01.", max_size=80))
def test_random_yaml_punctuation(tmp_path: Path, text: str) -> None:
    load(tmp_path, text.encode())
