"""The published JSON Schemas: generated from `verifier.models`, used to validate raw documents.

`schemas/<contract>.schema.json` are committed; `verify schemas --write`
(or `python -m verifier.schemas`) regenerates them, and a test fails when
they drift from the models. Raw documents are validated with `jsonschema`
(draft 2020-12) before they become models, so every error names its JSON
path, e.g. `claims[2].check.op`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from verifier import models

if TYPE_CHECKING:  # jsonschema is imported only when a document is invalid: it costs ~80 ms
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URI = "https://claim-verifier.invalid/schemas/"

MODEL_FOR_CONTRACT: dict[str, type[BaseModel]] = {
    models.MANIFEST_CONTRACT_V11: models.PaperManifest,  # the v1.2 model, less its v1.2 fields (_v11)
    models.MANIFEST_CONTRACT: models.PaperManifest,
    models.CORRECTION_CONTRACT: models.CorrectionRecord,
    models.PROVENANCE_CONTRACT: models.SourceProvenance,
    models.VERDICT_CONTRACT: models.Verdict,
    models.RUN_CONTRACT: models.RunRecord,
}


def schema_for(contract: str) -> dict[str, Any]:
    """The JSON Schema of a contract, as published."""
    model = MODEL_FOR_CONTRACT[contract]
    schema = model.model_json_schema(mode="validation")
    if contract == models.MANIFEST_CONTRACT_V11:
        schema = _v11(schema)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{SCHEMA_BASE_URI}{contract}.schema.json",
        **schema,
    }


# The fields paper-manifest-v1.2 added, by the $defs entry that holds them.
_V12_FIELDS = {"Claim": ("baseline", "replicate"), "Samples": ("interval",), "Limits": ("resources",)}


def _v11(schema: dict[str, Any]) -> dict[str, Any]:
    """The v1.1 schema: the v1.2 one with its contract fixed to v1.1 and without the v1.2 fields.

    Derived rather than frozen, so the fields both versions share never drift apart.
    """
    defs = schema["$defs"]
    for name, fields in _V12_FIELDS.items():
        for field in fields:
            defs[name]["properties"].pop(field)
    defs.pop("Replicate")
    schema["properties"]["contract"] = {
        "const": models.MANIFEST_CONTRACT_V11, "description": "Contract name.", "title": "Contract", "type": "string",
    }
    schema["description"] = "`paper-manifest-v1.1`: a paper's claims and the sealed repros behind them."
    return schema


def render(contract: str) -> str:
    """The committed text of a contract's schema file (stable: sorted keys, newline at end)."""
    return json.dumps(schema_for(contract), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(directory: Path) -> list[Path]:
    """Write every schema file under `directory`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for contract in MODEL_FOR_CONTRACT:
        path = directory / f"{contract}.schema.json"
        path.write_text(render(contract), encoding="utf-8")
        written.append(path)
    return written


@cache
def validator_for(contract: str) -> Draft202012Validator:
    """A compiled validator, built once per process."""
    from jsonschema import Draft202012Validator

    schema = schema_for(contract)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def json_path(error: ValidationError) -> str:
    """`claims[2].check.op` for an error at /claims/2/check/op; `(document)` at the top."""
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def first_error(contract: str, document: Any) -> tuple[str, str] | None:
    """The most relevant schema violation as (json path, message), or None when valid."""
    from jsonschema.exceptions import best_match

    validator = validator_for(contract)
    error = best_match(validator.iter_errors(document))
    if error is None:
        return None
    path = json_path(error)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = next((name for name in required if name not in error.instance), "?")
        return (f"{path}.{missing}" if path != "(document)" else missing), "required field is missing"
    unknown = _unknown_fields(error)
    if unknown:
        # Name the offending field itself, not the object that holds it.
        prefix = "" if path == "(document)" else path + "."
        return prefix + unknown[0], "unknown field" + (f" (also {', '.join(unknown[1:])})" if unknown[1:] else "")
    return path, _message(error)


def _unknown_fields(error: ValidationError) -> list[str]:
    if error.validator != "additionalProperties" or not isinstance(error.instance, Mapping):
        return []
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    allowed = set(schema.get("properties", {}))
    return sorted(str(k) for k in error.instance if k not in allowed)


_JSON_TYPE_NAMES = {"string": "a string", "number": "a number", "integer": "an integer", "boolean": "a boolean",
                    "array": "a list", "object": "a mapping", "null": "null"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def _message(error: ValidationError) -> str:
    if error.validator == "const":
        return f"expected {error.validator_value!r}, got {error.instance!r}"
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        names = " or ".join(_JSON_TYPE_NAMES.get(str(w), str(w)) for w in wanted)
        return f"expected {names}, got {_json_type(error.instance)} ({error.instance!r})"
    if error.validator == "anyOf":
        alternatives = error.validator_value if isinstance(error.validator_value, list) else []
        types = [sub.get("type") for sub in alternatives if isinstance(sub, Mapping)]
        if all(isinstance(t, str) for t in types):
            names = " or ".join(_JSON_TYPE_NAMES.get(t, t) for t in types if isinstance(t, str))
            return f"expected {names}, got {_json_type(error.instance)} ({error.instance!r})"
    return str(error.message)


if __name__ == "__main__":  # python -m verifier.schemas [DIR]
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("schemas")
    for written in write_all(target):
        print(written)
