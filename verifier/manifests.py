"""Intake (Gate 0): load a paper's manifest, validate it, resolve its paths and check its seals.

`load_manifest` runs the steps in order and stops at the first failure,
raising one `IntakeError` that names the file, the field and what is wrong:

1. read the bytes and parse them (JSON when the text starts with `{`, else
   YAML 1.2, of which JSON is a subset);
2. validate the raw document against the published JSON Schema;
3. build the pydantic model (cross-field rules: unique ids, known repros);
4. the id matches the manifest's directory;
5. every path resolves inside the root and exists;
6. every seal and input digest matches the files (skipped by `verify seal`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from verifier.digest import bytes_digest, hex_of, read_file_digest, tree_digest
from verifier.errors import IntakeError
from verifier.models import MANIFEST_CONTRACT, Claim, PaperManifest, Repro
from verifier.root import VerificationRoot
from verifier.root import split_claim_id as split_claim_id  # its home is root.py; re-exported
from verifier.safeload import MANIFEST_CAPS, load_json, load_yaml, read_capped
from verifier.schemas import first_error
from verifier.seal import StatCache
from verifier.validated import Pins, ValidatedCache

_LOCATED = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$")


class LoadedManifest:
    """A validated manifest with its bytes' digest and its resolved paths.

    The model is built on first use when intake took it from the validated
    cache (`verifier.validated`): Gate 0 itself needs only the pins, and
    `verify validate` only the counts.
    """

    def __init__(
        self,
        path: Path,
        digest: str,
        model: PaperManifest | None = None,
        bundles: dict[str, Path] | None = None,
        inputs: dict[str, dict[str, Path]] | None = None,
        *,
        raw: bytes | None = None,
        pins: Pins | None = None,
    ) -> None:
        if model is None and (raw is None or pins is None):
            raise ValueError("a LoadedManifest needs its model, or its bytes and pins")
        self.path = path
        self.digest = digest
        self.bundles = bundles if bundles is not None else {}
        self.inputs = inputs if inputs is not None else {}
        self._model = model
        self._raw = raw
        self._pins = pins

    @property
    def model(self) -> PaperManifest:
        if self._model is None:
            assert self._raw is not None
            # These bytes validated under this very code (the cache's key): this cannot fail.
            self._model = validate_document(parse_document(self._raw, self.shown), self.shown)
        return self._model

    @property
    def counts(self) -> tuple[int, int]:
        """(claims, repros), without building the model."""
        if self._model is None and self._pins is not None:
            return self._pins.claims, len(self._pins.repros)
        return len(self.model.claims), len(self.model.repros)

    @property
    def shown(self) -> str:
        """The manifest's path relative to the root, as error messages name it."""
        return self.path.relative_to(self.path.parents[2]).as_posix()

    def claim(self, claim_id: str) -> Claim:
        """Raises `IntakeError` for an unknown claim id."""
        for claim in self.model.claims:
            if claim.id == claim_id:
                return claim
        raise IntakeError(f"unknown claim {self.model.id}/{claim_id}", file=self.shown)

    def repro(self, repro_id: str) -> Repro:
        for repro in self.model.repros:
            if repro.id == repro_id:
                return repro
        raise IntakeError(f"unknown repro {repro_id!r}", file=self.shown)


def load_manifest(
    root: VerificationRoot,
    paper_id: str,
    *,
    check_seals: bool = True,
    cache: StatCache | None = None,
    validated: ValidatedCache | None = None,
) -> LoadedManifest:
    """Gate 0 for one paper (steps in the module docstring).

    With `validated`, steps 2-4 are skipped for manifest bytes that passed
    them before under the same code (`verifier.validated`); steps 5 and 6,
    which depend on files outside the manifest, always run.

    Raises `IntakeError` on the first problem found.
    """
    path = root.manifest_path(paper_id)
    shown = f"manifests/{paper_id}/manifest.yaml"  # root.relative(path), which manifest_path formed
    # (1): read and parse; a manifest symlinked out of the root would put a host file's lines in errors
    root.resolve_inside(shown, file=Path(shown), field="")
    raw = _read(path, shown)
    digest = bytes_digest(raw)
    pins = validated.get(paper_id, digest) if validated is not None else None
    model = None
    if pins is None:
        model = _validate(raw, paper_id, shown)
        pins = Pins.of(model)
    # (5): paths inside the root
    bundles, inputs = _resolve_paths(root, pins, shown)
    # (6): seals and input digests
    if check_seals:
        verify_seals(pins, bundles, inputs, shown=shown, cache=cache)
        _verify_proof_digests(root, pins, shown)
        if validated is not None and model is not None:
            validated.put(paper_id, digest, pins)  # only a manifest that passed every step
    return LoadedManifest(path, digest, model, bundles, inputs, raw=raw, pins=pins)


