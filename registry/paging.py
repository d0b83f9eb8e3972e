"""Keyset cursors for listings ordered by (created_at, id): opaque to clients, stable."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import msgspec

from registry.errors import Invalid


def encode_cursor(created_at: datetime, record_id: str) -> str:
    raw = msgspec.json.encode([created_at.isoformat(), record_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    if not cursor:
        return None, None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, record_id = msgspec.json.decode(raw, type=tuple[str, str])
        return datetime.fromisoformat(at), record_id
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise Invalid.field("cursor", "not a cursor this registry issued") from exc
