"""The image build scripts: debootstrap's mirror comes from the host's apt sources; no host names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build-image.sh"


def mirror(apt: Path, *, suite: str = "bookworm") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), "--print-mirror", "--suite", suite], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "APT_SOURCES": str(apt)}, check=False,
    )


def test_one_line_sources_skip_comments_deb_src_and_options(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb-src http://src.invalid/debian bookworm main\n"
        "deb http://other.invalid/debian trixie main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.invalid/debian bookworm main\n"
    )
    assert mirror(tmp_path).stdout.strip() == "http://mirror.invalid/debian"


def test_deb822_sources_respect_enabled_and_suites(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.invalid/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nEnabled: no\nURIs: http://off.invalid/debian\nSuites: bookworm\n\n"
        "Types: deb deb-src\n# a comment inside\nURIs: http://local.invalid/debian http://second.invalid\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    (tmp_path / "sources.list.d" / "old.list.disabled").write_text("deb http://disabled.invalid bookworm main\n")
    assert mirror(tmp_path).stdout.strip() == "http://local.invalid/debian"
    assert mirror(tmp_path, suite="bookworm-updates").stdout.strip() == "http://local.invalid/debian"


def test_no_source_for_the_suite_says_what_to_do(tmp_path: Path) -> None:
    result = mirror(tmp_path)
    assert result.returncode == 1
    assert "--mirror" in result.stderr and "DEBIAN_MIRROR" in result.stderr


@pytest.mark.parametrize("name", ["scripts/build-image.sh", "scripts/build-repro-image.sh",
                                  "scripts/Containerfile", "Containerfile.repro", ".ci/services.sh"])
def test_no_host_names(name: str) -> None:
    text = (ROOT / name).read_text()
    assert not re.search(r"\b(?:https?|ftp)://", text), f"{name} names a host"
    assert not re.search(r"\b(?:docker\.io|quay\.io|ghcr\.io|pypi\.org|download\.pytorch\.org|deb\.debian\.org)\b", text)
