"""Bounded parsing of YAML and JSON that someone else wrote: manifests, records, results.

Everything the host parses passes through `load_yaml` or `load_json` with a
`Caps`: a size cap (checked before parsing), a depth cap and a node-count
cap. YAML's are checked in the composer before it descends or builds a node;
JSON's node count is checked on the bytes before `json.loads` builds
anything, and its depth as soon as the C scanner (which guards its own
recursion, whatever the input) returns, before anything walks the value. YAML anchors and aliases are refused outright: manifests
and records have no use for them, and an alias bomb (ten levels of nine
aliases each) expands to 3.5 billion nodes for whoever walks it. JSON
duplicate keys are refused too: two readers of the same file must never see
two different documents.

A refusal is one `IntakeError` naming the file, the position or field, and
what is wrong (`manifests/x/manifest.yaml: line 3, column 9: anchors and
aliases are not allowed`). The caller decides what it means: exit 2 for a
manifest, an inconclusive run for a repro's results.json.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier.errors import IntakeError

if TYPE_CHECKING:
    from ruamel.yaml.composer import Composer


@dataclass(frozen=True)
class Caps:
    """Limits on one document: bytes, nesting depth (a top-level mapping is 1) and nodes (values and keys)."""

    max_bytes: int
    max_depth: int = 64
    max_nodes: int = 100_000
    # Integers beyond +-(2**53 - 1) are not exact as JSON numbers, and canonical JSON (RFC 8785,
    # which run keys and digests use) refuses them; None allows any an int can print.
    int_bits: int | None = 53


MiB = 1 << 20
# The node cap bounds parsing: a manifest at the caps costs about 3 s of CPU on a slow shared
# 2-core box (tests/test_fuzz_host.py measures it as its yardstick). A real manifest has about
# 50 nodes (700 bytes) per claim, so 25,000 nodes is ~500 claims.
MANIFEST_CAPS = Caps(max_bytes=MiB // 2, max_depth=64, max_nodes=25_000)
RECORD_CAPS = Caps(max_bytes=64 * 1024, max_depth=32, max_nodes=5_000)
POLICY_CAPS = Caps(max_bytes=64 * 1024, max_depth=32, max_nodes=5_000)
# A repro's results: metrics, per-seed series, a few tables (JSON is parsed in C, ~0.1 us per byte).
RESULTS_CAPS = Caps(max_bytes=16 * MiB, max_depth=64, max_nodes=500_000, int_bits=None)


def read_capped(path: Path, caps: Caps, *, file: str) -> bytes:
    """The file's bytes, refusing one over `caps.max_bytes` without reading it all.

    Raises `IntakeError` (field "size") for a file over the cap; `OSError` as `open` does.
    """
    with path.open("rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_size > caps.max_bytes:
            _too_big(info.st_size, caps, file)
        # read(n) allocates n bytes first; a device or pipe has no size, so it gets the cap
        size = info.st_size if stat.S_ISREG(info.st_mode) else caps.max_bytes
        data = handle.read(size + 1)
        if len(data) > size:  # it grew since fstat
            data += handle.read(caps.max_bytes + 1 - len(data))
        if len(data) > caps.max_bytes:
            _too_big(os.fstat(handle.fileno()).st_size, caps, file)
    return data


def _too_big(size: int, caps: Caps, file: str) -> None:
    # A device or a pipe reports no size: say only that it is over.
    what = f"{size} bytes, over" if size > caps.max_bytes else "over"
    raise IntakeError(f"{what} the limit of {caps.max_bytes} bytes", file=file, field="size")


def _decode(raw: bytes, caps: Caps, file: str) -> str:
    if len(raw) > caps.max_bytes:
        _too_big(len(raw), caps, file)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IntakeError(f"not UTF-8 text (byte {e.start})", file=file) from e


# --------------------------------------------------------------------------- JSON

# A JSON string (or an unterminated one, up to the end), then the structural bytes. Unrolled
# and possessive: the scan never backtracks and keeps no stack per escape.
_TOKEN = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"?|[\[\]{},:]', re.DOTALL)


def load_json(raw: bytes, *, file: str, caps: Caps, allow_nonfinite: bool = False) -> Any:
    """Parse JSON bytes within `caps`; duplicate keys are refused.

    The node cap is checked before `json.loads` builds anything, the depth
    cap as soon as it returns (its C scanner guards its own recursion, and
    nothing else walks the value before then). With `allow_nonfinite` the
    literals NaN and Infinity (which Python writes) are read as floats, and
    a number too large for a float becomes infinite; without it both are refused.

    Raises `IntakeError` (file, position, what) for anything else.
    """
    text = _decode(raw, caps, file)
    # Every node (value or key) but the top one follows a '[', '{', ',' or ':'; counting those bytes
    # (in strings too) bounds the nodes from above, and only a count over the cap needs the exact scan.
    if 1 + sum(map(raw.count, (b"[", b"{", b",", b":"))) > caps.max_nodes:
        _locate(raw, caps, file)

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise IntakeError(f"duplicate key {key!r}", file=file)
            result[key] = value
        return result

    def no_constants(name: str) -> Any:
        raise IntakeError(f"{name} is not valid JSON", file=file)

    def finite(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise IntakeError(f"number {literal[:20]} is too large for a float", file=file)
        return value

    extra: dict[str, Any] = {} if allow_nonfinite else {"parse_constant": no_constants, "parse_float": finite}
    try:
        value = json.loads(text, object_pairs_hook=no_duplicates, **extra)
    except json.JSONDecodeError as e:
        raise IntakeError(f"not valid JSON: {e.msg}", file=file, field=f"line {e.lineno}, column {e.colno}") from e
    except ValueError as e:  # an integer over Python's 4300-digit conversion limit
        raise IntakeError(f"not valid JSON: {str(e).split(';')[0]}", file=file) from e
    except RecursionError:
        _locate(raw, caps, file)
        raise IntakeError(f"nested more than {caps.max_depth} levels deep", file=file) from None
    if _depth(value, caps.max_depth) > caps.max_depth:
        _locate(raw, caps, file)
    surrogates = _SURROGATE_ESCAPE.search(raw) is not None
    if surrogates or (caps.int_bits is not None and _long_digits(caps.int_bits).search(raw)):  # rare: then walk
        _check_scalars(value, file, caps, surrogates=surrogates)
    return value


def _depth(value: Any, cap: int) -> int:
    """How deeply containers nest in parsed JSON (a scalar is 0), level by level; stops past `cap`."""
    depth, frontier = 0, [value]
    while True:
        containers = [node for node in frontier if isinstance(node, dict | list)]
        if not containers or depth > cap:
            return depth
        depth += 1
        frontier = [child for node in containers for child in (node.values() if isinstance(node, dict) else node)]


# An escape that may name half of a surrogate pair (\ud800, or YAML's \U0000d800).
_SURROGATE_ESCAPE = re.compile(rb"\\(?:u|U0000)[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Python will not print an int of more than 4300 digits (sys.int_info.default_max_str_digits);
# JSON's decimal ints are held to that by `json.loads`, YAML's hex and octal ones are not.
_MAX_INT_BITS = 14_000


def _long_digits(bits: int) -> re.Pattern[bytes]:
    """A run of as many digits as 2**bits has: no int written with fewer digits can exceed it."""
    return re.compile(rb"[0-9]{%d}" % len(str(1 << bits)))


def _check_scalars(value: Any, file: str, caps: Caps, *, surrogates: bool) -> None:
    """Refuse an int over `caps.int_bits` (or too long to print), and (if `surrogates`) a string holding a surrogate.

    A surrogate code point is not Unicode text: printing or storing the string fails later.
    """
    int_bits = _MAX_INT_BITS if caps.int_bits is None else caps.int_bits
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                stack.extend([(key, where or "/"), (item, f"{where}/{key}")])
        elif isinstance(node, list):
            stack.extend((item, f"{where}/{i}") for i, item in enumerate(node))
        elif surrogates and isinstance(node, str) and _SURROGATE.search(node):
            raise IntakeError("a string holds a surrogate code point (not Unicode text)", file=file, field=where or "/")
        elif isinstance(node, int) and not isinstance(node, bool) and node.bit_length() > int_bits:
            what = "has more than 4300 digits" if caps.int_bits is None else f"is outside +-(2**{int_bits} - 1)"
            raise IntakeError(f"an integer {what}", file=file, field=where or "/")


def _locate(raw: bytes, caps: Caps, file: str) -> None:
    """Scan the tokens and refuse at the first one past the depth or node cap, naming its position.

    Counts nodes as the YAML side does: every value and every key. Returns
    when no cap is passed (strings held the brackets, commas and colons that
    the quick count saw).
    """
    depth, nodes, opened = 0, 1, -1  # opened: where an open bracket ended, while its first node is unseen
    for match in _TOKEN.finditer(raw):
        token = match.group()
        if opened >= 0 and not (token in (b"]", b"}") and not raw[opened : match.start()].strip()):
            nodes += 1  # the first node of a non-empty container
        opened = -1
        if token in (b"[", b"{"):
            depth, opened = depth + 1, match.end()
            if depth > caps.max_depth:
                _refuse_at(raw, match.start(), f"nested more than {caps.max_depth} levels deep", file)
        elif token in (b"]", b"}"):
            depth -= 1
        elif token in (b",", b":"):
            nodes += 1  # a value or key after a comma; a value after a colon
        if nodes > caps.max_nodes:
            _refuse_at(raw, match.start(), f"more than {caps.max_nodes} nodes", file)


def _refuse_at(raw: bytes, offset: int, message: str, file: str) -> None:
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    raise IntakeError(message, file=file, field=f"line {line}, column {column}")


# --------------------------------------------------------------------------- YAML


def load_yaml(raw: bytes, *, file: str, caps: Caps) -> Any:
    """Parse YAML 1.2 bytes (UTF-8) within `caps`, with the safe constructor; anchors and aliases are refused.

    Raises `IntakeError` (file, position, what) for anything that does not parse.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    text = _decode(raw, caps, file)
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _bounded_composer(caps, file)
    try:
        value = yaml.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = (e.problem or e.context or "syntax error").strip()
        raise IntakeError(f"invalid YAML{where}: {problem}", file=file) from e
    except (YAMLError, ValueError, TypeError, OverflowError) as e:
        # ruamel raises plain ValueError/TypeError for some malformed scalars and tags.
        first = str(e).splitlines()[0].split(";")[0] if str(e) else type(e).__name__
        raise IntakeError(f"invalid YAML: {first}", file=file) from e
    _check_scalars(value, file, caps, surrogates=_SURROGATE_ESCAPE.search(raw) is not None)
    return value


def _bounded_composer(caps: Caps, file: str) -> type[Composer]:
    """A ruamel Composer that refuses anchors, aliases, and nodes past the depth or node cap.

    The checks run in `compose_node` before it descends, so nothing deeper
    than the cap is ever composed, constructed or walked.
    """
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.events import AliasEvent, CollectionStartEvent

    class BoundedComposer(Composer):
        _depth = 0
        _nodes = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.parser.peek_event()
            if isinstance(event, AliasEvent) or event.anchor is not None:
                name = f"*{event.anchor}" if isinstance(event, AliasEvent) else f"&{event.anchor}"
                self._refuse(event, f"anchors and aliases are not allowed ({name})")
            self._nodes += 1
            if self._nodes > caps.max_nodes:
                self._refuse(event, f"more than {caps.max_nodes} nodes")
            if not isinstance(event, CollectionStartEvent):
                return super().compose_node(parent, index)
            if self._depth >= caps.max_depth:
                self._refuse(event, f"nested more than {caps.max_depth} levels deep")
            self._depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        @staticmethod
        def _refuse(event: Any, message: str) -> None:
            mark = event.start_mark
            raise IntakeError(message, file=file, field=f"line {mark.line + 1}, column {mark.column + 1}")

    return BoundedComposer
