"""The canonical encoding that change-log hashes are computed over (spec: docs/change-log.md).

canonical(x) is JSON with object keys sorted by code point, no insignificant white
space, strings as UTF-8 without escaping non-ASCII, integers in decimal. Logged data is
checked with `check_loggable` so that only values with exactly one spelling get hashed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder(order="sorted")
# Integers every JSON implementation reads exactly (IEEE doubles hold 53 bits).
MAX_SAFE_INTEGER = 2**53 - 1


def canonical(value: Any) -> bytes:
    return _encoder.encode(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_loggable(value: Any, path: str = "$") -> None:
    """Refuse what the canonical form cannot spell one way: floats, big ints, odd keys.

    Only null, booleans, safe integers, strings, lists and objects with string keys may
    be logged; a peer written in another language must reproduce the very same bytes.
    """
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise ValueError(f"{path}: integer outside ±(2^53 - 1) cannot be logged")
        return
    if isinstance(value, (list, tuple)):
        # A column of plain values (a batch logged column by column) is checked in bulk.
        if all(type(item) is str for item in value):
            return
        if all(type(item) is int for item in value):
            if value and not -MAX_SAFE_INTEGER <= min(value) <= max(value) <= MAX_SAFE_INTEGER:
                raise ValueError(f"{path}: integer outside ±(2^53 - 1) cannot be logged")
            return
        for i, item in enumerate(value):
            check_loggable(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: object keys must be strings")
            check_loggable(item, f"{path}.{key}")
        return
    # Floats, datetimes, bytes, decimals...: the writer converts them to strings first.
    raise ValueError(f"{path}: {type(value).__name__} cannot be logged; use a string")
