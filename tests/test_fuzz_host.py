"""Fuzzing every host-side parser: a corpus of known bombs (tests/corpus/) and hypothesis.

The contract for each input: it parses, or it gives one line with the
contract's status (2 for a manifest, record or policy; inconclusive, 3, for
a repro's results.json), within 200 MB of Python heap and within a CPU
budget measured in the same run: a few times what the parser spends on the
largest input its caps let through. The corpus runs in subprocesses
(`tests/fuzz_targets.py`), so a hang or a blow-up fails the test instead of
taking pytest down, and each input is measured on its own. CPU time rather
than wall time is measured: CI machines are shared, and wall time there
measures the neighbours (the hypothesis tests have no wall-clock deadline
for the same reason). The yardstick is measured, not fixed, because the
same parse costs several times more on a slow shared box than on a quick
one; a bomb (an unbounded alias or node expansion) costs minutes on any.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from tests.conftest import RootFactory
from tests.fuzz_targets import AT_THE_CAPS, TARGETS, Outcome, read_input
from verifier.cli import main
from verifier.errors import IntakeError
from verifier.safeload import Caps, load_json, load_yaml

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
INPUTS = sorted(p for p in CORPUS.iterdir() if p.name != "README.md")
REFUSED_STATUS = {"manifest": 2, "record": 2, "policy": 2, "results": 3}
# A corpus input may cost this many times the input at the caps (a cap that holds makes it
# about 1), plus a little for the noise of timing inputs that take milliseconds.
CPU_OVER_YARDSTICK = 3.0
CPU_NOISE_S = 0.25
# The hypothesis inputs are at most 2,000 bytes: a guard against a blow-up, not a timing test.
SMALL_INPUT_CPU_S = 5.0
HEAP_BUDGET_MB = 200.0

# What the issue names, by the file that holds it.
REQUIRED = {
    "billion laughs": "billion-laughs.yaml", "quadratic blow-up": "quadratic-blowup.yaml.gz",
    "deep nesting": "deep-300k.json.gz", "huge ints": "huge-int.json", "huge floats": "huge-float.json",
    "NaN and Infinity": "nan-infinity.json", "duplicate keys": "duplicate-keys.json",
    "invalid UTF-8": "invalid-utf8-ff.json", "BOM": "bom-utf8.json", "CRLF": "crlf.yaml", "NUL": "nul-raw.json",
    "30 MB manifest": "big-30mb.yaml.gz",
}

# Outcomes pinned for the cases the issue reports (target, file) -> words in the line ("" = parses).
EXPECT = {
    ("manifest", "billion-laughs.yaml"): "line 1, column 5: anchors and aliases are not allowed (&a0)",
    ("manifest", "billion-laughs-merge.yaml"): "anchors and aliases are not allowed",
    ("manifest", "quadratic-blowup.yaml.gz"): "anchors and aliases are not allowed",
    ("manifest", "deep-flow-300k.yaml.gz"): "size: 600004 bytes, over the limit of 524288 bytes",
    ("manifest", "deep-unclosed.json.gz"): "line 1, column 65: nested more than 64 levels deep",
    ("manifest", "deep-block-200.yaml"): "line 65, column 129: nested more than 64 levels deep",
    ("manifest", "deep-65.json"): "line 1, column 74: nested more than 64 levels deep",
    ("manifest", "big-30mb.yaml.gz"): "size: 31200018 bytes, over the limit of 524288 bytes",
    ("manifest", "many-nodes.yaml.gz"): "more than 25000 nodes",
    ("manifest", "nan-infinity.json"): "NaN is not valid JSON",
    ("manifest", "nan-infinity.yaml"): "NaN and infinity are not allowed",
    ("manifest", "huge-float.json"): "too large for a float",
    ("manifest", "huge-hex-int.yaml.gz"): "/v: an integer is outside +-(2**53 - 1)",
    ("manifest", "big-int-2p64.json"): "/v: an integer is outside +-(2**53 - 1)",
    ("results", "big-int-2p64.json"): "",
    ("manifest", "duplicate-keys.json"): "duplicate key 'v'",
    ("manifest", "duplicate-keys.yaml"): 'found duplicate key "v"',
    ("manifest", "invalid-utf8-ff.json"): "not UTF-8 text (byte 7)",
    ("manifest", "lone-surrogate-escape.json"): "surrogate code point",
    ("record", "billion-laughs.yaml"): "anchors and aliases are not allowed",
    ("policy", "billion-laughs.yaml"): "anchors and aliases are not allowed",
    ("results", "deep-300k.json.gz"): "$REPRO_OUT/results.json: line 1, column 74: nested more than 64 levels deep",
    ("results", "big-17mb.json.gz"): "over the limit of 16777216 bytes",
    ("results", "many-nodes.json.gz"): "more than 500000 nodes",
    ("results", "duplicate-keys-nested.json"): "duplicate key 'v'",
    ("results", "huge-int.json"): "Exceeds the limit (4300 digits)",
    ("results", "nan-infinity.json"): "",  # Python writes NaN; the checker then refuses to pass it
    ("results", "deep-64.json"): "",
    ("results", "deep-65.json"): "nested more than 64 levels deep",
    ("results", "many-strings-with-commas.json.gz"): "",
    ("results", "escape-storm.json.gz"): "",
    ("results", "crlf.json"): "",
    ("results", "nul-raw.json"): "not valid JSON",
}


def test_corpus_holds_every_case_the_issue_names() -> None:
    names = {p.name for p in INPUTS}
    assert {case: file for case, file in REQUIRED.items() if file not in names} == {}
    assert {file for _, file in EXPECT} <= names


@pytest.fixture(scope="module")
def corpus_rows() -> list[dict[str, Any]]:
    """Every target over every corpus file, one worker process per target, all at once."""
    workers = [
        subprocess.Popen([sys.executable, str(REPO / "tests" / "fuzz_targets.py"), target, *map(str, INPUTS)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                         preexec_fn=_limit_address_space)
        for target in TARGETS
    ]
    rows = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)  # a backstop for a hang; the budget is per input
        assert worker.returncode == 0, err[-3000:]
        rows += [json.loads(line) for line in out.splitlines()]
    return rows


def _split(rows: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The yardstick row of each target, and the corpus rows."""
    yardsticks = {row["target"]: row for row in rows if row["input"] == AT_THE_CAPS}
    return yardsticks, [row for row in rows if row["input"] != AT_THE_CAPS]


