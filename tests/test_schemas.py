"""Published schemas: no drift from the models; every model round-trips through its schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.conftest import manifest_document
from verifier import models
from verifier.schemas import MODEL_FOR_CONTRACT, first_error, render

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


@pytest.mark.parametrize("contract", sorted(MODEL_FOR_CONTRACT))
def test_committed_schema_matches_the_models(contract: str) -> None:
    committed = (SCHEMAS / f"{contract}.schema.json").read_text(encoding="utf-8")
    assert committed == render(contract), "schemas/ drifted: run `verify schemas --write schemas`"


@pytest.mark.parametrize("contract", sorted(MODEL_FOR_CONTRACT))
def test_schema_is_valid_draft_2020_12(contract: str) -> None:
    Draft202012Validator.check_schema(json.loads(render(contract)))


finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
digests = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h)
ident = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,8}", fullmatch=True)
paper_ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{2,10}", fullmatch=True)


def claims(repro_ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    evidence = st.fixed_dictionaries({"repro": st.sampled_from(repro_ids), "output": st.sampled_from(["/a", "/a/0", ""])})
    check = st.fixed_dictionaries({"op": st.just("approx"), "rel_tol": st.floats(0, 1)}) | st.fixed_dictionaries(
        {"op": st.sampled_from(["lt", "le", "gt", "ge", "eq"]), "margin": finite}
    )
    return st.fixed_dictionaries(
        {"id": ident, "statement": st.text(min_size=1, max_size=20), "kind": st.just("empirical"),
         "source": st.fixed_dictionaries({"section": st.text(min_size=1, max_size=10)}),
         "reported": st.fixed_dictionaries({"value": finite | st.none()}), "check": check, "evidence": evidence}
    )


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    repro_ids = draw(st.lists(ident, min_size=1, max_size=3, unique=True))
    repros = [
        {"id": r, "bundle": "b", "entrypoint": ["python", "-m", "b.x"], "seal": draw(digests),
         "params": draw(st.dictionaries(ident, st.integers() | st.text(max_size=5), max_size=3))}
        for r in repro_ids
    ]
    claim_list = draw(st.lists(claims(repro_ids), min_size=1, max_size=4, unique_by=lambda c: c["id"]))
    return {"contract": "paper-manifest-v1.1", "id": draw(paper_ids), "title": "t", "publisher": "p",
            "source": {"kind": "primary-research"}, "claims": claim_list, "repros": repros}


@settings(max_examples=60, deadline=None)
@given(document=manifests())
def test_manifest_round_trips_through_its_schema(document: dict[str, Any]) -> None:
    assert first_error(models.MANIFEST_CONTRACT, document) is None
    model = models.PaperManifest.model_validate(document)
    dumped = json.loads(model.model_dump_json(exclude_none=True))
    assert first_error(models.MANIFEST_CONTRACT, dumped) is None
    assert models.PaperManifest.model_validate(dumped) == model


@settings(max_examples=40, deadline=None)
@given(
    seq=st.integers(1, 10_000), previous=digests | st.none(), before=digests, after=digests,
    kind=st.sampled_from(["correction", "erratum", "retraction", "withdrawal", "expression-of-concern", "addendum"]),
)
def test_correction_record_round_trips(seq: int, previous: str | None, before: str, after: str, kind: str) -> None:
    document = {"contract": "correction-record-v1", "paper": "abc", "seq": seq, "type": kind, "claims": ["C1"],
                "reason": "r", "issued": "2026-06-23T08:11:44Z", "manifest_before": before,
                "manifest_after": after, "previous": previous}
    assert first_error(models.CORRECTION_CONTRACT, document) is None
    model = models.CorrectionRecord.model_validate_json(json.dumps(document))
    dumped = json.loads(model.model_dump_json())
    assert first_error(models.CORRECTION_CONTRACT, dumped) is None
    assert models.CorrectionRecord.model_validate_json(json.dumps(dumped)) == model


def test_verdict_and_run_record_round_trip() -> None:
    verdict = models.Verdict(claim="abc/C1", status="verified", gate=2, reason="r", expected=5e-05, computed=5e-05,
                             check={"op": "approx"}, backend="bwrap", sealed=True, cached=False,
                             evaluated="2026-06-23T08:11:44Z",
                             run=models.RunRef(id="r1", seal="sha256:" + "0" * 64, duration_s=0.1, exit_code=0))
    dumped = json.loads(verdict.model_dump_json())
    assert first_error(models.VERDICT_CONTRACT, dumped) is None
    assert models.Verdict.model_validate_json(json.dumps(dumped)) == verdict
    run = models.RunRecord(id="r1", key="sha256:" + "1" * 64, paper="abc", repro="R1", seed=0, backend="bwrap",
                           sealed=True, seal="sha256:" + "0" * 64, entrypoint=["python"], params_digest="sha256:" + "2" * 64,
                           environment={"os": "linux"}, started="t0", ended="t1", duration_s=0.5, exit_code=0,
                           status="ok", reason="ok")
    dumped = json.loads(run.model_dump_json())
    assert first_error(models.RUN_CONTRACT, dumped) is None
    assert models.RunRecord.model_validate_json(json.dumps(dumped)) == run


node_ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=56)


@settings(max_examples=60, deadline=None)
@given(node=st.none() | st.fixed_dictionaries({"id": node_ids, "environment": digests},
                                               optional={"hostname": st.text(max_size=8) | st.none(),
                                                         "address": st.text(max_size=8) | st.none()}))
def test_run_ref_node_is_optional_and_absent_when_unknown(node: dict[str, Any] | None) -> None:
    """A cluster run's reference names its node; a local one has no `node` key at all (its bytes as before)."""
    ref = models.RunRef(id="r1", seal="sha256:" + "0" * 64, duration_s=0.1, exit_code=0,
                        node=None if node is None else models.RunNode(**node))
    verdict = models.Verdict(claim="abc/C1", status="verified", gate=2, reason="r", evaluated="2026-06-23T08:11:44Z",
                             run=ref, runs=[ref, ref])
    dumped = json.loads(verdict.model_dump_json())
    assert first_error(models.VERDICT_CONTRACT, dumped) is None
    assert models.Verdict.model_validate_json(json.dumps(dumped)) == verdict
    assert ("node" in dumped["run"]) is (node is not None)
    assert all(("node" in r) is (node is not None) for r in dumped["runs"])
    if node is None:
        assert dumped["run"] == {"id": "r1", "seal": "sha256:" + "0" * 64, "duration_s": 0.1, "exit_code": 0}
    else:
        assert dumped["run"]["node"]["id"] == node["id"] and dumped["run"]["node"]["environment"] == node["environment"]
    bad = dumped | {"run": dumped["run"] | {"node": {"id": "x", "environment": "md5:0"}}}
    assert first_error(models.VERDICT_CONTRACT, bad) is not None


