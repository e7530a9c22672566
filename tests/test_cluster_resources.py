"""`limits.resources` (paper-manifest-v1.2): custom cluster resources a repro's runs need.

Bad values are refused at intake with one line and exit 2; good ones reach
the Ray task's options, merged with `--ray-resources` (which wins). The
Ray cluster test that a run lands only on the node with the resource is in
tests/ray.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.conftest import RootFactory, manifest_document
from verifier import models
from verifier.cli import main
from verifier.executors import ClusterOptions, RayExecutor
from verifier.executors.ray import _task_options
from verifier.gates import plans_for
from verifier.manifests import load_manifest
from verifier.schemas import first_error

try:  # Ray's own check of task resources, where the ray extra is installed
    from ray._common.ray_option_utils import _validate_resources as ray_refuses
except ImportError:
    ray_refuses = None

FILE = "manifests/demo-paper/manifest.yaml"
FIELD = "repros[0].limits.resources"


def with_resources(resources: Any) -> dict[str, Any]:
    document = manifest_document(contract="paper-manifest-v1.2")
    document["repros"][0]["limits"]["resources"] = resources
    return document


@pytest.mark.parametrize(("resources", "message"), [
    ({"CPU": 1}, f"{FIELD}.CPU: 'CPU' is not a custom resource: set limits.cpus"),
    ({"GPU": 1}, f"{FIELD}.GPU: 'GPU' is not a custom resource: set limits.gpus"),
    ({"memory": 1024}, f"{FIELD}.memory: 'memory' is not a custom resource: set limits.memory_mb"),
    ({"special": 0}, f"{FIELD}.special: 0 is less than the minimum of 0.0001"),
    ({"special": -1}, f"{FIELD}.special: -1 is less than the minimum of 0.0001"),
    ({"special": 0.00001}, f"{FIELD}.special: 1e-05 is less than the minimum of 0.0001"),
    ({"special": 2e9}, f"{FIELD}.special: 2000000000.0 is greater than the maximum of 1000000000.0"),
    ({"special": "1"}, f"{FIELD}.special: expected a number, got a string ('1')"),
    ({"special": True}, f"{FIELD}.special: expected a number, got a boolean (True)"),
    ({"special": None}, f"{FIELD}.special: expected a number, got null (None)"),
    ({"bad name": 1}, f"{FIELD}: 'bad name' does not match '^[A-Za-z_][A-Za-z0-9_.:/-]{{0,127}}$'"),
    (["special"], f"{FIELD}: expected a mapping, got a list (['special'])"),
])
def test_bad_resources_get_one_line_and_exit_2(make_root: RootFactory, capsys: pytest.CaptureFixture[str],
                                               resources: Any, message: str) -> None:
    root = make_root(seal=False)
    (root.path / FILE).write_text(json.dumps(with_resources(resources)))
    status = main(["--root", str(root.path), "validate", "demo-paper"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.splitlines() == [f"verify: error: {FILE}: {message}"]


def test_resources_reach_the_task_merged_with_the_cli(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root(with_resources({"special": 1, "accelerator_type:A100": 0.01}))
    assert main(["--root", str(root.path), "validate", "demo-paper"]) == 0, capsys.readouterr().err
    manifest = load_manifest(root, "demo-paper")
    plan = plans_for(manifest, manifest.model.claims[0], tier="smoke")[0]
    demand = RayExecutor(ClusterOptions(), backend="bwrap")._demand(plan)
    assert demand == {"CPU": 1.0, "memory": 512.0 * 2**20, "special": 1.0, "accelerator_type:A100": 0.01}
    # --ray-resources adds names and wins for a name both give: the operator knows the cluster.
    cli = ClusterOptions(resources={("R1", "special"): 2.0, ("demo-paper/R1", "licence"): 1.0})
    demand = RayExecutor(cli, backend="bwrap")._demand(plan)
    assert (demand["special"], demand["licence"], demand["accelerator_type:A100"]) == (2.0, 1.0, 0.01)
    options = _task_options(demand, 2, plan.label())
    assert options["resources"] == {"special": 2.0, "licence": 1.0, "accelerator_type:A100": 0.01}
    assert (options["num_cpus"], options["num_gpus"]) == (1.0, 0)


def test_no_resources_dump_as_before() -> None:
    """Limits without custom resources serialise without the field (attestations hash them)."""
    assert "resources" not in models.Limits().model_dump(mode="json")
    assert models.Limits(resources={"x": 1}).model_dump(mode="json")["resources"] == {"x": 1.0}
    schema = json.loads((Path(__file__).parents[1] / "schemas" / "paper-manifest-v1.1.schema.json").read_text())
    assert "resources" not in schema["$defs"]["Limits"]["properties"]  # a v1.2 field


names = st.text(alphabet="abcAB_:.-/ 0é", min_size=0, max_size=6) | st.sampled_from(sorted(models.BUILTIN_RESOURCES))
amounts = st.floats(allow_nan=False, allow_infinity=False, min_value=-2, max_value=5) | st.integers(-2, 10**10)


@settings(max_examples=200, deadline=None)
@given(resources=st.dictionaries(names, amounts, max_size=3))
def test_model_and_schema_agree_and_ray_takes_what_the_model_takes(resources: dict[str, float]) -> None:
    document = with_resources(resources)
    try:
        models.PaperManifest.model_validate(document)
        accepted = True
    except ValidationError:
        accepted = False
    schema_ok = first_error(models.MANIFEST_CONTRACT, document) is None
    reserved = any(name in models.BUILTIN_RESOURCES for name in resources)
    # The schema is the model less the cross-field rule on the scheduler's own names.
    assert accepted == (schema_ok and not reserved)
    if accepted:
        assert all(math.isfinite(v) and 0.0001 <= v <= 1e9 for v in resources.values())
        if ray_refuses is not None:
            assert ray_refuses({k: float(v) for k, v in resources.items()}) is None
