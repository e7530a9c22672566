"""`verify keys init|show` and `verify attest check|sign`: signing keys and DSSE attestations.

Exit status of `attest check`: 0 every envelope's signature verifies and no
subject differs from the artifact store; 1 a bad signature or a digest
mismatch (the line says which); 2 a malformed file or key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier.attest import (
    VSA_TYPE,
    EnvelopeFormatError,
    SignatureError,
    SubjectCheck,
    attest_paper,
    check_subjects,
    read_envelopes,
    sign_statement,
    verify_envelope,
    write_envelope,
)
from verifier.cli.common import AppContext, emit_json, json_option
from verifier.corrections import manifest_version
from verifier.errors import EXIT_OK, EXIT_REFUTED, IntakeError
from verifier.keys import (
    KeyFileError,
    init_keys,
    key_id,
    load_or_none_signing_key,
    load_public_key,
    load_signing_key,
    private_key_path,
    public_key_path,
)


@click.group()
def keys() -> None:
    """Manage the Ed25519 key that signs attestations (under <home>/keys/)."""


@keys.command("init")
@click.option("--force", is_flag=True, help="Replace an existing key pair.")
@json_option
@click.pass_obj
def keys_init(app: AppContext, force: bool, as_json: bool) -> None:
    """Create the signing key pair (private key mode 0600)."""
    pair = init_keys(app.home, force=force)
    if as_json:
        emit_json({"private": str(pair.private), "public": str(pair.public), "keyid": pair.keyid})
        return
    click.echo(f"private key: {pair.private} (mode 0600; keep it secret)")
    click.echo(f"public key:  {pair.public} (give this to whoever checks your attestations)")
    click.echo(f"keyid:       {pair.keyid}")


@keys.command("show")
@json_option
@click.pass_obj
def keys_show(app: AppContext, as_json: bool) -> None:
    """Print the public key's path and keyid."""
    path = public_key_path(app.home)
    if not path.exists():
        raise KeyFileError(f"no key under {path.parent}; run `verify keys init`")
    keyid = key_id(load_public_key(path))
    if as_json:
        emit_json({"public": str(path), "keyid": keyid})
    else:
        click.echo(f"{path} {keyid}")


@click.group()
def attest() -> None:
    """Check or make DSSE-signed in-toto attestations."""


@attest.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Public key PEM (default: the home's key).",
)
@json_option
@click.pass_obj
def attest_check(app: AppContext, file: Path, key_path: Path | None, as_json: bool) -> None:
    """Verify FILE's signatures, then its subjects' digests against the artifact store.

    FILE holds one DSSE envelope, or several as JSON Lines (.intoto.jsonl).
    """
    if key_path is None and not public_key_path(app.home).exists():
        raise KeyFileError(
            f"no public key at {public_key_path(app.home)}: pass --key with the signer's "
            "public key, or run `verify keys init` to check your own attestations"
        )
    public_key = load_public_key(key_path or public_key_path(app.home))
    try:
        data = file.read_bytes()
    except OSError as e:
        raise EnvelopeFormatError(f"{file}: cannot read: {e.strerror}") from e
    results = [
        _check_one(envelope, public_key, app.home, app.root) for envelope in read_envelopes(data)
    ]
    status = max(r["exit"] for r in results)
    if as_json:
        emit_json({"file": str(file), "ok": status == EXIT_OK, "envelopes": results})
    else:
        for i, result in enumerate(results):
            label = f"{file}" if len(results) == 1 else f"{file}[{i}]"
            for line in result["lines"]:
                click.echo(f"{label}: {line}")
    if status != EXIT_OK:
        raise click.exceptions.Exit(status)


