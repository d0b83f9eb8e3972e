"""The canonical encoding that change-log hashes are computed over (docs: README "Change log").

canonical(x) is JSON with object keys sorted by code point, no insignificant white
space, strings as UTF-8 without escaping non-ASCII, integers in decimal. Floats never
appear in logged data, so their many spellings need no rule.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder(order="sorted")


def canonical(value: Any) -> bytes:
    return _encoder.encode(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
