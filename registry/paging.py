"""Opaque list cursors: the sort key of the last item seen, base64url JSON, no padding."""

from __future__ import annotations

import base64
import binascii

import msgspec

from registry.errors import Invalid


def encode_cursor(*key: str | int) -> str:
    raw = msgspec.json.encode(list(key))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str | int]:
    """The key a cursor holds, or Invalid naming `cursor` for anything this node did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = msgspec.json.decode(raw, type=list[str | int])
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise Invalid.field("cursor", "not a cursor this registry issued") from exc
    if not key:
        raise Invalid.field("cursor", "not a cursor this registry issued")
    return key
