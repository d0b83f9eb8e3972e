"""The peers this node pulls from and serves: pinned keys, and what each may receive.

A peer is added once with the keys it publishes at /.well-known/registry-node; its keys
go into principal_keys, so that its puller's signed requests verify like anyone's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from registry.db import Connection
from registry.errors import Conflict, Invalid, NotFound
from registry.keys import public_jwk
from registry.record_types import DEFAULT_PEER_TYPES

# What every peer receives by default (the types registry/record_types.py declares
# Peers.DEFAULT: what a trace answer needs, and the contact ledger). Intelligence
# reaches only peers configured for it (`--also-send`); any type not listed goes redacted.
DEFAULT_SEND_TYPES = DEFAULT_PEER_TYPES


class Peer(msgspec.Struct, frozen=True):
    node_id: str
    url: str
    send_types: frozenset[str]
    keys: list[dict[str, Any]]
    added_at: datetime


async def add_peer(
    conn: Connection, node_id: str, url: str, keys: Iterable[dict[str, Any]],
    send_types: Iterable[str] = DEFAULT_SEND_TYPES,
) -> Peer:
    """Pin a peer's node keys; refuses our own id and ids of other principals."""
    pinned = [public_jwk(k) for k in keys]
    if not pinned:
        raise Invalid.field("keys", "the peer publishes no keys")
    own = await conn.fetchval("SELECT node_id FROM node_identity")
    if node_id == own:
        raise Conflict("a node cannot be its own peer", code="own_node")
    async with conn.transaction():
        taken = await conn.fetchval(
            "SELECT 1 FROM principal_keys k WHERE k.principal_id = $1"
            " AND NOT EXISTS (SELECT 1 FROM peers p WHERE p.node_id = k.principal_id)", node_id)
        if taken:
            raise Conflict(f"{node_id} is already a member or operator id", code="duplicate")
        await conn.execute(
            "INSERT INTO peers (node_id, url, send_types) VALUES ($1, $2, $3)"
            " ON CONFLICT (node_id) DO UPDATE SET url = $2, send_types = $3",
            node_id, url.rstrip("/"), sorted(set(send_types)),
        )
        await conn.execute("INSERT INTO sync_state (peer) VALUES ($1) ON CONFLICT DO NOTHING",
                           node_id)
        for jwk in pinned:
            await conn.execute(
                "INSERT INTO principal_keys (principal_id, kid, jwk) VALUES ($1, $2, $3)"
                " ON CONFLICT (principal_id, kid) DO UPDATE SET jwk = $3, revoked_at = NULL",
                node_id, jwk["kid"], jwk,
            )
    return await get_peer(conn, node_id)


_SELECT = """
SELECT p.node_id, p.url, p.send_types, p.added_at,
       coalesce(jsonb_agg(k.jwk ORDER BY k.kid) FILTER (WHERE k.kid IS NOT NULL), '[]') AS keys
FROM peers p
LEFT JOIN principal_keys k ON k.principal_id = p.node_id AND k.revoked_at IS NULL
"""


def _peer(row: Any) -> Peer:
    return Peer(row["node_id"], row["url"], frozenset(row["send_types"]), row["keys"],
                row["added_at"])


async def get_peer(conn: Connection, node_id: str) -> Peer:
    row = await conn.fetchrow(_SELECT + " WHERE p.node_id = $1 GROUP BY p.node_id", node_id)
    if row is None:
        raise NotFound(f"no peer {node_id}")
    return _peer(row)


async def list_peers(conn: Connection) -> list[Peer]:
    rows = await conn.fetch(_SELECT + " GROUP BY p.node_id ORDER BY p.node_id")
    return [_peer(r) for r in rows]


async def clear_fault(conn: Connection, node_id: str) -> None:
    """Let pulling from a peer start again after an operator has looked at its fault."""
    done = await conn.fetchval(
        "UPDATE sync_state SET fault = NULL, fault_at = NULL, last_error = NULL"
        " WHERE peer = $1 RETURNING peer", node_id)
    if done is None:
        raise NotFound(f"no peer {node_id}")
