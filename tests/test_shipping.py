"""Shipping runs to a node without Ray: archives, the node's checks, and the driver's receipt."""

from __future__ import annotations

import io
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RootFactory
from verifier.canonical import digest_json
from verifier.digest import tree_digest
from verifier.executors import EXECUTOR_FOR_NAME, ClusterOptions, LocalExecutor, RayExecutor
from verifier.executors.shipping import Shipment, TransitError, pack_bundle, receive, run_shipment
from verifier.gates import plans_for, run_ref
from verifier.ledger import Ledger
from verifier.manifests import load_manifest
from verifier.runs import Runner, RunPlan
from verifier.sandbox.bwrap import BwrapSandbox

NODE = {"id": "f" * 56, "hostname": "node-a", "address": "10.0.0.2"}
needs_bwrap = pytest.mark.skipif(BwrapSandbox().available() is not None, reason="bubblewrap is not usable here")

names = st.text(alphabet="abcdefgh_.-", min_size=1, max_size=8).filter(lambda n: n not in (".", "..", "__pycache__"))
trees = st.dictionaries(
    st.lists(names, min_size=1, max_size=3).map(lambda parts: "/".join(parts)),
    st.tuples(st.binary(max_size=64), st.booleans()),
    min_size=1, max_size=6,
)


def _write(root: Path, tree: dict[str, tuple[bytes, bool]]) -> bool:
    """Write the tree; False when a path is both a file and a directory (not a tree)."""
    for rel, (data, executable) in tree.items():
        path = root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except (IsADirectoryError, NotADirectoryError, FileExistsError):
            return False
        path.chmod(0o755 if executable else 0o644)
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees)
def test_archive_round_trip_keeps_the_seal(tmp_path_factory: pytest.TempPathFactory, tree: dict[str, tuple[bytes, bool]]) -> None:
    base = tmp_path_factory.mktemp("tree")
    source = base / "bundle"
    source.mkdir()
    if not _write(source, tree):
        return
    archive = pack_bundle(source)
    assert pack_bundle(source) == archive  # equal trees, equal archives
    target = base / "unpacked" / "bundle"
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    assert tree_digest(target) == tree_digest(source)


