"""Backends without hostility: registry, auto selection, argv, fingerprint, supervision."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from verifier import models
from verifier.errors import SandboxError, SandboxUnavailableError, UsageError
from verifier.sandbox import BACKEND_FOR_NAME, judge_outcome, seccomp, select_backend
from verifier.sandbox import docker as docker_mod
from verifier.sandbox import fingerprint as fp
from verifier.sandbox import supervise as supervise_mod
from verifier.sandbox.base import Limits, SandboxRequest
from verifier.sandbox.bwrap import BwrapSandbox, bwrap_argv, input_target, python_prefixes
from verifier.sandbox.cgroup import RunCgroup, owner_alive
from verifier.sandbox.docker import DockerSandbox, hardened_profile
from verifier.sandbox.launch import Slot
from verifier.sandbox.process import UnsafeProcessSandbox
from verifier.sandbox.supervise import (
    EOF_GRACE_S,
    CappedSink,
    export_outputs,
    output_area,
    supervise,
)

MakeRequest = Callable[..., SandboxRequest]


class TestLimits:
    def test_one_limits_type(self) -> None:
        # The manifest's validated limits are what the sandbox runs with: no copy, no second type.
        assert Limits is models.Limits
        limits = models.Repro.model_validate(
            {"id": "R", "bundle": "b", "entrypoint": ["python"], "limits": {"timeout_s": 60, "cpus": 2}}
        ).limits
        assert (limits.timeout_s, limits.cpus, limits.memory_mb) == (60, 2, 2048)


class TestRegistry:
    def test_names(self) -> None:
        expected = {"bwrap": BwrapSandbox, "docker": DockerSandbox, "process": UnsafeProcessSandbox}
        assert expected == BACKEND_FOR_NAME
        assert [cls.sealed for cls in BACKEND_FOR_NAME.values()] == [True, True, False]

    def test_unknown_name(self) -> None:
        with pytest.raises(UsageError, match="unknown sandbox backend 'lxc'"):
            select_backend("lxc")

    def test_process_is_explicit(self) -> None:
        assert isinstance(select_backend("process"), UnsafeProcessSandbox)

    def test_auto_without_sealed_backend_says_how(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(BwrapSandbox, "available", lambda self: "bwrap missing")
        monkeypatch.setattr(DockerSandbox, "available", lambda self: "no engine")
        with pytest.raises(SandboxUnavailableError) as info:
            select_backend("auto")
        line = info.value.diagnostics()
        assert "\n" not in line
        assert "install bubblewrap" in line and "DOCKER_HOST" in line and "--backend process" in line
        assert info.value.exit_status == 3

    def test_auto_falls_back_to_docker_only_with_the_image(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(BwrapSandbox, "available", lambda self: "bwrap missing")
        monkeypatch.setattr(DockerSandbox, "available", lambda self: None)
        monkeypatch.setattr(DockerSandbox, "image_missing", lambda self, ref: None)
        assert isinstance(select_backend("auto", image="x:1"), DockerSandbox)
        monkeypatch.setattr(DockerSandbox, "image_missing", lambda self, ref: f"image {ref} absent")
        with pytest.raises(SandboxUnavailableError, match="image x:1 absent"):
            select_backend("auto", image="x:1")

    def test_named_backend_unavailable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(BwrapSandbox, "available", lambda self: "bwrap missing")
        with pytest.raises(SandboxUnavailableError, match="bwrap is unavailable: bwrap missing"):
            select_backend("bwrap")


class TestBwrapArgv:
    def test_isolation_flags_and_layout(self, make_request: MakeRequest, tmp_path: Path) -> None:
        argv = bwrap_argv(make_request("pass"), tmp_path, tmp_path / "area")
        for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                     "--die-with-parent", "--new-session"):
            assert flag in argv
        assert argv[argv.index("--cap-drop") + 1] == "ALL"
        assert argv[argv.index("--chdir") + 1] == "/work/pkg"
        end = argv.index("--")
        assert argv[end - 4:end] == ["--remount-ro", "/dev", "--remount-ro", "/"]
        assert argv[-3:] == ["python", "-m", "pkg.main"]

    @pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop applies to root callers")
    def test_root_caller_runs_repro_as_nobody(self, make_request: MakeRequest, tmp_path: Path) -> None:
        argv = bwrap_argv(make_request("pass"), tmp_path, tmp_path / "area")
        command = argv[argv.index("--") + 1:]
        assert command[0].endswith("/setpriv")
        assert command[1:8] == ["--reuid", "65534", "--regid", "65534", "--clear-groups",
                                "--inh-caps=-all", "--"]
        adds = [argv[i + 1] for i, a in enumerate(argv) if a == "--cap-add"]
        assert sorted(adds) == ["CAP_SETGID", "CAP_SETUID"]

    def test_binds_only_the_interpreter_prefix_of_home(self, make_request: MakeRequest, tmp_path: Path) -> None:
        argv = bwrap_argv(make_request("pass"), tmp_path, tmp_path / "area")
        home = str(Path.home())
        sources = [argv[i + 1] for i, a in enumerate(argv) if a in ("--ro-bind", "--bind", "--ro-bind-try")]
        assert home not in sources
        under_home = [s for s in sources if s.startswith(home + "/")]
        assert all(any(s.startswith(p) for p in python_prefixes()) for s in under_home)
        assert "/" not in sources

    def test_prefix_holding_the_home_is_refused(
        self, make_request: MakeRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path(sys.base_prefix) / "home"))
        with pytest.raises(SandboxError, match="contains the caller's home"):
            bwrap_argv(make_request("pass"), tmp_path, tmp_path / "area")

    @pytest.mark.parametrize("rel", ["/etc/passwd", "../x", "a/../../x", ""])
    def test_input_paths_that_escape_are_refused(self, rel: str) -> None:
        with pytest.raises(SandboxError, match="must be relative"):
            input_target(rel)

    def test_input_target(self) -> None:
        assert input_target("data/x.tsv") == "/inputs/data/x.tsv"


class TestSeccompProgram:
    def test_every_jump_lands_inside_the_program(self) -> None:
        prog = seccomp.program()
        assert len(prog) % 8 == 0
        insns = [struct.unpack("<HBBI", prog[i:i + 8]) for i in range(0, len(prog), 8)]
        for index, (code, jt, jf, _) in enumerate(insns):
            if code & 0x07 == 0x05:  # BPF_JMP
                assert index + 1 + max(jt, jf) < len(insns)
        assert insns[-1] == (0x06, 0, 0, 0x00050000 | 1)  # ends with "deny: EPERM"
        assert insns[-2] == (0x06, 0, 0, 0x7FFF0000)  # and "allow"


class TestDockerHardening:
    def test_profile_drops_user_namespaces_and_keyring(self) -> None:
        default = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["read", "clone", "unshare", "keyctl", "clone3"], "action": "SCMP_ACT_ALLOW"}]}
        profile = hardened_profile(default)
        assert profile["syscalls"][0]["names"] == ["read"]
        clone = profile["syscalls"][1]
        assert clone["names"] == ["clone", "unshare"]
        assert clone["args"] == [{"index": 0, "value": 0x10000000, "valueTwo": 0,
                                  "op": "SCMP_CMP_MASKED_EQ"}]
        assert default["syscalls"][0]["names"][1] == "clone"  # the input is untouched


class TestDockerWithoutEngine:
    PINNED = "localhost/x@sha256:" + "a" * 64

    def test_a_missing_socket_is_unavailable(self) -> None:
        why = DockerSandbox("unix:///nonexistent/engine.sock").available()
        assert why is not None and "no such socket" in why

    def test_pinned_image_facts_come_from_disk(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VERIFY_CACHE_DIR", str(tmp_path))
        url = "unix:///nonexistent/engine.sock"  # nothing answers: any engine call would fail
        with pytest.raises(SandboxError, match="no Docker API"):
            DockerSandbox(url).fingerprint(SimpleNamespace(image=self.PINNED))  # type: ignore[arg-type]
        facts = {"image": self.PINNED, "image_digest": "sha256:" + "b" * 64, "repo_digests": [self.PINNED],
                 "image_os": "linux/amd64"}
        docker_mod._write_pinned(url, self.PINNED, facts)
        backend = DockerSandbox(url)
        got = backend.fingerprint(SimpleNamespace(image=self.PINNED))  # type: ignore[arg-type]
        assert {k: got[k] for k in facts} == facts and got["backend"] == "docker"
        assert backend._client is None  # never connected

    def test_a_tag_is_never_cached(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VERIFY_CACHE_DIR", str(tmp_path))
        docker_mod._write_pinned(None, "localhost/x:1", {"image": "localhost/x:1"})
        assert list(tmp_path.iterdir()) == []
        assert docker_mod._read_pinned(None, "localhost/x:1") is None


class TestFingerprint:
    def test_cached_and_cheap(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VERIFY_CACHE_DIR", str(tmp_path))
        fp.host_facts.cache_clear()
        first = UnsafeProcessSandbox().fingerprint()
        assert list(tmp_path.glob("fingerprint-*.json"))
        t0 = time.perf_counter()
        for _ in range(100):
            again = UnsafeProcessSandbox().fingerprint()
        assert (time.perf_counter() - t0) / 100 < 0.001
        assert again == first
        fp.host_facts.cache_clear()
        t0 = time.perf_counter()
        assert UnsafeProcessSandbox().fingerprint() == first  # from the disk cache
        assert time.perf_counter() - t0 < 0.05

    def test_fields(self) -> None:
        facts = BwrapSandbox().fingerprint()
        assert facts["backend"] == "bwrap"
        assert facts["interpreter"]["path"] == os.path.realpath(sys.executable)
        assert facts["packages"]["digest"].startswith("sha256:")
        assert {"os", "cpu", "gpus"} <= set(facts)

    def test_the_interpreter_is_named_by_its_binary_not_the_name_it_was_called_by(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # python and python3 are one binary: their runs must share run keys.
        alias = tmp_path / "python-alias"
        alias.symlink_to(sys.executable)
        monkeypatch.setenv("VERIFY_CACHE_DIR", str(tmp_path / "cache"))
        fp.host_facts.cache_clear()
        direct = BwrapSandbox().fingerprint()
        monkeypatch.setattr(sys, "executable", str(alias))
        fp.host_facts.cache_clear()
        try:
            assert BwrapSandbox().fingerprint() == direct
        finally:
            fp.host_facts.cache_clear()

    def test_packages_digest_is_stable(self) -> None:
        assert fp.packages_digest() == fp.packages_digest()


class TestSupervision:
    def test_capped_sink_keeps_the_head(self, tmp_path: Path) -> None:
        sink = CappedSink(tmp_path / "log", 1000)
        for _ in range(5):
            sink.write(b"a" * 300)
        sink.close()
        assert sink.truncated
        assert (tmp_path / "log").read_bytes() == b"a" * 1000

    def test_background_child_holding_the_pipe_is_killed(self, tmp_path: Path) -> None:
        # The repro exits at once but leaves a child that keeps stdout open.
        argv = ["/bin/sh", "-c", "sleep 30 & echo started"]
        t0 = time.monotonic()
        slot = Slot.spawn(argv, env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path)
        raw = supervise(slot, limits=Limits(timeout_s=20), log_dir=tmp_path / "logs", max_log_bytes=1000)
        assert time.monotonic() - t0 < EOF_GRACE_S + 2
        assert raw.exit_code == 0 and not raw.timed_out
        assert (tmp_path / "logs" / "stdout.log").read_text() == "started\n"

    def test_export_copies_plain_data_only(self, tmp_path: Path) -> None:
        area, out = tmp_path / "area", tmp_path / "out"
        (area / "d").mkdir(parents=True)
        (area / "d" / "f").write_text("x")
        (area / "l").symlink_to("/etc/passwd")
        (area / "dl").symlink_to("/etc")
        os.mkfifo(area / "fifo")
        problem = export_outputs(area, out)
        assert (out / "d" / "f").read_text() == "x"
        assert sorted(os.listdir(out)) == ["d"]
        assert problem == "$REPRO_OUT/dl is a symlink: outputs must be regular files"

    def test_export_refuses_deep_nesting(self, tmp_path: Path) -> None:
        area = tmp_path / "area"
        deep = area.joinpath(*["n"] * 40)
        deep.mkdir(parents=True)
        problem = export_outputs(area, tmp_path / "out")
        assert problem is not None and "nested deeper than 32 levels" in problem


class TestProcessBackend:
    def test_runs_with_contract_environment(self, make_request: MakeRequest) -> None:
        request = make_request(
            "import json, os\n"
            "p = json.load(open(os.environ['REPRO_PARAMS']))\n"
            "json.dump({'k': p['k'], 'seed': os.environ['REPRO_SEED'], 'env': sorted(os.environ)},"
            " open(os.path.join(os.environ['REPRO_OUT'], 'results.json'), 'w'))\n"
        )
        result = UnsafeProcessSandbox().run(request)
        outcome = judge_outcome(result, request.out_dir)
        assert outcome.status == "ok", result.stderr_path.read_text()
        assert result.sealed is False
        assert outcome.results is not None
        assert outcome.results["k"] == 2 and outcome.results["seed"] == "11"
        assert "VERIFY_CACHE_DIR" not in outcome.results["env"]

    def test_timeout(self, make_request: MakeRequest) -> None:
        request = make_request("import time\ntime.sleep(60)\n", limits=Limits(timeout_s=0.5))
        result = UnsafeProcessSandbox().run(request)
        assert result.timed_out
        assert result.duration_s < 5
        assert judge_outcome(result, request.out_dir).status == "timeout"

    def test_no_cgroup_left_behind(self, make_request: MakeRequest, monkeypatch: pytest.MonkeyPatch) -> None:
        created: list[Path] = []
        original = RunCgroup.create.__func__  # type: ignore[attr-defined]

        def spy(cls: type[RunCgroup], **kwargs: Any) -> RunCgroup | None:
            group = original(cls, **kwargs)
            if group is not None:
                created.extend(group.dirs.values())
            return group

        monkeypatch.setattr(RunCgroup, "create", classmethod(spy))
        UnsafeProcessSandbox().run(make_request("pass\n"))
        if os.geteuid() == 0 and Path("/sys/fs/cgroup/memory/cgroup.procs").exists():
            assert created, "running as root on cgroup v1 should give a per-run cgroup"
        assert [path for path in created if path.exists()] == []


class TestStaleSweep:
    def test_owner_alive(self) -> None:
        assert owner_alive(f"verify-{os.getpid()}-abcd", "verify-")
        dead = subprocess.Popen(["true"])
        dead.wait()
        assert not owner_alive(f"verify-{dead.pid}-abcd", "verify-")
        assert owner_alive("verify-unparsable", "verify-")

    def test_areas_of_dead_verifiers_are_removed(self) -> None:
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = Path(tempfile.mkdtemp(prefix=f"verify-out-{dead.pid}-"))
        (stale / "out").mkdir()
        supervise_mod._sweep_stale_areas.cache_clear()  # the sweep runs once per process
        with output_area(1) as (area, _):
            assert area.is_dir()
        assert not stale.exists()


class TestRlimitFallback:
    """Without a cgroup (not root, or no v1 controllers) rlimits still bound a run."""

    @pytest.fixture(autouse=True)
    def no_cgroup(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(RunCgroup, "create", classmethod(lambda cls, **kwargs: None))

    def test_memory(self, make_request: MakeRequest) -> None:
        request = make_request("x = b'x' * (512 * 1024 * 1024)\n", limits=Limits(timeout_s=30, memory_mb=200))
        result = UnsafeProcessSandbox().run(request)
        assert judge_outcome(result, request.out_dir).status == "memory"

    def test_timeout_kills_the_group(self, make_request: MakeRequest) -> None:
        request = make_request("import time\ntime.sleep(60)\n", limits=Limits(timeout_s=0.5))
        result = UnsafeProcessSandbox().run(request)
        assert judge_outcome(result, request.out_dir).status == "timeout"


def test_params_json_is_canonical(make_request: MakeRequest) -> None:
    request = make_request("pass", params={"b": 1, "a": 2})
    assert json.loads(request.params_json()) == {"a": 2, "b": 1}
    assert request.params_json().index(b'"a"') < request.params_json().index(b'"b"')