def _validate(raw: bytes, paper_id: str, shown: str) -> PaperManifest:
    """Steps 1 (parse) to 4: a function of the bytes, the paper id and the verifier's code alone."""
    document = parse_document(raw, shown)
    # (2)+(3): the published schema, then the model's cross-field rules
    model = validate_document(document, shown)
    _check_checks(model, shown)
    # (4): the id names the directory
    if model.id != paper_id:
        raise IntakeError(f"id {model.id!r} does not match its directory {paper_id!r}", file=shown, field="id")
    return model


def _check_checks(model: PaperManifest, shown: str) -> None:
    """Refuse checks that cannot apply whatever is computed (e.g. approx with no reported value)."""
    from verifier.check import validate_check

    for i, claim in enumerate(model.claims):
        if claim.check is None:
            continue
        try:
            validate_check(claim.check, claim.reported)
        except IntakeError as e:
            raise IntakeError(e.message, file=shown, field=f"claims[{i}].{e.field or 'check'}") from e


def _read(path: Path, shown: str) -> bytes:
    try:
        return read_capped(path, MANIFEST_CAPS, file=shown)
    except OSError as e:
        raise IntakeError(f"cannot read: {e.strerror}", file=shown) from e


def parse_document(raw: bytes, shown: str) -> dict[str, Any]:
    """Parse JSON or YAML 1.2 bytes into plain JSON data (a mapping at the top).

    Raises `IntakeError` for undecodable text, syntax errors, duplicate keys,
    non-string keys, NaN literals, a top level that is not a mapping, and
    anything over the caps of `safeload.MANIFEST_CAPS` (size, depth, nodes, aliases).
    """
    if raw.lstrip().startswith(b"{"):
        # JSON parsing already yields plain data: str keys, no NaN, no timestamps.
        plain = load_json(raw, file=shown, caps=MANIFEST_CAPS)
    else:
        plain = _plain(load_yaml(raw, file=shown, caps=MANIFEST_CAPS), shown, "")
    if not isinstance(plain, dict):
        raise IntakeError(f"top level is {_type_name(plain)}, not a mapping", file=shown)
    return plain


