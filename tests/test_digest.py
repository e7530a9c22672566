"""One digest form everywhere: file, bytes and tree digests are `sha256:` + hex."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.digest import DIGEST_RE, bytes_digest, file_digest, hex_of, tree_digest
from verifier.seal import StatCache


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=4096))
def test_file_and_bytes_digests_agree(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("d") / "f"
    path.write_bytes(data)
    expected = "sha256:" + hashlib.sha256(data).hexdigest()
    assert bytes_digest(data) == file_digest(path) == expected
    assert DIGEST_RE.match(expected) and hex_of(expected) == expected[7:]


def test_file_digest_streams_past_one_buffer(tmp_path: Path) -> None:
    data = os.urandom((1 << 20) * 2 + 17)
    path = tmp_path / "big"
    path.write_bytes(data)
    assert file_digest(path) == bytes_digest(data)


def test_file_digest_can_refuse_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "t").write_bytes(b"x")
    (tmp_path / "l").symlink_to(tmp_path / "t")
    assert file_digest(tmp_path / "l") == bytes_digest(b"x")
    with pytest.raises(OSError):
        file_digest(tmp_path / "l", follow_symlinks=False)


@pytest.mark.parametrize("bad", ["sha256:" + "A" * 64, "sha256:abc", "md5:" + "a" * 64, "a" * 64])
def test_hex_of_refuses_other_forms(bad: str) -> None:
    with pytest.raises(ValueError, match="not a sha256 digest"):
        hex_of(bad)


def test_stat_cache_gives_the_same_form(tmp_path: Path) -> None:
    """A cached digest and a fresh one are the same string, before and after the cache is reloaded."""
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "a.py").write_text("print(1)\n")
    cache = StatCache(tmp_path / "home", racy_window_ns=0)
    first = tree_digest(bundle, cache)
    cache.flush()
    again = StatCache(tmp_path / "home", racy_window_ns=0)
    path = bundle / "a.py"
    assert again.digest(path, path.stat()) == file_digest(path)
    assert tree_digest(bundle, again) == first == tree_digest(bundle)
