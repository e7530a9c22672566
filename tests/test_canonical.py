"""RFC 8785 canonical JSON and digests: known answers and properties."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.canonical import canonical, digest_json, es_number
from verifier.digest import bytes_digest

# Known answers: RFC 8785 section 3.2.2 number serialization, key order by UTF-16 code units.
KNOWN = [
    ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
    ([5e-05, 1.0, -0.0, 1e21, 1e-7], b"[0.00005,1,0,1e+21,1e-7]"),
    ({"\u20ac": 1, "\r": 2, "1": 3}, b'{"\\r":2,"1":3,"\xe2\x82\xac":1}'),
    ("a\u2028b", b'"a\xe2\x80\xa8b"'),
    ({"x": [True, False, None]}, b'{"x":[true,false,null]}'),
    (333333333.33333329, b"333333333.3333333"),
]


@pytest.mark.parametrize(("value", "expected"), KNOWN)
def test_known_answers(value: Any, expected: bytes) -> None:
    assert canonical(value) == expected


def test_digest_json_known_answer() -> None:
    assert digest_json({"b": 1, "a": 2}) == "sha256:" + hashlib.sha256(b'{"a":2,"b":1}').hexdigest()
    assert bytes_digest(b"") == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, {1: 2}, {"a": {1, 2}}, 2**60])
def test_rejects_non_json(bad: Any) -> None:
    with pytest.raises(ValueError, match="not canonical JSON"):
        canonical(bad)



json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_round_trip_is_idempotent(value: Any) -> None:
    once = canonical(value)
    # JCS numbers are IEEE doubles: a float such as 2.0**53 prints as an integer
    # that rfc8785 refuses as a Python int (beyond I-JSON's safe range), so the
    # canonical text is read back the JCS way, every number a float.
    assert canonical(json.loads(once, parse_int=float)) == once


@given(st.dictionaries(st.text(), st.integers(min_value=-1000, max_value=1000), max_size=8))
def test_key_order_does_not_matter(d: dict[str, int]) -> None:
    reordered = dict(reversed(list(d.items())))
    assert digest_json(d) == digest_json(reordered)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


def _assert_canonical_is_rfc8785(value: Any) -> None:
    """`canonical` gives rfc8785's bytes, or a ValueError where rfc8785 refuses the value."""
    try:
        expected: bytes | None = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError):
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            canonical(value)
    else:
        assert canonical(value) == expected


@settings(max_examples=600, deadline=None)
@given(json_values)
def test_fast_path_is_rfc8785_byte_for_byte(value: Any) -> None:
    """`canonical` takes a C-encoder shortcut where it can; it must agree with rfc8785 everywhere, errors too."""
    _assert_canonical_is_rfc8785(value)


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_es_number_is_ecmascript(value: float) -> None:
    assert es_number(value) == rfc8785.dumps(value).decode()


@pytest.mark.parametrize("value", [{"\U0001f600": 1, "\ue000": 2}, {"a\x00": 1.5}, ["\x00", 0.5], "\ud800", {1: 2}])
def test_values_the_fast_path_leaves_to_rfc8785(value: Any) -> None:
    _assert_canonical_is_rfc8785(value)
