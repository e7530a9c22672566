"""RFC 8785 (JCS) canonical JSON and the digests computed over it.

Digests of JSON values (run keys, params digests, ledger entries) are taken
over the canonical bytes, never over an ordinary `json.dumps`, so that two
writers that order keys or print floats differently agree on the digest.
The canonicalization is the `rfc8785` package (trailofbits/rfc8785.py): it
refuses NaN and infinity, which have no JSON form.
"""

from __future__ import annotations

from typing import Any

import rfc8785

from verifier.digest import bytes_digest


def canonical(obj: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON-like value.

    Raises `ValueError` if `obj` is not JSON-representable: a NaN or infinite
    float, a non-string key, an integer outside the I-JSON range, or a type
    JSON has no form for.
    """
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError) as e:
        # CanonicalizationError covers FloatDomainError/IntegerDomainError; a
        # foreign type (set, bytes, object) surfaces as TypeError or as an
        # unsupported-type CanonicalizationError depending on the version.
        raise ValueError(f"not canonical JSON: {e}") from e


def digest_json(obj: Any) -> str:
    """`sha256:<hex>` of the canonical form of a JSON-like value.

    Equivalent shell one-liner, for a value in `x.json`:
    `python -c 'import rfc8785,json,sys;sys.stdout.buffer.write(rfc8785.dumps(json.load(open("x.json"))))' | sha256sum`.

    Raises `ValueError` as `canonical` does.
    """
    return bytes_digest(canonical(obj))
