"""Root confinement: no path string, however built, resolves outside the root."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.errors import IntakeError
from verifier.root import VerificationRoot

segments = st.sampled_from(["..", ".", "a", "b", "link", "loop", "", "/", "~", "a/..", "%2e%2e", "\\..", "..."])
paths = st.lists(segments, min_size=1, max_size=8).map("/".join)


@pytest.fixture
def hostile_root(tmp_path: Path) -> VerificationRoot:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path)  # a symlink leaving the root
    (root / "a" / "loop").symlink_to("../a/loop")
    return VerificationRoot.at(root)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(relative=paths)
def test_no_generated_path_escapes_the_root(hostile_root: VerificationRoot, relative: str) -> None:
    try:
        resolved = hostile_root.resolve_inside(relative, file=Path("m.yaml"), field="f")
    except IntakeError as e:
        assert e.field == "f"
        return
    assert resolved.is_relative_to(hostile_root.path)
    assert resolved == resolved.resolve()


def test_symlink_out_is_refused(hostile_root: VerificationRoot) -> None:
    with pytest.raises(IntakeError, match="leaves the verification root"):
        hostile_root.resolve_inside("link/x", file=Path("m.yaml"), field="f")


def test_nul_byte_is_refused(hostile_root: VerificationRoot) -> None:
    with pytest.raises(IntakeError, match="NUL"):
        hostile_root.resolve_inside("a\0b", file=Path("m.yaml"), field="f")


def test_a_missing_directory_then_a_loop_is_refused(hostile_root: VerificationRoot) -> None:
    """Regression (hypothesis): `a/a/../loop` passed strict realpath's ENOENT and landed on a loop."""
    with pytest.raises(IntakeError, match="cannot be resolved"):
        hostile_root.resolve_inside("a/a/../loop", file=Path("m.yaml"), field="f")
