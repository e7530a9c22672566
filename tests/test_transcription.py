"""The transcription flag: numbers found verbatim in params, inputs or the bundle, and the per-digest index."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier import transcription
from verifier.transcription import NumberIndex, distinctive, find, numbers_in


def _find(computed: float, params: dict[str, Any], tmp_path: Path, files: dict[str, str] | None = None,
          source: dict[str, str] | None = None) -> transcription.Found | None:
    inputs = []
    for i, (name, text) in enumerate((files or {}).items()):
        path = tmp_path / name
        path.write_text(text)
        inputs.append((name, f"{i:064x}", path))
    bundle = tmp_path / "bundle"
    bundle.mkdir(exist_ok=True)
    for name, text in (source or {}).items():
        (bundle / name).write_text(text)
    seal = "sha256:" + "ab" * 32 if source else "sha256:" + "cd" * 32
    where = transcription.sources(params, inputs, ("bundle", seal, bundle))
    return find(computed, where, NumberIndex(tmp_path / "home"))


@pytest.mark.parametrize(
    ("computed", "params"),
    [
        (5e-05, {"lr": 5e-05}),
        (5e-05, {"optim": {"schedule": [{"peak": 5e-05}]}}),
        (32, {"batch": 32.0}),
        (0.1 + 0.2, {"x": 0.3}),
        (0.5, {"p": 0.5}),  # params count whatever the number: reading config back is transcription
    ],
)
def test_params_are_searched_for_any_number(tmp_path: Path, computed: float, params: dict[str, Any]) -> None:
    found = _find(computed, params, tmp_path)
    assert found is not None and (found.where, found.file) == ("params", "manifest.yaml")


@pytest.mark.parametrize(
    ("computed", "params"),
    [
        (5e-05, {"base_lr": 1e-04, "batch": 16, "ref_batch": 32}),
        (1, {"flag": True}),  # booleans are not numbers here
        (math.nan, {"x": math.nan}),
        (5.0001e-05, {"lr": 5e-05}),
    ],
)
def test_params_not_flagged(tmp_path: Path, computed: float, params: dict[str, Any]) -> None:
    assert _find(computed, params, tmp_path) is None


def test_input_file_is_named(tmp_path: Path) -> None:
    recipe = '{"--learning_rate": "5e-5", "warmup": 0.1}'
    found = _find(5e-05, {"recipe": "r.json"}, tmp_path, files={"r.json": recipe})
    assert found == transcription.Found(5e-05, "r.json", "input")


def test_bundle_source_is_searched_after_inputs(tmp_path: Path) -> None:
    found = _find(0.8125, {}, tmp_path, source={"model.py": "ACC = 0.8125  # the paper's number\n"})
    assert found == transcription.Found(0.8125, "bundle/model.py", "bundle")


def test_coincidental_small_numbers_in_source_are_not_flagged(tmp_path: Path) -> None:
    source = {"train.py": "for i in range(12):\n    p = 0.5 * i + 1.0\n"}
    for value in (0.5, 12.0, 1.0):
        assert _find(value, {}, tmp_path, source=source) is None


def test_index_is_kept_per_digest(tmp_path: Path) -> None:
    found = _find(0.8125, {}, tmp_path, source={"m.py": "x = 0.8125\n"})
    assert found is not None
    stored = list((tmp_path / "home" / "index" / "numbers").glob("*.json"))
    assert [p.name for p in stored] == ["ab" * 32 + ".json"]
    # A new process (empty memory) reads the stored index instead of scanning the bundle.
    transcription._memory.clear()
    (tmp_path / "bundle" / "m.py").unlink()
    assert _find(0.8125, {}, tmp_path, source={"other.py": ""}) == found


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5e-05, True), (0.15, True), (0.8125, True), (1234.0, True), (0.5, False), (0.1, False), (1.0, False),
     (12.0, False), (1000.0, False), (0.0, False)],
)
def test_distinctive(value: float, expected: bool) -> None:
    assert distinctive(value) is expected


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_a_written_number_is_read_back(value: float) -> None:
    assert float(f"{value!r}") in numbers_in(f"x = {value!r}\n".encode())
    assert transcription.key(value) == transcription.key(float(repr(value)))


def test_numbers_in_text() -> None:
    # "1,000" is two numbers; a number glued to a word ("v1.2", "x-3"'s minus) is not read as written.
    assert numbers_in(b'lr "5e-5", steps=1,000 v1.2 x-3 (-0.25)') == {5e-05, 1.0, 0.0, 3.0, -0.25}
