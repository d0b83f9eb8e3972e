"""Ed25519 key pairs: made for operators and the node, written as PKCS#8 PEM, shown as JWKs."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.canonical import canonical
from registry.secret_file import create_once


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def public_jwk_of(key: Ed25519PrivateKey, kid: str | None = None) -> dict[str, Any]:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk: dict[str, Any] = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
    jwk["kid"] = kid or thumbprint(jwk)
    return jwk


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an OKP key: a kid that names the key itself."""
    required = {k: jwk[k] for k in ("crv", "kty", "x")}
    return _b64url(hashlib.sha256(canonical(required)).digest())


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write a private key readable by its owner only, refusing to overwrite one
    (FileExistsError); a reader never sees it half-written."""
    if not create_once(path, private_pem(key)):
        raise FileExistsError(f"{path} exists already")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """The key at `path`, made there on first use; concurrent first starts agree on one."""
    if not path.exists():
        # Another worker may make it first; then we use theirs.
        create_once(path, private_pem(Ed25519PrivateKey.generate()))
    return load_private_key(path)
