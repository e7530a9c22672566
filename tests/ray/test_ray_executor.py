"""The Ray executor on a real 2-node cluster on this machine (one cluster for the module).

The head and the worker node each have 1 CPU; the worker alone has the
custom resource `special`. The two tests that kill the worker node come
last; the second starts a fresh worker first.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray", reason="the ray extra is not installed")

from ray_cluster import REPO, LocalCluster
from ray_roots import SPECIAL, build_root, paper, sleeper

from verifier.canonical import digest_json
from verifier.executor import ClaimFilter, Options, Session, verify_claims
from verifier.executors import ClusterOptions
from verifier.executors.shipping import TransitError, pack_bundle
from verifier.ledger import Ledger
from verifier.models import Verdict
from verifier.runs import ObtainedRun, RunPlan
from verifier.sandbox.bwrap import BwrapSandbox

pytestmark = [
    pytest.mark.ray,
    pytest.mark.bwrap,
    pytest.mark.skipif(BwrapSandbox().available() is not None, reason="bubblewrap is not usable here"),
]

# Fields that differ between any two runs of the same claim (when, which run, from the cache or not).
VOLATILE = {"evaluated", "run", "runs", "cached"}


def options(root: Path, home: Path, cluster: LocalCluster, **cluster_fields: Any) -> Options:
    return Options(root=root, home=home, backend="bwrap", use_cache=False, executor="ray",
                   cluster=ClusterOptions(address=cluster.address, **cluster_fields))


def node_of(home: Path, verdict: Verdict) -> str:
    """The node id the verdict names for its run, checked against the run record it names."""
    assert verdict.run is not None and verdict.run.id is not None and verdict.run.node is not None
    with Ledger.open(home) as ledger:
        record = ledger.get_run(verdict.run.id)
    assert record is not None
    node = record.environment["node"]
    assert (verdict.run.node.id, verdict.run.node.hostname, verdict.run.node.address) == (node["id"], node["hostname"], node["address"])
    fingerprint = {k: v for k, v in record.environment.items() if k != "node"}
    assert verdict.run.node.environment == digest_json(fingerprint)
    return verdict.run.node.id


class Recorder:
    """An observer that keeps what it was told (the progress display's view)."""

    def __init__(self) -> None:
        self.finished: list[tuple[str, str]] = []

    def runs_planned(self, total: int, cached: int) -> None:
        pass

    def run_started(self, plan: RunPlan) -> None:
        pass

    def run_finished(self, plan: RunPlan, obtained: ObtainedRun) -> None:
        self.finished.append((plan.repro.id, obtained.record.status))


def test_claims_land_on_both_nodes(cluster: LocalCluster, tmp_path: Path) -> None:
    root = build_root(tmp_path / "root", paper("ray-both", [sleeper(f"R{i}", 2, i + 1) for i in range(4)]))
    session = verify_claims(options(root.path, tmp_path / "home", cluster), [])
    verdicts = session.verdicts()
    assert [v.status for v in verdicts] == ["verified"] * 4, [v.reason for v in verdicts]
    assert all(v.sealed and v.backend == "bwrap" for v in verdicts)
    nodes = [node_of(tmp_path / "home", v) for v in verdicts]
    assert len(set(nodes)) == 2 and set(nodes) == set(cluster.node_ids().values())  # the verdicts name both nodes
    printed = [v.model_dump(mode="json")["run"]["node"]["id"] for v in verdicts]  # as `verify claim --json` prints it
    assert printed == nodes
    # Outputs and logs came back as bytes and are in the driver's artifact store.
    with Ledger.open(tmp_path / "home") as ledger:
        record = ledger.get_run(verdicts[0].run.id)  # type: ignore[union-attr]
        assert record is not None
        assert {o.path for o in record.outputs} == {"results.json", "extra/note.txt"}
        note = next(o for o in record.outputs if o.path == "extra/note.txt")
        assert ledger.store.get_bytes(note.sha256) == b"seed 0"
        assert ledger.store.get_bytes(record.logs["stdout"]).startswith(b"slept 2")
        assert record.environment["backend"] == "bwrap" and record.environment["node"]["hostname"]


def test_custom_resource_runs_only_on_its_node(cluster: LocalCluster, tmp_path: Path) -> None:
    """S0-S2 ask for `special` in their manifest (limits.resources), S3 with --ray-resources: all on worker0."""
    repros = [sleeper(f"S{i}", 0.2, i + 1) for i in range(4)]
    for repro in repros[:3]:
        repro["limits"]["resources"] = {SPECIAL: 1}
    root = build_root(tmp_path / "root", paper("ray-special", repros) | {"contract": "paper-manifest-v1.2"})
    session = verify_claims(options(root.path, tmp_path / "home", cluster, resources={("S3", SPECIAL): 1.0}), [])
    assert [v.status for v in session.verdicts()] == ["verified"] * 4
    assert {node_of(tmp_path / "home", v) for v in session.verdicts()} == {cluster.node_ids()["worker0"]}


def test_custom_resource_in_manifest_through_the_cli(cluster: LocalCluster, tmp_path: Path) -> None:
    """`verify ci --json` prints the node of a run that its manifest pinned to worker0 by resource."""
    pinned = sleeper("Pinned", 0.2, 2) | {"limits": {"timeout_s": 60, "memory_mb": 256, "cpus": 1, "resources": {SPECIAL: 1}}}
    root = build_root(tmp_path / "root", paper("ray-special-cli", [pinned]) | {"contract": "paper-manifest-v1.2"})
    done = _cli(root.path, tmp_path / "home", cluster, "ci", "--json")
    out, err = done.communicate(timeout=180)
    assert done.returncode == 0, err
    claims = {c["claim"]: c for p in json.loads(out)["papers"] for c in p["claims"]}
    assert claims["ray-special-cli/C-Pinned"]["run"]["node"]["id"] == cluster.node_ids()["worker0"]


def test_formula_claim_same_verdict_as_local(cluster: LocalCluster, tmp_path: Path) -> None:
    """ba8256cb/C6, the bundled formula claim: the same verdict and run key either way."""
    base = Options(root=REPO, home=tmp_path / "home", backend="bwrap", use_cache=False)
    local = verify_claims(base, ["ba8256cb"], select=lambda _, c: c.id == "C6").verdicts()
    remote = verify_claims(options(REPO, tmp_path / "home", cluster), ["ba8256cb"],
                           select=lambda _, c: c.id == "C6").verdicts()
    assert local[0].status == "verified"
    assert [v.model_dump(exclude=VOLATILE) for v in remote] == [v.model_dump(exclude=VOLATILE) for v in local]
    with Ledger.open(tmp_path / "home") as ledger:
        a, b = (ledger.get_run(v.run.id) for v in (local[0], remote[0]))  # type: ignore[union-attr]
    assert a is not None and b is not None
    assert a.key == b.key and a.results_digest == b.results_digest and "node" in b.environment
    # Only the cluster's verdict names a node: the local one has no `node` key at all (its bytes as before).
    assert "node" not in local[0].model_dump(mode="json")["run"]
    assert remote[0].run is not None and remote[0].run.node is not None
    assert remote[0].run.node.environment == digest_json(a.environment)  # the same environment as here


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("VERIFY_STUDY_TESTS") != "1",
                    reason="runs the study's smoke seeds twice (tens of CPU-minutes): set VERIFY_STUDY_TESTS=1")
