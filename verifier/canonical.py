"""RFC 8785 (JCS) canonical JSON and the digests computed over it.

Digests of JSON values (run keys, params digests, ledger entries) are taken
over the canonical bytes, never over an ordinary `json.dumps`, so that two
writers that order keys or print floats differently agree on the digest.
The canonicalization is the `rfc8785` package (trailofbits/rfc8785.py): it
refuses NaN and infinity, which have no JSON form.

`rfc8785` walks the value in pure Python, and a cached `verify ci` takes two
canonical forms per claim (the run key, the ledger entry of the verdict). So
`canonical` first tries the C `json` encoder, for the values where its output
is RFC 8785's byte for byte: string keys in ASCII (code-point order is then
UTF-16 order), integers within I-JSON, and no NUL in any string. Floats are
left out of the C encoder (it prints Python's form, `1e-05`, not
ECMAScript's `0.00001`): each is put in as a placeholder and replaced by
`es_number`. Anything else goes to `rfc8785`. `tests/test_canonical.py`
checks that both paths give the same bytes.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

import rfc8785

from verifier.digest import bytes_digest

_INT_LIMIT: Final = 2**53 - 1  # I-JSON's safe integers, as rfc8785 enforces
_PLACEHOLDER: Final = re.compile(r'"\\u0000(\d+)\\u0000"')


class _Slow(Exception):
    """The value needs the full `rfc8785` walk."""


def canonical(obj: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON-like value.

    Raises `ValueError` if `obj` is not JSON-representable: a NaN or infinite
    float, a non-string key, an integer outside the I-JSON range, or a type
    JSON has no form for.
    """
    try:
        return _fast(obj)
    except _Slow:
        pass
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError) as e:
        # CanonicalizationError covers FloatDomainError/IntegerDomainError; a
        # foreign type (set, bytes, object) surfaces as TypeError or as an
        # unsupported-type CanonicalizationError depending on the version.
        raise ValueError(f"not canonical JSON: {e}") from e


def _fast(obj: Any) -> bytes:
    """`canonical` through the C `json` encoder (module docstring); raises `_Slow` when it cannot be."""
    floats: list[float] = []

    def walk(value: Any) -> Any:
        kind = type(value)  # exact types: a subclass (an enum, say) takes the slow path
        if kind is str:
            if "\0" in value:
                raise _Slow
            return value
        if kind is dict:
            for key in value:
                if type(key) is not str or not key.isascii() or "\0" in key:
                    raise _Slow
            return {key: walk(v) for key, v in value.items()}
        if kind is float:
            if not math.isfinite(value):
                raise _Slow
            floats.append(value)
            return f"\0{len(floats) - 1}\0"
        if kind is int:
            if not -_INT_LIMIT <= value <= _INT_LIMIT:
                raise _Slow
            return value
        if kind is list or kind is tuple:
            return [walk(v) for v in value]
        if value is None or kind is bool:
            return value
        raise _Slow

    text = json.dumps(walk(obj), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if floats:
        text = _PLACEHOLDER.sub(lambda m: es_number(floats[int(m.group(1))]), text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate: rfc8785 says what is wrong
        raise _Slow from e


def es_number(value: float) -> str:
    """A finite float as ECMAScript's Number::toString writes it (RFC 8785 section 3.2.2.3).

    The digits are the shortest that round-trip (Python's `repr` has the same
    ones); only where the decimal point goes, and when to use an exponent, differ.
    """
    if value == 0:
        return "0"
    if value < 0:
        return "-" + es_number(-value)
    mantissa, _, exp = repr(value).partition("e")
    whole, _, frac = mantissa.partition(".")
    # value = 0.<digits> x 10^point
    if whole != "0":
        digits, point = whole + frac, len(whole) + int(exp or 0)
    else:
        zeros = len(frac) - len(frac.lstrip("0"))
        digits, point = frac[zeros:], int(exp or 0) - zeros
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= point <= 21:
        return digits + "0" * (point - k)
    if 0 < point <= 21:
        return f"{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    sign = "+" if point - 1 >= 0 else "-"
    head = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{head}e{sign}{abs(point - 1)}"


def digest_json(obj: Any) -> str:
    """`sha256:<hex>` of the canonical form of a JSON-like value.

    Equivalent shell one-liner, for a value in `x.json`:
    `python -c 'import rfc8785,json,sys;sys.stdout.buffer.write(rfc8785.dumps(json.load(open("x.json"))))' | sha256sum`.

    Raises `ValueError` as `canonical` does.
    """
    return bytes_digest(canonical(obj))
