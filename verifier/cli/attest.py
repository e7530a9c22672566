"""`verify keys init|show` and `verify attest check|sign`: signing keys and DSSE attestations.

Exit status of `attest check`: 0 every envelope's signature verifies and no
subject differs from the artifact store; 1 a bad signature or a digest
mismatch (the line says which); 2 a malformed file or key
(`verifier.attest.check`).
"""

from __future__ import annotations

from pathlib import Path

import click

from verifier.attest.check import check_file
from verifier.attest.keys import (
    init_keys,
    key_id,
    load_or_none_signing_key,
    load_public_key,
    load_signing_key,
    private_key_path,
    public_key_path,
)
from verifier.cli.common import AppContext, emit_json, json_option
from verifier.errors import EXIT_OK, EnvelopeFormatError, KeyFileError


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
    results = check_file(file, public_key, app.home, app.root)
    status = max(r.exit for r in results)
    if as_json:
        emit_json({"file": str(file), "ok": status == EXIT_OK, "envelopes": [r.as_json() for r in results]})
    else:
        for i, result in enumerate(results):
            label = f"{file}" if len(results) == 1 else f"{file}[{i}]"
            for line in result.lines:
                click.echo(f"{label}: {line}")
    if status != EXIT_OK:
        raise click.exceptions.Exit(status)


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
    from verifier.attest.dsse import parse_json_object, write_envelope
    from verifier.attest.statements import sign_statement

    key = load_signing_key(private_key_path(app.home))
    try:
        data = statement_file.read_bytes()
    except OSError as e:
        raise EnvelopeFormatError(f"cannot read: {e.strerror}", file=statement_file) from e
    try:
        statement = parse_json_object(data, "statement")
    except EnvelopeFormatError as e:
        raise EnvelopeFormatError(e.message, file=statement_file) from e
    target = out or statement_file.with_suffix(".intoto.jsonl")
    write_envelope(target, sign_statement(statement, key))
    click.echo(str(target))


@attest.command("paper")
@click.argument("paper_id")
@json_option
@click.pass_obj
def attest_paper_command(app: AppContext, paper_id: str, as_json: bool) -> None:
    """Sign PAPER_ID's runs and its claims' latest verdicts from the ledger (needs `verify keys init`)."""
    from verifier.attest.store import attest_paper
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
        stored = attest_paper(app.home, manifest, ledger, key=key, policy_uri=load_policy().uri)
    shown = [str(app.home / s.path) for s in stored]
    if as_json:
        emit_json({"paper": paper_id, "keyid": key_id(key.public_key()), "envelopes": shown})
        return
    for path in shown:
        click.echo(path)
    click.echo(f"{paper_id}: {len(stored)} attestation(s) signed by {key_id(key.public_key())}")