def test_study_smoke_seed_same_verdict_as_local(cluster: LocalCluster, tmp_path: Path) -> None:
    """weam-imbalance/C28: one smoke-tier seed of the study (minutes of CPU), here and on the cluster at once."""
    def pick(_: str, c: Any) -> bool:
        return bool(c.id == "C28")

    here: dict[str, list[Verdict]] = {}
    thread = threading.Thread(target=lambda: here.setdefault("verdicts", verify_claims(
        Options(root=REPO, home=tmp_path / "local", backend="bwrap", use_cache=False), ["weam-imbalance"],
        select=pick).verdicts()))
    thread.start()  # the two runs overlap: one core each
    remote = verify_claims(options(REPO, tmp_path / "ray", cluster), ["weam-imbalance"], select=pick).verdicts()
    thread.join()
    local = here["verdicts"]
    assert local[0].run is not None and remote[0].run is not None
    assert [v.model_dump(exclude=VOLATILE) for v in remote] == [v.model_dump(exclude=VOLATILE) for v in local]
    with Ledger.open(tmp_path / "local") as ledger:
        a = ledger.get_run(local[0].run.id)
    with Ledger.open(tmp_path / "ray") as ledger:
        b = ledger.get_run(remote[0].run.id)
    assert a is not None and b is not None and a.status == b.status == "ok"
    assert a.key == b.key and a.results_digest == b.results_digest  # the same bytes, bit for bit
    assert "node" in b.environment and "node" not in a.environment


