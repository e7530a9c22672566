"""Ctrl-C in a real terminal: `verify paper` stops within 3 s, leaves nothing running, keeps what finished.

The command runs in a pseudo-terminal as its own session and process group;
SIGINT goes to the whole group, as a terminal's line discipline sends it on
Ctrl-C. One paper has a quick repro and one that sleeps 60 s ignoring
SIGTERM; the interrupt comes once the quick run is in the ledger and the slow
one is running.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RootFactory, manifest_document
from verifier.ledger import DB_NAME
from verifier.root import VerificationRoot
from verifier.sandbox.bwrap import BwrapSandbox

REPO = Path(__file__).resolve().parents[1]
TOKEN = "verify_interrupt_sleeper"  # in the slow repro's argv, to find its processes

SLEEPER = """\
import json, os, pathlib, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL stops it
time.sleep(60)
pathlib.Path(os.environ["REPRO_OUT"], "results.json").write_text(json.dumps({"learning_rate": 5e-05}))
"""


def _docker_why() -> str | None:
    if not os.environ.get("DOCKER_HOST"):
        return "DOCKER_HOST not set (source .ci/services.sh)"
    from verifier.sandbox.docker import DockerSandbox, default_image

    backend = DockerSandbox()
    return backend.available() or backend.image_missing(default_image())


_BWRAP_WHY = BwrapSandbox().available()
BACKENDS = [
    pytest.param("process"),
    pytest.param("bwrap", marks=[pytest.mark.bwrap, pytest.mark.skipif(_BWRAP_WHY is not None, reason=f"bwrap: {_BWRAP_WHY}")]),
    pytest.param("docker", marks=[pytest.mark.docker, pytest.mark.slow]),
]


def slow_paper() -> dict[str, Any]:
    document = manifest_document("slow-paper")
    quick_claim = document["claims"][0]
    slow_claim = {**quick_claim, "id": "C2", "evidence": {"repro": "R2", "output": "/learning_rate"}}
    quick = document["repros"][0]
    slow = {**quick, "id": "R2", "entrypoint": ["python", "-m", f"bundle.{TOKEN}"],
            "limits": {**quick["limits"], "timeout_s": 120}}
    document["claims"] = [quick_claim, slow_claim]
    document["repros"] = [quick, slow]
    return document


def verify(root: VerificationRoot, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verifier", "--root", str(root.path), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def rows(home: Path, sql: str) -> list[Any]:
    """Read the ledger directly (no gc lock, no writes): what the interrupted process left."""
    conn = sqlite3.connect(f"file:{home / DB_NAME}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def sleeper_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if TOKEN.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def cgroups_of(pid: int) -> list[Path]:
    base = Path("/sys/fs/cgroup")
    return [p for pattern in ("verify-{}-*", "*/verify-{}-*", "*/*/verify-{}-*")
            for p in base.glob(pattern.format(pid))]


def containers_of(root: VerificationRoot) -> list[str]:
    from verifier.sandbox.docker import DockerSandbox

    client = DockerSandbox().client()
    return [c.id for c in client.containers.list(all=True)
            if any(str(root.path) in m.get("Source", "") for m in c.attrs.get("Mounts", []))]


def read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_in_a_terminal(backend: str, make_root: RootFactory, tmp_path: Path) -> None:
    if backend == "docker" and (why := _docker_why()) is not None:
        pytest.skip(f"docker: {why}")
    root = make_root(manifest_document("quick-paper"), slow_paper(), seal=False)
    (root.path / "bundle" / f"{TOKEN}.py").write_text(SLEEPER)
    from verifier.manifests import seal_manifest

    for paper in ("quick-paper", "slow-paper"):
        seal_manifest(root, paper)
    home = root.path / ".verify"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    env.update(TMPDIR=str(private_tmp), VERIFY_BACKEND=backend, TERM="xterm")
    # The second paper, verified before: its claim must survive the interrupt.
    done = verify(root, env, "paper", "quick-paper")
    assert done.returncode == 0, done.stderr

    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "verifier", "--root", str(root.path), "paper", "slow-paper", "--jobs", "2", "--no-cache"],
        cwd=REPO, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
    )
    os.close(slave)
    try:
        # Wait until the quick run is recorded and the slow one is running.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            quick = (home / DB_NAME).exists() and rows(
                home, "SELECT COUNT(*) FROM runs WHERE paper = 'slow-paper' AND repro = 'R1'")[0][0] == 1
            if quick and sleeper_pids():
                break
            assert proc.poll() is None, read_all(master).decode(errors="replace")
            time.sleep(0.1)
        else:
            pytest.fail("the runs did not start in time")
        time.sleep(0.5)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        status = proc.wait(timeout=30)
        elapsed = time.monotonic() - t0
        output = read_all(master).decode(errors="replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)

    print(f"\n[{backend}] SIGINT to exit: {elapsed:.2f} s")
    assert status == 130, output
    assert elapsed < 3.0, f"took {elapsed:.2f} s"
    assert "verify: interrupted: 1 runs finished and kept, 1 cancelled" in output, output
    assert "Traceback" not in output
    # Nothing of the slow run is left: no process, no cgroup, no temporary directory, no container.
    assert sleeper_pids() == []
    assert cgroups_of(proc.pid) == []
    assert list(private_tmp.iterdir()) == []
    if backend == "docker":
        assert containers_of(root) == []
    # What finished is kept: the quick run and its claim's verdict; both claims of the other paper.
    assert rows(home, "SELECT repro FROM runs WHERE paper = 'slow-paper'") == [("R1",)]
    verdicts = {claim for (claim,) in rows(home, "SELECT claim FROM verdicts")}
    assert {"quick-paper/C1", "slow-paper/C1"} <= verdicts and "slow-paper/C2" not in verdicts
    # The cancelled run left no partial record; the quick one answers from the cache.
    again = verify(root, env, "claim", "slow-paper/C1", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["cached"] is True


def test_sigterm_exits_143(make_root: RootFactory, tmp_path: Path) -> None:
    root = make_root(slow_paper(), seal=False)
    (root.path / "bundle" / f"{TOKEN}.py").write_text(SLEEPER)
    from verifier.manifests import seal_manifest

    seal_manifest(root, "slow-paper")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    env["VERIFY_BACKEND"] = "process"
    proc = subprocess.Popen(
        [sys.executable, "-m", "verifier", "--root", str(root.path), "claim", "slow-paper/C2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not sleeper_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)  # a CI runner's cancel: to the verifier only
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert time.monotonic() - t0 < 3.0
    assert "verify: interrupted: 0 runs finished and kept, 1 cancelled" in err
    assert sleeper_pids() == []
