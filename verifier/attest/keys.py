"""Ed25519 signing keys for attestations, kept under `<home>/keys/`.

```
<home>/keys/ed25519.pem       private key, PKCS#8 PEM, unencrypted, mode 0600
<home>/keys/ed25519.pub.pem   public key, SubjectPublicKeyInfo PEM
```

A key's id (`keyid` in DSSE envelopes) is the lowercase hex SHA-256 of the
32 raw bytes of the Ed25519 public key (RFC 8032), so anyone holding the
public key can recompute it:
`openssl pkey -pubin -in ed25519.pub.pem -outform DER | tail -c 32 | sha256sum`.

The private key file is created with `O_CREAT | O_EXCL` and mode 0600 in one
system call, so it is never readable by others, not even for an instant;
loading refuses a private key that group or others can read, as ssh does.
Keeping the home directory itself private is outside this module.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verifier.digest import bytes_digest, hex_of
from verifier.errors import KeyFileError
from verifier.store import atomic_write

KEYS_DIR: Final = "keys"
PRIVATE_NAME: Final = "ed25519.pem"
PUBLIC_NAME: Final = "ed25519.pub.pem"


@dataclass(frozen=True)
class KeyPair:
    """Where a key pair lives, and its id."""

    private: Path
    public: Path
    keyid: str


def key_id(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw 32-byte public key (the module docstring's definition)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hex_of(bytes_digest(raw))


def private_key_path(home: Path) -> Path:
    """`<home>/keys/ed25519.pem`."""
    return Path(home) / KEYS_DIR / PRIVATE_NAME


def public_key_path(home: Path) -> Path:
    """`<home>/keys/ed25519.pub.pem`."""
    return Path(home) / KEYS_DIR / PUBLIC_NAME


def init_keys(home: Path, *, force: bool = False) -> KeyPair:
    """Generate a new Ed25519 key pair under `<home>/keys/`.

    Raises `KeyFileError` if a key file exists and `force` is false.

    Side effects: creates `<home>/keys/` (mode 0700) and both key files; with
    `force`, replaces existing ones (each by an atomic rename, so a reader
    sees the old key or the new one, never half a file).
    """
    private, public = private_key_path(home), public_key_path(home)
    # Check both first: never leave a new private key beside an old public one.
    if not force:
        for path in (private, public):
            if path.exists() or path.is_symlink():
                raise KeyFileError(f"{path} exists; use --force to replace the key pair")
    private.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(private, pem, mode=0o600, replace=force)
    _write_new(public, pub, mode=0o644, replace=force)
    return KeyPair(private=private, public=public, keyid=key_id(key.public_key()))


def _write_new(path: Path, data: bytes, *, mode: int, replace: bool) -> None:
    """Write `data` to `path`, with `mode` from the first byte on; without `replace`, it must not exist.

    Raises `KeyFileError` if it exists and `replace` is false.
    """
    try:
        atomic_write(path, data, mode=mode, exclusive=not replace)
    except FileExistsError as e:
        raise KeyFileError(f"{path} exists; use --force to replace the key pair") from e


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from a PKCS#8 PEM file.

    Raises `KeyFileError` if the file is missing or unreadable, readable by
    group or others, or not an unencrypted Ed25519 private key.
    """
    try:
        st = os.stat(path)
        data = Path(path).read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read the signing key {path}: {e.strerror}") from e
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"signing key {path} has mode {stat.S_IMODE(st.st_mode):04o}; it must be 0600 (chmod 600 {path})"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return key


def load_or_none_signing_key(home: Path) -> Ed25519PrivateKey | None:
    """The home's signing key, or None when `verify keys init` was never run.

    Raises `KeyFileError` if the key exists but cannot be used (see `load_signing_key`).
    """
    path = private_key_path(home)
    if not path.exists():
        return None
    return load_signing_key(path)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Load an Ed25519 public key from a PEM file (SubjectPublicKeyInfo).

    A private key PEM is accepted too (its public half is used).

    Raises `KeyFileError` if the file is missing, unreadable or not an Ed25519 key.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read the public key {path}: {e.strerror}") from e
    try:
        # A signer may point --key at its own private key file; use its public half.
        if b"PRIVATE KEY" in data:
            return load_signing_key(path).public_key()
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"{path} is not a PEM public key: {e}") from e
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return key
