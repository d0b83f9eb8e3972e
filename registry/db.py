"""The asyncpg pool and the per-connection setup every query relies on.

Every wait on the database is bounded: connecting, taking a connection from the pool and
each statement (``seconds`` each), so a database that stops answering costs a
request a few seconds and a TimeoutError, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
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


# Seconds; Settings.db_timeout overrides it for the node's pools.
TIMEOUT = 3.0
# The CLI and tools wait this long for a connection; their statements are not bounded
# (a migration may rightly take minutes).
CONNECT_TIMEOUT = 10.0
RELEASE_SECONDS = 0.5


class TimedPool(asyncpg.Pool):
    """A pool whose acquire() gives up after ``acquire_timeout`` seconds unless told otherwise:
    when every connection is stuck on an unanswering server, a request must not queue for
    ever behind them. A release waits RELEASE_SECONDS at most for the cancellation of a
    statement cut short, then drops the connection: the request has its answer to give."""

    def __init__(self, *args: Any, acquire_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:  # asyncpg's context manager
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)

    async def release(
        self, connection: Any, *, timeout: float | None = None  # noqa: ASYNC109 - asyncpg's
    ) -> None:
        await super().release(connection, timeout=RELEASE_SECONDS if timeout is None else timeout)


async def create_pool(
    dsn: str, min_size: int = 2, max_size: int = 10, *, seconds: float = TIMEOUT, **kwargs: Any
) -> asyncpg.Pool:
    # A caller may keep idle connections shorter (the webhook dispatcher does).
    options: dict[str, Any] = {"max_inactive_connection_lifetime": 300.0, **kwargs}
    pool = TimedPool(
        dsn, min_size=min_size, max_size=max_size, max_queries=50_000, loop=None,
        init=_init_connection, reset=_skip_session_reset, connection_class=asyncpg.Connection,
        record_class=asyncpg.Record, acquire_timeout=seconds, command_timeout=seconds,
        timeout=seconds, **options,
    )
    await pool
    return pool


async def connect(dsn: str, *, seconds: float = CONNECT_TIMEOUT) -> asyncpg.Connection:
    """A single connection set up like the pool's (for the CLI and tools)."""
    conn = await asyncpg.connect(dsn, timeout=seconds)
    await _init_connection(conn)
    return conn


@contextlib.asynccontextmanager
async def held_alone(conn: Connection, key: int) -> AsyncIterator[bool]:
    """A session advisory lock for a job one worker of the node runs at a time, across
    several transactions: True when this connection got it. Pooled connections are not
    reset on release, so one that cannot let go of the lock is closed, taking the lock."""
    got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))
    try:
        yield got
    finally:
        if got:
            try:
                await conn.execute("SELECT pg_advisory_unlock($1)", key)
            except BaseException:
                conn.terminate()
                raise


async def close_pool(pool: asyncpg.Pool, seconds: float = TIMEOUT) -> None:
    """Close gracefully if the server answers; drop the connections if it does not."""
    try:
        await asyncio.wait_for(pool.close(), seconds)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        pool.terminate()
