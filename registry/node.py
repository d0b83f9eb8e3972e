"""This node's identity: its id, fixed at first start, and its Ed25519 signing key."""

from __future__ import annotations

import secrets

from registry.db import Connection


async def ensure_node_id(conn: Connection, requested: str | None) -> str:
    """The node id stored at first start; a different `requested` id later is refused."""
    stored = await conn.fetchval("SELECT node_id FROM node_identity")
    if stored is None:
        wanted = requested or f"node-{secrets.token_hex(4)}"
        await conn.execute(
            "INSERT INTO node_identity (node_id) VALUES ($1) ON CONFLICT DO NOTHING", wanted
        )
        stored = await conn.fetchval("SELECT node_id FROM node_identity")
    if requested and requested != stored:
        raise RuntimeError(
            f"this database belongs to node {stored!r}; refusing to serve it as {requested!r}"
        )
    return str(stored)
