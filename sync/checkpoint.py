"""Signed checkpoints: a node's Ed25519 signature over the head of a chain (docs/change-log.md).

The signature covers the canonical encoding of the checkpoint's other members, behind a
context string, so that a checkpoint signature can never be mistaken for a request token.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.canonical import canonical
from sync.errors import SyncFault
from sync.wire import Checkpoint

CONTEXT = b"registry-checkpoint-v1\n"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_bytes(checkpoint: Checkpoint) -> bytes:
    fields = msgspec.to_builtins(checkpoint)
    fields.pop("sig", None)
    return CONTEXT + canonical(fields)


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sign(
    key: Ed25519PrivateKey, kid: str, *, node: str, origin: str, seq: int, hash: str,
    at: str | None = None,
) -> Checkpoint:
    unsigned = Checkpoint(node=node, seq=seq, hash=hash, at=at or now_rfc3339(), kid=kid,
                          origin=origin)
    signature = key.sign(signed_bytes(unsigned))
    return msgspec.structs.replace(unsigned, sig=_b64url(signature))


def _public_key(jwk: dict[str, Any]) -> Ed25519PublicKey | None:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(_unb64url(str(jwk.get("x", ""))))
    except (ValueError, binascii.Error):
        return None


def verify(checkpoint: Checkpoint, node: str, keys: Iterable[dict[str, Any]]) -> None:
    """Raise SyncFault unless `node` signed this checkpoint with one of its pinned keys."""
    if checkpoint.node != node:
        raise SyncFault(f"checkpoint is signed as {checkpoint.node!r}, expected {node!r}")
    try:
        signature = _unb64url(checkpoint.sig)
    except (ValueError, binascii.Error) as exc:
        raise SyncFault("checkpoint signature is not base64url") from exc
    message = signed_bytes(checkpoint)
    for jwk in keys:
        if checkpoint.kid and jwk.get("kid") != checkpoint.kid:
            continue
        public = _public_key(jwk)
        if public is None:
            continue
        try:
            public.verify(signature, message)
        except InvalidSignature:
            continue
        return
    raise SyncFault(f"checkpoint signature of {node} does not verify under its pinned keys")