def test_the_yardstick_is_the_largest_input_the_caps_let_through(corpus_rows: list[dict[str, Any]]) -> None:
    """Refused for its schema, never for a cap: else it would measure an early exit, not a full parse."""
    yardsticks, _ = _split(corpus_rows)
    assert sorted(yardsticks) == sorted(TARGETS)
    over_a_cap = {target: row["line"] for target, row in yardsticks.items()
                  if row["outcome"] not in ("parsed", "refused") or "limit" in row["line"] or "nodes" in row["line"]}
    assert over_a_cap == {}


def _limit_address_space() -> None:
    # A backstop only: the budget itself is asserted per input from tracemalloc.
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def test_every_parser_parses_or_refuses_in_one_line_within_budget(
    corpus_rows: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(corpus_rows) == (len(INPUTS) + 1) * len(TARGETS)
    yardsticks, corpus_only = _split(corpus_rows)
    problems = []
    for row in corpus_only:
        where = f"{row['target']} {row['input']}"
        budget = CPU_OVER_YARDSTICK * yardsticks[row["target"]]["cpu_s"] + CPU_NOISE_S
        if row["outcome"] == "refused":
            if row["status"] != REFUSED_STATUS[row["target"]] or not row["line"] or not row["line"].isprintable():
                problems.append(f"{where}: refused with status {row['status']}: {row['line']!r}")
        elif row["outcome"] != "parsed":
            problems.append(f"{where}: {row['outcome']}: {row['line']}")
        if row["cpu_s"] > budget:
            problems.append(f"{where}: {row['cpu_s']} s of CPU, over {budget:.2f} s")
        if row["peak_mb"] > HEAP_BUDGET_MB:
            problems.append(f"{where}: {row['peak_mb']} MB peak heap")
    assert problems == []
    with capsys.disabled():  # the figures, for the record (pytest -s shows them in order)
        for target, row in sorted(yardsticks.items()):
            print(f"\n  at the caps: {target:8} {row['cpu_s']:.3f} s CPU")
        for row in sorted(corpus_only, key=lambda r: -r["cpu_s"] / yardsticks[r["target"]]["cpu_s"])[:5]:
            ratio = row["cpu_s"] / yardsticks[row["target"]]["cpu_s"]
            print(f"\n  slowest: {row['target']:8} {row['input']:32} {row['cpu_s']:.3f} s CPU ({ratio:.2f} x the caps), "
                  f"{row['peak_mb']} MB")
        biggest = max(corpus_only, key=lambda r: r["peak_mb"])
        print(f"\n  largest heap: {biggest['target']} {biggest['input']} {biggest['peak_mb']} MB")


def test_the_cases_the_issue_reports(corpus_rows: list[dict[str, Any]]) -> None:
    by_case = {(r["target"], r["input"]): r for r in corpus_rows}
    wrong = {}
    for case, words in EXPECT.items():
        row = by_case[case]
        if (words == "" and row["outcome"] != "parsed") or (words and (row["outcome"] != "refused" or words not in row["line"])):
            wrong[case] = (row["outcome"], row["line"])
    assert wrong == {}


def _cli(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `python -m verifier` fresh; (result, CPU seconds of the child, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "verifier", *argv], capture_output=True, text=True, cwd=REPO, timeout=60)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return done, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


@pytest.mark.parametrize(("corpus_file", "words"), [
    ("billion-laughs.yaml", "line 1, column 5: anchors and aliases are not allowed (&a0)"),
    ("big-30mb.yaml.gz", "size: 31200018 bytes, over the limit of 524288 bytes"),
    ("deep-unclosed.json.gz", "line 1, column 65: nested more than 64 levels deep"),
])
def test_validate_refuses_the_bomb_in_one_line_fast(
    make_root: RootFactory, corpus_file: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the real command, interpreter start-up and imports included.

    Fast means: within a small multiple of validating the clean manifest it replaces, measured
    just before with the same start-up and imports (a fixed ceiling measured the machine instead).
    The dearest case is a run of open brackets: ruamel's flow scanner looks up to 1,024
    characters ahead for a simple key, about 1 s here however long the run, then the cap refuses.
    """
    root = make_root()
    clean, clean_cpu, _ = _cli(["--root", str(root.path), "validate", "demo-paper"])
    assert clean.returncode == 0, clean.stderr
    (root.path / "manifests" / "demo-paper" / "manifest.yaml").write_bytes(read_input(CORPUS / corpus_file))
    done, cpu, wall = _cli(["--root", str(root.path), "validate", "demo-paper"])
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"verify: error: manifests/demo-paper/manifest.yaml: {words}"]
    assert cpu < 3 * clean_cpu, f"{cpu:.2f} s of CPU, against {clean_cpu:.2f} s for the clean manifest"
    with capsys.disabled():
        print(f"\n  verify validate on {corpus_file}: exit 2 in {cpu:.2f} s CPU ({wall:.2f} s wall); "
              f"the clean manifest {clean_cpu:.2f} s CPU")


# --------------------------------------------------------------------------- hypothesis

SMALL = Caps(max_bytes=1 << 20, max_depth=4, max_nodes=40)
# Text that looks like structure: brackets, quotes, escapes, commas and colons inside strings must not count.
tricky_text = st.text(alphabet='[]{}",:\\/ ab\u00e9\u2028\U0001f600\n\t', max_size=8)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | tricky_text
trees = st.recursive(scalars, lambda kids: st.lists(kids, max_size=5) | st.dictionaries(tricky_text, kids, max_size=5),
                     max_leaves=30)


def depth_of(value: Any) -> int:
    if isinstance(value, dict | list):
        children = value.values() if isinstance(value, dict) else value
        return 1 + max((depth_of(child) for child in children), default=0)
    return 0


def nodes_of(value: Any) -> int:
    """Values and keys, the unit both parsers count."""
    if isinstance(value, dict):
        return 1 + sum(1 + nodes_of(child) for child in value.values())
    if isinstance(value, list):
        return 1 + sum(nodes_of(child) for child in value)
    return 1


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b, rel_tol=1e-15)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def ints_of(value: Any) -> list[int]:
    if isinstance(value, dict | list):
        return [i for child in (value.values() if isinstance(value, dict) else value) for i in ints_of(child)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []


def _expect_caps(tree: Any, loaded: Any | IntakeError) -> None:
    over = depth_of(tree) > SMALL.max_depth or nodes_of(tree) > SMALL.max_nodes
    inexact = any(abs(i) >= 2**53 for i in ints_of(tree))
    if isinstance(loaded, IntakeError):
        assert over or inexact, loaded.diagnostics()
        if over:
            assert "nested more than" in loaded.message or "more than 40 nodes" in loaded.message
            assert loaded.field is not None and loaded.field.startswith("line ")
        else:
            assert loaded.message == "an integer is outside +-(2**53 - 1)"
    else:
        assert not over
        assert _same(loaded, tree)


@settings(max_examples=300, deadline=None)
@given(tree=trees, indent=st.sampled_from([None, 1]))
def test_json_within_caps_round_trips_and_over_caps_is_refused_exactly(tree: Any, indent: int | None) -> None:
    raw = json.dumps(tree, indent=indent, ensure_ascii=False).encode()
    try:
        loaded: Any = load_json(raw, file="t.json", caps=SMALL)
    except IntakeError as e:
        loaded = e
    _expect_caps(tree, loaded)


@settings(max_examples=150, deadline=None)
@given(tree=trees, flow=st.booleans())
def test_yaml_within_caps_round_trips_and_over_caps_is_refused_exactly(tree: Any, flow: bool) -> None:
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    yaml.representer.ignore_aliases = lambda *_: True
    buffer = io.StringIO()
    yaml.dump(tree, buffer)
    try:  # ruamel's emitter writes a few keys (`{:/: null}` in flow style) that its own parser rejects
        assume(_same(YAML(typ="safe", pure=True).load(buffer.getvalue()), tree))
    except YAMLError:
        reject()
    try:
        loaded: Any = load_yaml(buffer.getvalue().encode(), file="t.yaml", caps=SMALL)
    except IntakeError as e:
        loaded = e
    _expect_caps(tree, loaded)


def _holds_the_contract(target: str, raw: bytes) -> None:
    started = time.process_time()
    outcome: Outcome = TARGETS[target](raw)  # anything other than an Outcome escaping is a crash
    assert time.process_time() - started < SMALL_INPUT_CPU_S
    if outcome.outcome == "refused":
        assert outcome.status == REFUSED_STATUS[target]
        assert outcome.line and outcome.line.isprintable()  # one line, no control characters
    else:
        assert outcome == Outcome("parsed", 0)


SEEDS = [read_input(p)[:2000] for p in INPUTS if p.stat().st_size < 3000 and not p.name.endswith(".gz")]


@st.composite
def mutated_seeds(draw: st.DrawFn) -> bytes:
    """A small corpus file with a few bytes flipped, inserted or cut."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "insert", "cut"]))
        if op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b"&a ", b"*a", b"[" * 70, b"\\ud800", b"\x00", b"\r\n", b"\xef\xbb\xbf"]))
        elif op == "cut":
            del data[at:at + draw(st.integers(1, 8))]
        elif data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(sorted(TARGETS)), raw=mutated_seeds() | st.binary(max_size=300))
def test_mutated_and_random_bytes_hold_the_contract(target: str, raw: bytes) -> None:
    _holds_the_contract(target, raw)


def test_validate_on_a_clean_manifest_still_works(make_root: RootFactory, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_root()
    assert main(["--root", str(root.path), "validate"]) == 0
    assert capsys.readouterr().err == ""
