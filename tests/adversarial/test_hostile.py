"""Hostile repros through the real backends: each asserts the outcome AND that the host is untouched."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from verifier.sandbox.base import Limits

if TYPE_CHECKING:  # conftest is not importable as a module under plain `pytest`
    from tests.adversarial.conftest import Harness

FindProcesses = Callable[[str], list[int]]

CONTRACT_ENV = {
    "PATH", "HOME", "TMPDIR", "LANG", "PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE",
    "REPRO_OUT", "REPRO_INPUTS", "REPRO_PARAMS", "REPRO_SEED",
    # Set by the sandbox tooling itself, never copied from the caller:
    "PWD", "HOSTNAME", "TERM", "container",
}


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP listener on the host's loopback that records every connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            seen.append(conn.recv(100))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join()
    server.close()


class TestNetwork:
    def test_cannot_reach_host_loopback(self, harness: Harness, listener: tuple[int, list[bytes]]) -> None:
        port, seen = listener
        run = harness.run(f"""
            import socket
            def connect():
                s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
                s.sendall(b"leak")
                return s.recv(10)
            done({{"connect": attempt(connect)}})
        """)
        assert run.outcome.status == "ok", run.stderr
        assert not run.results["connect"].startswith("ok")
        time.sleep(0.3)
        assert seen == []

    def test_sees_only_loopback(self, harness: Harness) -> None:
        run = harness.run("""
            ifaces = sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:])
            sys_ifaces = sorted(os.listdir("/sys/class/net")) if os.path.isdir("/sys/class/net") else []
            done({"ifaces": ifaces, "sys": sys_ifaces})
        """)
        assert run.outcome.status == "ok", run.stderr
        assert run.results["ifaces"] == ["lo"]
        assert set(run.results["sys"]) <= {"lo"}


class TestFilesystem:
    def test_cannot_write_host(self, harness: Harness) -> None:
        marker = f"verify-pwned-{uuid.uuid4().hex}"
        targets = [f"/tmp/{marker}", str(harness.root / marker), str(harness.bundle / marker),
                   marker, f"../{marker}"]
        run = harness.run(f"""
            out = {{}}
            for path in {targets!r}:
                def write(path=path):
                    with open(path, "w") as f:
                        f.write("pwned")
                out[path] = attempt(write)
            done(out)
        """)
        assert run.outcome.status == "ok", run.stderr
        assert not Path(f"/tmp/{marker}").exists()
        assert not (harness.root / marker).exists()
        assert not (harness.bundle / marker).exists()
        assert not (harness.root.parent / marker).exists()
        assert set(os.listdir(harness.bundle)) == {"__init__.py", f"{harness.module}.py"}
        # Writing into the bundle (the working directory) must fail outright.
        assert not run.results[marker].startswith("ok")

    def test_cannot_read_home_or_rest_of_root(self, harness: Harness) -> None:
        home_secret = Path.home() / f".verify-secret-{uuid.uuid4().hex}"
        root_secret = harness.root / "secret.txt"
        secret = f"SECRET-{uuid.uuid4().hex}"
        home_secret.write_text(secret)
        root_secret.write_text(secret)
        try:
            run = harness.run(f"""
                paths = [{str(home_secret)!r}, {str(root_secret)!r}, "../secret.txt", "/work/secret.txt"]
                done({{p: attempt(lambda p=p: open(p).read()) for p in paths}}
                     | {{"home": attempt(lambda: os.listdir({str(Path.home())!r}))}})
            """)
        finally:
            home_secret.unlink()
        assert run.outcome.status == "ok", run.stderr
        assert secret.encode() not in run.stdout + run.stderr
        assert all(secret not in value for value in run.results.values())
        # The home may show the path down to the interpreter's prefix (pyenv), nothing else.
        assert home_secret.name not in run.results["home"]

    def test_cannot_write_host_kernel_settings(self, harness: Harness) -> None:
        # Writes back the current value, so that even a failed test changes nothing.
        run = harness.run("""
            def rewrite(path):
                value = open(path).read()
                with open(path, "w") as f:
                    f.write(value)
            paths = ["/proc/sys/kernel/core_pattern", "/proc/sys/vm/overcommit_memory"]
            done({p: attempt(lambda p=p: rewrite(p)) for p in paths})
        """)
        assert run.outcome.status == "ok", run.stderr
        assert not any(value.startswith("ok") for value in run.results.values()), run.results

    def test_symlink_in_bundle_gives_no_access(self, harness: Harness) -> None:
        secret = f"SECRET-{uuid.uuid4().hex}"
        (harness.root / "secret.txt").write_text(secret)
        harness.bundle.mkdir()
        (harness.bundle / "abs_link").symlink_to(harness.root / "secret.txt")
        (harness.bundle / "rel_link").symlink_to("../secret.txt")
        run = harness.run("""
            done({p: attempt(lambda p=p: open(p).read()) for p in ["abs_link", "rel_link"]})
        """)
        assert run.outcome.status == "ok", run.stderr
        assert all(secret not in value for value in run.results.values())


def test_caller_environment_is_invisible(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    sentinel = f"sentinel-{uuid.uuid4().hex}"
    monkeypatch.setenv("VERIFY_SENTINEL_SECRET", sentinel)
    run = harness.run("""
        done({"env": dict(os.environ), "environ_file": attempt(lambda: open("/proc/1/environ").read())})
    """)
    assert run.outcome.status == "ok", run.stderr
    env = run.results["env"]
    assert "VERIFY_SENTINEL_SECRET" not in env
    assert sentinel not in str(run.results)
    assert set(env) <= CONTRACT_ENV
    assert env["PYTHONHASHSEED"] == "0" and env["REPRO_SEED"] == "7"


def test_runs_unprivileged(harness: Harness) -> None:
    run = harness.run("""
        status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines()
                      if ":\t" in line)
        done({"uid": os.getuid(), "euid": os.geteuid(), "cap_eff": status["CapEff"].strip(),
              "cap_prm": status["CapPrm"].strip(), "no_new_privs": status.get("NoNewPrivs", "?").strip()})
    """)
    assert run.outcome.status == "ok", run.stderr
    assert run.results["uid"] != 0 and run.results["euid"] != 0
    assert int(run.results["cap_eff"], 16) == 0 and int(run.results["cap_prm"], 16) == 0
    assert run.results["no_new_privs"] == "1"


def test_no_new_user_namespace_or_keyring(harness: Harness) -> None:
    """The kernel surface behind a fresh user namespace or the keyring stays shut."""
    run = harness.run("""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def call(name, *args):
            rc = getattr(libc, name)(*args)
            return "ok" if rc != -1 else "errno %d" % ctypes.get_errno()
        KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING = 0, -4
        done({
            "unshare_user": call("unshare", 0x10000000),
            "keyctl": call("syscall", 250, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0),
            "threads": attempt(lambda: __import__("concurrent.futures").futures
                               .ThreadPoolExecutor(4).submit(lambda: 42).result()),
        })
    """)
    assert run.outcome.status == "ok", run.stderr
    assert run.results["unshare_user"] != "ok"
    assert run.results["keyctl"] != "ok"
    assert run.results["threads"] == "ok: 42"  # ordinary clone() still works


class TestLimits:
    def test_fork_bomb_hits_process_limit(self, harness: Harness, processes_with: FindProcesses) -> None:
        run = harness.run("""
            import time
            children = 0
            try:
                for _ in range(2000):
                    if os.fork() == 0:
                        time.sleep(20)
                        os._exit(0)
                    children += 1
            except OSError:
                pass
            done({"children": children})
        """, limits=Limits(timeout_s=60, memory_mb=512, max_procs=32))
        assert run.outcome.status == "processes", (run.outcome, run.stderr)
        assert "32 processes" in run.outcome.reason
        time.sleep(0.2)
        assert processes_with(harness.module) == []

    def test_memory_hog_hits_memory_limit(self, harness: Harness) -> None:
        run = harness.run("""
            hog = []
            for _ in range(64):
                hog.append(b"x" * (16 * 1024 * 1024))
            done({"allocated_mb": 16 * len(hog)})
        """, limits=Limits(timeout_s=60, memory_mb=128))
        assert run.outcome.status == "memory", (run.outcome, run.stderr[-500:])
        assert run.outcome.reason == "repro exceeded its 128 MB memory limit"

    def test_timeout_kills_children_that_ignore_sigterm(
        self, harness: Harness, processes_with: FindProcesses
    ) -> None:
        run = harness.run(f"""
            import signal, subprocess, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            subprocess.Popen([sys.executable, "-c",
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
                "{harness.module}-child"], start_new_session=True)
            time.sleep(600)
        """, limits=Limits(timeout_s=2, memory_mb=256))
        assert run.outcome.status == "timeout"
        assert run.result.timed_out
        assert run.result.duration_s < 15
        time.sleep(0.2)
        assert processes_with(harness.module) == []


class TestOutputs:
    def test_huge_stdout_is_truncated(self, harness: Harness) -> None:
        run = harness.run("""
            chunk = "y" * 65536 + "\\n"
            for _ in range(800):
                sys.stdout.write(chunk)
            done({"ok": True})
        """, limits=Limits(timeout_s=60), max_log_bytes=100_000)
        assert run.outcome.status == "ok", run.stderr
        assert run.result.stdout_truncated
        assert len(run.stdout) == 100_000

    def test_huge_output_dir_hits_output_limit(self, harness: Harness) -> None:
        run = harness.run("""
            with open(os.path.join(os.environ["REPRO_OUT"], "big.bin"), "wb") as f:
                for _ in range(64):
                    f.write(b"z" * (1024 * 1024))
            done({"ok": True})
        """, limits=Limits(timeout_s=60, max_output_mb=8))
        assert run.outcome.status == "output-limit", (run.outcome, run.stderr[-500:])

    @pytest.mark.parametrize(("payload", "status", "words"), [
        (b"{not json", "invalid-results", "not valid JSON"),
        (b'{"a": "\xff"}', "invalid-results", "not UTF-8"),
        (b"\xff\xfe{}", "invalid-results", "not UTF-8"),
        (b"[1, 2, 3]", "invalid-results", "JSON list"),
    ])
    def test_invalid_results(self, harness: Harness, payload: bytes, status: str, words: str) -> None:
        run = harness.run(f"""
            with open(os.path.join(os.environ["REPRO_OUT"], "results.json"), "wb") as f:
                f.write({payload!r})
        """)
        assert run.outcome.status == status, run.outcome
        assert words in run.outcome.reason

    def test_no_results(self, harness: Harness) -> None:
        run = harness.run("print('forgot to write results')")
        assert run.outcome.status == "no-results"

    def test_symlink_in_output_is_refused(self, harness: Harness) -> None:
        run = harness.run("""
            os.symlink("/etc/passwd", os.path.join(os.environ["REPRO_OUT"], "link"))
            done({"ok": True})
        """)
        assert run.outcome.status == "invalid-results"
        assert "link" in run.outcome.reason

    def test_fifo_and_deep_nesting_in_output_are_refused(self, harness: Harness) -> None:
        run = harness.run("""
            out = os.environ["REPRO_OUT"]
            os.mkfifo(os.path.join(out, "pipe"))
            path = out
            for _ in range(200):
                path = os.path.join(path, "d")
                os.mkdir(path)
            done({"ok": True})
        """)
        assert run.outcome.status == "invalid-results"
        assert "nested deeper" in run.outcome.reason or "pipe is a FIFO" in run.outcome.reason

    def test_missing_entrypoint_is_a_crash(self, harness: Harness) -> None:
        run = harness.run("", entrypoint=("no-such-interpreter", "-m", "x"))
        assert run.outcome.status == "crashed"
        assert run.outcome.reason == "repro exited with status 127"
        assert b"no-such-interpreter" in run.stderr

    def test_crash(self, harness: Harness) -> None:
        run = harness.run("sys.exit(3)")
        assert run.outcome.status == "crashed"
        assert run.outcome.reason == "repro exited with status 3"


def test_inputs_and_params_are_readable_not_writable(harness: Harness, tmp_path: Path) -> None:
    data = tmp_path / "data.tsv"
    data.write_text("a\tb\n")
    data.chmod(0o644)
    run = harness.run("""
        path = os.path.join(os.environ["REPRO_INPUTS"], "d/data.tsv")
        done({"read": open(path).read(), "params": json.load(open(os.environ["REPRO_PARAMS"])),
              "write": attempt(lambda: open(path, "a").write("x"))})
    """, inputs=((data, "d/data.tsv"),))
    assert run.outcome.status == "ok", run.stderr
    assert run.results["read"] == "a\tb\n"
    assert run.results["params"] == {"n": 1}
    assert not run.results["write"].startswith("ok")
    assert data.read_text() == "a\tb\n"
