"""Executors: where the runs a verification needs are carried out.

`EXECUTOR_FOR_NAME` maps a `--executor` name to its class: `local` (a
thread pool on this machine, the default) and `ray` (tasks on a Ray
cluster; `ray` itself is imported only when that executor runs).
"""

from __future__ import annotations

from verifier.executors.interface import ClusterOptions, Executor
from verifier.executors.local import LocalExecutor
from verifier.executors.ray import RayExecutor

EXECUTOR_FOR_NAME: dict[str, type[Executor]] = {
    "local": LocalExecutor,
    "ray": RayExecutor,
}

__all__ = ["EXECUTOR_FOR_NAME", "ClusterOptions", "Executor", "LocalExecutor", "RayExecutor"]