def test_archive_leaves_out_what_the_seal_ignores(tmp_path: Path) -> None:
    (tmp_path / "b" / "__pycache__").mkdir(parents=True)
    (tmp_path / "b" / "m.py").write_text("x = 1\n")
    (tmp_path / "b" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    with tarfile.open(fileobj=io.BytesIO(pack_bundle(tmp_path / "b"))) as tar:
        assert [(m.name, m.mode, m.mtime, m.uid) for m in tar.getmembers()] == [("m.py", 0o644, 0, 0)]


def test_registry_and_lazy_ray() -> None:
    import subprocess
    import sys

    assert {"local": LocalExecutor, "ray": RayExecutor} == EXECUTOR_FOR_NAME
    # The CLI and the pipeline never import ray; only the Ray executor does, when it runs.
    probe = "import sys, verifier.cli, verifier.cli.verdicts, verifier.executor; print('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "False"
    wanted = ClusterOptions(resources={("R1", "gpu_a100"): 1.0, ("demo-paper/R1", "special"): 2.0, ("R2", "x"): 1.0})
    assert wanted.resources_for(_plan_stub("demo-paper", "R1")) == {"gpu_a100": 1.0, "special": 2.0}


def _plan_stub(paper: str, repro: str) -> RunPlan:
    from types import SimpleNamespace

    return SimpleNamespace(paper=paper, repro=SimpleNamespace(id=repro))  # type: ignore[return-value]


def _plan(make_root: RootFactory) -> RunPlan:
    root = make_root()
    manifest = load_manifest(root, "demo-paper")
    return plans_for(manifest, manifest.model.claims[0], tier="smoke")[0]


@needs_bwrap
def test_node_runs_and_driver_records(make_root: RootFactory, tmp_path: Path) -> None:
    plan = _plan(make_root)
    shipment = Shipment.of(plan, backend="bwrap")
    data = plan.manifest.inputs["R1"]["data/x.tsv"].read_bytes()
    report = run_shipment(shipment, pack_bundle(plan.manifest.bundles["R1"]), [data], node=NODE)
    assert report.refusal is None and report.result is not None and report.result.exit_code == 0
    assert set(report.outputs) == {"results.json"}
    with Ledger.open(tmp_path / "home") as ledger:
        runner = Runner(ledger=ledger, sandbox=BwrapSandbox())
        key = runner.key(plan)
        obtained = receive(runner, plan, key, report)
        assert obtained.record.status == "ok" and obtained.results == {"learning_rate": 5e-05}
        assert obtained.record.key == key  # same environment as this host: the driver's key
        assert obtained.record.environment["node"] == NODE
        assert ledger.find_run(key) == obtained.record
        # The verdict names the node and digests the node's environment fingerprint.
        ref = run_ref(obtained.record)
        assert ref.node is not None and (ref.node.id, ref.node.hostname, ref.node.address) == tuple(NODE.values())
        assert ref.node.environment == digest_json(runner.environment(plan)) == digest_json(report.fingerprint)
        assert ref.model_dump(mode="json")["node"]["id"] == NODE["id"]
        local = runner.execute(plan, key)
        assert run_ref(local.record).node is None and "node" not in run_ref(local.record).model_dump(mode="json")
        # Bytes altered on the way back: the driver's re-hash voids the run.
        digest, _ = report.outputs["results.json"]
        tampered = replace(report, outputs={"results.json": (digest, b'{"learning_rate": 1}')})
        void = receive(runner, plan, key, tampered)
        assert void.record.status == "void" and "changed on its way from the node" in void.record.reason
        assert void.results is None


@needs_bwrap
def test_node_refuses_altered_bundle_and_input(make_root: RootFactory, tmp_path: Path) -> None:
    plan = _plan(make_root)
    shipment = Shipment.of(plan, backend="bwrap")
    bundle = plan.manifest.bundles["R1"]
    good = plan.manifest.inputs["R1"]["data/x.tsv"].read_bytes()
    (bundle / "formula.py").write_text((bundle / "formula.py").read_text() + "# changed after intake\n")
    refused = run_shipment(shipment, pack_bundle(bundle), [good], node=NODE)
    assert refused.refusal is not None and refused.refusal.field == "repros[0].seal"
    assert refused.refusal.message.startswith("seal mismatch on node ffffffffffff: the bundle received digests to sha256:")
    assert refused.result is None  # nothing ran
    with Ledger.open(tmp_path / "home") as ledger, pytest.raises(TransitError) as caught:
        receive(Runner(ledger=ledger, sandbox=BwrapSandbox()), plan, "sha256:" + "0" * 64, refused)
    assert caught.value.exit_status == 2
    assert caught.value.diagnostics().startswith("manifests/demo-paper/manifest.yaml: repros[0].seal: seal mismatch")


@needs_bwrap
def test_node_refuses_altered_input(make_root: RootFactory) -> None:
    plan = _plan(make_root)
    report = run_shipment(Shipment.of(plan, backend="bwrap"), pack_bundle(plan.manifest.bundles["R1"]),
                          [b"other bytes\n"], node=NODE)
    assert report.refusal is not None and report.refusal.field == "repros[0].inputs[0].sha256"
    assert "'data/x.tsv' received digests to" in report.refusal.message


def test_archive_escaping_its_directory_is_refused(make_root: RootFactory) -> None:
    plan = _plan(make_root)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../escape.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    report = run_shipment(Shipment.of(plan, backend="bwrap"), buffer.getvalue(), [b""], node=NODE)
    assert report.refusal is not None and "does not unpack" in report.refusal.message


def test_cli_cluster_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import click

    from verifier.cli.cluster import _env_number, parse_resources

    assert parse_resources(("R1=gpu_a100:1,special:2", "demo-paper/R2=x:0.5")) == {
        ("R1", "gpu_a100"): 1.0, ("R1", "special"): 2.0, ("demo-paper/R2", "x"): 0.5}
    with pytest.raises(click.BadParameter, match="is not REPRO=NAME:N"):
        parse_resources(("R1=special",))
    # The manifest's rules: colons in names (the amount follows the last), no built-in names, no dust.
    assert parse_resources(("R1=accelerator_type:A100:0.01",)) == {("R1", "accelerator_type:A100"): 0.01}
    with pytest.raises(click.BadParameter, match=r"'R1=CPU:1': 'CPU' is not a custom resource: set limits.cpus"):
        parse_resources(("R1=CPU:1",))
    with pytest.raises(click.BadParameter, match=r"'R1=special:0.00001': Input should be greater than or equal to 0.0001"):
        parse_resources(("R1=special:0.00001",))
    monkeypatch.setenv("VERIFY_RAY_WAIT_S", "600")
    assert _env_number("VERIFY_RAY_WAIT_S", 60.0, float) == 600.0
    monkeypatch.setenv("VERIFY_RAY_MAX_RETRIES", "two")
    with pytest.raises(click.BadParameter, match="VERIFY_RAY_MAX_RETRIES='two' is not a number >= 0"):
        _env_number("VERIFY_RAY_MAX_RETRIES", 2, int)


def test_ray_missing_or_unreachable_is_one_line(make_root: RootFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """No cluster to join: exit 3 with one line (as a missing sandbox), nothing run."""
    from verifier.cli import main

    pytest.importorskip("ray")
    root = make_root()
    monkeypatch.setenv("VERIFY_HOME", str(tmp_path / "home"))
    status = main(["--root", str(root.path), "claim", "demo-paper/C1", "--backend", "process",
                   "--executor", "ray", "--ray-address", "127.0.0.1:9"])
    assert status == 3
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("verify: error: cannot join the Ray cluster at 127.0.0.1:9")