def _check_one(
    envelope: Any, public_key: Ed25519PublicKey, home: Path, root: Path
) -> dict[str, Any]:
    """Check one envelope; a JSON-able result with its exit status and human lines."""
    try:
        statement = verify_envelope(envelope, public_key)
    except (SignatureError, EnvelopeFormatError) as e:
        word = "BAD SIGNATURE" if isinstance(e, SignatureError) else "MALFORMED"
        return {
            "exit": e.exit_status,
            "error": e.diagnostics(),
            "lines": [f"{word}: {e.diagnostics()}"],
        }
    checks = check_subjects(statement, home)
    bad = [c for c in checks if c.result == "mismatch"]
    lines = [f"OK: signed by {key_id(public_key)}; {statement['predicateType']}"]
    lines += [c.line() for c in checks]
    lines += _manifest_lines(statement, root)
    if bad:
        lines.append(f"DIGEST MISMATCH: {', '.join(c.name for c in bad)}")
    return {
        "exit": EXIT_REFUTED if bad else EXIT_OK,
        "predicateType": statement["predicateType"],
        "subjects": [_check_json(c) for c in checks],
        "lines": lines,
    }


def _manifest_lines(statement: dict[str, Any], root: Path) -> list[str]:
    """For a verdict summary: which version of the claim's manifest it judged (current or superseded)."""
    if statement.get("predicateType") != VSA_TYPE:
        return []
    lines = []
    for subject in statement["subject"]:
        paper = str(subject.get("name", "")).partition("/")[0]
        hexval = subject["digest"].get("sha256")
        if not hexval:
            continue
        try:
            lines.append(
                f"{subject.get('name')}: {manifest_version(root, paper, 'sha256:' + hexval)}"
            )
        except IntakeError:
            lines.append(f"{subject.get('name')}: paper {paper!r} is not under {root}")
    return lines


def _check_json(check: SubjectCheck) -> dict[str, Any]:
    return {
        "name": check.name,
        "sha256": check.digest,
        "result": check.result,
        "stored": check.stored,
    }


@attest.command("sign")
@click.argument("statement_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Envelope file (default: STATEMENT_FILE with .intoto.jsonl).",
)
@click.pass_obj
def attest_sign(app: AppContext, statement_file: Path, out: Path | None) -> None:
    """Sign an in-toto Statement (JSON) with the home's key into a DSSE envelope."""
    key = load_signing_key(private_key_path(app.home))
    try:
        statement = json.loads(statement_file.read_bytes())
    except (OSError, ValueError) as e:
        raise EnvelopeFormatError(f"{statement_file}: not a readable JSON statement: {e}") from e
    if not isinstance(statement, dict):
        raise EnvelopeFormatError(f"{statement_file}: a statement is a JSON object")
    target = out or statement_file.with_suffix(".intoto.jsonl")
    write_envelope(target, sign_statement(statement, key))
    click.echo(str(target))


@attest.command("paper")
@click.argument("paper_id")
@json_option
@click.pass_obj
def attest_paper_command(app: AppContext, paper_id: str, as_json: bool) -> None:
    """Sign PAPER_ID's runs and its claims' latest verdicts from the ledger (needs `verify keys init`)."""
    from verifier.ledger import Ledger  # lazy: SQLite only for this command
    from verifier.manifests import load_manifest
    from verifier.quality import load_policy
    from verifier.root import VerificationRoot

    key = load_or_none_signing_key(app.home)
    if key is None:
        raise KeyFileError(
            f"no signing key under {app.home / 'keys'}; run `verify keys init` first"
        )
    manifest = load_manifest(VerificationRoot.at(app.root), paper_id, check_seals=False)
    with Ledger.open(app.home) as ledger:
        paths = attest_paper(app.home, manifest, ledger, key=key, policy_uri=load_policy().uri)
    shown = [str(p) for p in paths]
    if as_json:
        emit_json({"paper": paper_id, "keyid": key_id(key.public_key()), "envelopes": shown})
        return
    for path in shown:
        click.echo(path)
    click.echo(f"{paper_id}: {len(paths)} attestation(s) signed by {key_id(key.public_key())}")
