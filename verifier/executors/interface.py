"""The executor interface: how the runs a verification needs are carried out.

`verify_claims` plans the runs, looks their keys up in the ledger and hands
the rest to an `Executor`: `local` runs them in a thread pool on this
machine, `ray` as tasks on a Ray cluster. Whatever the executor, the driver
(this process) is the only writer of the ledger and the artifact store, and
every finished run is recorded as soon as it finishes, so a driver killed
mid-way loses only the runs still in flight.

Executors are a swappable axis like the sandbox backends: `EXECUTOR_FOR_NAME`
in `verifier.executors` maps a `--executor` name to its class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:  # the pipeline's types; it imports this package
    from verifier.runs import ObtainedRun, Runner, RunPlan

ADDRESS_ENV = "VERIFY_RAY_ADDRESS"  # the Ray executor's cluster address (`--ray-address`)


@dataclass(frozen=True)
class ClusterOptions:
    """What a cluster executor needs beyond the local one.

    `address`: the cluster to join (`host:port`, `ray://host:10001`, or
    None for `auto`, a cluster started on this machine). `resources`: custom
    resources per repro, `(selector, name) -> amount`, where the selector is
    a repro id or `paper/repro` (`--ray-resources`). `max_retries`: how many
    times a run lost with its node is tried again elsewhere. `infeasible_s`:
    how long a run may wait for a node that can hold it before it is given
    up as "node lost" (an autoscaler may add such a node meanwhile).
    """

    address: str | None = None
    resources: Mapping[tuple[str, str], float] = field(default_factory=dict)
    max_retries: int = 2
    infeasible_s: float = 60.0

    def resources_for(self, plan: RunPlan) -> dict[str, float]:
        """The custom resources a plan asks for (a `paper/repro` selector beats a bare repro id)."""
        wanted: dict[str, float] = {}
        for selector in (plan.repro.id, f"{plan.paper}/{plan.repro.id}"):
            for (sel, name), amount in self.resources.items():
                if sel == selector:
                    wanted[name] = amount
        return wanted


class Executor(ABC):
    """Carries out runs that the ledger does not have yet. Subclasses set `name`."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_options(cls, options: Options) -> Executor:
        """The executor the verdict commands' options ask for."""

    @abstractmethod
    def obtain(self, runner: Runner, todo: Mapping[str, RunPlan], observer: Observer) -> dict[str, ObtainedRun]:
        """Run every plan of `todo` (run key -> plan) and record each run as it finishes.

        Returns run key -> obtained run for every key of `todo`. Calls
        `observer.run_started` and `observer.run_finished` once per run.
        Raises `SandboxError` when the sandbox itself breaks, `IntakeError`
        when a node refuses a bundle or input that does not match its seal.
        Side effects: runs repros; the runner writes the ledger.
        """


# Moved from verifier.executor (which re-exports them), so executors never import the pipeline.
class Observer(Protocol):
    """Progress callbacks; the CLI renders them (rich on a terminal, plain lines otherwise)."""

    def runs_planned(self, total: int, cached: int) -> None: ...
    def run_started(self, plan: RunPlan) -> None: ...
    def run_finished(self, plan: RunPlan, obtained: ObtainedRun) -> None: ...


class SilentObserver:
    """An observer that says nothing."""

    def runs_planned(self, total: int, cached: int) -> None:
        pass

    def run_started(self, plan: RunPlan) -> None:
        pass

    def run_finished(self, plan: RunPlan, obtained: ObtainedRun) -> None:
        pass


@dataclass(frozen=True)
class Options:
    """What the verdict commands ask for."""

    root: Path
    home: Path
    backend: str = "auto"
    use_cache: bool = True
    jobs: int = 1
    tier: str = "smoke"
    strict: bool = False
    nonce: str | None = None  # --replicate: multi-seed claims are judged on fresh seeds derived from it
    executor: str = "local"  # a name of verifier.executors.EXECUTOR_FOR_NAME
    cluster: ClusterOptions | None = None  # --ray-address and friends


