"""Executors: where the runs a verification needs are carried out.

`EXECUTOR_FOR_NAME` maps a `--executor` name to its class: `local` (a
thread pool on this machine, the default) and `ray` (tasks on a Ray
cluster; `ray` itself is imported only when that executor runs).

The classes are imported on first use (PEP 562): the command line names the
executors (`EXECUTOR_NAMES`) without loading the pipeline they drive.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from verifier.executors.interface import ADDRESS_ENV as ADDRESS_ENV
from verifier.executors.interface import ClusterOptions, Executor

if TYPE_CHECKING:
    from verifier.executors.local import LocalExecutor
    from verifier.executors.ray import RayExecutor

    EXECUTOR_FOR_NAME: dict[str, type[Executor]]

EXECUTOR_NAMES = ("local", "ray")
_CLASS_FOR_NAME = {"local": ("verifier.executors.local", "LocalExecutor"), "ray": ("verifier.executors.ray", "RayExecutor")}

__all__ = ["ADDRESS_ENV", "EXECUTOR_FOR_NAME", "EXECUTOR_NAMES", "ClusterOptions", "Executor", "LocalExecutor", "RayExecutor"]


def _load(name: str) -> type[Executor]:
    module, attr = _CLASS_FOR_NAME[name]
    cls: type[Executor] = getattr(importlib.import_module(module), attr)
    return cls


def __getattr__(name: str) -> Any:
    if name == "EXECUTOR_FOR_NAME":
        value: Any = {executor: _load(executor) for executor in EXECUTOR_NAMES}
    elif name in ("LocalExecutor", "RayExecutor"):
        value = _load(name.removesuffix("Executor").lower())
    else:
        raise AttributeError(f"module 'verifier.executors' has no attribute {name!r}")
    globals()[name] = value
    return value
