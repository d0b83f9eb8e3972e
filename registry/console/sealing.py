"""A node-local secret that seals console secrets (TOTP seeds) at rest with AES-GCM.

The key lives in the node's data directory, never in the database, so a copy of the
database alone does not yield anyone's second factor.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.secret_file import create_once

_NONCE_BYTES = 12
_PURPOSE = b"registry console totp v1"


def load_or_create_key(path: Path) -> bytes:
    """The 32-byte key at `path`, made (owner-readable only) on first use."""
    if not path.exists():
        # Concurrent first starts (several workers) agree on whichever file won.
        create_once(path, secrets.token_bytes(32))
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} does not hold a 32-byte console key")
    return key


def seal(key: bytes, plaintext: str, purpose: bytes = _PURPOSE) -> str:
    """`purpose` binds the sealed text to its use: one sealed for another opens nothing."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), purpose)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key: bytes, token: str, purpose: bytes = _PURPOSE) -> str | None:
    """The plaintext, or None when the token was not sealed with this key."""
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        return AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose).decode()
    except (ValueError, InvalidTag):
        return None
