"""LocalExecutor: runs on this machine, `--jobs` at a time, in a thread pool.

The sandboxes are separate processes, so threads are enough: each waits on
its sandbox, and the runner serialises the ledger writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from verifier import cancel
from verifier.executors.interface import Executor
from verifier.runs import ObtainedRun, Runner, RunPlan

if TYPE_CHECKING:
    from verifier.executors.interface import Observer, Options


class LocalExecutor(Executor):
    """Today's behaviour: a pool of `jobs` threads on this host."""

    name = "local"

    def __init__(self, *, jobs: int = 1) -> None:
        self.jobs = max(1, jobs)

    @classmethod
    def from_options(cls, options: Options) -> LocalExecutor:
        return cls(jobs=options.jobs)

    def obtain(self, runner: Runner, todo: Mapping[str, RunPlan], observer: Observer) -> dict[str, ObtainedRun]:
        def execute(item: tuple[str, RunPlan]) -> tuple[str, ObtainedRun | None]:
            key, plan = item
            try:
                cancel.check()  # once interrupted, queued runs never start
                observer.run_started(plan)
                result = runner.execute(plan, key)
            except cancel.Cancelled:
                return key, None
            observer.run_finished(plan, result)
            return key, result

        # Interrupted, only the runs that finished come back; the caller counts the rest as cancelled.
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            return {key: run for key, run in pool.map(execute, todo.items()) if run is not None}
