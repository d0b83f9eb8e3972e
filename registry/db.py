"""The asyncpg pool and the per-connection setup every query relies on."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What storage functions take: a plain connection or one borrowed from the pool.
Connection = asyncpg.Connection | PoolConnectionProxy


async def _init_connection(conn: Connection) -> None:
    # jsonb columns come and go as Python objects, not strings.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _skip_session_reset(conn: Connection) -> None:
    """Releases skip asyncpg's RESET ALL round trip: this code leaves no session state on a
    pooled connection (SET LOCAL, transaction-scoped locks, LISTEN only on connections of
    its own), and asyncpg still rolls back an open transaction and drops listeners."""


async def create_pool(
    dsn: str, min_size: int = 2, max_size: int = 10, **kwargs: Any
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection,
        reset=_skip_session_reset, **kwargs,
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection set up like the pool's (for the CLI and tools)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
