"""Serving the change log: a page of one origin's chain, redacted for its reader, signed.

Each page ends in a checkpoint the node signs over the page's last change (or over the
head of the chain when the page is empty), so a reader can prove every change it got.
Who receives a change's data is the reader's `Audience`, derived from the table of record
types (registry/record_types.py): an operator everything, a peer node the types of its
policy, a member what it could read through the regular endpoints (plus, for an active
carrier, the trace records its mirror needs). Anything else travels redacted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.changelog import GENESIS
from registry.db import Connection
from registry.record_types import BY_NAME
from registry.records import Reader
from sync import checkpoint
from sync.wire import NULL, Feed, Heads, WireChange, encoder

MAX_LIMIT = 10_000

_PAGE = """
SELECT seq, type, record_id, op, data, data_hash, prev, hash FROM change_log
WHERE origin = $1 AND seq > $2 ORDER BY seq LIMIT $3
"""
_HEAD = "SELECT seq, hash FROM change_log WHERE origin = $1 ORDER BY seq DESC LIMIT 1"


class Audience(Protocol):
    def receives(self, type: str, data: str) -> bool:
        """Whether this reader gets the data of a change of `type` holding `data`."""


class Operators:
    def receives(self, type: str, data: str) -> bool:
        return True


@dataclass(frozen=True)
class PeerNode:
    send_types: frozenset[str]

    def receives(self, type: str, data: str) -> bool:
        return type in self.send_types


@dataclass(frozen=True)
class MemberReader:
    reader: Reader

    def receives(self, type: str, data: str) -> bool:
        record_type = BY_NAME.get(type)
        return record_type is not None and record_type.readable_by(self.reader, data)


def _wire(origin: str, row: Any, audience: Audience) -> WireChange:
    data_text: str | None = row["data"]
    # An upsert held without data came here redacted itself; it travels on redacted.
    redacted = (data_text is None and row["op"] == "upsert") or (
        data_text is not None and not audience.receives(row["type"], data_text))
    data = NULL if redacted or data_text is None else msgspec.Raw(data_text.encode())
    return WireChange(row["seq"], origin, row["type"], row["record_id"], row["op"],
                      row["data_hash"], row["prev"], row["hash"], data, redacted)


async def head(conn: Connection, origin: str) -> tuple[int, str]:
    row = await conn.fetchrow(_HEAD, origin)
    return (row["seq"], row["hash"]) if row else (0, GENESIS)


async def read_page(
    conn: Connection, *, node_id: str, node_key: Ed25519PrivateKey, kid: str, origin: str,
    after: int, limit: int, audience: Audience,
) -> bytes:
    """The page after `after` as JSON bytes, each change's data as `audience` may have it."""
    rows = await conn.fetch(_PAGE, origin, after, min(limit, MAX_LIMIT))
    head_seq, head_hash = await head(conn, origin)
    end_seq, end_hash = (rows[-1]["seq"], rows[-1]["hash"]) if rows else (head_seq, head_hash)
    signed = checkpoint.sign(node_key, kid, node=node_id, origin=origin, seq=end_seq,
                             hash=end_hash)
    feed = Feed([_wire(origin, r, audience) for r in rows], signed, head_seq)
    return encoder.encode(feed)


async def origins(conn: Connection, node_id: str) -> Heads:
    """This node's own chain and every peer chain it holds, with the newest seq of each."""
    rows = await conn.fetch(
        "SELECT o, (SELECT max(seq) FROM change_log c WHERE c.origin = o) AS seq"
        " FROM unnest($1::text[]) AS o",
        [node_id, *[r["node_id"] for r in await conn.fetch("SELECT node_id FROM peers")]],
    )
    return Heads(node_id, {r["o"]: r["seq"] or 0 for r in rows})
