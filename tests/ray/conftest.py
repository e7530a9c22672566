"""The module-scoped real 2-node Ray cluster of the Ray executor tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ray_cluster import LocalCluster
from ray_roots import SPECIAL


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """A head (1 CPU) and a worker (1 CPU, the custom resource), stopped by pid at the end."""
    started = LocalCluster()
    try:
        started.start(workers=[{SPECIAL: 1}])
        yield started
    finally:
        started.stop()
