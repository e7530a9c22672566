"""RayExecutor: each distinct run key becomes one task on a Ray cluster.

The driver (this process) joins the cluster (`--ray-address`, else
`VERIFY_RAY_ADDRESS`, else `auto`: a cluster started on this machine),
puts each bundle archive and input in the object store once (`shipping`),
and submits one task per run with the resources of the repro's `limits`:
`num_cpus=cpus`, `memory=memory_mb` MiB, `num_gpus=gpus`, plus the custom
resources of `limits.resources` (paper-manifest-v1.2) and of
`--ray-resources REPRO=NAME:N` (which wins for a name both give). The node checks and runs the
shipment (`shipping.run_shipment`); the driver records each run the moment
it comes back, so a driver killed mid-way loses only the runs in flight.

Faults:

* a node lost mid-run (the node or its worker process died) is a system
  failure: Ray retries the task elsewhere, up to `max_retries` times; once
  the retries are spent the run is recorded with status `node-lost` and its
  claim is inconclusive. A repro that fails on its own is a result, never
  retried (`retry_exceptions=False`).
* a run that no live node can hold (its resources vanished with a node, or
  never existed) waits `infeasible_s` for one to appear, then is given up
  as `node-lost` too.
* Ctrl-C cancels every task still queued or running, then stops.

`ray` is imported only here, and only when this executor is used.

Side effects: joins (and leaves) a Ray cluster; runs repros on its nodes;
the runner writes the ledger and artifact store.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from verifier import cancel
from verifier.canonical import digest_json
from verifier.errors import InconclusiveError, IntakeError, VerifierError
from verifier.executors.interface import ADDRESS_ENV, ClusterOptions, Executor
from verifier.executors.shipping import (
    NodeReport,
    Shipment,
    pack_bundle,
    pack_input,
    receive,
    run_shipment,
)
from verifier.models import RunRecord
from verifier.runs import ObtainedRun, Runner, RunPlan

if TYPE_CHECKING:
    from verifier.executors.interface import Observer, Options

NODE_LOST = "node-lost"
_CHECK_EVERY_S = 0.5


class ClusterUnavailableError(InconclusiveError):
    """Ray is not installed, or the cluster cannot be reached (exit 3, like a missing sandbox)."""


def _node_entry(shipment: Shipment, archive: bytes, *inputs: bytes) -> NodeReport:
    """The task body on a node: who we are, then `run_shipment`."""
    import ray

    context = ray.get_runtime_context()
    node = {"id": context.get_node_id(), "hostname": socket.gethostname(),
            "address": ray.util.get_node_ip_address()}  # type: ignore[no-untyped-call]
    return run_shipment(shipment, archive, inputs, node=node)


@dataclass
class _Pending:
    key: str
    plan: RunPlan
    demand: dict[str, float]
    submitted: float
    infeasible_since: float | None = None
    given_up: str | None = None


class RayExecutor(Executor):
    """Runs on a Ray cluster; see the module docstring."""

    name = "ray"

    def __init__(self, cluster: ClusterOptions, *, backend: str) -> None:
        self.cluster = cluster
        self.backend = backend

    @classmethod
    def from_options(cls, options: Options) -> RayExecutor:
        return cls(options.cluster or ClusterOptions(), backend=options.backend)

    def obtain(self, runner: Runner, todo: Mapping[str, RunPlan], observer: Observer) -> dict[str, ObtainedRun]:
        if not todo:
            return {}
        ray = _connect(self.cluster.address)
        # observer.run_started is called as each task is submitted (queued on the cluster).
        try:
            return self._obtain(ray, runner, todo, observer)
        finally:
            ray.shutdown()

    def _obtain(self, ray: Any, runner: Runner, todo: Mapping[str, RunPlan], observer: Observer) -> dict[str, ObtainedRun]:
        # The backend the driver resolved ("auto" -> bwrap...), so every node runs the same one.
        backend = runner.sandbox.name
        remote = ray.remote(_node_entry)
        pending: dict[Any, _Pending] = {}
        try:
            self._submit(ray, remote, backend, todo, pending, observer)
            return self._collect(ray, runner, pending, observer)
        except BaseException:  # Ctrl-C, a refused submission: nothing of ours keeps running on the cluster
            for ref in pending:
                ray.cancel(ref, force=True, recursive=True)
            raise

    def _submit(self, ray: Any, remote: Any, backend: str, todo: Mapping[str, RunPlan],
                pending: dict[Any, _Pending], observer: Observer) -> None:
        """(1) and (2): ship the bytes, submit one task per run key into `pending`."""
        archives: dict[str, Any] = {}
        blobs: dict[str, Any] = {}
        for key, plan in todo.items():
            if cancel.requested():  # interrupted while submitting: submit no more
                return
            # (1): one archive per seal, one object per input, each put once
            seal = plan.repro.seal or ""
            if seal not in archives:
                archives[seal] = ray.put(pack_bundle(plan.manifest.bundles[plan.repro.id]))
            refs = []
            for item in plan.repro.inputs:
                digest = item.sha256 or ""  # never empty after Gate 0; the node checks it anyway
                if digest not in blobs:
                    blobs[digest] = ray.put(pack_input(plan.manifest.inputs[plan.repro.id][item.path]))
                refs.append(blobs[digest])
            # (2): one task per run key, sized by the repro's limits
            demand = self._demand(plan)
            options = _task_options(demand, self.cluster.max_retries, plan.label())
            try:
                task = remote.options(**options)
            except ValueError as e:  # an amount Ray takes from no one (an accelerator's own rules)
                raise IntakeError(f"Ray refuses these resources: {_first_line(e)}", file=plan.manifest.shown,
                                  field=f"repros[{_index(plan)}].limits.resources") from None
            ref = task.remote(Shipment.of(plan, backend=backend), archives[seal], *refs)
            pending[ref] = _Pending(key, plan, demand, time.monotonic())
            observer.run_started(plan)

    def _collect(self, ray: Any, runner: Runner, pending: dict[Any, _Pending], observer: Observer) -> dict[str, ObtainedRun]:
        """(3): record each run as it returns; give up on runs that no live node can hold."""
        obtained: dict[str, ObtainedRun] = {}
        failure: VerifierError | None = None
        last_check = time.monotonic()
        while pending:
            if cancel.requested():  # interrupted: stop the cluster's work, keep what finished
                for ref in pending:
                    ray.cancel(ref, force=True, recursive=True)
                return obtained
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=_CHECK_EVERY_S)
            for ref in ready:
                item = pending.pop(ref)
                try:
                    result = self._result(ray, runner, ref, item)
                except VerifierError as e:  # a refusal or a broken sandbox: the others still finish
                    failure = failure or e
                    continue
                obtained[item.key] = result
                observer.run_finished(item.plan, result)
            if pending and time.monotonic() - last_check >= _CHECK_EVERY_S:
                last_check = time.monotonic()
                self._give_up_infeasible(ray, pending)
        if failure is not None:
            raise failure
        return obtained

    def _result(self, ray: Any, runner: Runner, ref: Any, item: _Pending) -> ObtainedRun:
        from ray import exceptions

        try:
            report = ray.get(ref)
        except exceptions.RayTaskError as e:  # our own code raised on the node: not a lost node
            cause = e.cause if isinstance(e.cause, BaseException) else e
            if isinstance(cause, VerifierError):
                raise cause from None
            raise InconclusiveError(f"{item.plan.label()} failed on its node: {cause}") from None
        except exceptions.RayError as e:
            why = item.given_up or f"node lost ({_first_line(e)}); retried {self.cluster.max_retries} times"
            return _lost(runner, item, why)
        return receive(runner, item.plan, item.key, report)

    def _demand(self, plan: RunPlan) -> dict[str, float]:
        limits = plan.repro.limits
        demand = {"CPU": float(limits.cpus), "memory": float(limits.memory_mb * 2**20)}
        if limits.gpus:
            demand["GPU"] = float(limits.gpus)
        demand.update(limits.resources)  # the manifest's custom resources (paper-manifest-v1.2)
        demand.update(self.cluster.resources_for(plan))  # --ray-resources: the operator knows the cluster best
        return demand

    def _give_up_infeasible(self, ray: Any, pending: dict[Any, _Pending]) -> None:
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        now = time.monotonic()
        for ref, item in pending.items():
            if item.given_up is not None:
                continue
            if any(all(node.get(k, 0.0) >= v for k, v in item.demand.items()) for node in nodes):
                item.infeasible_since = None
                continue
            item.infeasible_since = item.infeasible_since or now
            if now - item.infeasible_since >= self.cluster.infeasible_s:
                wanted = ", ".join(f"{k}={v:g}" for k, v in sorted(item.demand.items()))
                item.given_up = f"node lost: no live node can hold the run ({wanted}) after {self.cluster.infeasible_s:g} s"
                ray.cancel(ref, force=True)


def _task_options(demand: Mapping[str, float], max_retries: int, name: str) -> dict[str, Any]:
    custom = {k: v for k, v in demand.items() if k not in ("CPU", "memory", "GPU")}
    return {
        "num_cpus": demand["CPU"],
        "memory": int(demand["memory"]),
        "num_gpus": demand.get("GPU", 0),
        "resources": custom,
        "max_retries": max_retries,
        "retry_exceptions": False,  # a repro that fails on its own is a result
        "name": name,
    }


def _connect(address: str | None) -> Any:
    """Join the cluster. Raises `ClusterUnavailableError` without Ray or without a cluster."""
    try:
        import ray
    except ImportError as e:
        raise ClusterUnavailableError(
            "--executor ray needs Ray: pip install 'claim-verifier[ray]' (or 'ray[default]')"
        ) from e
    target = address or os.environ.get(ADDRESS_ENV) or "auto"
    _check_reachable(target)
    try:
        ray.init(address=target, namespace="verify", logging_level=logging.ERROR, log_to_driver=False,
                 ignore_reinit_error=True)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ClusterUnavailableError(f"cannot join the Ray cluster at {target}: {_first_line(e)}") from e
    return ray


def _check_reachable(target: str) -> None:
    """Fail fast on a `host:port` nobody listens on (Ray itself retries for minutes, noisily).

    Raises `ClusterUnavailableError`.
    """
    host, sep, port = target.rpartition(":")
    if not sep or "://" in target or not port.isdigit():
        return  # auto, ray://...: left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ClusterUnavailableError(f"cannot join the Ray cluster at {target}: {e.strerror or e}") from e


def _lost(runner: Runner, item: _Pending, reason: str) -> ObtainedRun:
    """Record a run whose node was lost: no results, so its claims are inconclusive, never cached."""
    plan, now = item.plan, datetime.now(UTC)
    repro = plan.repro
    ended = now.isoformat().replace("+00:00", "Z")
    elapsed = max(0.0, time.monotonic() - item.submitted)
    started = datetime.fromtimestamp(now.timestamp() - elapsed, UTC).isoformat().replace("+00:00", "Z")
    record = RunRecord(
        id=f"run-{uuid.uuid4().hex[:16]}", key=item.key, paper=plan.paper, repro=repro.id, seed=plan.seed,
        backend=runner.sandbox.name, sealed=runner.sandbox.sealed, seal=repro.seal or "",
        entrypoint=list(repro.entrypoint), params_digest=digest_json(repro.params),
        inputs={i.path: f"sha256:{i.sha256}" for i in repro.inputs}, environment=dict(runner.environment(plan)),
        started=started, ended=ended, duration_s=round(elapsed, 6), exit_code=None, status=NODE_LOST,
        reason=reason,
    )
    runner.ledger.add_run(record)
    return ObtainedRun(record, None, cached=False)


def _index(plan: RunPlan) -> int:
    return next(i for i, r in enumerate(plan.manifest.model.repros) if r.id == plan.repro.id)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
