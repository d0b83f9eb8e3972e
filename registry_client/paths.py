"""Request targets encoded once, so that the `htu` signed is byte for byte what is sent.

httpx (like most HTTP clients) re-encodes a URL it is given; a client that signs the
path it meant and then lets the library encode it gets `url_mismatch`. Here the target
is encoded first, signed, and sent as raw bytes (see transport.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

QueryValue = str | int | float | bool | None
# Characters RFC 3986 allows unencoded in a path (pchar and "/"); "%" stays when it starts
# a valid escape and is encoded otherwise.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def segment(value: str) -> str:
    """One path segment (a number, an id): everything but unreserved characters escaped,
    so `+8613800138000` is sent as `%2B8613800138000` and `/` cannot change the route."""
    return quote(value, safe="-._~")


def path_of(*parts: str) -> str:
    """`/v1/trace/<value>` from ("v1", "trace", value): every part encoded as a segment."""
    return "/" + "/".join(segment(p) for p in parts)


def query_of(params: Mapping[str, QueryValue]) -> str:
    """`k=v&...` with every value escaped (`+` as %2B, never read back as a space);
    None values are left out."""
    pairs = []
    for name, value in params.items():
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        pairs.append(f"{quote(name, safe='-._~')}={quote(text, safe='-._~')}")
    return "&".join(pairs)


def target(path: str, params: Mapping[str, QueryValue] | None = None) -> str:
    """A path (already made of encoded segments) with its query appended."""
    query = query_of(params or {})
    return f"{path}?{query}" if query else path


def normalise(raw: str) -> str:
    """A target typed by a person (`/v1/trace/+86 138...?at=...`) made sendable: what
    may not appear in a URL is escaped, valid escapes and reserved characters are kept."""
    if not raw.startswith("/"):
        raise ValueError("a request target starts with /, e.g. /v1/members")
    path, mark, query = raw.partition("?")
    path = quote(_LONE_PERCENT.sub("%25", path), safe=_PATH_SAFE + "%")
    if not mark:
        return path
    return f"{path}?{quote(_LONE_PERCENT.sub('%25', query), safe=_QUERY_SAFE + '%')}"
