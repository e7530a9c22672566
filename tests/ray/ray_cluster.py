"""A real Ray cluster on this machine for tests and benchmarks: a head and worker nodes.

Each node is one `ray start --block` subprocess with its own `--temp-dir`,
its own ports on 127.0.0.1 and `--num-cpus 1` by default; the worker
processes import this checkout's `verifier` (PYTHONPATH). Nodes are stopped
(or killed, to simulate a lost machine) by the pids this helper started and
their descendants, never with `ray stop`, which stops every Ray process on
the machine.

Side effects: subprocesses and a temporary directory, removed by `stop`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OBJECT_STORE_BYTES = 100_000_000


def _free_ports(n: int) -> list[int]:
    """n distinct ports free right now (held open together, then released)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _free_range(width: int) -> int:
    """A base port such that [base, base + width) looks free."""
    for base in range(20000 + (os.getpid() % 200) * 100, 60000, 997):
        try:
            held = []
            for port in range(base, base + width):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no free port range")


@dataclass
class Node:
    """One `ray start --block` process."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    resources: dict[str, float]
    manager_port: int

    @property
    def pid(self) -> int:
        return self.process.pid


class LocalCluster:
    """Start with `start(workers=[{...}])`; `address` to join; `kill(node)`; `stop()`."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="vray-", dir="/tmp"))  # short: Unix socket paths
        self.nodes: list[Node] = []
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        env.pop("RAY_ADDRESS", None)
        return env

    def _launch(self, name: str, args: list[str], resources: dict[str, float], num_cpus: int) -> Node:
        temp = self.base / name
        temp.mkdir()
        ports = _free_ports(6)
        low = _free_range(40)
        argv = [
            sys.executable, "-m", "ray.scripts.scripts", "start", "--block", *args,
            "--node-ip-address", "127.0.0.1", "--temp-dir", str(temp), "--num-cpus", str(num_cpus),
            "--object-store-memory", str(OBJECT_STORE_BYTES),
            "--node-manager-port", str(ports[0]), "--object-manager-port", str(ports[1]),
            "--dashboard-agent-listen-port", str(ports[2]), "--dashboard-agent-grpc-port", str(ports[3]),
            "--metrics-export-port", str(ports[4]), "--runtime-env-agent-port", str(ports[5]),
            "--min-worker-port", str(low), "--max-worker-port", str(low + 39), "--disable-usage-stats",
        ]
        if resources:
            argv += ["--resources", json.dumps(resources)]
        log = self.base / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=self._env(),
                                       start_new_session=True)
        node = Node(name, process, log, resources, ports[0])
        self.nodes.append(node)
        return node

    def start(self, *, workers: list[dict[str, float]], head_cpus: int = 1, timeout_s: float = 120) -> None:
        """A head and one worker node per resource mapping; returns when all are in the cluster."""
        self.port, client = _free_ports(2)
        self._launch("head", ["--head", "--port", str(self.port), "--include-dashboard=false",
                              "--ray-client-server-port", str(client)], {}, head_cpus)
        for resources in workers:
            self.add_worker(resources, wait=False)
        self.wait_for(len(workers) + 1, timeout_s=timeout_s)

    def add_worker(self, resources: dict[str, float], *, num_cpus: int = 1, wait: bool = True) -> Node:
        index = sum(1 for n in self.nodes if n.name.startswith("worker"))
        node = self._launch(f"worker{index}", ["--address", self.address], resources, num_cpus)
        if wait:
            self.wait_for(sum(1 for n in self.nodes if n.process.poll() is None))
        return node

    def wait_for(self, count: int, *, timeout_s: float = 120) -> None:
        """Until `count` nodes are alive in the cluster (asked through a short-lived driver)."""
        probe = (
            "import ray,sys,time\n"
            f"ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False)\n"
            f"deadline=time.time()+{timeout_s}\n"
            f"while sum(1 for n in ray.nodes() if n['Alive'])<{count} and time.time()<deadline: time.sleep(0.5)\n"
            f"sys.exit(0 if sum(1 for n in ray.nodes() if n['Alive'])>={count} else 1)\n"
        )
        deadline = time.monotonic() + timeout_s
        while True:
            done = subprocess.run([sys.executable, "-c", probe], env=self._env(), capture_output=True,
                                  timeout=timeout_s + 30, check=False)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Ray cluster did not come up: {done.stderr.decode()[-2000:]}\n{self.logs()}")
            time.sleep(1)

    def _probe(self, body: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        """Run `body` in a short-lived driver joined to the cluster (`ray` bound)."""
        code = f"import json,ray,sys,time\nray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False)\n{body}"
        return subprocess.run([sys.executable, "-c", code], env=self._env(), capture_output=True, text=True,
                              timeout=timeout_s + 60, check=False)

    def node_ids(self) -> dict[str, str]:
        """Node name (head, worker0, ...) -> Ray node id, for the live nodes."""
        done = self._probe("print(json.dumps([[n['NodeID'], n['NodeManagerPort']] for n in ray.nodes() if n['Alive']]))", 30)
        by_port = {port: node_id for node_id, port in json.loads(done.stdout.strip().splitlines()[-1])}
        return {n.name: by_port[n.manager_port] for n in self.nodes if n.manager_port in by_port}

    def wait_busy(self, cpus: float, *, timeout_s: float) -> bool:
        """Whether, within the timeout, exactly `cpus` CPUs of the cluster are held by tasks."""
        body = (
            f"deadline=time.time()+{timeout_s}\n"
            "busy=lambda: ray.cluster_resources().get('CPU',0)-ray.available_resources().get('CPU',0)\n"
            f"while abs(busy()-{cpus})>1e-6 and time.time()<deadline: time.sleep(0.2)\n"
            f"sys.exit(0 if abs(busy()-{cpus})<1e-6 else 1)\n"
        )
        return self._probe(body, timeout_s).returncode == 0

    def logs(self) -> str:
        return "\n".join(f"== {n.name}\n{n.log.read_text(errors='replace')[-1500:]}" for n in self.nodes)

    def kill(self, node: Node) -> None:
        """SIGKILL the node's process group (the `ray start` process we started and its children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)
        node.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM every node we started (workers first), SIGKILL what is left, remove the temp dir."""
        for node in reversed(self.nodes):
            if node.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.pid, signal.SIGTERM)
        for node in reversed(self.nodes):
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=5)  # a graceful stop, briefly: a test cluster keeps nothing
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)  # stragglers of the group
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)