def _plain(value: Any, shown: str, where: str) -> Any:
    """Convert parsed YAML into JSON data: str keys, ISO timestamps, no binary or sets."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise IntakeError(f"key {key!r} is not a string", file=shown, field=where or None)
            out[key] = _plain(item, shown, f"{where}.{key}" if where else key)
        return out
    if isinstance(value, list):
        return [_plain(item, shown, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # YAML timestamps with 'Z' come back naive in UTC
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or isinstance(value, str | bool | int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise IntakeError("NaN and infinity are not allowed", file=shown, field=where or None)
        return value
    raise IntakeError(f"unsupported YAML value of type {type(value).__name__}", file=shown, field=where or None)


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "empty" if value is None else type(value).__name__
    )


def validate_document(document: dict[str, Any], shown: str) -> PaperManifest:
    """Steps 2 and 3: schema, then model. Raises `IntakeError` naming the JSON path.

    The schema is generated from the model, so every document the strict
    model accepts, the schema accepts too (a property test holds both to
    that). The compiled pydantic validator therefore runs first: it costs
    microseconds where `jsonschema` costs tens of milliseconds per manifest.
    Only a document the model rejects goes through `jsonschema`, whose error
    names the JSON path and the schema rule; a document the schema accepts
    but the model rejects broke a cross-field rule, which the model names.
    """
    try:
        return PaperManifest.model_validate(document)
    except ValidationError:
        problem = first_error(MANIFEST_CONTRACT, document)
        if problem is not None:
            raise IntakeError(problem[1], file=shown, field=problem[0]) from None
    return build_model(PaperManifest, document, shown)


def build_model(model: type[PaperManifest], document: dict[str, Any], shown: str) -> PaperManifest:
    """Build the pydantic model; its first error becomes an `IntakeError` with the field path."""
    try:
        return model.model_validate(document)
    except ValidationError as e:
        error = e.errors(include_url=False)[0]
        loc = ""
        for part in error["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        message = str(error["msg"]).removeprefix("Value error, ")
        located = _LOCATED.match(message)
        if located:  # a cross-field rule names its own field
            loc = f"{loc}.{located.group(1)}" if loc else located.group(1)
            message = located.group(2)
        raise IntakeError(message, file=shown, field=loc or None) from e


def _resolve_paths(
    root: VerificationRoot, pins: Pins, shown: str
) -> tuple[dict[str, Path], dict[str, dict[str, Path]]]:
    bundles: dict[str, Path] = {}
    inputs: dict[str, dict[str, Path]] = {}
    at = Path(shown)
    for i, repro in enumerate(pins.repros):
        where = f"repros[{i}]"
        bundle = root.resolve_inside(repro.bundle, file=at, field=f"{where}.bundle")
        if not bundle.is_dir():
            raise IntakeError(f"bundle {repro.bundle!r} is not a directory", file=shown, field=f"{where}.bundle")
        bundles[repro.id] = bundle
        inputs[repro.id] = {}
        for j, (item, _) in enumerate(repro.inputs):
            resolved = root.resolve_inside(item, file=at, field=f"{where}.inputs[{j}].path")
            if not resolved.is_file():
                raise IntakeError(f"input {item!r} is not a file", file=shown, field=f"{where}.inputs[{j}].path")
            inputs[repro.id][item] = resolved
    for i, file, _ in pins.proofs:
        proof = root.resolve_inside(file, file=at, field=f"claims[{i}].proof.file")
        if not proof.is_file():
            raise IntakeError(f"proof file {file!r} is not a file", file=shown, field=f"claims[{i}].proof.file")
    if pins.report is not None:
        root.resolve_inside(pins.report, file=at, field="source.report")
    return bundles, inputs


def _verify_proof_digests(root: VerificationRoot, pins: Pins, shown: str) -> None:
    """A proof file is pinned like an input: its digest must match."""
    for i, file, sha256 in pins.proofs:
        field_name = f"claims[{i}].proof.sha256"
        if sha256 is None:
            raise IntakeError(f"no digest: run `verify seal {pins.paper}`", file=shown, field=field_name)
        actual = hex_of(read_file_digest(root.path / file))
        if actual != sha256:
            raise IntakeError(f"digest mismatch: {file!r} now digests to {actual}", file=shown, field=field_name)


def verify_seals(
    pins: Pins,
    bundles: dict[str, Path],
    inputs: dict[str, dict[str, Path]],
    *,
    shown: str,
    cache: StatCache | None,
) -> None:
    """Check every repro's seal and every input digest against the files.

    Raises `IntakeError` for a missing seal or digest, or one that does not match.
    """
    sealed_trees: dict[Path, str] = {}
    for i, repro in enumerate(pins.repros):
        where = f"repros[{i}]"
        if repro.seal is None:
            raise IntakeError(f"no seal: run `verify seal {pins.paper}`", file=shown, field=f"{where}.seal")
        bundle = bundles[repro.id]
        if bundle not in sealed_trees:  # papers often share one bundle between repros
            sealed_trees[bundle] = tree_digest(bundle, cache, resolved=True)  # resolved by step 5
        if sealed_trees[bundle] != repro.seal:
            raise IntakeError(
                f"seal mismatch: bundle {repro.bundle!r} now digests to {sealed_trees[bundle]}",
                file=shown,
                field=f"{where}.seal",
            )
        for j, (item, sha256) in enumerate(repro.inputs):
            field_name = f"{where}.inputs[{j}].sha256"
            if sha256 is None:
                raise IntakeError(f"no digest: run `verify seal {pins.paper}`", file=shown, field=field_name)
            path = inputs[repro.id][item]
            actual = hex_of(cache.digest(path, path.stat()) if cache is not None else read_file_digest(path))
            if actual != sha256:
                raise IntakeError(f"digest mismatch: {item!r} now digests to {actual}", file=shown, field=field_name)


def seal_manifest(root: VerificationRoot, paper_id: str, *, cache: StatCache | None = None) -> list[tuple[str, str]]:
    """Compute every seal and input digest of a paper and write them into its manifest.

    The manifest is rewritten through ruamel.yaml's round-trip mode, so the
    author's comments, key order and layout stay; the file is replaced
    atomically. Returns (field, new value) for each value that changed.

    Raises `IntakeError` when the manifest is invalid for any reason other
    than its seals (steps 1-5 of `load_manifest`).
    Side effects: rewrites `manifests/<paper_id>/manifest.yaml` when a value changed.
    """
    loaded = load_manifest(root, paper_id, check_seals=False, cache=cache)
    changes: list[tuple[str, str]] = []
    seals: dict[str, str] = {}
    digests: dict[tuple[str, str], str] = {}
    for i, repro in enumerate(loaded.model.repros):
        seals[repro.id] = tree_digest(loaded.bundles[repro.id], cache)
        if seals[repro.id] != repro.seal:
            changes.append((f"repros[{i}].seal", seals[repro.id]))
        for j, item in enumerate(repro.inputs):
            digest = hex_of(read_file_digest(loaded.inputs[repro.id][item.path]))
            digests[(repro.id, item.path)] = digest
            if digest != item.sha256:
                changes.append((f"repros[{i}].inputs[{j}].sha256", digest))
    proofs: dict[str, str] = {}
    for i, claim in enumerate(loaded.model.claims):
        if claim.proof is not None:
            proofs[claim.id] = hex_of(read_file_digest(root.path / claim.proof.file))
            if proofs[claim.id] != claim.proof.sha256:
                changes.append((f"claims[{i}].proof.sha256", proofs[claim.id]))
    if changes:
        _rewrite_round_trip(loaded.path, seals, digests, proofs)
    return changes


def _apply_seals(
    document: Any, seals: dict[str, str], digests: dict[tuple[str, str], str], proofs: dict[str, str]
) -> None:
    for claim in document.get("claims") or []:
        if claim.get("proof") is not None and claim.get("id") in proofs:
            claim["proof"]["sha256"] = proofs[claim["id"]]
    for repro in document.get("repros") or []:
        repro["seal"] = seals[repro["id"]]
        for item in repro.get("inputs") or []:
            item["sha256"] = digests[(repro["id"], item["path"])]


def _rewrite_round_trip(
    path: Path, seals: dict[str, str], digests: dict[tuple[str, str], str], proofs: dict[str, str]
) -> None:
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    from verifier.store import atomic_write

    text = path.read_text(encoding="utf-8")
    buffer = io.StringIO()
    if text.lstrip().startswith("{"):
        # A JSON manifest stays JSON (it has no comments to keep); key order is kept.
        document = json.loads(text)
        _apply_seals(document, seals, digests, proofs)
        buffer.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        _, indent, block_seq_indent = load_yaml_guess_indent(text)
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 4096  # never re-wrap the author's long lines
        # Keep the author's indentation of block sequences ("  - id:" vs "- id:").
        yaml.indent(mapping=indent, sequence=indent, offset=block_seq_indent)
        document = yaml.load(text)
        _apply_seals(document, seals, digests, proofs)
        yaml.dump(document, buffer)
    atomic_write(path, buffer.getvalue().encode("utf-8"), mode=path.stat().st_mode & 0o7777)