def test_provenance_levels_are_documented_in_the_schema() -> None:
    schema = json.loads(render(models.PROVENANCE_CONTRACT))
    for level, meaning in [("L0", "unknown"), ("L4", "external archival record")]:
        assert f"{level} {meaning}" in schema["description"]


def test_example_manifest_is_valid() -> None:
    assert first_error(models.MANIFEST_CONTRACT, manifest_document()) is None


def _v12_claim(**extra: Any) -> dict[str, Any]:
    claim = manifest_document()["claims"][0] | {"kind": "empirical", "reported": {"value": 0.0}}
    claim["check"] = {"op": "gt", "samples": {"min_seeds": 3, "interval": "t"}}
    claim["evidence"] = {"repro": "R1", "output": "/gap", "seeds": [0, 1, 2, 3]}
    return claim | extra


V12_FIELDS = {
    "baseline": {"baseline": {"repro": "R1", "output": "/gap_untrained"}},
    "replicate": {"replicate": {"seeds": 4}},
}


@pytest.mark.parametrize("name", sorted(V12_FIELDS))
def test_v12_fields_need_the_v12_contract(name: str) -> None:
    from pydantic import ValidationError

    v12 = manifest_document(contract="paper-manifest-v1.2", claims=[_v12_claim(**V12_FIELDS[name])])
    parsed = models.PaperManifest.model_validate(v12)
    assert getattr(parsed.claims[0], name) is not None
    assert first_error("paper-manifest-v1.2", v12) is None
    v11 = v12 | {"contract": "paper-manifest-v1.1"}
    assert first_error("paper-manifest-v1.1", v11) == (f"claims[0].{name}", "unknown field")
    with pytest.raises(ValidationError, match=re.escape(f"claims[0].{name}: a v1.2 field")):
        models.PaperManifest.model_validate(v11)


def test_v11_interval_field_is_refused_and_v11_means_the_same() -> None:
    from pydantic import ValidationError

    claim = _v12_claim()
    v11 = manifest_document(claims=[claim])
    with pytest.raises(ValidationError, match=re.escape("check.samples.interval: a v1.2 field")):
        models.PaperManifest.model_validate(v11)
    del claim["check"]["samples"]["interval"]
    old = models.PaperManifest.model_validate(manifest_document(claims=[claim]))
    new = models.PaperManifest.model_validate(manifest_document(contract="paper-manifest-v1.2", claims=[claim]))
    assert old.model_dump(exclude={"contract"}) == new.model_dump(exclude={"contract"})
    assert old.claims[0].check is not None and old.claims[0].check.samples is not None
    assert old.claims[0].check.samples.interval == "t"


def test_baseline_names_a_known_repro() -> None:
    from pydantic import ValidationError

    doc = manifest_document(contract="paper-manifest-v1.2",
                            claims=[_v12_claim(baseline={"repro": "R9", "output": "/x"})])
    with pytest.raises(ValidationError, match=re.escape("claims[0].baseline.repro: unknown repro 'R9'")):
        models.PaperManifest.model_validate(doc)


def test_bca_with_fewer_than_ten_seeds_is_refused_at_intake() -> None:
    from pydantic import ValidationError

    claim = _v12_claim()
    claim["check"]["samples"]["interval"] = "bca"
    with pytest.raises(ValidationError, match=re.escape("check.samples.interval: bca needs at least 10 seeds, evidence.seeds lists 4")):
        models.PaperManifest.model_validate(manifest_document(contract="paper-manifest-v1.2", claims=[claim]))
    claim["evidence"]["seeds"] = list(range(10))
    models.PaperManifest.model_validate(manifest_document(contract="paper-manifest-v1.2", claims=[claim]))