def test_bundle_altered_in_transit_is_refused(cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = build_root(tmp_path / "root", paper("ray-transit", [sleeper("R1", 0, 4)]))

    def altered(bundle: Path) -> bytes:  # the archive changes between the driver and the node
        copy = tmp_path / "copy" / bundle.name
        shutil.copytree(bundle, copy)
        (copy / "sleeper.py").write_text((bundle / "sleeper.py").read_text() + "\n# altered\n")
        return pack_bundle(copy)

    monkeypatch.setattr("verifier.executors.ray.pack_bundle", altered)
    with pytest.raises(TransitError, match=r"seal mismatch on node \w+: the bundle received digests to sha256:") as caught:
        verify_claims(options(root.path, tmp_path / "home", cluster), [])
    assert caught.value.diagnostics().startswith("manifests/ray-transit/manifest.yaml: repros[0].seal: seal mismatch on node")
    with Ledger.open(tmp_path / "home") as ledger:
        assert ledger.runs_for("ray-transit") == []  # refused before it ran: nothing recorded


def test_input_altered_in_transit_is_refused_by_the_cli(cluster: LocalCluster, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from verifier.cli import main

    root = build_root(tmp_path / "root", paper("ray-input", [sleeper("R1", 0, 4)]))
    monkeypatch.setattr("verifier.executors.ray.pack_input", lambda path: b"not the pinned bytes\n")
    monkeypatch.setenv("VERIFY_HOME", str(tmp_path / "home"))
    status = main(["--root", str(root.path), "paper", "ray-input", "--backend", "bwrap", "--executor", "ray",
                   "--ray-address", cluster.address])
    assert status == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("verify: error: manifests/ray-input/manifest.yaml: repros[0].inputs[0].sha256: digest mismatch on node ")
    assert "'data/x.tsv' received digests to " in error


def test_resources_ray_refuses_are_one_line_and_nothing_left_running(cluster: LocalCluster, tmp_path: Path) -> None:
    """Valid for the manifest, refused by Ray (TPUs come in 1, 2, 4 or 8): exit 2, one line, no task left."""
    tpu = sleeper("Tpu", 0, 4)
    tpu["limits"]["resources"] = {"TPU": 1.5}
    root = build_root(tmp_path / "root", paper("ray-tpu", [sleeper("First", 100, 2), tpu]) | {"contract": "paper-manifest-v1.2"})
    done = _cli(root.path, tmp_path / "home", cluster, "paper", "ray-tpu")
    _, err = done.communicate(timeout=120)
    assert done.returncode == 2, err
    assert err.strip().splitlines()[-1].startswith(
        "verify: error: manifests/ray-tpu/manifest.yaml: repros[1].limits.resources: Ray refuses these resources: ")
    assert "Traceback" not in err
    assert cluster.wait_busy(0, timeout_s=20), "the task submitted before the refusal still runs"
    with Ledger.open(tmp_path / "home") as ledger:
        assert ledger.runs_for("ray-tpu") == []


def _cli(root: Path, home: Path, cluster: LocalCluster, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "VERIFY_HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "verifier", "--root", str(root), *args, "--backend", "bwrap",
                             "--executor", "ray", "--ray-address", cluster.address],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, as a terminal's foreground job


def _sleepers() -> list[int]:
    """Pids of sleeper repros running on this machine (any node: they share its process table)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"bundle.sleeper" in argv:
                found.append(int(entry.name))
    return found


def test_ctrl_c_cancels_the_tasks(cluster: LocalCluster, tmp_path: Path) -> None:
    """Ctrl-C on `verify ci --executor ray` once Fast is recorded and Slow (60 s) runs on the other node."""
    home = tmp_path / "home"
    root = build_root(tmp_path / "root", paper("ray-ctrlc", [sleeper("Fast", 0, 2), sleeper("Slow", 60, 4)]))
    driver = _cli(root.path, home, cluster, "ci")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (_statuses(home, "ray-ctrlc") and cluster.wait_busy(1, timeout_s=1)):
        assert driver.poll() is None, driver.communicate()[1]
        time.sleep(0.3)
    assert _statuses(home, "ray-ctrlc") == {"Fast": "ok"}
    assert _sleepers(), "the slow repro is not running"
    t0 = time.monotonic()
    os.killpg(driver.pid, signal.SIGINT)  # what a terminal sends its foreground job on Ctrl-C
    _, err = driver.communicate(timeout=30)
    elapsed = time.monotonic() - t0
    assert driver.returncode == 130, err  # 128 + SIGINT
    assert "verify: interrupted: 1 runs finished and kept, 1 cancelled" in err and "Traceback" not in err
    assert elapsed < 10, f"took {elapsed:.1f} s"
    # The task is cancelled: its CPU is free again and its repro is gone from the node.
    assert cluster.wait_busy(0, timeout_s=30), "the cancelled task still holds its CPU"
    deadline = time.monotonic() + 20
    while _sleepers() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _sleepers() == []
    # The ledger is whole: the finished run and its claim's verdict are in it, nothing of the cancelled one.
    with Ledger.open(home) as ledger:
        ledger.verify_chain()
        assert {r.repro: r.status for r in ledger.runs_for("ray-ctrlc")} == {"Fast": "ok"}
        kept = ledger.last_verdicts(["ray-ctrlc/C-Fast", "ray-ctrlc/C-Slow"])
    assert set(kept) == {"ray-ctrlc/C-Fast"} and kept["ray-ctrlc/C-Fast"].status == "verified"
    assert kept["ray-ctrlc/C-Fast"].run is not None and kept["ray-ctrlc/C-Fast"].run.node is not None


def test_driver_killed_keeps_finished_runs(cluster: LocalCluster, tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = build_root(tmp_path / "root", paper("ray-driver", [sleeper("Fast", 0, 2), sleeper("Slow", 8, 4)]))
    driver = _cli(root.path, home, cluster, "paper", "ray-driver")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _statuses(home, "ray-driver"):
        time.sleep(0.3)
    driver.kill()
    driver.wait()
    assert _statuses(home, "ray-driver") == {"Fast": "ok"}
    with Ledger.open(home) as ledger:
        ledger.verify_chain()  # never half-written
    # A re-run takes the finished run from the cache and runs only the other.
    rerun = _cli(root.path, home, cluster, "paper", "ray-driver")
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert "runs: 1 executed, 1 cached" in err
    assert "finished ray-driver/Slow (seed 0): ok in " in err and " on node " in err  # progress names the node


def _statuses(home: Path, paper_id: str) -> dict[str, str]:
    if not (home / "ledger.sqlite3").exists() and not home.exists():
        return {}
    try:
        with Ledger.open(home) as ledger:
            return {r.repro: r.status for r in ledger.runs_for(paper_id)}
    except Exception:  # the driver may be creating the ledger right now
        return {}


def _in_thread(opts: Options, observer: Recorder,
               select: ClaimFilter | None = None) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["session"] = verify_claims(opts, [], observer=observer, select=select)
        except BaseException as e:  # reported by the test
            box["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def test_worker_node_killed_mid_run_is_retried(cluster: LocalCluster, tmp_path: Path) -> None:
    """Fast runs on the worker first; then each node runs a 20 s repro and the worker dies under its own.

    Fast runs in a session of its own: submitted with the long runs, Ray may start
    both long runs first and leave Fast waiting for the worker's CPU (it did on a
    faster CI machine), so the order is the test's, not the scheduler's.
    """
    home = tmp_path / "home"
    repros = [sleeper("Fast", 0, 2), sleeper("Long1", 20, 4), sleeper("Long2", 20, 6)]
    root = build_root(tmp_path / "root", paper("ray-kill", repros))
    opts = options(root.path, home, cluster, resources={("Fast", SPECIAL): 1.0}, max_retries=2)
    ids = cluster.node_ids()
    fast = verify_claims(opts, [], select=lambda _, c: c.id == "C-Fast").verdicts()
    assert [v.status for v in fast] == ["verified"] and node_of(home, fast[0]) == ids["worker0"]
    observer = Recorder()
    thread, box = _in_thread(opts, observer, select=lambda _, c: c.id != "C-Fast")
    assert cluster.wait_busy(2, timeout_s=60), "the two 20 s repros never held both CPUs"
    assert observer.finished == []
    time.sleep(3)  # both 20 s repros are well under way
    cluster.kill(next(n for n in cluster.nodes if n.name == "worker0"))
    thread.join(timeout=150)
    assert "error" not in box, box.get("error")
    session: Session = box["session"]
    by_claim = {v.claim.split("/")[1]: v for v in session.verdicts()}
    assert set(by_claim) == {"C-Long1", "C-Long2"}
    for name in ("C-Long1", "C-Long2"):  # retried on the head (or, were retries spent, node lost)
        verdict = by_claim[name]
        assert verdict.status == "verified" or "node lost" in verdict.reason, verdict.reason
        if verdict.status == "verified":
            assert node_of(home, verdict) == ids["head"]
    assert sum(v.status == "verified" for v in by_claim.values()) == 2
    with Ledger.open(home) as ledger:
        # The worker's earlier run stays recorded after the worker is gone.
        assert {r.repro for r in ledger.runs_for("ray-kill") if r.status == "ok"} == {"Fast", "Long1", "Long2"}
        ledger.verify_chain()


def test_node_lost_when_no_node_can_take_the_retry(cluster: LocalCluster, tmp_path: Path) -> None:
    """The only node with `special` dies under a 20 s repro: inconclusive, "node lost"; the rest recorded."""
    cluster.add_worker({SPECIAL: 1})
    home = tmp_path / "home"
    root = build_root(tmp_path / "root", paper("ray-lost", [sleeper("Pinned", 20, 2), sleeper("Free", 1, 4)]))
    observer = Recorder()
    opts = options(root.path, home, cluster, resources={("Pinned", SPECIAL): 1.0}, max_retries=1, infeasible_s=3)
    thread, box = _in_thread(opts, observer)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and ("Free", "ok") not in observer.finished:
        time.sleep(0.5)
    assert cluster.wait_busy(1, timeout_s=30)
    time.sleep(2)
    cluster.kill(next(n for n in cluster.nodes if n.name == "worker1"))
    thread.join(timeout=90)
    assert "error" not in box, box.get("error")
    by_claim = {v.claim.split("/")[1]: v for v in box["session"].verdicts()}
    assert by_claim["C-Free"].status == "verified"
    lost = by_claim["C-Pinned"]
    assert lost.status == "inconclusive" and "node lost" in lost.reason, lost.reason
    with Ledger.open(home) as ledger:
        statuses = {r.repro: r.status for r in ledger.runs_for("ray-lost")}
    assert statuses == {"Free": "ok", "Pinned": "node-lost"}
