"""Real runs that need an engine: torch under bwrap, GPUs through the container engine."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable

import pytest

from verifier.sandbox import judge_outcome
from verifier.sandbox.base import Limits, SandboxRequest
from verifier.sandbox.bwrap import BwrapSandbox
from verifier.sandbox.docker import DockerSandbox, default_image

MakeRequest = Callable[..., SandboxRequest]
BWRAP_WHY = BwrapSandbox().available()

TORCH_REPRO = """\
import json, os
import torch
torch.manual_seed(int(os.environ["REPRO_SEED"]))
value = torch.randn(4, 4).matmul(torch.ones(4)).sum().item()
json.dump({"value": value, "threads": torch.get_num_threads(),
           "cuda": torch.cuda.is_available()},
          open(os.path.join(os.environ["REPRO_OUT"], "results.json"), "w"))
"""


@pytest.mark.bwrap
@pytest.mark.slow
@pytest.mark.skipif(BWRAP_WHY is not None, reason=f"bwrap unavailable: {BWRAP_WHY}")
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_torch_imports_and_is_deterministic_under_bwrap(make_request: MakeRequest) -> None:
    values = []
    for _ in range(2):
        request = make_request(TORCH_REPRO, limits=Limits(timeout_s=300, memory_mb=4096))
        shutil.rmtree(request.out_dir, ignore_errors=True)
        result = BwrapSandbox().run(request)
        outcome = judge_outcome(result, request.out_dir)
        assert outcome.status == "ok", result.stderr_path.read_text()[-3000:]
        assert outcome.results is not None
        values.append(outcome.results["value"])
    assert values[0] == values[1]


def _gpu_engine_why() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return "no NVIDIA GPU here (nvidia-smi not on PATH)"
    backend = DockerSandbox()
    return backend.available() or backend.image_missing(os.environ.get("VERIFY_GPU_IMAGE"))


@pytest.mark.gpu
@pytest.mark.docker
@pytest.mark.skipif(_gpu_engine_why() is not None, reason=f"GPU container unavailable: {_gpu_engine_why()}")
def test_gpu_request_reaches_the_container(make_request: MakeRequest) -> None:
    """With gpus=1 the container sees the device (needs an image with nvidia-smi or torch)."""
    code = (
        "import json, os, subprocess\n"
        "out = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True).stdout\n"
        "json.dump({'gpus': out.strip().splitlines()},"
        " open(os.path.join(os.environ['REPRO_OUT'], 'results.json'), 'w'))\n"
    )
    request = make_request(code, limits=Limits(timeout_s=120, gpus=1),
                           image=os.environ.get("VERIFY_GPU_IMAGE") or default_image())
    result = DockerSandbox().run(request)
    outcome = judge_outcome(result, request.out_dir)
    assert outcome.status == "ok", result.stderr_path.read_text()[-2000:]
    assert outcome.results is not None and len(outcome.results["gpus"]) >= 1
